//! The SLSA build level the verified evidence supports (SLSA v1.0 build track), with its
//! reasons, as `verify` reports it:
//!
//! - L0: no verified SLSA provenance;
//! - L1: a verified provenance exists (signed with a key, or keyless by an identity that is
//!   not a hosted build platform's);
//! - L2: the provenance is signed keyless by a hosted build platform's identity (GitHub
//!   Actions' OIDC issuer, a GitHub-hosted runner), and the certificate's claims match the
//!   provenance (its SAN is `builder.id`; its source repository and commit are the
//!   provenance's source, the `certificate-source` check);
//! - L3 is never claimed: the signing runs as a step of the user's own job, not isolated
//!   from the build steps, which L3 requires.

use crate::formats::slsa::PREDICATE_TYPE as SLSA_PROVENANCE_V1;
use crate::verify::CheckId;

use super::report::{Report, Status};
/// The report holds these; they are defined with it ([`super::report`]).
pub use super::report::{SignerInfo, SlsaLevel};

/// GitHub Actions' OIDC issuer.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The level `report`'s verified provenance supports.
pub fn assess(report: &Report) -> SlsaLevel {
    let found = report
        .statement_ids
        .iter()
        .zip(&report.statements)
        .find(|(_, s)| s["predicateType"] == SLSA_PROVENANCE_V1);
    let Some((id, prov)) = found else {
        return level(0, vec!["L1 not met: no verified SLSA v1 provenance".into()]);
    };
    let mut reasons = vec![format!(
        "L1: a verified SLSA v1 provenance ({})",
        super::report::short(id)
    )];
    let l3 = "L3 not claimed: the signing runs in the user's own job, not isolated from the \
              build steps";
    let signer = report.signers.get(id);
    let Some(s) = signer.filter(|s| s.kind == "keyless") else {
        reasons.push(
            "L2 not met: signed with a key, which does not say which build platform ran the \
             build (L2 needs a hosted build platform's identity: keyless in CI)"
                .into(),
        );
        reasons.push(l3.into());
        return level(1, reasons);
    };
    let builder = prov["predicate"]["runDetails"]["builder"]["id"]
        .as_str()
        .unwrap_or_default();
    let identity = s.identity.as_deref().unwrap_or_default();
    let mut unmet = Vec::new();
    if s.issuer.as_deref() != Some(GITHUB_ISSUER) {
        unmet.push(format!(
            "the certificate's issuer `{}` is not a hosted build platform's ({GITHUB_ISSUER})",
            s.issuer.as_deref().unwrap_or("")
        ));
    }
    if s.runner_environment.as_deref() != Some("github-hosted") {
        unmet.push(format!(
            "the runner is `{}`, not `github-hosted`",
            s.runner_environment.as_deref().unwrap_or("unknown")
        ));
    }
    if identity != builder {
        unmet.push(format!(
            "the certificate's identity `{identity}` is not builder.id `{builder}`"
        ));
    }
    let source_ok = report
        .checks_of(id)
        .any(|c| c.check == CheckId::CertificateSource && c.status == Status::Pass);
    if !source_ok {
        unmet.push("the certificate's source repository and commit do not match the provenance's (certificate-source)".into());
    }
    if unmet.is_empty() {
        reasons.push(format!(
            "L2: signed keyless by the hosted build platform identity `{identity}` (issuer \
             {GITHUB_ISSUER}, github-hosted runner), which is builder.id; the certificate's \
             source repository and commit are the provenance's"
        ));
        reasons.push(l3.into());
        level(2, reasons)
    } else {
        reasons.push(format!("L2 not met: {}", unmet.join("; ")));
        reasons.push(l3.into());
        level(1, reasons)
    }
}

fn level(n: u8, reasons: Vec<String>) -> SlsaLevel {
    SlsaLevel {
        level: n,
        name: format!("SLSA_BUILD_LEVEL_{n}"),
        reasons,
    }
}

/// A signer for a key-signed attestation.
pub fn key_signer() -> SignerInfo {
    SignerInfo {
        kind: "key".into(),
        identity: None,
        issuer: None,
        runner_environment: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(signer: SignerInfo, source: Status) -> Report {
        let mut r = Report::new("img");
        r.statements.push(json!({
            "predicateType": SLSA_PROVENANCE_V1,
            "predicate": {"runDetails": {"builder": {"id": "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main"}}}
        }));
        r.statement_ids.push("sha256:aa".into());
        r.signers.insert("sha256:aa".into(), signer);
        r.push(CheckId::CertificateSource, source, Some("sha256:aa"), "x");
        r
    }

    fn gh(runner: &str) -> SignerInfo {
        SignerInfo {
            kind: "keyless".into(),
            identity: Some("https://github.com/o/r/.github/workflows/w.yml@refs/heads/main".into()),
            issuer: Some(GITHUB_ISSUER.into()),
            runner_environment: Some(runner.into()),
        }
    }

    #[test]
    fn levels() {
        assert_eq!(assess(&report(gh("github-hosted"), Status::Pass)).level, 2);
        let l = assess(&report(gh("self-hosted"), Status::Pass));
        assert_eq!(l.level, 1);
        assert!(l.reasons[1].contains("self-hosted"), "{l:?}");
        assert_eq!(assess(&report(gh("github-hosted"), Status::Fail)).level, 1);
        let mut other = gh("github-hosted");
        other.identity =
            Some("https://github.com/o/r/.github/workflows/x.yml@refs/heads/main".into());
        assert_eq!(assess(&report(other, Status::Pass)).level, 1);
        let k = assess(&report(key_signer(), Status::Skip));
        assert_eq!((k.level, k.name.as_str()), (1, "SLSA_BUILD_LEVEL_1"));
        assert!(k.reasons.iter().any(|r| r.contains("L3 not claimed")));
        assert_eq!(assess(&Report::new("x")).level, 0);
    }
}
