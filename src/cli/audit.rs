//! `cargo provenance audit`: RustSec advisories for the crates compiled into the shipped
//! binaries of a project, or listed in an image's verified SBOM.

use std::io::Write;
use std::path::PathBuf;

use crate::audit::gate::{AuditReport, GateOptions};
use crate::audit::render::{self, Format};
use crate::audit::run::AuditOptions;
use crate::audit::{AdvisoryKind, Level};
use crate::error::{Error, Result};
use crate::ui::Ui;

/// The audit's flags, shared by `audit` and `build` (`--offline` is cargo's selection flag).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuditFlags {
    /// The RustSec advisory database: a directory in the advisory-db layout (git or not),
    /// never fetched (default: cargo-audit's cache, ~/.cargo/advisory-db).
    #[arg(long, value_name = "DIR")]
    pub advisory_db: Option<PathBuf>,
    /// OpenVEX documents: `not_affected` and `fixed` statements suppress findings.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub vex: Vec<PathBuf>,
    /// Fail (exit 1) on an unsuppressed vulnerability at or above this severity: low,
    /// medium, high, critical (unset: report only).
    #[arg(long, value_name = "LEVEL", value_parser = parse_level)]
    pub fail_on: Option<Level>,
    /// Informational kinds that fail too: unmaintained, unsound, notice (comma-separated).
    #[arg(long, value_name = "KINDS", value_delimiter = ',', value_parser = parse_deny)]
    pub deny: Vec<AdvisoryKind>,
    /// Let findings of build-only crates (build scripts, proc macros) fail the gate too.
    #[arg(long)]
    pub include_build_deps: bool,
}

pub(crate) fn parse_level(s: &str) -> Result<Level> {
    s.parse()
}

fn parse_deny(s: &str) -> Result<AdvisoryKind> {
    AdvisoryKind::parse_deny(s)
}

impl AuditFlags {
    /// True when any audit flag is given (`build` audits only then).
    pub fn enabled(&self) -> bool {
        self.advisory_db.is_some()
            || !self.vex.is_empty()
            || self.fail_on.is_some()
            || !self.deny.is_empty()
            || self.include_build_deps
    }

    /// The library's options (`offline` from the selection flags).
    pub fn options(&self, offline: bool) -> AuditOptions {
        let mut deny = self.deny.clone();
        deny.sort();
        deny.dedup();
        AuditOptions {
            advisory_db: self.advisory_db.clone(),
            offline,
            vex: self.vex.clone(),
            gate: GateOptions {
                fail_on: self.fail_on,
                deny,
                include_build_deps: self.include_build_deps,
            },
        }
    }
}

/// Flags of `cargo provenance audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An image to audit instead of the project (`host/repo[:tag][@sha256:...]` or
    /// `oci:PATH[:tag]`): its SBOM referrer, verified with --key.
    #[arg(value_name = "REF")]
    pub reference: Option<String>,
    /// Cargo's selection flags (the project's shipped binaries; `--target` for
    /// `affected.os/arch`).
    #[command(flatten)]
    pub selection: super::SelectionArgs,
    /// The audit's settings.
    #[command(flatten)]
    pub audit: AuditFlags,
    /// With REF: the public key the image's SBOM must be signed with.
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
    /// With REF: allow plain HTTP to the registry (always allowed for loopback hosts).
    #[arg(long)]
    pub plain_http: bool,
    /// Report format: human, json, sarif.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs the command; returns the exit code (1 when the gate fails).
pub fn run(args: Args, ui: &Ui) -> Result<i32> {
    let selection = args.selection.selection();
    let opts = args.audit.options(selection.offline);
    let report = match &args.reference {
        Some(reference) => {
            let key = args.key.as_deref().ok_or_else(|| {
                Error::msg(format!(
                    "auditing the image {reference} needs --key PUB: its SBOM is read only once \
                     its signature verifies"
                ))
            })?;
            let key = crate::keys::PublicKey::read(key)?;
            let targets: Vec<String> = selection.target.iter().cloned().collect();
            crate::audit::run::audit_image(reference, key, args.plain_http, &targets, &opts, ui)?
        }
        None => {
            if args.key.is_some() {
                return Err(Error::msg(
                    "--key applies to `audit REF` (an image); a project is audited without a key",
                ));
            }
            crate::audit::run::audit_project(&selection, &opts, ui)?
        }
    };
    emit(&report, args.format, args.output.as_deref())?;
    finish(&report)
}

/// Prints or writes the report.
fn emit(report: &AuditReport, format: Format, output: Option<&std::path::Path>) -> Result<()> {
    let text = render::render(report, format);
    match output {
        Some(p) => crate::util::fs::write_atomic(p, text.as_bytes()),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| Error::msg(format!("writing the report to stdout: {e}")))
        }
    }
}

/// Exit 0, or the gate's failure (exit 1) naming the findings.
pub fn finish(report: &AuditReport) -> Result<i32> {
    if !report.failed {
        return Ok(0);
    }
    Err(Error::check_failed(gate_message(report)))
}

pub use crate::audit::render::gate_message;
