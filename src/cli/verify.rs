//! `cargo provenance verify`: verify an image's attestations, or one Sigstore bundle.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::ui::Ui;
use crate::verify::{
    self, Artifact, Expectations, PublicKey, Report, Requirement, Trust, TrustedRoot,
};

use super::ReportFormat;

/// Flags of `cargo provenance verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: `host[:port]/repo[:tag][@sha256:HEX]` or `oci:PATH[:tag][@sha256:HEX]`.
    #[arg(value_name = "REF", required_unless_present = "bundle")]
    pub reference: Option<String>,
    /// Public key (PEM) the attestations must be signed with.
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
    /// Keyless: the signer's certificate identity (not supported yet).
    #[arg(long, value_name = "ID", conflicts_with = "key")]
    pub certificate_identity: Option<String>,
    /// Keyless: the OIDC issuer of the signer's certificate (not supported yet).
    #[arg(long, value_name = "URL")]
    pub certificate_oidc_issuer: Option<String>,
    /// A Sigstore trusted root (transparency-log keys).
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// The source repository the provenance must record.
    #[arg(long, value_name = "URL")]
    pub source_repo: Option<String>,
    /// The source commit the provenance must record.
    #[arg(long, value_name = "SHA")]
    pub source_commit: Option<String>,
    /// The source ref the provenance must record (`refs/heads/main`).
    #[arg(long, value_name = "REF")]
    pub source_ref: Option<String>,
    /// The builder id the provenance must record.
    #[arg(long, value_name = "ID")]
    pub builder_id: Option<String>,
    /// Attestation kinds that must be present and verified: provenance, sbom, vex, vuln (default:
    /// provenance).
    #[arg(
        long,
        value_parser = verify::policy::attestation_requirement,
        value_delimiter = ',',
        value_name = "KINDS"
    )]
    pub require: Vec<Requirement>,
    /// With `--require vuln`: the highest severity an unsuppressed vulnerability of a shipped
    /// crate may have in the scan (low, medium, high, critical).
    #[arg(long, value_name = "LEVEL", value_parser = parse_level)]
    pub vuln_max_severity: Option<crate::audit::Level>,
    /// The same expectations from a TOML or JSON file; flags override it.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Rebuild the recorded source and compare binary and image digests.
    #[arg(long)]
    pub rebuild: bool,
    /// With --rebuild: the repository to check the recorded commit out of (default: the
    /// current one).
    #[arg(long, value_name = "PATH", requires = "rebuild")]
    pub source: Option<PathBuf>,
    /// Verify one Sigstore bundle instead of an image.
    #[arg(long, value_name = "FILE", requires = "artifact", conflicts_with_all = ["reference", "rebuild"])]
    pub bundle: Option<PathBuf>,
    /// With --bundle: the signed artifact, a file or `sha256:HEX`.
    #[arg(long, value_name = "FILE_OR_DIGEST", requires = "bundle")]
    pub artifact: Option<String>,
    /// Allow plain HTTP to the registry (always allowed for loopback hosts).
    #[arg(long)]
    pub plain_http: bool,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
}

/// Runs the command; returns the exit code.
pub fn run(args: Args, ui: &Ui) -> Result<i32> {
    if args.certificate_identity.is_some() || args.certificate_oidc_issuer.is_some() {
        return Err(Error::msg(
            "keyless verification not supported yet: verify with --key PUB (the key the attestations were signed with)",
        ));
    }
    let flags = Expectations {
        key: args.key.clone(),
        trusted_root: args.trusted_root.clone(),
        builder_id: args.builder_id.clone(),
        source_repo: args.source_repo.clone(),
        source_commit: args.source_commit.clone(),
        source_ref: args.source_ref.clone(),
        require: args.require.clone(),
        vuln_max_severity: args.vuln_max_severity,
    };
    let expectations = match &args.policy {
        Some(p) => Expectations::load(p)?.overridden_by(flags),
        None => flags,
    };
    if expectations.vuln_max_severity.is_some()
        && !expectations.required().contains(&Requirement::Vuln)
    {
        return Err(Error::msg(
            "--vuln-max-severity applies to the scan: add `--require vuln`",
        ));
    }
    let key = expectations
        .key
        .as_deref()
        .map(PublicKey::read)
        .transpose()?;
    let root = expectations
        .trusted_root
        .as_deref()
        .map(TrustedRoot::read)
        .transpose()?;
    let report = if let Some(bundle) = &args.bundle {
        // A bundle is checked for its signature, subject and log entries only: expectations
        // about the build would be silently ignored, so they are refused.
        let e = &expectations;
        let ignored = [
            ("--builder-id", e.builder_id.is_some()),
            ("--source-repo", e.source_repo.is_some()),
            ("--source-commit", e.source_commit.is_some()),
            ("--source-ref", e.source_ref.is_some()),
            ("--require", !e.require.is_empty()),
            ("--vuln-max-severity", e.vuln_max_severity.is_some()),
        ];
        if let Some((flag, _)) = ignored.iter().find(|(_, set)| *set) {
            return Err(Error::msg(format!(
                "{flag} (given or from --policy) applies to an image, not to --bundle: verify \
                 the image (`verify REF --key PUB {flag} ...`), or drop it"
            )));
        }
        let artifact = Artifact::from_arg(args.artifact.as_deref().unwrap_or_default())?;
        let bytes = crate::util::fs::read(bundle)?;
        verify::verify_bundle(
            &bundle.display().to_string(),
            &bytes,
            &artifact,
            key.as_ref(),
            root.as_ref(),
        )?
    } else {
        let reference = args.reference.clone().unwrap_or_default();
        let Some(key) = key else {
            return Err(Error::msg(
                "no key given: pass --key PUB (or `key` in --policy); keyless verification not supported yet",
            ));
        };
        let source = verify::Source::open(&reference, args.plain_http)?;
        ui.status("Verifying", &reference);
        let trust = Trust {
            key,
            expectations,
            trusted_root: root,
        };
        let mut report = verify::verify_image(&source, &reference, &trust)?;
        crate::audit::require::check_scans(&mut report, &trust.expectations);
        if args.rebuild {
            let statements = report.statements.clone();
            let target = report.target.clone();
            verify::rebuild::run(
                &mut report,
                &statements,
                &target,
                args.source.as_deref(),
                ui,
            )?;
        }
        report
    };
    print(&report, args.format);
    if report.verified {
        Ok(0)
    } else {
        Err(Error::check_failed(format!(
            "verification of {} failed: {}",
            report.reference,
            report.failure_summary()
        )))
    }
}

fn parse_level(s: &str) -> Result<crate::audit::Level> {
    s.parse()
}

fn print(report: &Report, format: ReportFormat) {
    use std::io::Write;
    let text = match format {
        ReportFormat::Human => report.human(),
        ReportFormat::Json => report.json(),
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
