//! `verify --require vuln --vuln-max-severity LEVEL`: the verified scan attestations of an
//! image must list no unsuppressed vulnerability of a shipped crate above LEVEL.

use serde_json::Value;

use super::Level;
use super::attestation::PREDICATE_TYPE;
use crate::verify::{CheckId, Expectations, Report, Requirement};

/// The check's name in the report.
pub const CHECK: CheckId = CheckId::VulnSeverity;

/// The highest severity the gate would count for one finding of a scan (`severity`, or
/// high when unrated), from the predicate's `scanner.result.vulnerabilities[]`.
fn level_of(finding: &Value) -> Level {
    finding["severity"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| (finding["severity"].as_str() == Some("none")).then_some(Level::None))
        .unwrap_or(Level::High)
}

/// Adds the `vuln-severity` check to `report` when `vuln` is required with a maximum: every
/// verified scan statement is read; one finding above the maximum fails.
pub fn check_scans(report: &mut Report, exp: &Expectations) {
    let Some(max) = exp.vuln_max_severity else {
        return;
    };
    if !exp.required().contains(&Requirement::Vuln) {
        return;
    }
    let scans: Vec<&Value> = report
        .statements
        .iter()
        .filter(|s| s["predicateType"] == PREDICATE_TYPE)
        .collect();
    if scans.is_empty() {
        report.fail(CHECK, None, "no verified scan attestation to read");
        return;
    }
    let mut above = std::collections::BTreeSet::new();
    let mut malformed = false;
    for st in &scans {
        match st["predicate"]["scanner"]["result"]["vulnerabilities"].as_array() {
            Some(list) => {
                for f in list.iter().filter(|f| level_of(f) > max) {
                    above.insert(format!(
                        "{} in {}@{} ({})",
                        f["id"].as_str().unwrap_or("?"),
                        f["package"].as_str().unwrap_or("?"),
                        f["version"].as_str().unwrap_or("?"),
                        f["severity"].as_str().unwrap_or("unrated, counted as high")
                    ));
                }
            }
            None => malformed = true,
        }
    }
    if malformed {
        report.fail(
            CHECK,
            None,
            "a scan attestation has no `scanner.result.vulnerabilities` list: not written by \
             cargo-provenance, its findings cannot be read",
        );
    } else if above.is_empty() {
        report.pass(
            CHECK,
            None,
            format!("no unsuppressed vulnerability above {max} in the scan"),
        );
    } else {
        report.fail(
            CHECK,
            None,
            format!(
                "the scan lists unsuppressed vulnerabilities above {max}: {}",
                above.into_iter().collect::<Vec<_>>().join(", ")
            ),
        );
    }
}
