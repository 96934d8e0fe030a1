//! What a Sigstore bundle holds, as verification reads it ([`ParsedBundle`], [`Content`]), and the
//! signature checks over it: DER ECDSA P-256 signatures over a message or a digest, and DSSE
//! envelopes ([`crate::keys::dsse`]).
//!
//! Shared by single-bundle mode ([`super::bundle`]), the image pipeline and the
//! transparency-log checks ([`super::tlog`]), which all lie above it.

use serde_json::Value;

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
    key.verifies_der(message, der_sig)
}

/// Verifies a DER ECDSA P-256 signature over an already computed SHA-256 digest (cosign
/// `sign-blob`'s message signatures).
pub fn verify_prehash(key: &PublicKey, digest: &Digest, der_sig: &[u8]) -> bool {
    key.verifies_der_prehashed(digest, der_sig)
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

/// A Sigstore bundle as verification reads it: the one bundle format
/// ([`crate::formats::bundle::Bundle`]) parsed, with its content typed (a DSSE envelope, or a
/// message signature with its SHA-256 digest checked to be one) and what verification needs
/// of its material. A view of the format type, not a second definition of it.
#[derive(Debug, Clone)]
pub struct ParsedBundle {
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

impl ParsedBundle {
    /// Parses bundle JSON; the error is the reason it is not a bundle we read.
    pub fn parse(bytes: &[u8]) -> std::result::Result<ParsedBundle, String> {
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
        Ok(ParsedBundle {
            media_type: raw.media_type,
            content,
            key_hint: vm.public_key.map(|k| k.hint),
            has_certificate: vm.certificate.is_some() || vm.x509_certificate_chain.is_some(),
            tlog_entries: vm.tlog_entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_bundle_versions_are_rejected() {
        let b = br#"{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.9","verificationMaterial":{}}"#;
        assert!(ParsedBundle::parse(b).unwrap_err().contains("0.9"));
    }
}
