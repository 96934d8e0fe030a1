//! The audit as one call ([`audit`]): match, suppress, gate, and the report.

use serde::Serialize;

use super::vex::{Decision, VexSource};
use super::{
    AdvisoryKind, AuditedCrate, CrateScope, Database, DbInfo, Finding, Level, NotApplicable, Target,
};

/// What fails the gate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GateOptions {
    /// `--fail-on LEVEL`: a vulnerability at or above it fails; `None` reports only.
    pub fail_on: Option<Level>,
    /// `--deny KINDS`: informational kinds that fail.
    pub deny: Vec<AdvisoryKind>,
    /// `--include-build-deps`: build-only crates' findings gate too.
    pub include_build_deps: bool,
}

/// The scanner, as the report and the attestation name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scanner {
    /// `cargo-provenance audit`.
    pub name: String,
    /// Our version.
    pub version: String,
    /// The `rustsec` crate version that parses the advisories.
    pub rustsec: String,
}

impl Scanner {
    /// This program.
    pub fn this() -> Scanner {
        Scanner {
            name: "cargo-provenance audit".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            rustsec: "0.34".into(),
        }
    }
}

/// A finding a VEX statement suppressed, with the statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suppressed {
    /// The finding.
    pub finding: Finding,
    /// The statement that suppressed it.
    pub by: Decision,
}

/// A finding that stays, with the VEX statement that applied and did not suppress (if any).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Active {
    /// The finding.
    #[serde(flatten)]
    pub finding: Finding,
    /// True when this finding fails the gate.
    pub gating: bool,
    /// An `affected` or `under_investigation` statement about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vex: Option<Decision>,
}

/// The outcome of an audit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditReport {
    /// Who scanned.
    pub scanner: Scanner,
    /// The database.
    pub database: DbInfo,
    /// The targets matched against `affected.os/arch`.
    pub targets: Vec<Target>,
    /// The gate's settings.
    pub gate: GateOptions,
    /// How many crates were checked (shipped, build-only).
    pub crates: CrateCounts,
    /// Vulnerabilities in shipped crates, not suppressed.
    pub vulnerabilities: Vec<Active>,
    /// Informational advisories (unmaintained, unsound, notice) of shipped crates, not
    /// suppressed.
    pub warnings: Vec<Active>,
    /// Advisories of build-only crates, not suppressed.
    pub build_only: Vec<Active>,
    /// Findings suppressed by VEX.
    pub suppressed: Vec<Suppressed>,
    /// Advisories whose `affected.os/arch` exclude the targets.
    pub not_applicable: Vec<NotApplicable>,
    /// True when the gate fails (exit 1).
    pub failed: bool,
}

/// Counts of crates checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CrateCounts {
    /// Shipped crates from crates.io.
    pub shipped: usize,
    /// Build-only crates from crates.io.
    pub build_only: usize,
    /// Crates not from crates.io (path, git, other registries): not in RustSec's scope.
    pub not_checked: usize,
}

impl AuditReport {
    /// The findings that fail the gate.
    pub fn gating(&self) -> impl Iterator<Item = &Active> {
        self.vulnerabilities
            .iter()
            .chain(&self.warnings)
            .chain(&self.build_only)
            .filter(|a| a.gating)
    }

    /// Every unsuppressed finding, shipped ones first.
    pub fn active(&self) -> impl Iterator<Item = &Active> {
        self.vulnerabilities
            .iter()
            .chain(&self.warnings)
            .chain(&self.build_only)
    }
}

/// Audits `crates` against `db` for `targets`, with `vex` statements and the gate `opts`.
pub fn audit(
    db: &Database,
    crates: &[AuditedCrate],
    targets: &[Target],
    vex: &[VexSource],
    opts: &GateOptions,
) -> AuditReport {
    let (findings, not_applicable) = super::match_crates(db, crates, targets);
    let mut report = AuditReport {
        scanner: Scanner::this(),
        database: db.info.clone(),
        targets: targets.to_vec(),
        gate: opts.clone(),
        crates: CrateCounts {
            shipped: count(crates, CrateScope::Shipped),
            build_only: count(crates, CrateScope::BuildOnly),
            not_checked: crates.iter().filter(|c| !c.from_crates_io).count(),
        },
        vulnerabilities: Vec::new(),
        warnings: Vec::new(),
        build_only: Vec::new(),
        suppressed: Vec::new(),
        not_applicable,
        failed: false,
    };
    for f in findings {
        let decision = super::vex::decide(vex, &f);
        if let Some(d) = decision.as_ref().filter(|d| d.suppresses()) {
            report.suppressed.push(Suppressed {
                finding: f,
                by: d.clone(),
            });
            continue;
        }
        let gating = gates(&f, opts);
        let active = Active {
            finding: f,
            gating,
            vex: decision,
        };
        match (active.finding.scope, active.finding.kind) {
            (CrateScope::BuildOnly, _) => report.build_only.push(active),
            (_, AdvisoryKind::Vulnerability) => report.vulnerabilities.push(active),
            _ => report.warnings.push(active),
        }
    }
    let failed = report.gating().next().is_some();
    report.failed = failed;
    report
}

fn count(crates: &[AuditedCrate], scope: CrateScope) -> usize {
    crates
        .iter()
        .filter(|c| c.from_crates_io && c.scope == scope)
        .count()
}

/// Whether one unsuppressed finding fails the gate.
fn gates(f: &Finding, opts: &GateOptions) -> bool {
    if f.scope == CrateScope::BuildOnly && !opts.include_build_deps {
        return false;
    }
    match f.kind {
        AdvisoryKind::Vulnerability => opts.fail_on.is_some_and(|l| f.gate_level() >= l),
        k => opts.deny.contains(&k),
    }
}
