//! Keyless verification of Sigstore bundles: a Fulcio certificate instead of a key.
//!
//! The cryptography is sigstore-rust's `sigstore-verify` (certificate chain to a Fulcio CA
//! of the trusted root at the signing time, code-signing usage, SCTs, RFC 3161 timestamps,
//! Rekor v1 SETs, inclusion proofs and checkpoints of Rekor v1 and v2, and the log entry's
//! body against this bundle). Ours, around it:
//!
//! - [`identity`]: the identity policy with cosign's flag names (exact or anchored regexp,
//!   GitHub workflow claims), matched on the certificate's claims as the crate parses them;
//! - [`precheck`]: chain shapes refused before the crate runs, Go's base64 leniency;
//! - [`outcome`]: the crate's result as our report's checks;
//! - [`root`]: the trusted root (`--trusted-root`, else the shipped public-good root);
//! - the verified-time threshold (sigstore-go's observer threshold): at least N verified
//!   signing times, default 1.

pub mod identity;
pub mod outcome;
pub mod precheck;
pub mod root;

use serde_json::Value;
use sigstore_verify::types::bundle::VerificationMaterialContent;
use sigstore_verify::types::{Bundle, Sha256Hash, SignatureContent};
use sigstore_verify::{VerificationPolicy, VerificationResult};

use super::bundle::Artifact;
use super::report::Report;
use crate::error::{Error, Result};
pub use identity::{GithubClaims, IdentityFlags, IdentityPolicy};
pub use root::SigstoreRoot;

/// What a keyless bundle is verified against.
#[derive(Debug)]
pub struct KeylessTrust<'a> {
    /// Who must have signed.
    pub policy: &'a IdentityPolicy,
    /// The trusted root.
    pub root: &'a SigstoreRoot,
    /// How many verified signing times are required (at least 1).
    pub time_threshold: usize,
}

/// True when `bytes` is bundle JSON whose verification material is a certificate or chain.
pub fn is_keyless(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes).is_ok_and(|v| {
        let vm = &v["verificationMaterial"];
        vm.get("certificate").is_some() || vm.get("x509CertificateChain").is_some()
    })
}

/// Verifies one keyless bundle about `artifact`. Every outcome is in the report; `Err` only
/// when the trusted root cannot be used (exit 2).
pub fn verify_bundle(
    name: &str,
    bytes: &[u8],
    artifact: &Artifact,
    trust: &KeylessTrust,
) -> Result<Report> {
    let mut report = Report::new(name);
    report.digest = Some(artifact.digest());
    report.trusted_root = Some(trust.root.name.clone());
    let Some(bundle) = parse(&mut report, bytes) else {
        return Ok(report);
    };
    verify_parsed(&mut report, None, &bundle, artifact, trust)?;
    Ok(report)
}

/// Parses bundle JSON for the crate after our prechecks; failures go to the report.
pub fn parse(report: &mut Report, bytes: &[u8]) -> Option<Bundle> {
    let mut value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            report.fail("bundle", None, format!("not valid JSON: {e}"));
            return None;
        }
    };
    if let Err(reason) = precheck::check_chain(&value) {
        report.fail("certificate-chain", None, reason);
        return None;
    }
    let text = if precheck::normalize_base64(&mut value) {
        value.to_string()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    };
    match Bundle::from_json(&text) {
        Ok(b) => Some(b),
        Err(e) => {
            report.fail(
                "bundle",
                None,
                format!("not a Sigstore bundle we accept: {e}"),
            );
            None
        }
    }
}

/// Verifies a parsed keyless bundle; checks are recorded about attestation `att`.
pub fn verify_parsed(
    report: &mut Report,
    att: Option<&str>,
    bundle: &Bundle,
    artifact: &Artifact,
    trust: &KeylessTrust,
) -> Result<Option<VerificationResult>> {
    let Some(cert) = bundle.signing_certificate() else {
        report.fail(
            "certificate-chain",
            att,
            "the bundle carries no signing certificate",
        );
        return Ok(None);
    };
    let info = match sigstore_verify::crypto::parse_certificate_info(cert) {
        Ok(i) => i,
        Err(e) => {
            report.fail(
                "certificate-chain",
                att,
                format!("the signing certificate does not parse: {e}"),
            );
            return Ok(None);
        }
    };
    let identity_ok = match trust.policy.check(&info) {
        Ok(reason) => {
            report.pass("certificate-identity", att, reason);
            true
        }
        Err(reason) => {
            report.fail("certificate-identity", att, reason);
            false
        }
    };
    if bundle.verification_material.tlog_entries.is_empty() {
        report.fail(
            "tlog-entry",
            att,
            "the bundle has no transparency log entry: a keyless signature must be logged",
        );
        return Ok(None);
    }
    let policy = crate_policy(trust.policy, identity_ok);
    let verified = match artifact {
        Artifact::Bytes(b) => trust.root.verifier.verify(b.as_slice(), bundle, &policy),
        Artifact::Digest(d) => {
            let h = Sha256Hash::from_hex(&hex::encode(d.as_bytes()))
                .map_err(|e| Error::msg(format!("artifact digest {d}: {e}")))?;
            trust.root.verifier.verify(h, bundle, &policy)
        }
    };
    match verified {
        Ok(result) => {
            record_success(report, att, bundle, &result, trust);
            Ok(Some(result))
        }
        Err(e) => {
            let Some(check) = outcome::check_of(&e) else {
                return Err(Error::msg(format!(
                    "trusted root {}: {e}; pass a usable root with --trusted-root",
                    trust.root.name
                )));
            };
            report.fail(
                check,
                att,
                format!("{e}{}", outcome::hint(check, &trust.root.name)),
            );
            Ok(None)
        }
    }
}

/// The crate's policy: identity and issuer are ours to match (regexps, GitHub claims); when
/// they are exact and held, the crate matches them too.
fn crate_policy(policy: &IdentityPolicy, identity_ok: bool) -> VerificationPolicy {
    match (identity_ok, policy.identity.exact(), policy.issuer.exact()) {
        (true, Some(id), Some(iss)) => VerificationPolicy::new(id, iss),
        _ => VerificationPolicy::any_identity(),
    }
}

fn record_success(
    report: &mut Report,
    att: Option<&str>,
    bundle: &Bundle,
    result: &VerificationResult,
    trust: &KeylessTrust,
) {
    let root = &trust.root.name;
    let chain = match &bundle.verification_material.content {
        VerificationMaterialContent::X509CertificateChain { .. } => "x509CertificateChain",
        _ => "certificate",
    };
    report.pass(
        "bundle",
        att,
        format!(
            "Sigstore bundle {}, keyless ({chain})",
            bundle.media_type.as_str()
        ),
    );
    match &bundle.content {
        SignatureContent::DsseEnvelope(_) => {
            report.pass(
                "signature",
                att,
                "the DSSE signature verifies against the certificate's key",
            );
            report.pass(
                "subject",
                att,
                "a subject of the signed statement is the artifact",
            );
        }
        _ => {
            report.pass(
                "artifact-digest",
                att,
                "the bundle signs the artifact's digest",
            );
            report.pass(
                "signature",
                att,
                "the signature over the artifact verifies against the certificate's key",
            );
        }
    }
    if result.certificate_verified() {
        report.pass(
            "certificate-chain",
            att,
            format!("the certificate chains to a Fulcio CA of the trusted root ({root}) valid at the signing time; key usage code signing"),
        );
    }
    if result.sct_verified() {
        report.pass(
            "sct",
            att,
            format!("the embedded SCT verifies against a CT log of the trusted root ({root})"),
        );
    }
    record_times(report, att, bundle, result, trust);
    record_tlog(report, att, bundle, result, root);
}

fn record_times(
    report: &mut Report,
    att: Option<&str>,
    bundle: &Bundle,
    result: &VerificationResult,
    trust: &KeylessTrust,
) {
    let times = result.verified_timestamps();
    let list: Vec<String> = times.iter().map(ToString::to_string).collect();
    let validity = result
        .certificate()
        .map(|c| format!("{} .. {}", c.not_before, c.not_after))
        .unwrap_or_default();
    let need = trust.time_threshold.max(1);
    if times.len() < need {
        report.fail(
            "signing-time",
            att,
            format!(
                "{} verified signing time(s) ({}), {need} required (--verified-time-threshold)",
                times.len(),
                list.join(", ")
            ),
        );
    } else {
        report.pass(
            "signing-time",
            att,
            format!("{} verified signing time(s) ({}), each inside the certificate's validity ({validity})", times.len(), list.join(", ")),
        );
    }
    let tsa = bundle
        .verification_material
        .timestamp_verification_data
        .rfc3161_timestamps
        .len();
    if tsa > 0 {
        report.pass("timestamp", att, format!("{tsa} RFC 3161 timestamp(s) verify against a TSA of the trusted root, inside its validity"));
    } else {
        report.skip("timestamp", att, "no RFC 3161 timestamp in the bundle");
    }
}

fn record_tlog(
    report: &mut Report,
    att: Option<&str>,
    bundle: &Bundle,
    result: &VerificationResult,
    root: &str,
) {
    let entries = &bundle.verification_material.tlog_entries;
    let kinds: Vec<String> = entries
        .iter()
        .map(|e| format!("{:?}", e.kind_version))
        .collect();
    report.pass(
        "tlog-entry",
        att,
        format!(
            "{} log entr{} ({}) record this signature, certificate and artifact",
            entries.len(),
            if entries.len() == 1 { "y" } else { "ies" },
            kinds.join(", ")
        ),
    );
    let promises = entries
        .iter()
        .filter(|e| e.inclusion_promise.is_some())
        .count();
    if promises > 0 {
        report.pass("tlog-promise", att, format!("{promises} signed entry timestamp(s) verify against a log of the trusted root ({root})"));
    } else {
        report.skip(
            "tlog-promise",
            att,
            "no signed entry timestamp (Rekor v2 entries have none; the time comes from a TSA)",
        );
    }
    if result.tlog_verified() {
        report.pass("tlog-inclusion", att, format!("the inclusion proofs and signed checkpoints verify against a log of the trusted root ({root})"));
    }
}
