//! Sigstore bundles (<https://github.com/sigstore/protobuf-specs>, `sigstore_bundle.proto`)
//! in their protobuf JSON form (camelCase names, bytes as base64).
//!
//! We write v0.3 with a DSSE envelope and a public key hint, as cosign does for key-signed
//! attestations. We read v0.1, v0.2 and v0.3; material we do not use for key-based
//! verification (certificates, transparency log entries, timestamps) is kept as JSON.

use serde::{Deserialize, Serialize};

use super::dsse::Envelope;
use crate::error::{Error, Result};

/// The media type we write.
pub const MEDIA_TYPE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Media types we read.
pub const MEDIA_TYPES_READ: &[&str] = &[
    MEDIA_TYPE_V03,
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
];

/// A Sigstore bundle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// The bundle media type (and version).
    pub media_type: String,
    /// What verifies the signature: a key hint, or certificates, plus log entries.
    pub verification_material: VerificationMaterial,
    /// The signed DSSE envelope (attestations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<Envelope>,
    /// A plain message signature (blobs); kept as JSON, not used by us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_signature: Option<serde_json::Value>,
}

/// `verificationMaterial`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    /// A hint naming the public key (key-based signing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyIdentifier>,
    /// A leaf certificate (v0.3 keyless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<serde_json::Value>,
    /// A certificate chain (v0.1/v0.2 keyless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_certificate_chain: Option<serde_json::Value>,
    /// Transparency log entries; empty for our offline key-signed bundles.
    #[serde(default)]
    pub tlog_entries: Vec<serde_json::Value>,
    /// RFC 3161 timestamps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_verification_data: Option<serde_json::Value>,
}

/// `verificationMaterial.publicKey`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicKeyIdentifier {
    /// base64(sha256(DER SubjectPublicKeyInfo)), as cosign writes it.
    #[serde(default)]
    pub hint: String,
}

impl Bundle {
    /// A v0.3 bundle for a key-signed envelope.
    pub fn with_key_hint(hint: String, envelope: Envelope) -> Self {
        Bundle {
            media_type: MEDIA_TYPE_V03.to_string(),
            verification_material: VerificationMaterial {
                public_key: Some(PublicKeyIdentifier { hint }),
                ..Default::default()
            },
            dsse_envelope: Some(envelope),
            message_signature: None,
        }
    }

    /// Parses a bundle of a media type we read. `origin` names the input in errors.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Bundle> {
        let b: Bundle = serde_json::from_slice(bytes)
            .map_err(|e| Error::with_source(format!("{origin} is not a Sigstore bundle"), e))?;
        if !MEDIA_TYPES_READ.contains(&b.media_type.as_str()) {
            return Err(Error::msg(format!(
                "{origin}: unsupported Sigstore bundle media type `{}` (expected one of {})",
                b.media_type,
                MEDIA_TYPES_READ.join(", ")
            )));
        }
        Ok(b)
    }

    /// Pretty JSON with a trailing newline: the bytes we write and attach.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut v = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::with_source("serialising a Sigstore bundle", e))?;
        v.push(b'\n');
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cosign_v03_without_tlog_entries() {
        let j = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"IZ9i"}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AAE="}]}}"#;
        let b = Bundle::parse(j, "b.json").unwrap();
        assert_eq!(b.verification_material.public_key.unwrap().hint, "IZ9i");
        assert!(b.verification_material.tlog_entries.is_empty());
    }

    #[test]
    fn rejects_unknown_media_type() {
        let j = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v9+json","verificationMaterial":{}}"#;
        let e = Bundle::parse(j, "b.json").unwrap_err().to_string();
        assert!(e.contains("b.json") && e.contains("media type"), "{e}");
    }

    #[test]
    fn writes_protobuf_json_names() {
        let env = Envelope {
            payload: b"{}".to_vec(),
            payload_type: "t".into(),
            signatures: vec![],
        };
        let b = Bundle::with_key_hint("h".into(), env);
        let v: serde_json::Value = serde_json::from_slice(&b.to_bytes().unwrap()).unwrap();
        assert_eq!(v["verificationMaterial"]["publicKey"]["hint"], "h");
        assert_eq!(
            v["verificationMaterial"]["tlogEntries"],
            serde_json::json!([])
        );
        assert_eq!(v["dsseEnvelope"]["payloadType"], "t");
    }
}
