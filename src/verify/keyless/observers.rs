//! Ours: what counts toward the verified-time threshold (`--verified-time-threshold`), as
//! sigstore-go counts it: independent observers, not copies of one. sigstore-verify 0.15.1
//! returns one verified time per log entry and per RFC 3161 timestamp, so a bundle that
//! repeats its one entry or its one timestamp would meet a threshold of 2 with a single
//! observer. So:
//!
//! - a log entry repeated in the bundle (same log, same index) is refused (`tlog-entry`),
//!   sigstore-go's "duplicate tlog entries found";
//! - signed integrated times (Rekor v1 entries with a SET) count once per log;
//! - RFC 3161 timestamps count once per timestamp authority of the trusted root (the one
//!   whose chain verifies the token), sigstore-go's "duplicate timestamps from the same
//!   authority".

use std::collections::BTreeSet;

use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::tsa::verify_timestamp_for_authority;
use sigstore_verify::types::{Bundle, KindVersion, SignatureBytes, SignatureContent, TsaAuthority};

/// The first log entry the bundle repeats (same log id and log index), as a refusal.
pub fn repeated_entry(bundle: &Bundle) -> Option<String> {
    let entries = &bundle.verification_material.tlog_entries;
    entries.iter().enumerate().find_map(|(i, a)| {
        entries[i + 1..]
            .iter()
            .any(|b| a.log_id.key_id == b.log_id.key_id && a.log_index == b.log_index)
            .then(|| {
                format!(
                    "log index {} of log {} appears more than once in the bundle: a repeated \
                     entry is refused (it would count twice toward --verified-time-threshold)",
                    a.log_index,
                    a.log_id.key_id.to_base64()
                )
            })
    })
}

/// How many independent observers stand behind the bundle's verified times: the logs with a
/// signed integrated time, plus the timestamp authorities of `root` that verify its RFC 3161
/// timestamps. Call it once the crate has verified every one of them.
pub fn count(bundle: &Bundle, root: &TrustedRoot) -> usize {
    let logs: BTreeSet<&[u8]> = bundle
        .verification_material
        .tlog_entries
        .iter()
        .filter(|e| {
            matches!(
                e.kind_version,
                KindVersion::HashedRekordV001 | KindVersion::DsseV001 | KindVersion::IntotoV002
            ) && e.inclusion_promise.is_some()
                && e.integrated_time.is_some()
        })
        .map(|e| e.log_id.key_id.as_bytes())
        .collect();
    logs.len() + timestamp_authorities(bundle, root)
}

/// How many distinct authorities of `root` verify the bundle's RFC 3161 timestamps (by URI,
/// as sigstore-go tells them apart; by position when a root leaves the URI empty).
fn timestamp_authorities(bundle: &Bundle, root: &TrustedRoot) -> usize {
    let tokens = &bundle
        .verification_material
        .timestamp_verification_data
        .rfc3161_timestamps;
    if tokens.is_empty() {
        return 0;
    }
    let signature = match &bundle.content {
        SignatureContent::MessageSignature(m) => m.signature.clone(),
        SignatureContent::DsseEnvelope(e) => e.signature.sig.clone(),
        _ => return 0,
    };
    let authorities: Vec<(String, TsaAuthority)> = root
        .timestamp_authorities
        .iter()
        .enumerate()
        .filter_map(|(n, ca)| {
            let (leaf, intermediates, anchor) = match ca.cert_chain.certificates.as_slice() {
                [] => return None,
                [only] => (only, &[][..], only),
                [leaf, between @ .., anchor] => (leaf, between, anchor),
            };
            let name = match ca.uri.as_deref() {
                Some(uri) if !uri.is_empty() => uri.to_owned(),
                _ => format!("#{n}"),
            };
            let authority = TsaAuthority::new(
                leaf.raw_bytes.clone(),
                intermediates.iter().map(|c| c.raw_bytes.clone()).collect(),
                anchor.raw_bytes.clone(),
                ca.valid_for,
            );
            Some((name, authority))
        })
        .collect();
    let signers: BTreeSet<&str> = tokens
        .iter()
        .filter_map(|t| signer(&t.signed_timestamp, &signature, &authorities))
        .collect();
    signers.len()
}

fn signer<'a>(
    token: &sigstore_verify::types::TimestampToken,
    signature: &SignatureBytes,
    authorities: &'a [(String, TsaAuthority)],
) -> Option<&'a str> {
    authorities
        .iter()
        .find(|(_, a)| verify_timestamp_for_authority(token, signature, a).is_ok())
        .map(|(name, _)| name.as_str())
}
