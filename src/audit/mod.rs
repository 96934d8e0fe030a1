//! The vulnerability gate: RustSec advisories for the crates that actually ship.
//!
//! The input is a set of crates with their SBOM scope ([`AuditedCrate`]): `required` crates
//! are linked into the shipped binaries, `excluded` ones only run at build time. Each crate
//! from crates.io is matched against the advisory database ([`db`]); the matches are
//! filtered by target ([`Target`]), split into findings, informational warnings and
//! build-only findings, suppressed by OpenVEX statements ([`vex`]), and gated
//! ([`GateOptions`]). [`render`] prints the report (table, JSON, SARIF); [`attestation`]
//! turns it into cosign's `vuln` predicate. `docs/audit.md` describes every rule.

pub mod attestation;
pub mod db;
pub mod gate;
pub mod input;
pub mod render;
pub mod require;
pub mod run;
pub mod stage;
pub mod vex;

use std::collections::BTreeSet;

use rustsec::advisory::Informational;
use serde::Serialize;

use crate::error::{Error, Result};
pub use db::{Database, DbInfo, DbLocation};
pub use input::{AuditedCrate, CrateScope};

pub use crate::formats::severity::Level;

/// The level of a CVSS rating as rustsec reads it.
fn level_from_cvss(s: rustsec::advisory::Severity) -> Level {
    use rustsec::advisory::Severity as S;
    match s {
        S::None => Level::None,
        S::Low => Level::Low,
        S::Medium => Level::Medium,
        S::High => Level::High,
        S::Critical => Level::Critical,
    }
}

/// What an advisory is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AdvisoryKind {
    /// A vulnerability (no `informational` field).
    Vulnerability,
    /// `informational = "unmaintained"`.
    Unmaintained,
    /// `informational = "unsound"`.
    Unsound,
    /// `informational = "notice"`.
    Notice,
    /// Any other informational kind.
    Other,
}

impl AdvisoryKind {
    /// The word for it (`--deny` takes the informational ones).
    pub fn as_str(self) -> &'static str {
        match self {
            AdvisoryKind::Vulnerability => "vulnerability",
            AdvisoryKind::Unmaintained => "unmaintained",
            AdvisoryKind::Unsound => "unsound",
            AdvisoryKind::Notice => "notice",
            AdvisoryKind::Other => "other",
        }
    }

    /// Parses one `--deny` word: an informational kind.
    pub fn parse_deny(word: &str) -> Result<AdvisoryKind> {
        [
            AdvisoryKind::Unmaintained,
            AdvisoryKind::Unsound,
            AdvisoryKind::Notice,
        ]
        .into_iter()
        .find(|k| k.as_str() == word.trim())
        .ok_or_else(|| {
            Error::msg(format!(
                "unknown kind `{word}` in --deny: allowed values are unmaintained, unsound, notice \
                 (vulnerabilities gate with --fail-on LEVEL)"
            ))
        })
    }

    fn of(advisory: &rustsec::Advisory) -> AdvisoryKind {
        match &advisory.metadata.informational {
            None => AdvisoryKind::Vulnerability,
            Some(Informational::Unmaintained) => AdvisoryKind::Unmaintained,
            Some(Informational::Unsound) => AdvisoryKind::Unsound,
            Some(Informational::Notice) => AdvisoryKind::Notice,
            Some(_) => AdvisoryKind::Other,
        }
    }
}

/// One advisory matching one crate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The RustSec id (`RUSTSEC-2024-0001`).
    pub id: String,
    /// Its aliases (CVE, GHSA), sorted.
    pub aliases: Vec<String>,
    /// Vulnerability or an informational kind.
    pub kind: AdvisoryKind,
    /// The crate.
    pub package: String,
    /// The crate's version.
    pub version: String,
    /// The crate's purl.
    pub purl: String,
    /// Where the crate is used.
    pub scope: CrateScope,
    /// From the CVSS vector; absent when the advisory has none.
    pub severity: Option<Level>,
    /// The CVSS base score.
    pub score: Option<f64>,
    /// The CVSS vector as written in the advisory.
    pub cvss: Option<String>,
    /// The advisory's title.
    pub title: String,
    /// The advisory's date.
    pub date: String,
    /// Versions that fix it.
    pub patched: Vec<String>,
    /// `https://rustsec.org/advisories/ID`.
    pub url: String,
}

impl Finding {
    /// The severity the gate compares: advisories without a CVSS vector count as high
    /// (docs/audit.md, "Severity").
    pub fn gate_level(&self) -> Level {
        self.severity.unwrap_or(Level::High)
    }

    /// Whether `name` (an id or an alias) names this finding's advisory.
    pub fn is_named(&self, name: &str) -> bool {
        self.id.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// An advisory that matched a crate's name and version but not the build target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotApplicable {
    /// The advisory id.
    pub id: String,
    /// The crate.
    pub package: String,
    /// Its version.
    pub version: String,
    /// Why: `affected.os = [...]` / `affected.arch = [...]` against the target.
    pub reason: String,
}

/// The operating system and architecture the binaries are built for (`affected.os`,
/// `affected.arch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The target triple.
    pub triple: String,
    /// Rust's `target_os`.
    pub os: String,
    /// Rust's `target_arch`.
    pub arch: String,
}

impl Target {
    /// The target of `triple` (from the `platforms` crate's table; a triple it does not know
    /// is split as `arch-vendor-os[-env]`).
    pub fn of(triple: &str) -> Target {
        if let Some(p) = platforms::Platform::find(triple) {
            return Target {
                triple: triple.to_owned(),
                os: p.target_os.as_str().to_owned(),
                arch: p.target_arch.as_str().to_owned(),
            };
        }
        let parts: Vec<&str> = triple.split('-').collect();
        Target {
            triple: triple.to_owned(),
            os: parts.get(2).copied().unwrap_or("unknown").to_owned(),
            arch: parts.first().copied().unwrap_or("unknown").to_owned(),
        }
    }

    /// The machine this runs on (what cargo builds for without `--target`).
    pub fn host() -> Target {
        Target {
            triple: format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
        }
    }
}

/// All advisories matching `crates` by name and version, withdrawn ones ignored; those
/// whose `affected.os/arch` exclude every target in `targets` come back apart.
pub fn match_crates(
    db: &Database,
    crates: &[AuditedCrate],
    targets: &[Target],
) -> (Vec<Finding>, Vec<NotApplicable>) {
    let mut by_name: std::collections::HashMap<&str, Vec<&rustsec::Advisory>> =
        std::collections::HashMap::new();
    for a in &db.advisories {
        by_name
            .entry(a.metadata.package.as_str())
            .or_default()
            .push(a);
    }
    let mut findings = Vec::new();
    let mut not_applicable = Vec::new();
    let mut seen = BTreeSet::new();
    for c in crates.iter().filter(|c| c.from_crates_io) {
        let Ok(version) = rustsec::Version::parse(&c.version) else {
            continue;
        };
        for a in by_name.get(c.name.as_str()).into_iter().flatten() {
            if a.withdrawn() || !a.versions.is_vulnerable(&version) {
                continue;
            }
            if !seen.insert((
                a.id().to_string(),
                c.name.clone(),
                c.version.clone(),
                c.scope,
            )) {
                continue;
            }
            if let Some(reason) = a.affected.as_ref().and_then(|af| excluded_by(af, targets)) {
                not_applicable.push(NotApplicable {
                    id: a.id().to_string(),
                    package: c.name.clone(),
                    version: c.version.clone(),
                    reason,
                });
                continue;
            }
            findings.push(finding(a, c));
        }
    }
    findings.sort_by(|a, b| {
        (&a.id, &a.package, &a.version, a.scope).cmp(&(&b.id, &b.package, &b.version, b.scope))
    });
    not_applicable.sort_by(|a, b| (&a.id, &a.package).cmp(&(&b.id, &b.package)));
    (findings, not_applicable)
}

/// Why `affected` rules out every target, if it does.
fn excluded_by(af: &rustsec::advisory::Affected, targets: &[Target]) -> Option<String> {
    if targets.is_empty() {
        return None;
    }
    let fits = |t: &Target| {
        (af.os.is_empty() || af.os.contains(&t.os))
            && (af.arch.is_empty() || af.arch.contains(&t.arch))
    };
    if targets.iter().any(fits) {
        return None;
    }
    let names: Vec<&str> = targets.iter().map(|t| t.triple.as_str()).collect();
    Some(format!(
        "affected.os = {:?}, affected.arch = {:?}: not {}",
        &af.os,
        &af.arch,
        names.join(", ")
    ))
}

fn finding(a: &rustsec::Advisory, c: &AuditedCrate) -> Finding {
    let m = &a.metadata;
    let mut aliases: Vec<String> = m.aliases.iter().map(|x| x.to_string()).collect();
    aliases.sort();
    Finding {
        id: a.id().to_string(),
        aliases,
        kind: AdvisoryKind::of(a),
        package: c.name.clone(),
        version: c.version.clone(),
        purl: c.purl.clone(),
        scope: c.scope,
        severity: m.cvss.as_ref().map(|v| level_from_cvss(v.severity())),
        score: m.cvss.as_ref().map(|v| v.score()),
        cvss: m.cvss.as_ref().map(|v| v.to_string()),
        title: m.title.clone(),
        date: m.date.as_str().to_owned(),
        patched: a.versions.patched().iter().map(|r| r.to_string()).collect(),
        url: format!("https://rustsec.org/advisories/{}", a.id()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_order() {
        assert_eq!("high".parse::<Level>().unwrap(), Level::High);
        assert!(Level::Critical > Level::High && Level::Low > Level::None);
        let e = "severe".parse::<Level>().unwrap_err();
        assert!(e.to_string().contains("low, medium, high, critical"), "{e}");
        assert!("none".parse::<Level>().is_err());
    }

    #[test]
    fn deny_takes_only_informational_kinds() {
        assert_eq!(
            AdvisoryKind::parse_deny("unsound").unwrap(),
            AdvisoryKind::Unsound
        );
        assert!(AdvisoryKind::parse_deny("vulnerability").is_err());
    }

    #[test]
    fn targets_from_triples() {
        let t = Target::of("aarch64-unknown-linux-musl");
        assert_eq!((t.os.as_str(), t.arch.as_str()), ("linux", "aarch64"));
        let w = Target::of("x86_64-pc-windows-msvc");
        assert_eq!((w.os.as_str(), w.arch.as_str()), ("windows", "x86_64"));
    }
}
