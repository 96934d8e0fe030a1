//! Sigstore bundles: reading one, verifying its signature against a public key, and the
//! single-bundle mode `verify --bundle FILE --artifact FILE_OR_DIGEST` (the Sigstore
//! conformance suite's verify-bundle protocol).
//!
//! Key-based bundles only: a `messageSignature` (cosign `sign-blob`: ECDSA over the artifact's
//! SHA-256) or a `dsseEnvelope` (in-toto statement whose subject must name the artifact).
//! Bundles carrying a certificate are refused with "keyless verification not supported yet".
//! Transparency-log entries are checked as far as can be done offline: the entry body must
//! describe this very signature and key, and with `--trusted-root` holding the log's key the
//! signed entry timestamp (inclusion promise) is verified. Merkle inclusion proofs and
//! checkpoints are not verified yet: that is reported as a skipped check, never as a pass.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use serde_json::Value;

use super::report::Report;
use super::tlog::{self, TrustedRoot};
use crate::error::{Error, Result};
use crate::util::digest::Digest;

/// The payload type of in-toto statements in DSSE envelopes.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Bundle media types we read (v0.1 to v0.3, both spellings of v0.3).
pub const BUNDLE_MEDIA_TYPES: &[&str] = &[
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
];

/// A public key the user trusts (`--key`), ECDSA P-256.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    key: VerifyingKey,
    der: Vec<u8>,
}

impl TrustedKey {
    /// Parses a PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`); `origin` names the
    /// file in errors.
    pub fn from_pem(pem: &str, origin: &str) -> Result<Self> {
        let key = VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| {
            Error::msg(format!(
                "{origin} is not an ECDSA P-256 public key in PEM (`BEGIN PUBLIC KEY`): {e}"
            ))
        })?;
        let der = key
            .to_public_key_der()
            .map_err(|e| Error::msg(format!("{origin}: encoding the key: {e}")))?
            .into_vec();
        Ok(TrustedKey { key, der })
    }

    /// Reads and parses a PEM public key file.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let bytes = crate::util::fs::read(path)?;
        let pem = String::from_utf8(bytes).map_err(|_| {
            Error::msg(format!(
                "{} is not a PEM public key (not text)",
                path.display()
            ))
        })?;
        Self::from_pem(&pem, &path.display().to_string())
    }

    /// The public key from DER SubjectPublicKeyInfo bytes.
    pub fn from_der(der: &[u8]) -> Option<Self> {
        let key = VerifyingKey::from_public_key_der(der).ok()?;
        Some(TrustedKey {
            key,
            der: der.to_vec(),
        })
    }

    /// cosign's key hint: base64(sha256(DER SubjectPublicKeyInfo)).
    pub fn hint(&self) -> String {
        STANDARD.encode(Digest::of(&self.der).as_bytes())
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Verifies a DER ECDSA signature over `message` (hashed with SHA-256).
    pub fn verify(&self, message: &[u8], der_sig: &[u8]) -> bool {
        Signature::from_der(der_sig).is_ok_and(|s| self.key.verify(message, &s).is_ok())
    }

    /// Verifies a DER ECDSA signature over an already computed SHA-256 digest.
    pub fn verify_prehash(&self, digest: &Digest, der_sig: &[u8]) -> bool {
        Signature::from_der(der_sig)
            .is_ok_and(|s| self.key.verify_prehash(digest.as_bytes(), &s).is_ok())
    }
}

/// Decodes base64 as protobuf JSON writes bytes (standard, URL-safe accepted).
pub fn b64(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).or_else(|_| URL_SAFE.decode(s)).ok()
}

/// A DSSE envelope.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// base64 payload.
    pub payload: String,
    /// The payload's media type.
    pub payload_type: String,
    /// Signatures over PAE(payloadType, payload).
    #[serde(default)]
    pub signatures: Vec<EnvelopeSignature>,
}

/// One DSSE signature.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct EnvelopeSignature {
    /// base64 DER ECDSA signature.
    #[serde(default)]
    pub sig: String,
    /// Optional key id.
    #[serde(default)]
    pub keyid: Option<String>,
}

/// DSSE's pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Verifies the envelope against `key`: at least one signature must verify over PAE.
    /// Returns the decoded payload, or the reason it does not verify.
    pub fn verify(&self, key: &TrustedKey) -> std::result::Result<Vec<u8>, String> {
        if self.payload_type != INTOTO_PAYLOAD_TYPE {
            return Err(format!(
                "payloadType is `{}`, expected `{INTOTO_PAYLOAD_TYPE}`",
                self.payload_type
            ));
        }
        let payload = b64(&self.payload).ok_or("the payload is not valid base64")?;
        if self.signatures.is_empty() {
            return Err("the envelope has no signature (unsigned)".into());
        }
        let message = pae(&self.payload_type, &payload);
        let ok = self
            .signatures
            .iter()
            .any(|s| b64(&s.sig).is_some_and(|sig| key.verify(&message, &sig)));
        if ok {
            Ok(payload)
        } else {
            Err(format!(
                "none of the {} DSSE signature(s) verifies against the key (hint {})",
                self.signatures.len(),
                key.hint()
            ))
        }
    }
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
        let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
        let media_type = v["mediaType"].as_str().unwrap_or_default().to_owned();
        if !BUNDLE_MEDIA_TYPES.contains(&media_type.as_str()) {
            return Err(format!(
                "mediaType `{media_type}` is not a Sigstore bundle version we read (0.1 to 0.3)"
            ));
        }
        let vm = &v["verificationMaterial"];
        if !vm.is_object() {
            return Err("verificationMaterial is missing".into());
        }
        let key_hint = vm["publicKey"].as_object().map(|o| {
            o.get("hint")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        });
        let has_certificate =
            vm.get("certificate").is_some() || vm.get("x509CertificateChain").is_some();
        let tlog_entries = match &vm["tlogEntries"] {
            Value::Null => Vec::new(),
            Value::Array(a) => a.clone(),
            _ => return Err("verificationMaterial.tlogEntries is not a list".into()),
        };
        let content = match (v.get("dsseEnvelope"), v.get("messageSignature")) {
            (Some(e), None) => Content::Dsse(
                serde_json::from_value(e.clone())
                    .map_err(|e| format!("dsseEnvelope is malformed: {e}"))?,
            ),
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
            media_type,
            content,
            key_hint,
            has_certificate,
            tlog_entries,
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
    key: Option<&TrustedKey>,
    trusted_root: Option<&TrustedRoot>,
) -> Result<Report> {
    let mut report = Report::new(name);
    let digest = artifact.digest();
    report.digest = Some(digest);
    let bundle = match Bundle::parse(bytes) {
        Ok(b) => b,
        Err(reason) => {
            report.fail("bundle", None, reason);
            return Ok(report);
        }
    };
    if bundle.has_certificate {
        return Err(Error::msg(format!(
            "{name}: the bundle is signed with a certificate: keyless verification not supported yet; \
             verify it with cosign or sigstore-go, or sign with a key"
        )));
    }
    let Some(key) = key else {
        return Err(Error::msg(format!(
            "{name}: the bundle is signed with a key (hint {}): pass the public key with --key",
            bundle.key_hint.as_deref().unwrap_or("none")
        )));
    };
    report.pass(
        "bundle",
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
                    "artifact-digest",
                    None,
                    format!(
                        "the bundle signs digest sha256:{}, the artifact is {digest}",
                        hex::encode(claimed)
                    ),
                );
            } else {
                report.pass(
                    "artifact-digest",
                    None,
                    format!("the bundle signs {digest}"),
                );
            }
            if key.verify_prehash(&digest, signature) {
                report.pass(
                    "signature",
                    None,
                    format!("ECDSA P-256 signature over {digest} verifies against the key"),
                );
            } else {
                report.fail(
                    "signature",
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
            match env.verify(key) {
                Ok(payload) => {
                    report.pass("signature", None, "DSSE signature verifies against the key");
                    super::checks::check_subject_names(&mut report, None, &payload, &[digest]);
                }
                Err(reason) => report.fail("signature", None, reason),
            }
            env.signatures
                .first()
                .and_then(|s| b64(&s.sig))
                .unwrap_or_default()
        }
    };
    tlog::check_entries(&mut report, &bundle, &digest, &signature, key, trusted_root);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer as _;

    /// A fixed test key.
    pub(crate) fn test_key(seed: u8) -> (SigningKey, TrustedKey) {
        let sk = SigningKey::from_slice(&[seed; 32]).unwrap();
        let der = sk.verifying_key().to_public_key_der().unwrap().into_vec();
        (sk, TrustedKey::from_der(&der).unwrap())
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
    fn pae_matches_the_dsse_spec_vector() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
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
        assert_eq!(r.failures().next().unwrap().check, "signature");
        let r = verify_bundle(
            "b",
            &bundle,
            &Artifact::Bytes(b"hellO".to_vec()),
            Some(&key),
            None,
        )
        .unwrap();
        let failed: Vec<_> = r.failures().map(|c| c.check.as_str()).collect();
        assert_eq!(failed, ["artifact-digest", "signature"]);
        let r = verify_bundle("b", b"{not json", &art, Some(&key), None).unwrap();
        assert_eq!(r.failures().next().unwrap().check, "bundle");
        let e = verify_bundle("b", &bundle, &art, None, None).unwrap_err();
        assert!(e.to_string().contains("--key"), "{e}");
    }

    #[test]
    fn keyless_bundles_are_refused() {
        let b = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"certificate":{"rawBytes":"AA=="}},"messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"oM/HEnHW4njlfNMy/5V8P3BD/do1TEy7GQow1W76Ab8="},"signature":"AA=="}}"#;
        let (_, key) = test_key(7);
        let e = verify_bundle("b", b, &Artifact::Bytes(vec![]), Some(&key), None).unwrap_err();
        assert!(
            e.to_string()
                .contains("keyless verification not supported yet")
        );
    }

    #[test]
    fn unknown_bundle_versions_are_rejected() {
        let b = br#"{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.9","verificationMaterial":{}}"#;
        assert!(Bundle::parse(b).unwrap_err().contains("0.9"));
    }
}
