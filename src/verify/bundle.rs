//! Sigstore bundles: reading one, verifying its signature against a public key, and the
//! single-bundle mode `verify --bundle FILE --artifact FILE_OR_DIGEST` (the Sigstore
//! conformance suite's verify-bundle protocol).
//!
//! Key-based bundles only: a `messageSignature` (cosign `sign-blob`: ECDSA over the artifact's
//! SHA-256) or a `dsseEnvelope` (in-toto statement whose subject must name the artifact).
//! Bundles carrying a certificate are verified by [`super::keyless`]; given one, this
//! function refuses it (exit 2) and says which flags select the keyless path.
//! Transparency-log entries are checked as far as can be done offline: the entry body must
//! describe this very signature and key, and with `--trusted-root` holding the log's key the
//! signed entry timestamp (inclusion promise) is verified. Merkle inclusion proofs and
//! checkpoints are not verified yet: that is reported as a skipped check, never as a pass.

use crate::verify::CheckId;
use p256::ecdsa::Signature;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use serde_json::Value;

use super::report::Report;
use super::tlog::{self, TrustedRoot};
use crate::error::{Error, Result};
use crate::formats::bundle::Bundle as RawBundle;
use crate::formats::dsse::Envelope;
use crate::keys::PublicKey;
use crate::util::digest::Digest;

/// Decodes base64 as protobuf JSON writes bytes (standard or URL-safe, padded or not).
pub fn b64(s: &str) -> Option<Vec<u8>> {
    crate::formats::dsse::b64::decode(s)
}

/// Verifies a DER ECDSA P-256 signature over `message` (hashed with SHA-256).
pub fn verify_der(key: &PublicKey, message: &[u8], der_sig: &[u8]) -> bool {
    Signature::from_der(der_sig).is_ok_and(|s| key.verifying_key().verify(message, &s).is_ok())
}

/// Verifies a DER ECDSA P-256 signature over an already computed SHA-256 digest (cosign
/// `sign-blob`'s message signatures).
pub fn verify_prehash(key: &PublicKey, digest: &Digest, der_sig: &[u8]) -> bool {
    Signature::from_der(der_sig).is_ok_and(|s| {
        key.verifying_key()
            .verify_prehash(digest.as_bytes(), &s)
            .is_ok()
    })
}

/// Verifies a DSSE envelope holding an in-toto statement against `key`
/// ([`crate::keys::dsse::verify_statement_envelope`]). Returns the payload, or the reason it
/// does not verify.
pub fn verify_dsse(
    env: &Envelope,
    key: &PublicKey,
) -> std::result::Result<crate::keys::dsse::VerifiedPayload, String> {
    crate::keys::dsse::verify_statement_envelope(env, key).map_err(|e| e.to_string())
}

/// What a bundle signs.
#[derive(Debug, Clone)]
pub enum Content {
    /// An in-toto statement in a DSSE envelope.
    Dsse(Envelope),
    /// A signature over an artifact's digest (cosign sign-blob).
    Message {
        /// The digest the bundle claims for the artifact.
        digest: Vec<u8>,
        /// DER signature.
        signature: Vec<u8>,
    },
}

/// A parsed Sigstore bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Its media type.
    pub media_type: String,
    /// What it signs.
    pub content: Content,
    /// `verificationMaterial.publicKey.hint`, when the bundle is key-signed.
    pub key_hint: Option<String>,
    /// True when it carries a certificate or chain (keyless).
    pub has_certificate: bool,
    /// `verificationMaterial.tlogEntries`.
    pub tlog_entries: Vec<Value>,
}

impl Bundle {
    /// Parses bundle JSON; the error is the reason it is not a bundle we read.
    pub fn parse(bytes: &[u8]) -> std::result::Result<Bundle, String> {
        serde_json::from_slice::<Value>(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
        let raw = RawBundle::parse(bytes, "the bundle").map_err(|e| e.to_string())?;
        let vm = raw.verification_material;
        let content = match (raw.dsse_envelope, raw.message_signature) {
            (Some(e), None) => Content::Dsse(e),
            (None, Some(m)) => {
                if m["messageDigest"]["algorithm"] != "SHA2_256" {
                    return Err("messageSignature.messageDigest.algorithm is not SHA2_256".into());
                }
                let digest = m["messageDigest"]["digest"]
                    .as_str()
                    .and_then(b64)
                    .filter(|d| d.len() == 32)
                    .ok_or("messageSignature.messageDigest.digest is not a base64 sha256")?;
                let signature = m["signature"]
                    .as_str()
                    .and_then(b64)
                    .ok_or("messageSignature.signature is not valid base64")?;
                Content::Message { digest, signature }
            }
            _ => return Err("expected exactly one of dsseEnvelope and messageSignature".into()),
        };
        Ok(Bundle {
            media_type: raw.media_type,
            content,
            key_hint: vm.public_key.map(|k| k.hint),
            has_certificate: vm.certificate.is_some() || vm.x509_certificate_chain.is_some(),
            tlog_entries: vm.tlog_entries,
        })
    }
}

/// The artifact of single-bundle mode: its bytes, or only its digest.
#[derive(Debug, Clone)]
pub enum Artifact {
    /// The file's bytes.
    Bytes(Vec<u8>),
    /// Only its digest (`sha256:HEX`).
    Digest(Digest),
}

impl Artifact {
    /// Reads `FILE_OR_DIGEST`: a `sha256:HEX` string, or a file.
    pub fn from_arg(arg: &str) -> Result<Artifact> {
        if arg.starts_with("sha256:") {
            return Ok(Artifact::Digest(arg.parse()?));
        }
        Ok(Artifact::Bytes(crate::util::fs::read(
            std::path::Path::new(arg),
        )?))
    }

    /// Its SHA-256.
    pub fn digest(&self) -> Digest {
        match self {
            Artifact::Bytes(b) => Digest::of(b),
            Artifact::Digest(d) => *d,
        }
    }
}

/// Single-bundle mode. Returns the report; `Err` only for inputs we cannot verify at all
/// (a keyless bundle, a key-signed bundle without `--key`).
pub fn verify_bundle(
    name: &str,
    bytes: &[u8],
    artifact: &Artifact,
    key: Option<&PublicKey>,
    trusted_root: Option<&TrustedRoot>,
) -> Result<Report> {
    let mut report = Report::new(name);
    let digest = artifact.digest();
    report.digest = Some(digest);
    let bundle = match Bundle::parse(bytes) {
        Ok(b) => b,
        Err(reason) => {
            report.fail(CheckId::Bundle, None, reason);
            return Ok(report);
        }
    };
    if bundle.has_certificate {
        return Err(Error::msg(format!(
            "{name}: the bundle is signed keyless (a Fulcio certificate): verify it with \
             --certificate-identity and --certificate-oidc-issuer (keyless::verify_bundle)"
        )));
    }
    let Some(key) = key else {
        return Err(Error::msg(format!(
            "{name}: the bundle is signed with a key (hint {}): pass the public key with --key",
            bundle.key_hint.as_deref().unwrap_or("none")
        )));
    };
    report.pass(
        CheckId::Bundle,
        None,
        format!("Sigstore bundle {}", bundle.media_type),
    );
    let signature = match &bundle.content {
        Content::Message {
            digest: claimed,
            signature,
        } => {
            if claimed.as_slice() != digest.as_bytes() {
                report.fail(
                    CheckId::ArtifactDigest,
                    None,
                    format!(
                        "the bundle signs digest sha256:{}, the artifact is {digest}",
                        hex::encode(claimed)
                    ),
                );
            } else {
                report.pass(
                    CheckId::ArtifactDigest,
                    None,
                    format!("the bundle signs {digest}"),
                );
            }
            if verify_prehash(key, &digest, signature) {
                report.pass(
                    CheckId::Signature,
                    None,
                    format!("ECDSA P-256 signature over {digest} verifies against the key"),
                );
            } else {
                report.fail(
                    CheckId::Signature,
                    None,
                    format!(
                        "the message signature does not verify against the key (hint {})",
                        key.hint()
                    ),
                );
            }
            signature.clone()
        }
        Content::Dsse(env) => {
            match verify_dsse(env, key) {
                Ok(v) => {
                    report.pass(
                        CheckId::Signature,
                        None,
                        "DSSE signature verifies against the key",
                    );
                    super::checks::check_subject_names(&mut report, None, &v.payload, &[digest]);
                    // The log entry must be about the signature that verified.
                    v.signature
                }
                Err(reason) => {
                    report.fail(CheckId::Signature, None, reason);
                    env.signatures
                        .first()
                        .map(|s| s.sig.clone())
                        .unwrap_or_default()
                }
            }
        }
    };
    tlog::check_entries(&mut report, &bundle, &digest, &signature, key, trusted_root);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer as _;

    /// A fixed test key.
    pub(crate) fn test_key(seed: u8) -> (SigningKey, PublicKey) {
        let sk = SigningKey::from_slice(&[seed; 32]).unwrap();
        let key = PublicKey::from_verifying_key(*sk.verifying_key());
        (sk, key)
    }

    fn message_bundle(sk: &SigningKey, artifact: &[u8]) -> Vec<u8> {
        let sig: Signature = sk.sign(artifact);
        serde_json::to_vec(&serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": "x"}},
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(Digest::of(artifact).as_bytes())},
                "signature": STANDARD.encode(sig.to_der().as_bytes()),
            }
        }))
        .unwrap()
    }

    #[test]
    fn message_signature_verifies_and_fails_closed() {
        let (sk, key) = test_key(7);
        let (_, other) = test_key(9);
        let bundle = message_bundle(&sk, b"hello");
        let art = Artifact::Bytes(b"hello".to_vec());
        let r = verify_bundle("b", &bundle, &art, Some(&key), None).unwrap();
        assert!(r.verified, "{}", r.human());
        let r = verify_bundle("b", &bundle, &art, Some(&other), None).unwrap();
        assert!(!r.verified);
        assert_eq!(r.failures().next().unwrap().check, CheckId::Signature);
        let r = verify_bundle(
            "b",
            &bundle,
            &Artifact::Bytes(b"hellO".to_vec()),
            Some(&key),
            None,
        )
        .unwrap();
        let failed: Vec<_> = r.failures().map(|c| c.check).collect();
        assert_eq!(failed, [CheckId::ArtifactDigest, CheckId::Signature]);
        let r = verify_bundle("b", b"{not json", &art, Some(&key), None).unwrap();
        assert_eq!(r.failures().next().unwrap().check, CheckId::Bundle);
        let e = verify_bundle("b", &bundle, &art, None, None).unwrap_err();
        assert!(e.to_string().contains("--key"), "{e}");
    }

    #[test]
    fn keyless_bundles_are_refused() {
        let b = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"certificate":{"rawBytes":"AA=="}},"messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"oM/HEnHW4njlfNMy/5V8P3BD/do1TEy7GQow1W76Ab8="},"signature":"AA=="}}"#;
        let (_, key) = test_key(7);
        let e = verify_bundle("b", b, &Artifact::Bytes(vec![]), Some(&key), None).unwrap_err();
        assert!(e.to_string().contains("--certificate-identity"));
    }

    #[test]
    fn unknown_bundle_versions_are_rejected() {
        let b = br#"{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.9","verificationMaterial":{}}"#;
        assert!(Bundle::parse(b).unwrap_err().contains("0.9"));
    }
}
