//! The Sigstore trust material a keyless Kyverno attestor needs when the signatures come
//! from another Sigstore instance than public-good: taken from the trusted root given to
//! `policy kyverno --trusted-root`, as PEM (Fulcio roots, Rekor key and URL, CT log key, TSA
//! chain). Without a trusted root the policy relies on Kyverno's public-good defaults.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sigstore_verify::trust_root::TrustedRoot;

use crate::error::{Error, Result};

/// PEM trust material for `keyless.roots` and `ctlog`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustMaterial {
    /// Every certificate of the Fulcio CAs' chains (`keyless.roots`).
    pub fulcio_roots: String,
    /// The current Rekor's URL (`ctlog.url`).
    pub rekor_url: String,
    /// The current Rekor's key (`ctlog.rekorPubKey`).
    pub rekor_pub: String,
    /// The current CT log's key (`ctlog.ctLogPubKey`), if the root has one.
    pub ctlog_pub: Option<String>,
    /// The current TSA's chain (`ctlog.tsaCertChain`), if the root has one.
    pub tsa_chain: Option<String>,
}

impl TrustMaterial {
    /// Reads it from a trusted root; `origin` names the file in errors. The current entry
    /// of each list is the last one without a validity end.
    pub fn from_root(root: &TrustedRoot, origin: &str) -> Result<TrustMaterial> {
        let missing = |what: &str| {
            Error::msg(format!(
                "--trusted-root {origin}: no {what}; a keyless policy needs the instance's \
                 Fulcio CA and Rekor log"
            ))
        };
        let certs: Vec<String> = root
            .certificate_authorities
            .iter()
            .flat_map(|ca| &ca.cert_chain.certificates)
            .map(|c| pem("CERTIFICATE", c.raw_bytes.as_bytes()))
            .collect();
        if certs.is_empty() {
            return Err(missing("certificateAuthorities"));
        }
        // Kyverno's cosign reads Rekor v1; v2 logs (Ed25519 keys) are not for it.
        let v1: Vec<_> = root
            .tlogs
            .iter()
            .filter(|l| l.public_key.key_details.as_str() != "PKIX_ED25519")
            .collect();
        let tlog = current(&v1, |l| open(l.public_key.valid_for))
            .ok_or_else(|| missing("Rekor v1 log in tlogs"))?;
        let ctlogs: Vec<_> = root.ctlogs.iter().collect();
        let ctlog = current(&ctlogs, |l| open(l.public_key.valid_for));
        let tsas: Vec<_> = root.timestamp_authorities.iter().collect();
        let tsa = current(&tsas, |t| open(t.valid_for));
        Ok(TrustMaterial {
            fulcio_roots: certs.concat(),
            rekor_url: tlog.base_url.clone(),
            rekor_pub: pem("PUBLIC KEY", tlog.public_key.raw_bytes.as_bytes()),
            ctlog_pub: ctlog.map(|l| pem("PUBLIC KEY", l.public_key.raw_bytes.as_bytes())),
            tsa_chain: tsa.map(|t| {
                t.cert_chain
                    .certificates
                    .iter()
                    .map(|c| pem("CERTIFICATE", c.raw_bytes.as_bytes()))
                    .collect()
            }),
        })
    }

    /// Reads a trusted root file.
    pub fn read(path: &std::path::Path) -> Result<TrustMaterial> {
        let origin = path.display().to_string();
        let text = String::from_utf8(crate::util::fs::read(path)?)
            .map_err(|_| Error::msg(format!("{origin}: the trusted root is not UTF-8 JSON")))?;
        let root = TrustedRoot::from_json(&text)
            .map_err(|e| Error::msg(format!("--trusted-root {origin}: {e}")))?;
        Self::from_root(&root, &origin)
    }
}

/// The last item still open (no validity end), else the last one.
fn current<'a, T>(items: &[&'a T], is_open: impl Fn(&T) -> bool) -> Option<&'a T> {
    items
        .iter()
        .rev()
        .find(|i| is_open(i))
        .or(items.last())
        .copied()
}

fn open(valid_for: Option<sigstore_verify::types::TimeRange>) -> bool {
    valid_for.is_none_or(|v| v.end.is_none())
}

/// DER as PEM with 64-column lines and a final newline.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_good_root_gives_current_material() {
        let root = TrustedRoot::from_json(crate::verify::keyless::root::PUBLIC_GOOD_ROOT).unwrap();
        let m = TrustMaterial::from_root(&root, "pg").unwrap();
        assert!(m.fulcio_roots.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(m.rekor_url, "https://rekor.sigstore.dev");
        assert!(m.rekor_pub.lines().all(|l| l.len() <= 64));
        assert!(m.ctlog_pub.is_some() && m.tsa_chain.is_some());
        let mut empty = root.clone();
        empty.certificate_authorities.clear();
        let e = TrustMaterial::from_root(&empty, "x.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.json") && e.contains("certificateAuthorities"),
            "{e}"
        );
    }
}
