//! Ours: Rekor v1 `dsse` entries whose logged body is the *request* Rekor was sent
//! (`spec.proposedContent`: the envelope and its verifiers) instead of the canonical form
//! Rekor computes from it (`spec.payloadHash`, `envelopeHash`, `signatures`).
//!
//! The local Sigstore stack's mock Rekor logs such bodies. cosign 3.1 and sigstore-go 1.3
//! accept them: Rekor's Go types turn a request body into the canonical fields (after checking
//! the envelope's signatures with the verifiers), and sigstore-go then compares the signature,
//! the verifier's key and the payload hash with the bundle. sigstore-verify 0.15.1 parses only
//! the canonical form: its last step, the entry-body check (`verify_tlog_consistency`, after
//! the chain, SCT, identity, SETs, inclusion proofs, checkpoints, signature and subject), fails
//! with "failed to parse dsse v0.0.1 body", and it cannot be skipped on its own. So, for a
//! bundle whose entries are all such bodies:
//!
//! - **binding (ours, instead of the crate's last step):** the envelope in the body must be
//!   the bundle's envelope (payload type, payload bytes, the one signature) and every verifier
//!   must be the bundle's signing certificate. A body for another statement, signature or
//!   certificate is refused (`tlog-entry`), and so is a body with both forms, as Rekor does.
//! - **log proofs (ours, `verify/tlog/`, over the body bytes exactly as logged)**, on top of
//!   the crate's own: the inclusion proof (required) and its checkpoint signed by a log of the
//!   trusted root (`tlog-inclusion`); the signed entry timestamp when present (`tlog-promise`),
//!   whose integrated time must lie inside the certificate's validity (`signing-time`).
//! - **everything else (the crate), on the bundle as it is:** the crate runs in full; when
//!   the only thing it refuses is this body parse ([`is_body_parse_error`]), every step before
//!   it passed. That order is sigstore-verify 0.15.1's (`Verifier::verify_certificate`); the
//!   dependency is pinned to it, and tests/it/verify_keyless_stack.rs makes each earlier check
//!   fail on such a bundle.
//!
//! A bundle that mixes request-form entries with other entries is refused.

use crate::verify::CheckId;
use serde_json::Value;
use sigstore_verify::crypto::CertificateInfo;
use sigstore_verify::types::{
    Bundle, DerCertificate, DsseEnvelope, KindVersion, SignatureContent, TransparencyLogEntry,
};

use crate::verify::signed::b64;
use crate::verify::tlog::{self, Outcome, TrustedRoot as LogRoot};

/// A refusal: the check that fails and why.
pub type Refusal = (CheckId, String);

/// What this path verified itself, for the report.
#[derive(Debug, Default)]
pub struct OwnTlog {
    /// Integrated times whose signed entry timestamps verified (RFC 3339).
    pub times: Vec<String>,
    /// `tlog-entry` passes: request-form bodies bound to this bundle.
    pub bindings: Vec<String>,
    /// `tlog-promise` passes.
    pub promises: Vec<String>,
    /// `tlog-inclusion` passes.
    pub inclusions: Vec<String>,
}

/// True when the body is a `dsse` request body (`spec.proposedContent`).
fn is_request_form(body: &Value) -> bool {
    body["spec"].get("proposedContent").is_some()
}

/// True for the crate's refusal of a request-form body (its last step, see the module doc).
pub fn is_body_parse_error(e: &sigstore_verify::Error) -> bool {
    matches!(e, sigstore_verify::Error::TransparencyLog(
        sigstore_verify::TransparencyLogError::MalformedEntry(m))
        if m.starts_with("failed to parse Rekor body: ")
            && m.contains("failed to parse dsse v0.0.1 body"))
}

/// Checks a bundle's request-form entries (see the module doc); `Ok(None)` when it has none
/// (the crate verifies it alone).
pub fn check(
    bundle: &Bundle,
    info: &CertificateInfo,
    cert: &DerCertificate,
    logs: &LogRoot,
) -> Result<Option<OwnTlog>, Refusal> {
    let entries = &bundle.verification_material.tlog_entries;
    let bodies: Vec<Value> = entries
        .iter()
        .map(|e| serde_json::from_slice(e.canonicalized_body.as_bytes()).unwrap_or(Value::Null))
        .collect();
    if !bodies.iter().any(is_request_form) {
        return Ok(None);
    }
    let mixed = entries
        .iter()
        .zip(&bodies)
        .any(|(e, b)| e.kind_version != KindVersion::DsseV001 || !is_request_form(b));
    if mixed {
        return Err((CheckId::TlogEntry, "a dsse entry logged in request form comes with entries of another kind or form: only bundles whose entries are all dsse v0.0.1 request bodies are accepted in that case".into()));
    }
    let SignatureContent::DsseEnvelope(envelope) = &bundle.content else {
        return Err((
            CheckId::TlogEntry,
            "a dsse log entry for a message signature".into(),
        ));
    };
    let mut own = OwnTlog::default();
    for (entry, body) in entries.iter().zip(&bodies) {
        check_entry(&mut own, entry, body, envelope, info, cert, logs)?;
    }
    Ok(Some(own))
}

/// One request-form entry: its binding, inclusion proof, SET and integrated time.
fn check_entry(
    own: &mut OwnTlog,
    entry: &TransparencyLogEntry,
    body: &Value,
    envelope: &DsseEnvelope,
    info: &CertificateInfo,
    cert: &DerCertificate,
    logs: &LogRoot,
) -> Result<(), Refusal> {
    let label = format!("log index {}", entry.log_index);
    bind(body, envelope, cert).map_err(|why| (CheckId::TlogEntry, format!("{label}: {why}")))?;
    own.bindings.push(format!(
        "{label}: dsse entry in request form; its envelope is this bundle's (payload type, payload, signature) and its verifier this bundle's certificate"
    ));
    let value =
        serde_json::to_value(entry).map_err(|e| (CheckId::TlogEntry, format!("{label}: {e}")))?;
    match tlog::inclusion_outcome(&value, Some(logs), &label) {
        Outcome::Pass(r) => own.inclusions.push(r),
        Outcome::Skip(r) | Outcome::Fail(r) => return Err((CheckId::TlogInclusion, r)),
    }
    if entry.inclusion_promise.is_none() {
        return Ok(());
    }
    match tlog::promise_outcome(&value, logs, &label) {
        Outcome::Pass(r) => own.promises.push(r),
        Outcome::Skip(r) | Outcome::Fail(r) => return Err((CheckId::TlogPromise, r)),
    }
    if let Some(t) = entry.integrated_time {
        if t < info.not_before || t > info.not_after {
            return Err((
                CheckId::SigningTime,
                format!(
                    "{label}: integrated time {t} is outside the certificate's validity ({} .. {})",
                    info.not_before, info.not_after
                ),
            ));
        }
        own.times.push(t.to_string());
    }
    Ok(())
}

/// The binding of a request-form body to this bundle (see the module doc).
fn bind(body: &Value, envelope: &DsseEnvelope, cert: &DerCertificate) -> Result<(), String> {
    if body["kind"] != "dsse" || body["apiVersion"] != "0.0.1" {
        return Err(format!(
            "the body is kind {} apiVersion {}, not dsse 0.0.1",
            body["kind"], body["apiVersion"]
        ));
    }
    let spec = &body["spec"];
    let canonical = ["payloadHash", "envelopeHash"]
        .iter()
        .any(|k| !spec[k].is_null())
        || spec["signatures"].as_array().is_some_and(|s| !s.is_empty());
    if canonical {
        return Err("the body carries both proposedContent and canonical fields".into());
    }
    let proposed = &spec["proposedContent"];
    let logged: Value = proposed["envelope"]
        .as_str()
        .and_then(|t| serde_json::from_str(t).ok())
        .ok_or("spec.proposedContent.envelope is not a DSSE envelope in JSON")?;
    if logged["payloadType"].as_str() != Some(envelope.payload_type.as_str()) {
        return Err(format!(
            "the logged envelope's payload type is {}, the bundle's {}",
            logged["payloadType"], envelope.payload_type
        ));
    }
    if logged["payload"].as_str().and_then(b64).as_deref() != Some(envelope.payload.as_bytes()) {
        return Err(
            "the logged envelope carries another payload: the entry is for another statement"
                .into(),
        );
    }
    let sigs = logged["signatures"].as_array().cloned().unwrap_or_default();
    let [sig] = sigs.as_slice() else {
        return Err(format!(
            "the logged envelope has {} signatures, the bundle's 1",
            sigs.len()
        ));
    };
    if sig["sig"].as_str().and_then(b64).as_deref() != Some(envelope.signature.sig.as_bytes()) {
        return Err("the logged envelope carries another signature".into());
    }
    let verifiers = proposed["verifiers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if verifiers.is_empty() {
        return Err("spec.proposedContent.verifiers is empty".into());
    }
    for (n, v) in verifiers.iter().enumerate() {
        let der = v
            .as_str()
            .and_then(b64)
            .and_then(|pem| String::from_utf8(pem).ok())
            .and_then(|pem| DerCertificate::from_pem(&pem).ok());
        if der.as_ref() != Some(cert) {
            return Err(format!(
                "spec.proposedContent.verifiers[{n}] is not this bundle's signing certificate"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::json;

    fn b64e(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    fn cert(n: u8) -> DerCertificate {
        DerCertificate::new(vec![0x30, 0x03, 0x02, 0x01, n])
    }

    fn envelope() -> DsseEnvelope {
        serde_json::from_value(json!({
            "payloadType": "application/vnd.in-toto+json",
            "payload": b64e(b"{\"subject\":[]}"),
            "signatures": [{"sig": b64e(b"sig-1")}],
        }))
        .unwrap()
    }

    /// The body the mock Rekor logs for `envelope` signed with `cert`.
    fn body(envelope: &DsseEnvelope, verifiers: &[DerCertificate]) -> Value {
        let text = serde_json::to_string(envelope).unwrap();
        let verifiers: Vec<String> = verifiers
            .iter()
            .map(|c| b64e(c.to_pem().as_bytes()))
            .collect();
        json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
            "proposedContent": {"envelope": text, "verifiers": verifiers},
            "signatures": null}})
    }

    #[test]
    fn a_request_body_for_this_envelope_and_certificate_binds() {
        let env = envelope();
        let b = body(&env, &[cert(1)]);
        assert!(is_request_form(&b));
        bind(&b, &env, &cert(1)).unwrap();
    }

    /// A body for another statement (another artifact), another payload type or another
    /// signature is refused.
    #[test]
    fn another_envelope_in_the_body_is_refused() {
        let env = envelope();
        let other = |payload_type: &str, payload: &[u8], sig: &[u8]| -> DsseEnvelope {
            serde_json::from_value(
                json!({"payloadType": payload_type, "payload": b64e(payload),
                "signatures": [{"sig": b64e(sig)}]}),
            )
            .unwrap()
        };
        let cases = [
            (
                other(
                    "application/vnd.in-toto+json",
                    b"{\"subject\":[1]}",
                    b"sig-1",
                ),
                "another payload",
            ),
            (
                other("text/plain", b"{\"subject\":[]}", b"sig-1"),
                "payload type",
            ),
            (
                other(
                    "application/vnd.in-toto+json",
                    b"{\"subject\":[]}",
                    b"sig-2",
                ),
                "another signature",
            ),
        ];
        for (logged, words) in cases {
            let why = bind(&body(&logged, &[cert(1)]), &env, &cert(1)).unwrap_err();
            assert!(why.contains(words), "{why}");
        }
        let mut two = body(&env, &[cert(1)]);
        let text = json!({"payloadType": env.payload_type, "payload": b64e(env.payload.as_bytes()),
            "signatures": [{"sig": b64e(b"sig-1")}, {"sig": b64e(b"sig-2")}]});
        two["spec"]["proposedContent"]["envelope"] = json!(text.to_string());
        assert!(
            bind(&two, &env, &cert(1))
                .unwrap_err()
                .contains("2 signatures")
        );
    }

    /// A verifier that is not this bundle's certificate, among others or alone, is refused;
    /// so is a body without verifiers.
    #[test]
    fn another_verifier_in_the_body_is_refused() {
        let env = envelope();
        let why = bind(&body(&env, &[cert(2)]), &env, &cert(1)).unwrap_err();
        assert!(why.contains("verifiers[0] is not this bundle's"), "{why}");
        let why = bind(&body(&env, &[cert(1), cert(2)]), &env, &cert(1)).unwrap_err();
        assert!(why.contains("verifiers[1]"), "{why}");
        let why = bind(&body(&env, &[]), &env, &cert(1)).unwrap_err();
        assert!(why.contains("empty"), "{why}");
    }

    #[test]
    fn a_body_with_both_forms_or_of_another_kind_is_refused() {
        let env = envelope();
        let mut both = body(&env, &[cert(1)]);
        both["spec"]["payloadHash"] = json!({"algorithm": "sha256", "value": "00"});
        assert!(bind(&both, &env, &cert(1)).unwrap_err().contains("both"));
        let mut kind = body(&env, &[cert(1)]);
        kind["kind"] = json!("intoto");
        assert!(
            bind(&kind, &env, &cert(1))
                .unwrap_err()
                .contains("not dsse 0.0.1")
        );
    }
}
