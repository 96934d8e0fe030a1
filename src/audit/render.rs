//! The audit report as text for people, JSON, or SARIF 2.1.0 (for code-scanning uploads).

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::gate::{Active, AuditReport};
use super::{AdvisoryKind, Level};

/// The output formats of `audit --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// A table for people.
    #[default]
    Human,
    /// The report as JSON (docs/audit.md, "JSON report").
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

/// Renders the report in `format`; the text ends with a newline.
pub fn render(report: &AuditReport, format: Format) -> String {
    match format {
        Format::Human => human(report),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(report).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Sarif => {
            let mut s = serde_json::to_string_pretty(&sarif(report)).unwrap_or_default();
            s.push('\n');
            s
        }
    }
}

fn severity_word(a: &Active) -> String {
    match (a.finding.kind, a.finding.severity) {
        (AdvisoryKind::Vulnerability, Some(l)) => l.to_string(),
        (AdvisoryKind::Vulnerability, None) => "unrated".to_owned(),
        (k, _) => k.as_str().to_owned(),
    }
}

fn table(out: &mut String, title: &str, rows: &[&Active]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}:");
    let _ = writeln!(
        out,
        "  {:<19} {:<28} {:<12} {:<5} {:<20} title",
        "id", "crate", "severity", "gate", "patched"
    );
    for a in rows {
        let f = &a.finding;
        let patched = if f.patched.is_empty() {
            "none".to_owned()
        } else {
            f.patched.join(" ")
        };
        let _ = writeln!(
            out,
            "  {:<19} {:<28} {:<12} {:<5} {:<20} {}",
            f.id,
            format!("{}@{}", f.package, f.version),
            severity_word(a),
            if a.gating { "FAIL" } else { "-" },
            patched,
            f.title
        );
        if let Some(v) = &a.vex {
            let _ = writeln!(
                out,
                "  {:<19} VEX {} in {} (statement {}) does not suppress it",
                "", v.status, v.source, v.statement
            );
        }
    }
}

fn human(r: &AuditReport) -> String {
    let mut out = String::new();
    let targets: Vec<&str> = r.targets.iter().map(|t| t.triple.as_str()).collect();
    let _ = writeln!(
        out,
        "Audited {} shipped and {} build-only crates for {} against the advisory database {} \
         ({}, {} advisories)",
        r.crates.shipped,
        r.crates.build_only,
        targets.join(", "),
        r.database.date,
        r.database.version,
        r.database.advisories
    );
    let vulns: Vec<&Active> = r.vulnerabilities.iter().collect();
    let warns: Vec<&Active> = r.warnings.iter().collect();
    let build: Vec<&Active> = r.build_only.iter().collect();
    table(&mut out, "Vulnerabilities in shipped crates", &vulns);
    table(
        &mut out,
        "Warnings (informational) for shipped crates",
        &warns,
    );
    table(
        &mut out,
        "Build-only crates (not in the binaries; gate with --include-build-deps)",
        &build,
    );
    if !r.suppressed.is_empty() {
        let _ = writeln!(out, "Suppressed by VEX:");
        for s in &r.suppressed {
            let f = &s.finding;
            let _ = writeln!(
                out,
                "  {:<19} {:<28} {} by {} statement {} ({}{})",
                f.id,
                format!("{}@{}", f.package, f.version),
                s.by.status,
                s.by.source,
                s.by.statement,
                s.by.vulnerability,
                s.by.justification
                    .as_deref()
                    .map(|j| format!(", {j}"))
                    .unwrap_or_default()
            );
        }
    }
    if !r.not_applicable.is_empty() {
        let _ = writeln!(out, "Not applicable to the target:");
        for n in &r.not_applicable {
            let _ = writeln!(
                out,
                "  {:<19} {:<28} {}",
                n.id,
                format!("{}@{}", n.package, n.version),
                n.reason
            );
        }
    }
    let gate = match (r.gate.fail_on, r.gate.deny.is_empty()) {
        (None, true) => "no gate (--fail-on not given): report only".to_owned(),
        (l, _) => {
            let mut parts = Vec::new();
            if let Some(l) = l {
                parts.push(format!("fail on {l} or above"));
            }
            if !r.gate.deny.is_empty() {
                let d: Vec<&str> = r.gate.deny.iter().map(|k| k.as_str()).collect();
                parts.push(format!("deny {}", d.join(",")));
            }
            parts.join(", ")
        }
    };
    let n = r.gating().count();
    let _ = writeln!(
        out,
        "Result: {} vulnerabilities, {} warnings, {} build-only, {} suppressed; {gate}: {}",
        r.vulnerabilities.len(),
        r.warnings.len(),
        r.build_only.len(),
        r.suppressed.len(),
        if r.failed {
            format!("FAILED ({n} finding(s) at or above the gate)")
        } else {
            "passed".to_owned()
        }
    );
    out
}

fn sarif_level(a: &Active) -> &'static str {
    match (a.finding.kind, a.finding.gate_level()) {
        _ if a.gating => "error",
        (AdvisoryKind::Vulnerability, Level::High | Level::Critical) => "error",
        (AdvisoryKind::Vulnerability, _) => "warning",
        _ => "note",
    }
}

fn sarif(r: &AuditReport) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut results = Vec::new();
    let all: Vec<(
        &super::Finding,
        Option<&Active>,
        Option<&super::gate::Suppressed>,
    )> = r
        .active()
        .map(|a| (&a.finding, Some(a), None))
        .chain(r.suppressed.iter().map(|s| (&s.finding, None, Some(s))))
        .collect();
    for (f, active, suppressed) in all {
        if seen.insert(f.id.clone()) {
            rules.push(json!({
                "id": f.id,
                "name": f.kind.as_str(),
                "shortDescription": {"text": f.title},
                "helpUri": f.url,
                "properties": {
                    "security-severity": f.score.map(|s| format!("{s:.1}")),
                    "aliases": f.aliases,
                    "cvss": f.cvss,
                },
            }));
        }
        let mut result = json!({
            "ruleId": f.id,
            "level": active.map(sarif_level).unwrap_or("note"),
            "message": {"text": format!(
                "{}@{} ({}): {} [{}]; patched: {}",
                f.package, f.version, f.scope.as_str(), f.title,
                f.severity.map(|l| l.to_string()).unwrap_or_else(|| f.kind.as_str().to_owned()),
                if f.patched.is_empty() { "none".to_owned() } else { f.patched.join(" ") }
            )},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": "Cargo.lock"}},
                "logicalLocations": [{"name": f.purl, "kind": "package"}]}],
            "partialFingerprints": {"package": format!("{}/{}@{}", f.id, f.package, f.version)},
        });
        if let Some(s) = suppressed {
            result["suppressions"] = json!([{
                "kind": "external",
                "status": "accepted",
                "justification": format!("VEX {} in {} (statement {}){}", s.by.status, s.by.source,
                    s.by.statement, s.by.justification.as_deref().map(|j| format!(": {j}")).unwrap_or_default()),
            }]);
        }
        results.push(result);
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "cargo-provenance-audit",
                "version": r.scanner.version,
                "informationUri": "https://rustsec.org",
                "rules": rules,
            }},
            "results": results,
            "properties": {"database": r.database, "failed": r.failed},
        }],
    })
}

/// The gate's failure message: every failing finding.
pub fn gate_message(report: &AuditReport) -> String {
    let ids: Vec<String> = report
        .gating()
        .map(|a| {
            let f = &a.finding;
            let sev = match f.kind {
                AdvisoryKind::Vulnerability => f
                    .severity
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "unrated, counted as high".into()),
                k => k.as_str().to_owned(),
            };
            format!("{} in {}@{} ({sev})", f.id, f.package, f.version)
        })
        .collect();
    format!(
        "the vulnerability gate failed: {}; upgrade the crates (see `patched`), or record why \
         they do not apply with a VEX statement (--vex FILE)",
        ids.join(", ")
    )
}
