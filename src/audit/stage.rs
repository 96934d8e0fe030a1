//! The audit inside `build`: [`gate_before_signing`] runs once cargo has compiled and the
//! SBOM is known, before anything is signed, attached or pushed; [`scan_attestation`] makes
//! the signed scan that is attached beside the provenance and the SBOM.

use std::path::Path;

use super::gate::AuditReport;
use super::run::AuditOptions;
use super::{Target, input};
use crate::error::{Error, ErrorKind, Result};
use crate::formats::intoto::ResourceDescriptor;
use crate::sbom::Sbom;
use crate::sign::Signer;
use crate::sign::WrittenAttestation;
use crate::ui::Ui;

/// The unsigned scan statement `build` writes.
pub const STATEMENT_FILE: &str = "vuln.intoto.json";
/// The signed scan.
pub const BUNDLE_FILE: &str = "vuln.sigstore.json";

/// A scan that passed the gate, with its times.
#[derive(Debug, Clone)]
pub struct Scan {
    /// The report.
    pub report: AuditReport,
    /// When the scan started (RFC 3339).
    pub started: String,
    /// When it finished.
    pub finished: String,
}

/// The vulnerability gate of `build`: audits the SBOM's crates for the image's Rust
/// `targets`. `None` when the audit is off. A failed gate is an error (exit 1) naming the
/// findings, and the full report is printed first; `dir`'s bundles of an earlier run are
/// removed then, so none claims the failed build. `fixed_time` (`--reproducible`:
/// SOURCE_DATE_EPOCH) replaces the clock in the scan's times.
pub fn gate_before_signing(
    opts: Option<&AuditOptions>,
    sbom: &Sbom,
    targets: &[String],
    dir: &Path,
    fixed_time: Option<i64>,
    ui: &Ui,
) -> Result<Option<Scan>> {
    let Some(opts) = opts else {
        return Ok(None);
    };
    let clock = || fixed_time.unwrap_or_else(crate::util::time::now);
    let started = crate::util::time::rfc3339(clock())?;
    let crates = input::from_components(&sbom.components);
    let targets: Vec<Target> = targets.iter().map(|t| Target::of(t)).collect();
    let report = super::run::audit_crates(&crates, &targets, opts, ui)?;
    let finished = crate::util::time::rfc3339(clock())?;
    if ui.is_json() {
        ui.json(&serde_json::json!({"reason": "audit", "report": report}));
    } else if report.failed || report.active().next().is_some() || !report.suppressed.is_empty() {
        eprint!(
            "{}",
            super::render::render(&report, super::render::Format::Human)
        );
    } else {
        ui.status(
            "Audited",
            format!(
                "{} shipped crates: no advisories (database {})",
                report.crates.shipped, report.database.date
            ),
        );
    }
    if report.failed {
        for f in [
            "provenance.sigstore.json",
            "sbom.sigstore.json",
            BUNDLE_FILE,
            "summary.json",
        ] {
            let p = dir.join(f);
            if p.exists() {
                std::fs::remove_file(&p).map_err(|e| Error::io("removing", &p, e))?;
            }
        }
        let e = Error::check_failed(format!(
            "{}; nothing was signed, attached or pushed",
            super::render::gate_message(&report)
        ));
        debug_assert_eq!(e.kind(), ErrorKind::CheckFailed);
        return Err(e);
    }
    Ok(Some(Scan {
        report,
        started,
        finished,
    }))
}

/// Removes the scan files of an earlier run in `dir` (this run has no audit), so that none
/// seems to be about this build.
pub fn remove_stale(dir: &Path) -> Result<()> {
    for f in [STATEMENT_FILE, BUNDLE_FILE] {
        let p = dir.join(f);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| Error::io("removing", &p, e))?;
        }
    }
    Ok(())
}

/// The bytes of the scan statement about `subjects` (what [`scan_attestation`] signs).
pub fn scan_statement(scan: &Scan, subjects: Vec<ResourceDescriptor>) -> Result<Vec<u8>> {
    super::attestation::statement(&scan.report, subjects, &scan.started, &scan.finished)?
        .to_pretty()
}

/// The scan statement about `subjects`, written to `dir` (`vuln.intoto.json`) and, with a
/// signer, signed (`vuln.sigstore.json`), ready to attach like the others.
pub fn scan_attestation(
    scan: &Scan,
    subjects: Vec<ResourceDescriptor>,
    dir: &Path,
    signer: Option<&dyn Signer>,
) -> Result<WrittenAttestation> {
    let bytes = scan_statement(scan, subjects)?;
    let file = dir.join(STATEMENT_FILE);
    crate::util::fs::write_atomic(&file, &bytes)?;
    let bundle = match signer {
        Some(s) => {
            let signed = crate::sign::sign_statement(&bytes, s)?;
            let path = dir.join(BUNDLE_FILE);
            crate::util::fs::write_atomic(&path, &signed.bytes)?;
            Some((path, signed))
        }
        None => {
            let path = dir.join(BUNDLE_FILE);
            if path.exists() {
                std::fs::remove_file(&path).map_err(|e| Error::io("removing", &path, e))?;
            }
            None
        }
    };
    Ok(WrittenAttestation {
        predicate_type: super::attestation::PREDICATE_TYPE.into(),
        statement_file: Some(file),
        statement: bytes,
        bundle,
    })
}
