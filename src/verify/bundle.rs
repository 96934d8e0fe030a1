//! Single-bundle mode: verifying one Sigstore bundle (read by [`super::signed`]) against a
//! public key and an artifact, `verify --bundle FILE --artifact FILE_OR_DIGEST` (the Sigstore
//! conformance suite's verify-bundle protocol).
//!
//! Key-based bundles only: a `messageSignature` (cosign `sign-blob`: ECDSA over the artifact's
//! SHA-256) or a `dsseEnvelope` (in-toto statement whose subject must name the artifact).
//! Bundles carrying a certificate are verified by [`super::keyless`]; given one, this
//! function refuses it (exit 2) and says which flags select the keyless path.
//! Transparency-log entries are checked offline by [`super::tlog`] (what it cannot check
//! without `--trusted-root` is reported as skipped, never as a pass).

use crate::verify::CheckId;

use super::report::Report;
use super::signed::{Content, ParsedBundle, verify_dsse, verify_prehash};
use super::tlog::{self, TrustedRoot};
use crate::error::{Error, Result};
use crate::formats::dsse::Envelope;
use crate::keys::PublicKey;
use crate::util::digest::Digest;

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
    let bundle = match ParsedBundle::parse(bytes) {
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
        } => check_message(&mut report, claimed, signature, &digest, key),
        Content::Dsse(env) => check_envelope(&mut report, env, &digest, key),
    };
    if tlog::check_entries(&mut report, &bundle, &digest, &signature, key, trusted_root) {
        report.logged.push(None);
    }
    Ok(report)
}

/// `artifact-digest` and `signature` of a message-signature bundle; returns the signature
/// (what a log entry must record).
fn check_message(
    report: &mut Report,
    claimed: &[u8],
    signature: &[u8],
    digest: &Digest,
    key: &PublicKey,
) -> Vec<u8> {
    if claimed != digest.as_bytes() {
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
    if verify_prehash(key, digest, signature) {
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
    signature.to_vec()
}

/// `signature` of a DSSE bundle, then `subject` (the statement names the artifact); returns
/// the signature that verified (the one a log entry must be about), else the first one.
fn check_envelope(
    report: &mut Report,
    env: &Envelope,
    digest: &Digest,
    key: &PublicKey,
) -> Vec<u8> {
    match verify_dsse(env, key) {
        Ok(v) => {
            report.pass(
                CheckId::Signature,
                None,
                "DSSE signature verifies against the key",
            );
            super::checks::check_subject_names(report, None, &v.payload, &[*digest]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{Signature, SigningKey};

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
}
