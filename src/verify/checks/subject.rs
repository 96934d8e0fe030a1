//! `subject`: which parts of the image (or which artifact) a statement names. The rule of
//! what a subject names is [`Target::named_by`] (src/verify/document.rs).

use super::parse_statement;
use crate::formats::intoto::ResourceDescriptor;
use crate::util::digest::Digest;
use crate::verify::CheckId;
use crate::verify::document::Target;
use crate::verify::report::Report;

/// The sha256 digests subjects name, each with the subject's `mediaType` when it says one.
pub fn subjects(subject: &[ResourceDescriptor]) -> Vec<(Digest, Option<String>)> {
    subject
        .iter()
        .filter_map(|s| Some((s.sha256()?, s.media_type.clone())))
        .collect()
}

/// `subject`: the parts of the image (see [`Target`]) the statement names. The statement is
/// evidence for exactly these parts and no others; it fails when it names none of them.
pub fn check_subject(
    report: &mut Report,
    att: Option<&str>,
    subject: &[ResourceDescriptor],
    target: &Target,
) -> Vec<usize> {
    let subjects = subjects(subject);
    let mut named: Vec<usize> = subjects
        .iter()
        .flat_map(|(d, mt)| target.named_by(d, mt.as_deref()))
        .collect();
    named.sort_unstable();
    named.dedup();
    if named.is_empty() {
        let names: Vec<String> = subjects.iter().map(|(d, _)| d.to_string()).collect();
        report.fail(
            CheckId::Subject,
            att,
            format!(
                "the statement is about another image: its subjects [{}] name no part of {}",
                names.join(", "),
                target.top().map(|p| p.to_string()).unwrap_or_default()
            ),
        );
    } else {
        let parts: Vec<String> = named.iter().map(|&i| target.parts[i].to_string()).collect();
        report.pass(
            CheckId::Subject,
            att,
            format!("the statement names {}", parts.join(", ")),
        );
    }
    named
}

/// Single-bundle mode's subject check: the DSSE payload names the artifact.
pub fn check_subject_names(
    report: &mut Report,
    att: Option<&str>,
    payload: &[u8],
    artifact: &[Digest],
) {
    let st = match parse_statement(payload) {
        Ok(st) => st,
        Err(reason) => return report.fail(CheckId::Statement, att, reason),
    };
    let subjects = subjects(st.subject());
    match subjects.iter().find(|(d, _)| artifact.contains(d)) {
        Some((d, _)) => report.pass(
            CheckId::Subject,
            att,
            format!("statement subject {d} is the artifact"),
        ),
        None => report.fail(
            CheckId::Subject,
            att,
            format!(
                "the statement is about another artifact: its subjects [{}] do not include {}",
                subjects
                    .iter()
                    .map(|(d, _)| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                artifact
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
}
