//! The scan as an in-toto statement with cosign's vulnerability predicate
//! (`https://cosign.sigstore.dev/attestation/vuln/v1`, what `cosign attest --type vuln`
//! writes and `cosign verify-attestation --type vuln` checks). docs/audit.md describes every
//! field.

use serde::Serialize;
use serde_json::json;

use super::gate::AuditReport;
use crate::error::Result;
use crate::formats::intoto::{ResourceDescriptor, Statement};

/// cosign's predicate type for vulnerability scans.
pub use crate::formats::predicate::COSIGN_VULN as PREDICATE_TYPE;
/// The scanner's URI in the predicate.
pub const SCANNER_URI: &str = "https://github.com/example/cargo-provenance#audit";

/// cosign's `CosignVulnPredicate`.
#[derive(Debug, Clone, Serialize)]
pub struct VulnPredicate {
    /// How the scan was run.
    pub invocation: Invocation,
    /// The scanner, its database, and the result.
    pub scanner: Scanner,
    /// When the scan ran.
    pub metadata: Metadata,
}

/// `invocation`.
#[derive(Debug, Clone, Serialize)]
pub struct Invocation {
    /// The gate's settings and the targets.
    pub parameters: serde_json::Value,
    /// Empty (no CI run URI is recorded).
    pub uri: String,
    /// Empty.
    pub event_id: String,
    /// The builder: `cargo-provenance build`.
    #[serde(rename = "builder.id")]
    pub builder_id: String,
}

/// `scanner`.
#[derive(Debug, Clone, Serialize)]
pub struct Scanner {
    /// [`SCANNER_URI`].
    pub uri: String,
    /// Our version.
    pub version: String,
    /// The advisory database.
    pub db: Db,
    /// The findings (docs/audit.md, "scanner.result").
    pub result: serde_json::Value,
}

/// `scanner.db`.
#[derive(Debug, Clone, Serialize)]
pub struct Db {
    /// The database's upstream.
    pub uri: String,
    /// Its version: a commit id, or `snapshot-DATE`.
    pub version: String,
}

/// `metadata`.
#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    /// RFC 3339.
    #[serde(rename = "scanStartedOn")]
    pub scan_started_on: String,
    /// RFC 3339.
    #[serde(rename = "scanFinishedOn")]
    pub scan_finished_on: String,
}

/// The predicate for `report`, with the scan's start and end (RFC 3339).
pub fn predicate(report: &AuditReport, started: &str, finished: &str) -> VulnPredicate {
    let result = json!({
        "database": {
            "date": report.database.date,
            "date_source": report.database.date_source,
            "advisories": report.database.advisories,
        },
        "crates": report.crates,
        "failed": report.failed,
        "highest": highest(report),
        "vulnerabilities": report.vulnerabilities,
        "warnings": report.warnings,
        "build_only": report.build_only,
        "suppressed": report.suppressed,
        "not_applicable": report.not_applicable,
    });
    VulnPredicate {
        invocation: Invocation {
            parameters: json!({
                "fail_on": report.gate.fail_on,
                "deny": report.gate.deny,
                "include_build_deps": report.gate.include_build_deps,
                "targets": report.targets.iter().map(|t| t.triple.clone()).collect::<Vec<_>>(),
            }),
            uri: String::new(),
            event_id: String::new(),
            builder_id: "cargo-provenance build".into(),
        },
        scanner: Scanner {
            uri: SCANNER_URI.into(),
            version: report.scanner.version.clone(),
            db: Db {
                uri: report.database.uri.clone(),
                version: report.database.version.clone(),
            },
            result,
        },
        metadata: Metadata {
            scan_started_on: started.into(),
            scan_finished_on: finished.into(),
        },
    }
}

/// The highest severity among the unsuppressed vulnerabilities of shipped crates (unrated
/// ones count as high), `none` when there is none: what admission policies compare.
pub fn highest(report: &AuditReport) -> super::Level {
    report
        .vulnerabilities
        .iter()
        .map(|a| a.finding.gate_level())
        .max()
        .unwrap_or(super::Level::None)
}

/// The statement about `subjects`.
pub fn statement(
    report: &AuditReport,
    subjects: Vec<ResourceDescriptor>,
    started: &str,
    finished: &str,
) -> Result<Statement> {
    let value = serde_json::to_value(predicate(report, started, finished))
        .map_err(|e| crate::error::Error::with_source("serializing the scan predicate", e))?;
    Ok(Statement::new(subjects, PREDICATE_TYPE, value))
}
