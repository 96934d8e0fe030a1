//! The verification report: every check that ran, with its outcome and reason, rendered for
//! people or as JSON.
//!
//! A check is about the image as a whole (`attestation: None`) or about one attestation (the
//! digest of the referrer manifest, or the tag it came from). Four outcomes exist:
//! `pass`, `fail` (the verdict fails), `skip` (not applicable or not checked, said why, never
//! counted as a pass) and `ignored` (an attestation that did not verify was set aside: it is
//! shown, never counted for or against the image; if evidence is then missing, the
//! requirement check fails and names it).

use serde::Serialize;

pub use super::check_id::CheckId;
use crate::util::digest::Digest;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The check ran and held.
    Pass,
    /// The check ran and did not hold: the verdict is a failure.
    Fail,
    /// The check did not apply or could not run offline; never counted as a pass.
    Skip,
    /// The attestation did not verify (unsigned, bad signature, unreadable) and was set aside.
    Ignored,
}

impl Status {
    /// The lowercase word used in both outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Ignored => "ignored",
        }
    }
}

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The check (printed by its stable name: `signature`, `subject`, `builder-id`, ...).
    pub check: CheckId,
    /// Outcome.
    pub status: Status,
    /// Why, in words: what was expected and what was found.
    pub reason: String,
    /// The attestation the check is about (referrer manifest digest or tag), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
}

/// What became of one attestation found for the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationOutcome {
    /// Referrer manifest digest, or `TAG#N` for cosign's legacy tags and BuildKit's
    /// attestation manifests.
    pub id: String,
    /// Where it was found: `referrer`, `cosign-tag`, `buildkit`.
    pub found_as: String,
    /// The predicate type, once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// Our `dev.cargo-provenance.role` annotation, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// True when its signature verified and every check on it passed: it counts as
    /// evidence for the requirements.
    pub verified: bool,
}

/// Who signed one verified attestation (read by [`super::slsa_level`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignerInfo {
    /// `key` or `keyless`.
    pub kind: String,
    /// The certificate's SAN (keyless).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The certificate's OIDC issuer (keyless).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Fulcio's runner environment claim (`github-hosted`, `self-hosted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner_environment: Option<String>,
}

/// The SLSA build level the verified evidence supports, and why ([`super::slsa_level`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlsaLevel {
    /// `0`..`2`.
    pub level: u8,
    /// `SLSA_BUILD_LEVEL_N`.
    pub name: String,
    /// One line per criterion, met or not.
    pub reasons: Vec<String>,
}

/// The result of verifying one image (or one bundle).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What was verified, as the user wrote it.
    pub reference: String,
    /// The digest it resolved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// True when no check failed and at least one passed.
    pub verified: bool,
    /// The Sigstore trusted root keyless signatures were verified against, when one was used.
    #[serde(rename = "trustedRoot", skip_serializing_if = "Option::is_none")]
    pub trusted_root: Option<String>,
    /// Every check, in the order run.
    pub checks: Vec<Check>,
    /// Every attestation considered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<AttestationOutcome>,
    /// The statements of the counted attestations (for `--rebuild`); not printed.
    #[serde(skip)]
    pub statements: Vec<serde_json::Value>,
    /// The attestation ids of `statements`, in the same order; not printed.
    #[serde(skip)]
    pub statement_ids: Vec<String>,
    /// Who signed each counted attestation, by id; not printed.
    #[serde(skip)]
    pub signers: std::collections::BTreeMap<String, SignerInfo>,
    /// The SLSA build level the verified evidence supports (image mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slsa: Option<SlsaLevel>,
    /// The parts of the image that needed evidence (for `--rebuild`); not printed.
    #[serde(skip)]
    pub target: super::document::Target,
    /// The attestations (`None`: single-bundle mode) with a log entry that both records their
    /// signature and is shown in the log, the same entry for both
    /// ([`super::tlog::check_entries`]): what `--require-tlog` needs; not printed.
    #[serde(skip)]
    pub logged: Vec<Option<String>>,
}

impl Report {
    /// An empty report about `reference`.
    pub fn new(reference: impl Into<String>) -> Self {
        Report {
            reference: reference.into(),
            ..Report::default()
        }
    }

    /// Records a check.
    pub fn push(
        &mut self,
        check: CheckId,
        status: Status,
        attestation: Option<&str>,
        reason: impl Into<String>,
    ) {
        self.checks.push(Check {
            check,
            status,
            reason: reason.into(),
            attestation: attestation.map(str::to_owned),
        });
        self.verified = self.compute_verified();
    }

    /// Records a passing check.
    pub fn pass(&mut self, check: CheckId, attestation: Option<&str>, reason: impl Into<String>) {
        self.push(check, Status::Pass, attestation, reason);
    }

    /// Records a failing check.
    pub fn fail(&mut self, check: CheckId, attestation: Option<&str>, reason: impl Into<String>) {
        self.push(check, Status::Fail, attestation, reason);
    }

    /// Records a skipped check.
    pub fn skip(&mut self, check: CheckId, attestation: Option<&str>, reason: impl Into<String>) {
        self.push(check, Status::Skip, attestation, reason);
    }

    /// Records a check whose failure sets the attestation aside.
    pub fn ignore(&mut self, check: CheckId, attestation: Option<&str>, reason: impl Into<String>) {
        self.push(check, Status::Ignored, attestation, reason);
    }

    fn compute_verified(&self) -> bool {
        !self.checks.iter().any(|c| c.status == Status::Fail)
            && self.checks.iter().any(|c| c.status == Status::Pass)
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }

    /// The checks about attestation `id`.
    pub fn checks_of<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Check> + 'a {
        self.checks
            .iter()
            .filter(move |c| c.attestation.as_deref() == Some(id))
    }

    /// One line naming every failed check and its reason, for the error message (exit 1).
    pub fn failure_summary(&self) -> String {
        let failed: Vec<String> = self
            .failures()
            .map(|c| format!("{}: {}", c.check, c.reason))
            .collect();
        if failed.is_empty() {
            "no check passed".to_owned()
        } else {
            format!("{} check(s) failed: {}", failed.len(), failed.join("; "))
        }
    }

    /// The report as text for people: one line per check, then the verdict.
    pub fn human(&self) -> String {
        let mut out = String::new();
        match &self.digest {
            Some(d) => out.push_str(&format!("verifying {} ({d})\n", self.reference)),
            None => out.push_str(&format!("verifying {}\n", self.reference)),
        }
        if let Some(root) = &self.trusted_root {
            out.push_str(&format!("trusted root: {root}\n"));
        }
        let width = self
            .checks
            .iter()
            .map(|c| c.check.as_str().len())
            .max()
            .unwrap_or(0);
        for c in &self.checks {
            let about = c
                .attestation
                .as_deref()
                .map(|a| format!("[{}] ", short(a)))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {:<7} {:<width$}  {about}{}\n",
                c.status.as_str(),
                c.check.as_str(),
                c.reason
            ));
        }
        if let Some(l) = &self.slsa {
            out.push_str(&format!("SLSA build level: L{} ({})\n", l.level, l.name));
            for r in &l.reasons {
                out.push_str(&format!("  {r}\n"));
            }
        }
        let count = |s| self.checks.iter().filter(|c| c.status == s).count();
        out.push_str(&format!(
            "{}: {} passed, {} failed, {} skipped, {} ignored\n",
            if self.verified { "VERIFIED" } else { "FAILED" },
            count(Status::Pass),
            count(Status::Fail),
            count(Status::Skip),
            count(Status::Ignored)
        ));
        out
    }

    /// The report as a pretty JSON document (stable key order).
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned()) + "\n"
    }
}

/// Shortens `sha256:<64 hex>` to `sha256:<12 hex>` for human output; other ids unchanged.
pub fn short(id: &str) -> String {
    match id.strip_prefix("sha256:") {
        Some(hex) if hex.len() > 12 && !hex.contains(['#', '.']) => {
            format!("sha256:{}", &hex[..12])
        }
        _ => id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_with_no_pass_is_not_verified() {
        let mut r = Report::new("x");
        assert!(!r.verified);
        r.skip(CheckId::Tlog, None, "offline");
        assert!(!r.verified, "skips never make a pass");
        r.ignore(CheckId::Signature, Some("a"), "bad");
        assert!(!r.verified);
        r.pass(CheckId::Signature, Some("b"), "ok");
        assert!(r.verified);
        r.fail(CheckId::Subject, Some("b"), "other image");
        assert!(!r.verified);
        assert_eq!(
            r.failure_summary(),
            "1 check(s) failed: subject: other image"
        );
        assert_eq!(r.checks_of("b").count(), 2);
    }

    #[test]
    fn renderings_name_checks_and_outcomes() {
        let mut r = Report::new("oci:x");
        r.pass(
            CheckId::Signature,
            Some(&format!("sha256:{}", "a".repeat(64))),
            "good",
        );
        r.fail(CheckId::BuilderId, None, "expected y, found z");
        let h = r.human();
        assert!(
            h.contains("pass    signature   [sha256:aaaaaaaaaaaa] good"),
            "{h}"
        );
        assert!(h.contains("fail    builder-id  expected y, found z"), "{h}");
        assert!(
            h.ends_with("FAILED: 1 passed, 1 failed, 0 skipped, 0 ignored\n"),
            "{h}"
        );
        let j: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(j["verified"], false);
        assert_eq!(j["checks"][1]["status"], "fail");
        assert!(j["checks"][1].get("attestation").is_none());
    }
}
