//! Checking DSSE envelopes and the Sigstore bundles that carry them against a public key:
//! ECDSA P-256 SHA-256 (DER) over the pre-authentication encoding
//! ([`crate::formats::dsse::pae`]).
//!
//! Verifying is not signing: this lies below both the sign stage (which checks what it
//! signed) and the verify stage, so neither imports the other for it. Every check fails
//! closed: an error is a failed check (exit 1), or an input error (exit 2) for a bundle that
//! does not parse.

use super::PublicKey;
use crate::error::{Error, Result};
use crate::formats::bundle::Bundle;
use crate::formats::dsse::{Envelope, pae};
use crate::formats::intoto::{PAYLOAD_TYPE, Statement};

/// The payload of an envelope whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPayload {
    /// The payload type.
    pub payload_type: String,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The DER signature that verified (the one a log entry must be about).
    pub signature: Vec<u8>,
}

/// Checks that at least one signature of `envelope` is a valid ECDSA P-256 SHA-256 (DER)
/// signature by `key` over the PAE. Fails closed: a failed check (exit 1) otherwise.
pub fn verify_envelope(envelope: &Envelope, key: &PublicKey) -> Result<VerifiedPayload> {
    if envelope.signatures.is_empty() {
        return Err(Error::check_failed("the DSSE envelope has no signature"));
    }
    let message = pae(&envelope.payload_type, &envelope.payload);
    let Some(verified) = envelope
        .signatures
        .iter()
        .find(|s| key.verifies_der(&message, &s.sig))
    else {
        return Err(Error::check_failed(format!(
            "no signature in the DSSE envelope verifies with the public key (hint {})",
            key.hint()
        )));
    };
    Ok(VerifiedPayload {
        payload_type: envelope.payload_type.clone(),
        payload: envelope.payload.clone(),
        signature: verified.sig.clone(),
    })
}

/// Verifies a bundle's DSSE envelope with `key` and returns its payload, which must be an
/// in-toto statement (`payloadType: application/vnd.in-toto+json`).
pub fn verify_bundle(bundle: &Bundle, key: &PublicKey) -> Result<VerifiedPayload> {
    let envelope = bundle.dsse_envelope.as_ref().ok_or_else(|| {
        Error::check_failed(
            "the bundle holds no DSSE envelope (a message signature is not an attestation)",
        )
    })?;
    verify_statement_envelope(envelope, key)
}

/// Verifies a DSSE envelope that must hold an in-toto statement: its payload type, then
/// [`verify_envelope`]. A failed check (exit 1) otherwise.
pub fn verify_statement_envelope(envelope: &Envelope, key: &PublicKey) -> Result<VerifiedPayload> {
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(Error::check_failed(format!(
            "the envelope's payloadType is `{}`, expected `{PAYLOAD_TYPE}`",
            envelope.payload_type
        )));
    }
    verify_envelope(envelope, key)
}

/// Parses a bundle (`origin` names it), verifies its DSSE signature with `key` and parses the
/// signed in-toto statement (v1 or v0.1). A bundle that does not parse is an input error
/// (exit 2); a bad signature or a signed payload that is not a valid statement fails the check
/// (exit 1).
pub fn verify_statement_bundle(
    bytes: &[u8],
    origin: &str,
    key: &PublicKey,
) -> Result<(Bundle, Statement)> {
    let bundle = Bundle::parse(bytes, origin)?;
    let verified = verify_bundle(&bundle, key).map_err(|e| e.context(origin))?;
    let statement = Statement::parse(&verified.payload, origin)
        .map_err(|e| Error::check_failed(e.to_string()))?;
    Ok((bundle, statement))
}
