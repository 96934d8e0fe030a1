//! Ours, before the crate runs: shapes of the verification material that sigstore-verify
//! accepts or reports under another cause, and a leniency of Go's protobuf-JSON reader.
//!
//! - An empty `x509CertificateChain` and a chain that carries a self-signed (root)
//!   certificate are refused as `certificate-chain` failures (the root must come from the
//!   trusted root, never from the bundle); the crate reaches a log error first on such
//!   bundles.
//! - Base64 fields with line breaks (`signedTimestamp` as some TSA clients write it): Go's
//!   decoder, which cosign and sigstore-go use, skips `\r` and `\n`; the crate's does not. We
//!   remove them from the fields that are bytes, so such a bundle is judged on its content.

use serde_json::Value;
use x509_cert::Certificate;
use x509_cert::der::Decode as _;

/// Protobuf-JSON fields of a bundle that hold bytes (base64).
const BYTES_FIELDS: &[&str] = &[
    "signedTimestamp",
    "rawBytes",
    "signature",
    "sig",
    "payload",
    "digest",
    "canonicalizedBody",
    "signedEntryTimestamp",
    "rootHash",
    "keyId",
];

/// Removes line breaks from the bytes fields of a bundle (see the module doc); returns
/// whether anything changed.
pub fn normalize_base64(v: &mut Value) -> bool {
    match v {
        Value::Object(map) => {
            let mut changed = false;
            for (k, child) in map.iter_mut() {
                if let Value::String(s) = child
                    && BYTES_FIELDS.contains(&k.as_str())
                    && s.contains(['\n', '\r'])
                {
                    s.retain(|c| c != '\n' && c != '\r');
                    changed = true;
                } else if k == "hashes"
                    && let Value::Array(items) = child
                {
                    for item in items.iter_mut() {
                        if let Value::String(s) = item
                            && s.contains(['\n', '\r'])
                        {
                            s.retain(|c| c != '\n' && c != '\r');
                            changed = true;
                        }
                    }
                } else {
                    changed |= normalize_base64(child);
                }
            }
            changed
        }
        Value::Array(items) => items.iter_mut().fold(false, |c, i| normalize_base64(i) | c),
        _ => false,
    }
}

/// Checks the bundle's certificate chain shape; `Err` is the `certificate-chain` failure.
pub fn check_chain(bundle: &Value) -> Result<(), String> {
    let vm = &bundle["verificationMaterial"];
    let Some(chain) = vm.get("x509CertificateChain") else {
        return Ok(());
    };
    let certs = chain["certificates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if certs.is_empty() {
        return Err(
            "verificationMaterial.x509CertificateChain.certificates is empty: the bundle \
             carries no signing certificate"
                .into(),
        );
    }
    for (i, c) in certs.iter().enumerate() {
        let der = c["rawBytes"]
            .as_str()
            .and_then(crate::verify::signed::b64)
            .ok_or_else(|| {
                format!("x509CertificateChain.certificates[{i}].rawBytes is not base64")
            })?;
        let cert = Certificate::from_der(&der).map_err(|e| {
            format!("x509CertificateChain.certificates[{i}] is not a DER certificate: {e}")
        })?;
        let tbs = &cert.tbs_certificate;
        if i > 0 && tbs.subject == tbs.issuer {
            return Err(format!(
                "x509CertificateChain.certificates[{i}] is a self-signed root ({}): a bundle must \
                 not carry its own root; roots come from the trusted root",
                tbs.subject
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_are_removed_from_bytes_fields_only() {
        let mut v = serde_json::json!({"a": {"signedTimestamp": "AA\nBB"}, "envelope": "x\ny",
            "inclusionProof": {"hashes": ["A\r\nB"]}});
        assert!(normalize_base64(&mut v));
        assert_eq!(v["a"]["signedTimestamp"], "AABB");
        assert_eq!(v["inclusionProof"]["hashes"][0], "AB");
        assert_eq!(v["envelope"], "x\ny");
        assert!(!normalize_base64(&mut v));
    }

    #[test]
    fn empty_chains_are_refused() {
        let v = serde_json::json!({"verificationMaterial": {"x509CertificateChain": {"certificates": []}}});
        assert!(check_chain(&v).unwrap_err().contains("empty"));
        let v = serde_json::json!({"verificationMaterial": {"certificate": {"rawBytes": "AA=="}}});
        assert!(check_chain(&v).is_ok());
    }
}
