//! Transparency-log entries of a key-signed bundle, checked offline.
//!
//! What is verified: the entry's canonicalized body describes this very signature, digest
//! and key (`tlog-entry`); with a trusted root (`--trusted-root`) holding the log's ECDSA
//! key, the signed entry timestamp (Rekor's inclusion promise) verifies and the integration
//! time lies inside the key's validity and not in the future (`tlog-promise`); the Merkle
//! inclusion proof (RFC 9162) leads from the entry to the proof's root hash, and the
//! checkpoint (a signed note) commits to that root and tree size under the log's key
//! (`tlog-inclusion`). Without a trusted root the checkpoint cannot be checked and
//! `tlog-inclusion` is skipped, never passed. Key-based verification does not depend on the
//! log; these checks only add evidence, and a failing one fails the verdict.

mod proof;
mod root;

use serde_json::Value;

use crate::keys::PublicKey;
use crate::util::digest::Digest;
use crate::verify::CheckId;
use crate::verify::report::Report;
use crate::verify::signed::{Content, ParsedBundle, b64};
use proof::int;

pub use proof::{Outcome, inclusion_outcome, promise_outcome, root_from_inclusion_proof};
pub use root::{TrustedLog, TrustedRoot};

/// Checks the bundle's transparency-log entries (see the module docs). Returns whether one
/// entry both records this signature (`tlog-entry` pass) and is shown in the log
/// (`tlog-inclusion` pass): what `--require-tlog` needs of a key-signed bundle. Two entries
/// that each pass one of the two do not make one that passes both.
pub fn check_entries(
    report: &mut Report,
    bundle: &ParsedBundle,
    digest: &Digest,
    signature: &[u8],
    key: &PublicKey,
    root: Option<&TrustedRoot>,
) -> bool {
    if bundle.tlog_entries.is_empty() {
        report.skip(
            CheckId::Tlog,
            None,
            "the bundle has no transparency-log entry",
        );
        return false;
    }
    let mut logged = false;
    for entry in &bundle.tlog_entries {
        let label = format!("log index {}", int(&entry["logIndex"]).unwrap_or(-1));
        let body = entry_body_matches(entry, bundle, digest, signature, key);
        let records = matches!(body, Ok(Some(_)));
        match body {
            Ok(Some(what)) => report.pass(CheckId::TlogEntry, None, format!("{label}: {what}")),
            Ok(None) => report.skip(
                CheckId::TlogEntry,
                None,
                format!(
                    "{label}: entry kind {} is not checked yet",
                    entry["kindVersion"]["kind"]
                ),
            ),
            Err(why) => report.fail(CheckId::TlogEntry, None, format!("{label}: {why}")),
        }
        match root {
            None => report.skip(
                CheckId::TlogPromise,
                None,
                format!("{label}: no --trusted-root given: the log's signed entry timestamp is not checked"),
            ),
            Some(root) => check_promise(report, entry, root, &label),
        }
        let inclusion = inclusion_outcome(entry, root, &label);
        logged |= records && matches!(inclusion, Outcome::Pass(_));
        inclusion.record(report, CheckId::TlogInclusion);
    }
    logged
}

fn check_promise(report: &mut Report, entry: &Value, root: &TrustedRoot, label: &str) {
    promise_outcome(entry, root, label).record(report, CheckId::TlogPromise);
}

/// Does the entry's body describe this signature? `Ok(None)`: a kind we do not check.
fn entry_body_matches(
    entry: &Value,
    bundle: &ParsedBundle,
    digest: &Digest,
    signature: &[u8],
    key: &PublicKey,
) -> std::result::Result<Option<String>, String> {
    let body = entry["canonicalizedBody"]
        .as_str()
        .and_then(b64)
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .ok_or("canonicalizedBody is not base64 JSON")?;
    let kind = (entry["kindVersion"]["kind"].as_str(), body["kind"].as_str());
    let spec = &body["spec"];
    let same_key = |pem_b64: &Value| {
        pem_b64
            .as_str()
            .and_then(b64)
            .and_then(|pem| PublicKey::from_pem(&pem, "log entry").ok())
            .is_some_and(|k| k == *key)
    };
    match kind {
        (Some("hashedrekord"), Some("hashedrekord")) => {
            hashedrekord_matches(spec, bundle, digest, signature, &same_key)
        }
        (Some("dsse"), Some("dsse")) => dsse_matches(spec, bundle, signature, &same_key),
        (a, b) if a != b => Err(format!(
            "kindVersion.kind {a:?} differs from the body's {b:?}"
        )),
        _ => Ok(None),
    }
}

/// A `hashedrekord` body: this artifact digest, this signature, this key.
fn hashedrekord_matches(
    spec: &Value,
    bundle: &ParsedBundle,
    digest: &Digest,
    signature: &[u8],
    same_key: &dyn Fn(&Value) -> bool,
) -> std::result::Result<Option<String>, String> {
    if !matches!(bundle.content, Content::Message { .. }) {
        return Err("a hashedrekord entry for a DSSE bundle".into());
    }
    if spec["data"]["hash"]["value"].as_str() != Some(&digest.hex()) {
        return Err(format!(
            "the entry records another artifact digest, not {digest}"
        ));
    }
    if spec["signature"]["content"]
        .as_str()
        .and_then(b64)
        .as_deref()
        != Some(signature)
    {
        return Err("the entry records another signature".into());
    }
    if !same_key(&spec["signature"]["publicKey"]["content"]) {
        return Err("the entry records another public key".into());
    }
    Ok(Some(
        "hashedrekord entry matches artifact, signature and key".into(),
    ))
}

/// A `dsse` body (canonical or request form): this payload, this signature, this key.
fn dsse_matches(
    spec: &Value,
    bundle: &ParsedBundle,
    signature: &[u8],
    same_key: &dyn Fn(&Value) -> bool,
) -> std::result::Result<Option<String>, String> {
    let Content::Dsse(env) = &bundle.content else {
        return Err("a dsse entry for a message-signature bundle".into());
    };
    if let Some(pc) = spec.get("proposedContent") {
        return request_form_matches(spec, pc, env, signature, same_key);
    }
    if spec["payloadHash"]["value"].as_str() != Some(&Digest::of(&env.payload).hex()) {
        return Err("the entry records another payload hash".into());
    }
    let sigs = spec["signatures"].as_array().cloned().unwrap_or_default();
    let found = sigs.iter().any(|s| {
        s["signature"].as_str().and_then(b64).as_deref() == Some(signature)
            && same_key(&s["verifier"])
    });
    if !found {
        return Err("the entry records another signature or key".into());
    }
    Ok(Some("dsse entry matches payload, signature and key".into()))
}

/// A `dsse` body logged in request form (`spec.proposedContent`, as the local Sigstore
/// stack's mock Rekor logs it): the logged envelope must be this bundle's (payload type,
/// payload, its one signature) and every verifier this key. A body with both forms is refused.
fn request_form_matches(
    spec: &Value,
    pc: &Value,
    env: &crate::formats::dsse::Envelope,
    signature: &[u8],
    same_key: &dyn Fn(&Value) -> bool,
) -> std::result::Result<Option<String>, String> {
    if spec.get("payloadHash").is_some() || spec.get("signatures").is_some() {
        return Err("the entry body has both the request and the canonical form".into());
    }
    let logged: Value = pc["envelope"]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or("the entry's proposedContent.envelope is not a DSSE envelope")?;
    if logged["payloadType"].as_str() != Some(env.payload_type.as_str()) {
        return Err("the entry records another payload type".into());
    }
    if logged["payload"].as_str().and_then(b64).as_deref() != Some(env.payload.as_slice()) {
        return Err("the entry records another payload".into());
    }
    let sigs = logged["signatures"].as_array().cloned().unwrap_or_default();
    let [sig] = sigs.as_slice() else {
        return Err(format!(
            "the entry records {} signatures, not 1",
            sigs.len()
        ));
    };
    if sig["sig"].as_str().and_then(b64).as_deref() != Some(signature) {
        return Err("the entry records another signature".into());
    }
    let verifiers = pc["verifiers"].as_array().cloned().unwrap_or_default();
    if verifiers.is_empty() || !verifiers.iter().all(same_key) {
        return Err("the entry records another key".into());
    }
    Ok(Some(
        "dsse entry (request form) matches payload, signature and key".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_form_dsse_bodies_bind_payload_signature_and_key() {
        use base64::Engine;
        let b64e = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let env = crate::formats::dsse::Envelope {
            payload: b"{}".to_vec(),
            payload_type: "application/vnd.in-toto+json".into(),
            signatures: vec![],
        };
        let body = |payload: &[u8], sig: &[u8], extra: bool| {
            let logged = serde_json::json!({"payload": b64e(payload), "payloadType": env.payload_type,
                "signatures": [{"sig": b64e(sig)}]});
            let mut spec = serde_json::json!({"proposedContent": {"envelope": logged.to_string(), "verifiers": ["K"]}});
            if extra {
                spec["payloadHash"] = serde_json::json!({});
            }
            spec
        };
        let key_ok = |v: &Value| v == "K";
        let check = |spec: &Value| {
            request_form_matches(spec, &spec["proposedContent"], &env, b"s", &key_ok)
        };
        assert!(check(&body(b"{}", b"s", false)).unwrap().is_some());
        assert!(
            check(&body(b"{\"x\":1}", b"s", false))
                .unwrap_err()
                .contains("payload")
        );
        assert!(
            check(&body(b"{}", b"t", false))
                .unwrap_err()
                .contains("signature")
        );
        assert!(
            check(&body(b"{}", b"s", true))
                .unwrap_err()
                .contains("both")
        );
        let other_key = |v: &Value| v == "L";
        let spec = body(b"{}", b"s", false);
        assert!(
            request_form_matches(&spec, &spec["proposedContent"], &env, b"s", &other_key)
                .unwrap_err()
                .contains("key")
        );
    }

    #[test]
    fn a_negative_tree_size_is_a_malformed_proof() {
        let mut report = Report::new("x");
        let entry = serde_json::json!({
            "canonicalizedBody": "e30=",
            "inclusionProof": {"logIndex": "0", "treeSize": "-1", "rootHash": "AAAA", "hashes": []}
        });
        inclusion_outcome(&entry, None, "log index 0").record(&mut report, CheckId::TlogInclusion);
        let c = &report.checks[0];
        assert_eq!(
            (c.check, c.status),
            (CheckId::TlogInclusion, super::super::report::Status::Fail)
        );
        assert!(c.reason.contains("malformed"), "{}", c.reason);
    }
}
