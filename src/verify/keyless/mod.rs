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
//! - [`request_form`]: Rekor v1 `dsse` entries logged in request form (the local stack's
//!   mock Rekor): their binding to the bundle and their log proofs;
//! - [`root`]: the trusted root (`--trusted-root`, else the shipped public-good root);
//! - the verified-time threshold (sigstore-go's observer threshold): at least N verified
//!   signing times from independent observers ([`observers`]), default 1.

pub mod attestation;
pub mod identity;
pub mod observers;
pub mod outcome;
pub mod precheck;
pub mod request_form;
pub mod root;

use crate::verify::CheckId;
use std::sync::Arc;

use serde_json::Value;
use sigstore_verify::crypto::CertificateInfo;
use sigstore_verify::types::bundle::VerificationMaterialContent;
use sigstore_verify::types::{Bundle, Sha256Hash, SignatureContent};
use sigstore_verify::{VerificationPolicy, VerificationResult};

use super::bundle::Artifact;
use super::report::{Report, Status};
use crate::error::{Error, Result};
pub use identity::{GithubClaims, IdentityFlags, IdentityPolicy};
pub use root::SigstoreRoot;

/// What a keyless bundle is verified against.
#[derive(Debug, Clone)]
pub struct KeylessTrust {
    /// Who must have signed.
    pub policy: IdentityPolicy,
    /// The trusted root.
    pub root: Arc<SigstoreRoot>,
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
    let mut ctx = Ctx {
        report: &mut report,
        att: None,
        failure: Status::Fail,
    };
    if let Some(bundle) = parse(&mut ctx, bytes) {
        verify_parsed(&mut ctx, &bundle, artifact, trust)?;
    }
    Ok(report)
}

/// Where checks go: the report, the attestation they are about, and the status a failure
/// gets (`Fail` for a bundle of its own; `Ignored` for an image's attestation, which is then
/// set aside as one signed by another key would be).
pub struct Ctx<'r, 'a> {
    /// The report.
    pub report: &'r mut Report,
    /// The attestation the checks are about.
    pub att: Option<&'a str>,
    /// The status of a failed check.
    pub failure: Status,
}

impl Ctx<'_, '_> {
    fn failed(&mut self, check: CheckId, reason: impl Into<String>) {
        self.report.push(check, self.failure, self.att, reason);
    }

    fn pass(&mut self, check: CheckId, reason: impl Into<String>) {
        self.report.pass(check, self.att, reason);
    }

    fn skip(&mut self, check: CheckId, reason: impl Into<String>) {
        self.report.skip(check, self.att, reason);
    }
}

/// `--require-tlog` for a key-signed bundle: one log entry must both record this very
/// signature (its `tlog-entry` passed) and be shown in the log (its `tlog-inclusion` passed):
/// [`Report::logged`], set by [`super::tlog::check_entries`] per entry. Else `tlog-entry`
/// fails, with the reason the checks of `att` give. An entry of a kind whose body is not
/// checked (`intoto`: a skip) never counts: a genuine log entry of someone else's signature,
/// copied into the bundle, passes inclusion; nor do two entries that each pass one half (a
/// made-up entry that records this signature but is not shown in the log, beside a copied
/// one that is). Keyless bundles always need one.
pub fn tlog_required(report: &mut Report, att: Option<&str>) {
    if report.logged.iter().any(|l| l.as_deref() == att) {
        return;
    }
    let first = |id: CheckId, status: Option<Status>| {
        report
            .checks
            .iter()
            .filter(|c| c.attestation.as_deref() == att && c.check == id)
            .find(|c| status.is_none_or(|s| c.status == s))
            .map(|c| (c.status, c.reason.clone()))
    };
    let inclusion = first(CheckId::TlogInclusion, Some(Status::Pass))
        .or_else(|| first(CheckId::TlogInclusion, None));
    let entry =
        first(CheckId::TlogEntry, Some(Status::Pass)).or_else(|| first(CheckId::TlogEntry, None));
    let why = match (inclusion, entry) {
        (None, _) => "the bundle carries no transparency log entry".to_owned(),
        (Some((Status::Pass, _)), Some((Status::Pass, _))) => {
            "no single log entry both records this signature and is shown in the log".to_owned()
        }
        (Some((Status::Pass, _)), Some((_, reason))) => {
            format!("no log entry is shown to record this signature ({reason})")
        }
        (Some((Status::Pass, _)), None) => {
            "no log entry is shown to record this signature".to_owned()
        }
        (Some((_, reason)), _) => format!("the log entry is not verified ({reason})"),
    };
    report.fail(CheckId::TlogEntry, att, format!("--require-tlog: {why}"));
}

/// Parses bundle JSON for the crate after our prechecks; failures go to the report.
pub fn parse(ctx: &mut Ctx, bytes: &[u8]) -> Option<Bundle> {
    let mut value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            ctx.failed(CheckId::Bundle, format!("not valid JSON: {e}"));
            return None;
        }
    };
    if let Err(reason) = precheck::check_chain(&value) {
        ctx.failed(CheckId::CertificateChain, reason);
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
            ctx.failed(
                CheckId::Bundle,
                format!("not a Sigstore bundle we accept: {e}"),
            );
            None
        }
    }
}

/// Verifies a parsed keyless bundle. `Ok(None)`: it did not verify (in the report);
/// `Err`: the trusted root cannot be used.
pub fn verify_parsed(
    ctx: &mut Ctx,
    bundle: &Bundle,
    artifact: &Artifact,
    trust: &KeylessTrust,
) -> Result<Option<CertificateInfo>> {
    let Some(cert) = bundle.signing_certificate() else {
        ctx.failed(
            CheckId::CertificateChain,
            "the bundle carries no signing certificate",
        );
        return Ok(None);
    };
    let info = match sigstore_verify::crypto::parse_certificate_info(cert) {
        Ok(i) => i,
        Err(e) => {
            let reason = format!("the signing certificate does not parse: {e}");
            ctx.failed(CheckId::CertificateChain, reason);
            return Ok(None);
        }
    };
    let identity_ok = match trust.policy.check(&info) {
        Ok(reason) => {
            ctx.pass(CheckId::CertificateIdentity, reason);
            true
        }
        Err(reason) => {
            ctx.failed(CheckId::CertificateIdentity, reason);
            false
        }
    };
    if bundle.verification_material.tlog_entries.is_empty() {
        ctx.failed(
            CheckId::TlogEntry,
            "the bundle has no transparency log entry: a keyless signature must be logged",
        );
        return Ok(None);
    }
    if let Some(why) = observers::repeated_entry(bundle) {
        ctx.failed(CheckId::TlogEntry, why);
        return Ok(None);
    }
    // Ours: Rekor v1 dsse entries logged in request form (see `request_form`).
    let own = match request_form::check(bundle, &info, cert, &trust.root.logs) {
        Ok(own) => own,
        Err((check, reason)) => {
            let hint = outcome::hint(check, &trust.root.name);
            ctx.failed(check, format!("{reason}{hint}"));
            return Ok(None);
        }
    };
    let policy = crate_policy(&trust.policy, identity_ok);
    let mut checked = std::borrow::Cow::Borrowed(bundle);
    let mut verified = run_crate(&checked, artifact, trust, &policy)?;
    // Ours: sigstore-go's rule that a timestamp it cannot use does not count (the threshold
    // decides), for timestamps the crate cannot parse (fractional seconds in genTime).
    let mut set_aside = None;
    if let Err(e) = &verified
        && outcome::is_unparsable_timestamp(e)
    {
        set_aside = Some(format!("RFC 3161 timestamp set aside, not counted: {e}"));
        let vm = &mut checked.to_mut().verification_material;
        vm.timestamp_verification_data.rfc3161_timestamps.clear();
        verified = run_crate(&checked, artifact, trust, &policy)?;
    }
    let verified = match (verified, &own) {
        (Ok(result), _) => Ok(Verified::of(&result, &info)),
        (Err(e), Some(own)) if request_form::is_body_parse_error(&e) => {
            Ok(Verified::request_form(&info, &checked, own))
        }
        (Err(e), _) => Err(e),
    };
    match verified {
        Ok(verified) => {
            if let Some(note) = &set_aside {
                ctx.skip(CheckId::Timestamp, note.clone());
            }
            let times_ok = record_success(
                ctx,
                &checked,
                &verified,
                trust,
                set_aside.is_none(),
                own.as_ref(),
            );
            Ok((identity_ok && times_ok).then_some(verified.cert))
        }
        Err(e) => {
            let Some(check) = outcome::check_of(&e) else {
                return Err(Error::msg(format!(
                    "trusted root {}: {e}; pass a usable root with --trusted-root",
                    trust.root.name
                )));
            };
            let hint = outcome::hint(check, &trust.root.name);
            let note = set_aside.map(|n| format!("; {n}")).unwrap_or_default();
            ctx.failed(check, format!("{e}{hint}{note}"));
            Ok(None)
        }
    }
}

/// What the crate verified: from its result or, for a bundle whose dsse entries are logged
/// in request form, every step it runs before its entry-body check (see [`request_form`]).
pub struct Verified {
    /// The signing certificate.
    pub cert: CertificateInfo,
    chain: bool,
    sct: bool,
    tlog: bool,
    times: Vec<String>,
}

impl Verified {
    fn of(result: &VerificationResult, info: &CertificateInfo) -> Verified {
        Verified {
            cert: result.certificate().unwrap_or(info).clone(),
            chain: result.certificate_verified(),
            sct: result.sct_verified(),
            tlog: result.tlog_verified(),
            times: result
                .verified_timestamps()
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }

    /// The crate stopped at its last step, the entry-body check; every step before it passed
    /// (chain at every verified time, SCT, identity, SETs, inclusion proofs and checkpoints,
    /// integrated times inside the certificate's validity, DSSE signature and subject), and
    /// every RFC 3161 timestamp left in `bundle` verified.
    fn request_form(
        info: &CertificateInfo,
        bundle: &Bundle,
        own: &request_form::OwnTlog,
    ) -> Verified {
        let tsa = bundle
            .verification_material
            .timestamp_verification_data
            .rfc3161_timestamps
            .len();
        let mut times = own.times.clone();
        times.extend((0..tsa).map(|_| "an RFC 3161 timestamp".to_owned()));
        Verified {
            cert: info.clone(),
            chain: true,
            sct: true,
            tlog: true,
            times,
        }
    }
}

fn run_crate(
    bundle: &Bundle,
    artifact: &Artifact,
    trust: &KeylessTrust,
    policy: &VerificationPolicy,
) -> Result<sigstore_verify::Result<VerificationResult>> {
    Ok(match artifact {
        Artifact::Bytes(b) => trust.root.verifier.verify(b.as_slice(), bundle, policy),
        Artifact::Digest(d) => {
            let h = Sha256Hash::from_hex(&hex::encode(d.as_bytes()))
                .map_err(|e| Error::msg(format!("artifact digest {d}: {e}")))?;
            trust.root.verifier.verify(h, bundle, policy)
        }
    })
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
    ctx: &mut Ctx,
    bundle: &Bundle,
    result: &Verified,
    trust: &KeylessTrust,
    report_timestamps: bool,
    own: Option<&request_form::OwnTlog>,
) -> bool {
    let root = &trust.root.name;
    let chain = match &bundle.verification_material.content {
        VerificationMaterialContent::X509CertificateChain { .. } => "x509CertificateChain",
        _ => "certificate",
    };
    ctx.pass(
        CheckId::Bundle,
        format!(
            "Sigstore bundle {}, keyless ({chain})",
            bundle.media_type.as_str()
        ),
    );
    match &bundle.content {
        SignatureContent::DsseEnvelope(_) => {
            ctx.pass(
                CheckId::Signature,
                "the DSSE signature verifies against the certificate's key",
            );
            ctx.pass(
                CheckId::Subject,
                "a subject of the signed statement is the artifact",
            );
        }
        _ => {
            ctx.pass(
                CheckId::ArtifactDigest,
                "the bundle signs the artifact's digest",
            );
            ctx.pass(
                CheckId::Signature,
                "the signature over the artifact verifies against the certificate's key",
            );
        }
    }
    // Fail closed should the crate ever accept without having checked these.
    let checked = [
        (CheckId::CertificateChain, result.chain),
        (CheckId::Sct, result.sct),
        (CheckId::TlogInclusion, result.tlog),
    ];
    let mut all_checked = true;
    for (check, done) in checked.into_iter().filter(|(_, done)| !done) {
        ctx.failed(
            check,
            format!("sigstore-verify accepted the bundle without checking {check}"),
        );
        all_checked &= done;
    }
    if result.chain {
        ctx.pass(CheckId::CertificateChain,
            format!("the certificate chains to a Fulcio CA of the trusted root ({root}) valid at the signing time; key usage code signing"),
        );
    }
    if result.sct {
        ctx.pass(
            CheckId::Sct,
            format!("the embedded SCT verifies against a CT log of the trusted root ({root})"),
        );
    }
    let times_ok = record_times(ctx, bundle, result, trust, report_timestamps);
    match own {
        Some(own) => record_own_tlog(ctx, own),
        None => record_tlog(ctx, bundle, result, root),
    }
    times_ok && all_checked
}

fn record_times(
    ctx: &mut Ctx,
    bundle: &Bundle,
    result: &Verified,
    trust: &KeylessTrust,
    report_timestamps: bool,
) -> bool {
    let list = &result.times;
    let validity = format!("{} .. {}", result.cert.not_before, result.cert.not_after);
    let need = trust.time_threshold.max(1);
    // Ours: copies of one observer count once (see `observers`).
    let observers = observers::count(bundle, &trust.root.root).min(list.len());
    let enough = observers >= need;
    if !enough {
        let copies = if observers < list.len() {
            format!(
                " from {observers} independent observer(s): one log or timestamp authority counts once"
            )
        } else {
            String::new()
        };
        ctx.failed(
            CheckId::SigningTime,
            format!(
                "{} verified signing time(s) ({}){copies}, {need} required (--verified-time-threshold)",
                list.len(),
                list.join(", ")
            ),
        );
    } else {
        ctx.pass(CheckId::SigningTime,
            format!("{} verified signing time(s) ({}), each inside the certificate's validity ({validity})", list.len(), list.join(", ")),
        );
    }
    let tsa = bundle
        .verification_material
        .timestamp_verification_data
        .rfc3161_timestamps
        .len();
    if !report_timestamps {
        // Already reported as set aside.
    } else if tsa > 0 {
        ctx.pass(CheckId::Timestamp, format!("{tsa} RFC 3161 timestamp(s) verify against a TSA of the trusted root, inside its validity"));
    } else {
        ctx.skip(CheckId::Timestamp, "no RFC 3161 timestamp in the bundle");
    }
    enough
}

fn record_tlog(ctx: &mut Ctx, bundle: &Bundle, result: &Verified, root: &str) {
    let entries = &bundle.verification_material.tlog_entries;
    let kinds: Vec<String> = entries
        .iter()
        .map(|e| format!("{:?}", e.kind_version))
        .collect();
    ctx.pass(
        CheckId::TlogEntry,
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
        ctx.pass(CheckId::TlogPromise, format!("{promises} signed entry timestamp(s) verify against a log of the trusted root ({root})"));
    } else {
        ctx.skip(
            CheckId::TlogPromise,
            "no signed entry timestamp (Rekor v2 entries have none; the time comes from a TSA)",
        );
    }
    if result.tlog {
        ctx.pass(CheckId::TlogInclusion, format!("the inclusion proofs and signed checkpoints verify against a log of the trusted root ({root})"));
    }
}

/// The log checks [`request_form`] did itself, over the logged bytes.
fn record_own_tlog(ctx: &mut Ctx, own: &request_form::OwnTlog) {
    for reason in &own.bindings {
        ctx.pass(CheckId::TlogEntry, reason.clone());
    }
    if own.bindings.is_empty() {
        ctx.pass(
            CheckId::TlogEntry,
            "the log entries record this signature, certificate and artifact",
        );
    }
    for reason in &own.promises {
        ctx.pass(CheckId::TlogPromise, reason.clone());
    }
    if own.promises.is_empty() {
        ctx.skip(CheckId::TlogPromise, "no signed entry timestamp");
    }
    for reason in &own.inclusions {
        ctx.pass(CheckId::TlogInclusion, reason.clone());
    }
}
