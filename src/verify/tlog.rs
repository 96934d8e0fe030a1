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

use crate::verify::CheckId;
use serde_json::Value;

use super::report::Report;
use super::signed::{Bundle, Content, b64, verify_der};
use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::util::digest::Digest;

/// One transparency log of a trusted root.
#[derive(Debug, Clone)]
pub struct TrustedLog {
    /// `logId.keyId` bytes (sha256 of the DER key).
    pub log_id: Vec<u8>,
    /// Its key, when it is ECDSA P-256 (other kinds are not checked yet).
    pub key: Option<PublicKey>,
    /// Validity start and end (unix seconds).
    pub valid_from: Option<i64>,
    /// Validity end (unix seconds), inclusive.
    pub valid_until: Option<i64>,
    /// `baseUrl`, for messages.
    pub url: String,
}

/// The parts of a Sigstore trusted root (`application/vnd.dev.sigstore.trustedroot+json`)
/// key-based verification uses: the transparency logs.
#[derive(Debug, Clone, Default)]
pub struct TrustedRoot {
    /// The logs.
    pub tlogs: Vec<TrustedLog>,
}

fn unix(v: &Value) -> Result<Option<i64>> {
    match v.as_str() {
        None => Ok(None),
        Some(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(|t| Some(t.unix_timestamp()))
            .map_err(|e| Error::msg(format!("validFor time `{s}` is not RFC 3339: {e}"))),
    }
}

impl TrustedRoot {
    /// Parses a trusted root file's JSON; `origin` names it in errors.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<TrustedRoot> {
        let v: Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::msg(format!("{origin} is not valid JSON: {e}")))?;
        if !v["mediaType"]
            .as_str()
            .is_some_and(|m| m.starts_with("application/vnd.dev.sigstore.trustedroot"))
        {
            return Err(Error::msg(format!(
                "{origin} is not a Sigstore trusted root (mediaType application/vnd.dev.sigstore.trustedroot+json)"
            )));
        }
        let mut tlogs = Vec::new();
        for (i, l) in v["tlogs"].as_array().into_iter().flatten().enumerate() {
            let bad = |what: &str| Error::msg(format!("{origin}: tlogs[{i}]: {what}"));
            let log_id = l["logId"]["keyId"]
                .as_str()
                .and_then(b64)
                .ok_or_else(|| bad("logId.keyId is not base64"))?;
            let pk = &l["publicKey"];
            let key = match pk["keyDetails"].as_str() {
                Some("PKIX_ECDSA_P256_SHA_256") => Some(
                    pk["rawBytes"]
                        .as_str()
                        .and_then(b64)
                        .and_then(|der| PublicKey::from_spki_der(&der, origin).ok())
                        .ok_or_else(|| bad("publicKey.rawBytes is not an ECDSA P-256 key"))?,
                ),
                _ => None,
            };
            tlogs.push(TrustedLog {
                log_id,
                key,
                valid_from: unix(&pk["validFor"]["start"]).map_err(|e| e.context(origin))?,
                valid_until: unix(&pk["validFor"]["end"]).map_err(|e| e.context(origin))?,
                url: l["baseUrl"].as_str().unwrap_or_default().to_owned(),
            });
        }
        Ok(TrustedRoot { tlogs })
    }

    /// Reads a trusted root file.
    pub fn read(path: &std::path::Path) -> Result<TrustedRoot> {
        Self::parse(&crate::util::fs::read(path)?, &path.display().to_string())
    }
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// A non-negative integer (a log index or tree size), as a number or a decimal string.
/// Negative values and values past `u64::MAX` are `None`, never wrapped.
fn uint(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// Checks the bundle's transparency-log entries (see the module docs).
pub fn check_entries(
    report: &mut Report,
    bundle: &Bundle,
    digest: &Digest,
    signature: &[u8],
    key: &PublicKey,
    root: Option<&TrustedRoot>,
) {
    if bundle.tlog_entries.is_empty() {
        report.skip(
            CheckId::Tlog,
            None,
            "the bundle has no transparency-log entry",
        );
        return;
    }
    for entry in &bundle.tlog_entries {
        let label = format!("log index {}", int(&entry["logIndex"]).unwrap_or(-1));
        match entry_body_matches(entry, bundle, digest, signature, key) {
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
        check_inclusion(report, entry, root, &label);
    }
}

fn hash_children(l: &[u8], r: &[u8]) -> [u8; 32] {
    let mut v = Vec::with_capacity(65);
    v.push(1u8);
    v.extend_from_slice(l);
    v.extend_from_slice(r);
    *Digest::of(&v).as_bytes()
}

/// The root an RFC 9162 inclusion proof leads to for leaf `index` of a tree of `size`.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    proof: &[[u8; 32]],
) -> Option<[u8; 32]> {
    if index >= size {
        return None;
    }
    // Checked throughout: `inner` can be 64, and a shift by 64 must not wrap or panic.
    let last = size.checked_sub(1)?;
    let inner = 64 - (index ^ last).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    let expected = usize::try_from(inner.checked_add(border)?).ok()?;
    if proof.len() != expected {
        return None;
    }
    let inner = inner as usize;
    let mut h = leaf;
    for (i, p) in proof[..inner].iter().enumerate() {
        let bit = index.checked_shr(u32::try_from(i).ok()?).unwrap_or(0) & 1;
        h = if bit == 0 {
            hash_children(&h, p)
        } else {
            hash_children(p, &h)
        };
    }
    for p in &proof[inner..] {
        h = hash_children(p, &h);
    }
    Some(h)
}

/// Verifies a checkpoint (signed note): one signature line whose key hint is the log id's
/// first 4 bytes verifies over the note's text; returns (tree size, root hash).
fn verify_checkpoint(note: &str, log: &TrustedLog) -> std::result::Result<(u64, Vec<u8>), String> {
    let key = log
        .key
        .as_ref()
        .ok_or("the log's key type is not checked yet")?;
    let (text, sigs) = note
        .split_once("\n\n")
        .ok_or("the checkpoint is not a signed note")?;
    let text = format!("{text}\n");
    let mut lines = text.lines();
    let (_origin, size, root) = (lines.next(), lines.next(), lines.next());
    let size: u64 = size
        .and_then(|s| s.parse().ok())
        .ok_or("the checkpoint has no tree size")?;
    let root = root
        .and_then(b64)
        .ok_or("the checkpoint has no root hash")?;
    let signed = sigs
        .lines()
        .filter_map(|l| l.strip_prefix("\u{2014} "))
        .any(|l| {
            l.rsplit_once(' ')
                .and_then(|(_, sig)| b64(sig))
                .filter(|raw| raw.len() > 4 && raw[..4] == log.log_id[..4.min(log.log_id.len())])
                .is_some_and(|raw| verify_der(key, text.as_bytes(), &raw[4..]))
        });
    if !signed {
        return Err("no checkpoint signature verifies against the log's key".into());
    }
    Ok((size, root))
}

/// The outcome of one log check on one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Verified; the reason says what.
    Pass(String),
    /// Not checked; the reason says why.
    Skip(String),
    /// Refused; the reason says why.
    Fail(String),
}

impl Outcome {
    fn record(self, report: &mut Report, check: CheckId) {
        match self {
            Outcome::Pass(r) => report.pass(check, None, r),
            Outcome::Skip(r) => report.skip(check, None, r),
            Outcome::Fail(r) => report.fail(check, None, r),
        }
    }
}

fn check_inclusion(report: &mut Report, entry: &Value, root: Option<&TrustedRoot>, label: &str) {
    inclusion_outcome(entry, root, label).record(report, CheckId::TlogInclusion);
}

/// `tlog-inclusion` of one entry (protobuf JSON): the RFC 9162 proof leads from the
/// canonicalized body, as logged, to the proof's root hash, and a checkpoint signed by the
/// entry's log in `root` commits to that root and tree size. A missing `logIndex` in the
/// proof is 0 (proto3 omits zero values).
pub fn inclusion_outcome(entry: &Value, root: Option<&TrustedRoot>, label: &str) -> Outcome {
    let proof = &entry["inclusionProof"];
    if !proof.is_object() {
        return Outcome::Skip(format!("{label}: the entry has no inclusion proof"));
    }
    let leaf = entry["canonicalizedBody"]
        .as_str()
        .and_then(b64)
        .map(|body| {
            let mut v = vec![0u8];
            v.extend_from_slice(&body);
            *Digest::of(&v).as_bytes()
        });
    let hashes: Option<Vec<[u8; 32]>> = proof["hashes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| h.as_str().and_then(b64)?.try_into().ok())
                .collect()
        })
        .unwrap_or(Some(Vec::new()));
    let index = if proof["logIndex"].is_null() {
        Some(0)
    } else {
        uint(&proof["logIndex"])
    };
    let (Some(leaf), Some(hashes), Some(index), Some(size), Some(claimed)) = (
        leaf,
        hashes,
        index,
        uint(&proof["treeSize"]),
        proof["rootHash"].as_str().and_then(b64),
    ) else {
        return Outcome::Fail(format!("{label}: the inclusion proof is malformed"));
    };
    let computed = root_from_inclusion_proof(index, size, leaf, &hashes);
    if computed.as_ref().map(|c| c.as_slice()) != Some(claimed.as_slice()) {
        return Outcome::Fail(format!(
            "{label}: the inclusion proof does not lead to its root hash"
        ));
    }
    let log_id = entry["logId"]["keyId"]
        .as_str()
        .and_then(b64)
        .unwrap_or_default();
    let log = root.and_then(|r| r.tlogs.iter().find(|l| l.log_id == log_id));
    let (Some(log), Some(note)) = (log, proof["checkpoint"]["envelope"].as_str()) else {
        return Outcome::Skip(format!(
            "{label}: the proof leads to its root hash, but no checkpoint signed by a trusted log key confirms that root (give --trusted-root)"
        ));
    };
    match verify_checkpoint(note, log) {
        Ok((s, r)) if s == size && r == claimed => Outcome::Pass(format!(
            "{label}: included in {}'s tree of size {size}, checkpoint signed by the log",
            log.url
        )),
        Ok(_) => Outcome::Fail(format!(
            "{label}: the signed checkpoint commits to another tree size or root hash"
        )),
        Err(why) => Outcome::Fail(format!("{label}: {why}")),
    }
}

/// Does the entry's body describe this signature? `Ok(None)`: a kind we do not check.
fn entry_body_matches(
    entry: &Value,
    bundle: &Bundle,
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
        (Some("dsse"), Some("dsse")) => {
            let Content::Dsse(env) = &bundle.content else {
                return Err("a dsse entry for a message-signature bundle".into());
            };
            let payload = &env.payload;
            if let Some(pc) = spec.get("proposedContent") {
                return request_form_matches(spec, pc, env, signature, &same_key);
            }
            if spec["payloadHash"]["value"].as_str() != Some(&Digest::of(payload).hex()) {
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
        (a, b) if a != b => Err(format!(
            "kindVersion.kind {a:?} differs from the body's {b:?}"
        )),
        _ => Ok(None),
    }
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

fn check_promise(report: &mut Report, entry: &Value, root: &TrustedRoot, label: &str) {
    promise_outcome(entry, root, label).record(report, CheckId::TlogPromise);
}

/// `tlog-promise` of one entry (protobuf JSON): the signed entry timestamp verifies over the
/// canonicalized body as logged, the integrated time and the log index under the entry's log
/// key in `root`, and the integrated time lies inside that key's validity and not in the
/// future.
pub fn promise_outcome(entry: &Value, root: &TrustedRoot, label: &str) -> Outcome {
    let log_id = entry["logId"]["keyId"]
        .as_str()
        .and_then(b64)
        .unwrap_or_default();
    let Some(log) = root.tlogs.iter().find(|l| l.log_id == log_id) else {
        return Outcome::Fail(format!(
            "{label}: the entry's log is not in the trusted root"
        ));
    };
    let Some(log_key) = &log.key else {
        return Outcome::Skip(format!(
            "{label}: log {} uses a key type not checked yet",
            log.url
        ));
    };
    let (Some(time), Some(index), Some(body), Some(set)) = (
        int(&entry["integratedTime"]),
        int(&entry["logIndex"]),
        entry["canonicalizedBody"].as_str(),
        entry["inclusionPromise"]["signedEntryTimestamp"]
            .as_str()
            .and_then(b64),
    ) else {
        return Outcome::Skip(format!(
            "{label}: no inclusion promise (signed entry timestamp) to check"
        ));
    };
    let signed = format!(
        r#"{{"body":"{body}","integratedTime":{time},"logID":"{}","logIndex":{index}}}"#,
        hex::encode(&log_id)
    );
    if !verify_der(log_key, signed.as_bytes(), &set) {
        Outcome::Fail(format!(
            "{label}: the signed entry timestamp does not verify against {}",
            log.url
        ))
    } else if time > crate::util::time::now() + 60 {
        Outcome::Fail(format!("{label}: integrated time {time} is in the future"))
    } else if log.valid_from.is_some_and(|f| time < f) || log.valid_until.is_some_and(|u| time > u)
    {
        Outcome::Fail(format!(
            "{label}: integrated time {time} is outside the validity of {}'s key",
            log.url
        ))
    } else {
        Outcome::Pass(format!(
            "{label}: signed entry timestamp verifies against {}",
            log.url
        ))
    }
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

    fn leaf(n: u8) -> [u8; 32] {
        *Digest::of(&[0, n]).as_bytes()
    }

    #[test]
    fn inclusion_proofs_follow_rfc9162() {
        // A tree of 3 leaves: root = H(H(l0, l1), l2).
        let (l0, l1, l2) = (leaf(0), leaf(1), leaf(2));
        let n01 = hash_children(&l0, &l1);
        let root = hash_children(&n01, &l2);
        assert_eq!(root_from_inclusion_proof(2, 3, l2, &[n01]), Some(root));
        assert_eq!(root_from_inclusion_proof(0, 3, l0, &[l1, l2]), Some(root));
        assert_eq!(root_from_inclusion_proof(1, 3, l1, &[l0, l2]), Some(root));
        assert_ne!(root_from_inclusion_proof(1, 3, l1, &[l2, l0]), Some(root));
        assert_eq!(root_from_inclusion_proof(3, 3, l2, &[n01]), None);
        assert_eq!(root_from_inclusion_proof(2, 3, l2, &[]), None);
    }

    /// Sizes and indexes at the integer limits give `None` (no panic in debug builds, no
    /// wrap in release builds), and so do negative ones read from JSON.
    #[test]
    fn inclusion_proof_arithmetic_is_checked_at_the_limits() {
        let l = leaf(0);
        let hashes = vec![l; 64];
        for (index, size) in [
            (0, 0),
            (u64::MAX, u64::MAX),
            (u64::MAX - 1, u64::MAX),
            (0, u64::MAX),
            (1 << 63, u64::MAX),
            (u64::MAX, 0),
        ] {
            for n in [0, 1, 63, 64] {
                let got = root_from_inclusion_proof(index, size, l, &hashes[..n]);
                if index >= size {
                    assert_eq!(got, None, "index {index} size {size}");
                }
            }
        }
        // A proof of the right length at the very top of the range is computed, not wrapped.
        assert!(root_from_inclusion_proof(0, u64::MAX, l, &hashes[..64]).is_some());
        assert!(root_from_inclusion_proof(1 << 63, u64::MAX, l, &hashes[..64]).is_some());
        assert_eq!(uint(&serde_json::json!(-1)), None);
        assert_eq!(uint(&serde_json::json!("-1")), None);
        assert_eq!(uint(&serde_json::json!("18446744073709551616")), None);
        assert_eq!(uint(&serde_json::json!(u64::MAX)), Some(u64::MAX));
    }

    /// An entry whose proof says `treeSize: -1` fails `tlog-inclusion` with a reason.
    #[test]
    fn a_negative_tree_size_is_a_malformed_proof() {
        let mut report = Report::new("x");
        let entry = serde_json::json!({
            "canonicalizedBody": "e30=",
            "inclusionProof": {"logIndex": "0", "treeSize": "-1", "rootHash": "AAAA", "hashes": []}
        });
        check_inclusion(&mut report, &entry, None, "log index 0");
        let c = &report.checks[0];
        assert_eq!(
            (c.check, c.status),
            (CheckId::TlogInclusion, super::super::report::Status::Fail)
        );
        assert!(c.reason.contains("malformed"), "{}", c.reason);
    }
}
