//! The log's own evidence for one entry: the Merkle inclusion proof (RFC 9162) and the
//! checkpoint that signs its root (`tlog-inclusion`), and the signed entry timestamp
//! (`tlog-promise`), each as an [`Outcome`].

use serde_json::Value;

use super::root::{TrustedLog, TrustedRoot};
use crate::util::digest::Digest;
use crate::verify::CheckId;
use crate::verify::report::Report;
use crate::verify::signed::{b64, verify_der};

pub(super) fn int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// A non-negative integer (a log index or tree size), as a number or a decimal string.
/// Negative values and values past `u64::MAX` are `None`, never wrapped.
pub(super) fn uint(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
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
    pub(super) fn record(self, report: &mut Report, check: CheckId) {
        match self {
            Outcome::Pass(r) => report.pass(check, None, r),
            Outcome::Skip(r) => report.skip(check, None, r),
            Outcome::Fail(r) => report.fail(check, None, r),
        }
    }
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
}
