//! The audit's entry points: on a project ([`audit_project`]), on an image
//! ([`audit_image`]), and on crates already known ([`audit_crates`], what `build` uses).

use std::path::PathBuf;

use super::gate::{AuditReport, GateOptions};
use super::vex::VexSource;
use super::{AuditedCrate, Database, DbLocation, Target};
use crate::error::{Error, Result};
use crate::select::Selection;
use crate::ui::Ui;

/// The audit's settings (the flags `audit` and `build` share).
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// `--advisory-db DIR`; `None`: cargo-audit's cache.
    pub advisory_db: Option<PathBuf>,
    /// `--offline`: never fetch the database.
    pub offline: bool,
    /// `--vex FILE...`.
    pub vex: Vec<PathBuf>,
    /// The gate.
    pub gate: GateOptions,
}

impl AuditOptions {
    fn location(&self) -> DbLocation {
        match &self.advisory_db {
            Some(p) => DbLocation::Dir(p.clone()),
            None => DbLocation::Default,
        }
    }
}

/// The database (the advisories of `crates`) and the VEX documents, read (errors name the
/// file); the staleness warning is shown.
pub fn load_inputs(
    opts: &AuditOptions,
    crates: &[AuditedCrate],
    ui: &Ui,
) -> Result<(Database, Vec<VexSource>)> {
    let path = super::db::locate(&opts.location(), opts.offline)?;
    let names: std::collections::BTreeSet<String> = crates
        .iter()
        .filter(|c| c.from_crates_io)
        .map(|c| c.name.clone())
        .collect();
    let db = super::db::load(&path, &names)?;
    if let Some(w) = super::db::staleness_warning(&db.info, crate::util::time::now()) {
        ui.warn(w);
    }
    let vex = opts
        .vex
        .iter()
        .map(|p| super::vex::load(p))
        .collect::<Result<Vec<_>>>()?;
    Ok((db, vex))
}

/// Checks what can be checked before a build: the database is there (or fetched) and the
/// VEX files parse, so that `build` fails on them before cargo compiles.
pub fn precheck(opts: &AuditOptions) -> Result<()> {
    super::db::locate(&opts.location(), opts.offline)?;
    for p in &opts.vex {
        super::vex::load(p)?;
    }
    Ok(())
}

/// Audits already-known crates (`build`: the SBOM it just generated) for `targets`.
pub fn audit_crates(
    crates: &[AuditedCrate],
    targets: &[Target],
    opts: &AuditOptions,
    ui: &Ui,
) -> Result<AuditReport> {
    let (db, vex) = load_inputs(opts, crates, ui)?;
    Ok(super::gate::audit(&db, crates, targets, &vex, &opts.gate))
}

/// Audits the crates compiled into the selection's binaries (the SBOM's required set; the
/// build-only crates apart).
pub fn audit_project(selection: &Selection, opts: &AuditOptions, ui: &Ui) -> Result<AuditReport> {
    // The database's location first: a missing one fails before cargo metadata runs.
    super::db::locate(&opts.location(), opts.offline)?;
    let sbom = crate::sbom::generate(
        &crate::sbom::SbomRequest {
            selection,
            spec_version: crate::sbom::SpecVersion::V1_5,
            subject: crate::sbom::SbomSubject::Application,
            binaries: Vec::new(),
            compiled_units: None,
            source_date_epoch: Some(0),
            workspace_mode: true,
            built_for: Vec::new(),
            auditable: false,
        },
        &Ui::new(ui.format(), -1, crate::ui::ColorChoice::Never),
    )?;
    let crates = super::input::from_components(&sbom.components);
    let target = match &selection.target {
        Some(t) => Target::of(t),
        None => Target::host(),
    };
    audit_crates(&crates, &[target], opts, ui)
}

/// Audits an image: its SBOM referrer, verified with `key` by `verify`'s machinery (a
/// signature that does not verify, or no SBOM naming the image, is a failed check). The
/// targets are `targets` when given, else the image's platforms (linux).
pub fn audit_image(
    reference: &str,
    key: crate::keys::PublicKey,
    plain_http: bool,
    targets: &[String],
    opts: &AuditOptions,
    ui: &Ui,
) -> Result<AuditReport> {
    use crate::verify::{Expectations, Requirement, Trust};
    let source =
        crate::verify::Source::open(reference, plain_http, crate::verify::DEFAULT_TIMEOUT)?;
    ui.status("Verifying", format!("the SBOM of {reference}"));
    let trust = Trust {
        key: Some(key),
        keyless: None,
        expectations: Expectations {
            require: vec![Requirement::Sbom],
            ..Expectations::default()
        },
        require_tlog: false,
        trusted_root: None,
        // Every SBOM is audited: one only in cosign's legacy tags counts too.
        reading: crate::verify::Reading::All,
    };
    let report = crate::verify::verify_image(&source, reference, &trust);
    let report = report?;
    if !report.verified {
        return Err(Error::check_failed(format!(
            "the SBOM of {reference} does not verify, so it is not audited: {}",
            report.failure_summary()
        )));
    }
    let mut crates = Vec::new();
    for st in report
        .statements
        .iter()
        .filter(|s| s["predicateType"] == crate::attest::SBOM_PREDICATE_TYPE)
    {
        crates.extend(super::input::from_cyclonedx(
            &st["predicate"],
            &format!("the SBOM of {reference}"),
        )?);
    }
    crates.sort_by(|a, b| (&a.purl, a.scope).cmp(&(&b.purl, b.scope)));
    crates.dedup();
    let targets: Vec<Target> = if targets.is_empty() {
        image_targets(&report)
    } else {
        targets.iter().map(|t| Target::of(t)).collect()
    };
    let (db, mut vex) = load_inputs(opts, &crates, ui)?;
    // The image's own VEX statements, verified with the same key like the SBOM.
    for (i, st) in report
        .statements
        .iter()
        .filter(|s| s["predicateType"] == crate::formats::openvex::PREDICATE_TYPE)
        .enumerate()
    {
        let bytes = serde_json::to_vec(&st["predicate"]).unwrap_or_default();
        vex.push(super::vex::parse(
            &bytes,
            &format!("VEX referrer #{i} of {reference}"),
        )?);
    }
    Ok(super::gate::audit(&db, &crates, &targets, &vex, &opts.gate))
}

/// The targets of an image's platforms (`linux/amd64` → linux, x86_64); the host when the
/// image names none.
fn image_targets(report: &crate::verify::Report) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    for p in &report.target.parts {
        let Some(platform) = p.label.split_whitespace().find(|w| w.starts_with("linux/")) else {
            continue;
        };
        let arch = match platform.split('/').nth(1) {
            Some("amd64") => "x86_64",
            Some("arm64") => "aarch64",
            Some("386") => "x86",
            Some("arm") => "arm",
            Some("riscv64") => "riscv64",
            Some("s390x") => "s390x",
            Some("ppc64le") => "powerpc64",
            _ => continue,
        };
        let t = Target {
            triple: platform.to_owned(),
            os: "linux".into(),
            arch: arch.into(),
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        out.push(Target::host());
    }
    out
}
