//! What the checked attestations count for: for each part of the image, the predicate types
//! of the verified attestations that name it, and why the others were set aside; then the
//! `require` check over them ([`Tally::check_required`]). [`Tally::settled`] tells verify
//! when what it has read already verifies the image (it then reads no more evidence).

use serde_json::Value;

use super::CheckId;
use super::document::Target;
use super::policy::{Expectations, Requirement};
use super::report::{AttestationOutcome, Report, Status, short};

/// How many set-aside candidates a `require` failure names: the report lists each of them.
const NAMED_MAX: usize = 8;

/// What the attestations checked so far count for.
#[derive(Debug)]
pub struct Tally {
    /// For each part, the predicate types of the counted attestations that name it.
    covered: Vec<Vec<String>>,
    /// Why attestations were not counted, a line each.
    set_aside: Vec<String>,
    /// The lines of `set_aside`, to give each once.
    named: std::collections::HashSet<String>,
}

impl Tally {
    /// Nothing counted yet, for an image of `parts` parts.
    pub fn new(parts: usize) -> Tally {
        Tally {
            covered: vec![Vec::new(); parts],
            set_aside: Vec::new(),
            named: Default::default(),
        }
    }

    /// True when the image verifies on what was counted so far: no check failed, every
    /// required kind names every part, and a provenance was counted (the SLSA level is
    /// assessed from the first one, [`super::slsa_level::assess`]). More evidence could
    /// then only add to the report.
    pub fn settled(&self, report: &Report, expectations: &Expectations) -> bool {
        let provenance = Requirement::Provenance.evidence_predicate_type();
        let counted = |kind: &str| self.covered.iter().flatten().any(|t| t == kind);
        report.failures().next().is_none()
            && counted(provenance)
            && expectations.required().iter().all(|req| {
                let kind = req.evidence_predicate_type();
                self.covered.iter().all(|k| k.iter().any(|t| t == kind))
            })
    }

    /// Counts the attestation `id`, checked: its outcome and, when its signature verified
    /// and its statement names parts of the image, the statement and those parts' indexes.
    pub fn count(
        &mut self,
        id: &str,
        (mut outcome, checked): (AttestationOutcome, Option<(Value, Vec<usize>)>),
        report: &mut Report,
    ) {
        let failed = report.checks_of(id).any(|k| k.status == Status::Fail);
        outcome.verified = outcome.verified && !failed;
        match checked {
            Some((statement, named)) if outcome.verified => {
                for i in named {
                    self.covered[i].extend(outcome.predicate_type.clone());
                }
                report.statements.push(statement);
                report.statement_ids.push(id.to_owned());
                report
                    .signers
                    .entry(id.to_owned())
                    .or_insert_with(super::slsa_level::key_signer);
            }
            _ => self.set_aside_why(id, report),
        }
        report.attestations.push(outcome);
    }

    /// Notes why the attestation `id` does not count: a failed or ignored check before a
    /// skipped one (a skip, such as a timestamp set aside, is not why it does not count).
    fn set_aside_why(&mut self, id: &str, report: &Report) {
        let why = report
            .checks_of(id)
            .find(|k| matches!(k.status, Status::Fail | Status::Ignored))
            .or_else(|| report.checks_of(id).find(|k| k.status != Status::Pass));
        if let Some(why) = why {
            let line = format!("{} {}: {}", short(id), why.check, why.reason);
            if self.named.insert(line.clone()) {
                self.set_aside.push(line);
            }
        }
    }

    /// `require`: every required kind has, for every part of the image, a counted
    /// attestation that names that part. The failure names each uncovered part.
    pub fn check_required(
        &self,
        report: &mut Report,
        expectations: &Expectations,
        target: &Target,
    ) {
        for req in expectations.required() {
            let predicate_type = req.evidence_predicate_type();
            let missing: Vec<String> = target
                .parts
                .iter()
                .zip(&self.covered)
                .filter(|(_, kinds)| !kinds.iter().any(|k| k == predicate_type))
                .map(|(p, _)| p.to_string())
                .collect();
            if missing.is_empty() {
                let labels: Vec<&str> = target.parts.iter().map(|p| p.label.as_str()).collect();
                report.pass(
                    CheckId::Require,
                    None,
                    format!(
                        "{}: verified attestations of `{predicate_type}` name every part of \
                         the image ({})",
                        req.name(),
                        labels.join(", ")
                    ),
                );
                continue;
            }
            let some = self.covered.iter().flatten().any(|k| k == predicate_type);
            let mut also = String::from(match (some, self.set_aside.is_empty()) {
                (true, _) => " (the verified ones name other parts only)",
                (false, true) => " (none found)",
                (false, false) => "",
            });
            if !self.set_aside.is_empty() {
                also.push_str(&format!("; not counted: {}", first_few(&self.set_aside)));
            }
            report.fail(
                CheckId::Require,
                None,
                format!(
                    "{}: no verified attestation of `{predicate_type}` names {}{also}",
                    req.name(),
                    missing.join(", ")
                ),
            );
        }
    }
}

/// The first [`NAMED_MAX`] of `items`, then how many more (an index may list thousands).
fn first_few(items: &[String]) -> String {
    let named = items[..items.len().min(NAMED_MAX)].join("; ");
    match items.len().saturating_sub(NAMED_MAX) {
        0 => named,
        more => format!("{named}; and {more} more (the report lists each)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_require_failure_names_the_first_few_set_aside() {
        let items: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
        let text = first_few(&items);
        assert!(text.starts_with("c0; c1;"), "{text}");
        assert!(text.contains("c7; and 12 more"), "{text}");
        assert!(!text.contains("c8"), "{text}");
        assert_eq!(first_few(&items[..2]), "c0; c1");
    }
}
