//! Content checks over a verified in-toto statement: subject, predicate type, and for our
//! SLSA provenance its `buildType`, builder, source and `externalParameters`; for a CycloneDX
//! SBOM that it describes the same image.
//!
//! The signed payload is parsed once ([`parse_statement`]) into a [`Parsed`] statement whose
//! predicate is typed by its predicate type ([`Typed`]): the checks read typed fields. Our
//! `externalParameters` are read with their own type, which rejects fields it does not know
//! (SLSA's verifier rule), so unknown fields are seen, not silently dropped.
//!
//! Each function records its checks in the [`Report`] under the attestation's id and returns
//! nothing: a failed check fails the verdict.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::document::{Kind, Target};
use super::policy::Expectations;
use super::report::Report;
use crate::formats::build_type::ExternalParameters;
use crate::formats::cyclonedx::Bom;
use crate::formats::intoto::ResourceDescriptor;
use crate::formats::slsa::Provenance;
use crate::util::digest::Digest;
use crate::verify::CheckId;

pub use crate::formats::intoto::{STATEMENT_V01, STATEMENT_V1, Statement};
pub use crate::formats::openvex::PREDICATE_TYPE as OPENVEX;
pub use crate::formats::predicate::CYCLONEDX_BOM;
pub use crate::formats::slsa::PREDICATE_TYPE as SLSA_PROVENANCE_V1;

/// The `buildType` URIs this verifier knows the `externalParameters` of: ours
/// ([`crate::formats::build_type::BUILD_TYPE`], docs/provenance.md).
pub const KNOWN_BUILD_TYPES: &[&str] = &[crate::formats::build_type::BUILD_TYPE];

/// A statement with its predicate typed by its predicate type.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    /// An SLSA v1 provenance ([`SLSA_PROVENANCE_V1`]).
    Provenance(Box<Statement<Provenance>>),
    /// A CycloneDX BOM ([`CYCLONEDX_BOM`]).
    Bom(Box<Statement<Bom>>),
    /// Any other predicate type: subject and predicate-type checks only.
    Other(Box<Statement>),
}

/// A verified payload parsed once: the typed statement, and the JSON it was read from (kept
/// for the readers of whole predicates: `audit` reads the SBOM's components).
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The statement, its predicate typed.
    pub typed: Typed,
    /// The payload as JSON.
    pub json: Value,
}

impl Parsed {
    /// The statement's subjects.
    pub fn subject(&self) -> &[ResourceDescriptor] {
        match &self.typed {
            Typed::Provenance(s) => &s.subject,
            Typed::Bom(s) => &s.subject,
            Typed::Other(s) => &s.subject,
        }
    }

    /// The statement's predicate type.
    pub fn predicate_type(&self) -> &str {
        match &self.typed {
            Typed::Provenance(s) => &s.predicate_type,
            Typed::Bom(s) => &s.predicate_type,
            Typed::Other(s) => &s.predicate_type,
        }
    }
}

/// Parses a statement payload once, with the in-toto framework's rules
/// ([`Statement::validate`]: known `_type`, subjects each with a digest, a `predicateType`),
/// and types its predicate by its predicate type. The error is the reason (the `statement`
/// check fails with it).
pub fn parse_statement(payload: &[u8]) -> Result<Parsed, String> {
    let json: Value =
        serde_json::from_slice(payload).map_err(|e| format!("payload is not JSON: {e}"))?;
    let st: Statement = serde_json::from_value(json.clone())
        .map_err(|e| format!("the payload is not an in-toto statement: {e}"))?;
    st.validate("the payload").map_err(|e| e.to_string())?;
    let typed = match st.predicate_type.as_str() {
        SLSA_PROVENANCE_V1 => Typed::Provenance(Box::new(retype(st, "an SLSA v1 provenance")?)),
        CYCLONEDX_BOM => Typed::Bom(Box::new(retype(st, "a CycloneDX BOM")?)),
        _ => Typed::Other(Box::new(st)),
    };
    Ok(Parsed { typed, json })
}

/// The statement with its predicate read as `P`.
fn retype<P: DeserializeOwned>(st: Statement, what: &str) -> Result<Statement<P>, String> {
    let predicate = serde_json::from_value(st.predicate).map_err(|e| {
        format!(
            "the predicate of type `{}` is not {what}: {e}",
            st.predicate_type
        )
    })?;
    Ok(Statement {
        type_: st.type_,
        subject: st.subject,
        predicate_type: st.predicate_type,
        predicate,
    })
}

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

/// `predicate-type`: the statement's predicate type is the one its referrer announces.
pub fn check_predicate_type(report: &mut Report, att: &str, actual: &str, announced: Option<&str>) {
    match announced {
        Some(a) if a != actual => report.fail(
            CheckId::PredicateType,
            Some(att),
            format!("the referrer announces predicate type `{a}` but the signed statement has `{actual}`"),
        ),
        Some(_) => report.pass(CheckId::PredicateType, Some(att), format!("`{actual}`, as announced")),
        None => report.pass(CheckId::PredicateType, Some(att), format!("`{actual}`")),
    }
}

fn check_expected(
    report: &mut Report,
    att: &str,
    check: CheckId,
    what: &str,
    found: Option<&str>,
    expected: Option<&str>,
    norm: fn(&str) -> String,
) {
    match (expected, found) {
        (None, Some(f)) => report.skip(
            check,
            Some(att),
            format!("{what} is `{f}`; not compared (no expectation given)"),
        ),
        (None, None) => report.skip(
            check,
            Some(att),
            format!("no {what} recorded; none expected"),
        ),
        (Some(e), None) => report.fail(
            check,
            Some(att),
            format!("expected {what} `{e}`, the provenance records none"),
        ),
        (Some(e), Some(f)) if norm(e) == norm(f) => {
            report.pass(check, Some(att), format!("{what} is `{f}`"))
        }
        (Some(e), Some(f)) => {
            report.fail(check, Some(att), format!("{what} is `{f}`, expected `{e}`"))
        }
    }
}

/// Normalises a git repository URL for comparison: no `git+`, no `@ref`/`#`, no `.git`, no
/// trailing slash, lowercase scheme and host; ssh and scp-like spellings become https
/// ([`crate::util::url::repo_key`]).
pub fn normalize_repo(url: &str) -> String {
    crate::util::url::repo_key(url)
}

fn same(s: &str) -> String {
    s.trim().to_owned()
}

fn lower(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Reads `externalParameters` with the build type's own type, which rejects unknown fields
/// (`deny_unknown_fields`): the error names the first field it does not know.
fn external_parameters(value: &Value) -> Result<ExternalParameters, String> {
    serde_json::from_value::<ExternalParameters>(value.clone()).map_err(|e| e.to_string())
}

/// The checks of an SLSA v1 provenance statement against the expectations.
pub fn check_provenance(
    report: &mut Report,
    att: &str,
    statement: &Statement<Provenance>,
    exp: &Expectations,
) {
    let def = &statement.predicate.build_definition;
    let build_type = def.build_type.as_str();
    let known = KNOWN_BUILD_TYPES.contains(&build_type);
    if known {
        report.pass(CheckId::BuildType, Some(att), format!("`{build_type}`"));
    } else {
        report.fail(
            CheckId::BuildType,
            Some(att),
            format!(
                "buildType `{build_type}` is not one this verifier knows ({})",
                KNOWN_BUILD_TYPES.join(", ")
            ),
        );
    }
    let ext = &def.external_parameters;
    let params = if !ext.is_object() {
        Err("externalParameters is missing or not an object".to_owned())
    } else if known {
        external_parameters(ext)
            .map_err(|p| format!("{p}: a verifier must reject parameters it does not know"))
    } else {
        Err("cannot be checked: unknown buildType".to_owned())
    };
    let params = match params {
        Ok(p) => {
            report.pass(
                CheckId::ExternalParameters,
                Some(att),
                "every field is one this verifier knows",
            );
            Some(p)
        }
        Err(why) => {
            report.fail(CheckId::ExternalParameters, Some(att), why);
            None
        }
    };
    check_expected(
        report,
        att,
        CheckId::BuilderId,
        "builder.id",
        Some(statement.predicate.run_details.builder.id.as_str()),
        exp.builder_id.as_deref(),
        same,
    );
    let Some(params) = params else {
        // The source is read from parameters this verifier could read; the verdict has
        // already failed on `external-parameters`.
        for check in [
            CheckId::SourceRepo,
            CheckId::SourceCommit,
            CheckId::SourceRef,
        ] {
            report.skip(check, Some(att), "externalParameters could not be read");
        }
        return;
    };
    check_source(report, att, params.source.as_ref(), exp);
}

/// `source-repo`, `source-commit`, `source-ref`: the recorded source against the
/// expectations.
fn check_source(
    report: &mut Report,
    att: &str,
    source: Option<&crate::formats::build_type::SourceParameters>,
    exp: &Expectations,
) {
    check_expected(
        report,
        att,
        CheckId::SourceRepo,
        "source repository",
        source.and_then(|s| s.uri.as_deref()),
        exp.source_repo.as_deref(),
        normalize_repo,
    );
    check_expected(
        report,
        att,
        CheckId::SourceCommit,
        "source commit",
        source.map(|s| s.commit.as_str()),
        exp.source_commit.as_deref(),
        lower,
    );
    check_expected(
        report,
        att,
        CheckId::SourceRef,
        "source ref",
        source.and_then(|s| s.git_ref.as_deref()),
        exp.source_ref.as_deref(),
        same,
    );
}

/// Extracts the digest of a `pkg:oci/NAME@sha256%3AHEX?...` purl.
pub fn purl_digest(purl: &str) -> Option<Digest> {
    let rest = purl.strip_prefix("pkg:oci/")?;
    let (_, version) = rest.split_once('@')?;
    let version = version.split(['?', '#']).next()?;
    let decoded = version.replace("%3A", ":").replace("%3a", ":");
    decoded.parse().ok()
}

/// `sbom-subject`: the CycloneDX BOM's `metadata.component` (its `pkg:oci` purl) names the
/// digest being verified, or, when that is an image manifest, an index that the signed
/// statement also names and that lists it (`lists_top(index)` reads the index). Naming any
/// other subject of the statement is not enough.
pub fn check_sbom(
    report: &mut Report,
    att: &str,
    statement: &Statement<Bom>,
    target: &Target,
    lists_top: &dyn Fn(&Digest) -> bool,
) {
    let bom = &statement.predicate;
    if bom.bom_format != "CycloneDX" {
        report.fail(
            CheckId::SbomSubject,
            Some(att),
            "the predicate is not a CycloneDX BOM (bomFormat)",
        );
        return;
    }
    let Some(top) = target.top() else {
        return report.fail(CheckId::SbomSubject, Some(att), "no image to compare with");
    };
    let purl = bom.component_purl();
    let (sbom_subject, fail) = (CheckId::SbomSubject, Some(att));
    match purl.map(|p| (p, purl_digest(p))) {
        None => report.fail(
            sbom_subject,
            fail,
            "the SBOM has no metadata.component.purl naming the image",
        ),
        Some((p, None)) => report.fail(
            sbom_subject,
            fail,
            format!("metadata.component.purl `{p}` is not a pkg:oci purl with a sha256 digest"),
        ),
        Some((_, Some(d))) if d == top.digest => report.pass(
            sbom_subject,
            fail,
            format!(
                "the SBOM describes {d}, the {} being verified",
                top.kind.word()
            ),
        ),
        Some((_, Some(d)))
            if top.kind == Kind::Manifest
                && subjects(&statement.subject).iter().any(|(s, _)| *s == d)
                && lists_top(&d) =>
        {
            report.pass(
                sbom_subject,
                fail,
                format!("the SBOM describes index {d}, which lists {top}"),
            )
        }
        Some((_, Some(d))) => report.fail(
            sbom_subject,
            fail,
            format!(
                "the SBOM describes another image, {d}, not {top} (nor a signed subject index \
                 that lists it)"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::document::Part;
    use crate::verify::report::Status;

    fn d(c: char) -> Digest {
        Digest::from_hex(&c.to_string().repeat(64)).unwrap()
    }

    fn provenance() -> Value {
        serde_json::json!({
            "_type": STATEMENT_V1,
            "subject": [{"name": "img", "digest": {"sha256": "a".repeat(64)}}],
            "predicateType": SLSA_PROVENANCE_V1,
            "predicate": {
                "buildDefinition": {
                    "buildType": KNOWN_BUILD_TYPES[0],
                    "externalParameters": {
                        "source": {"uri": "git+https://github.com/Ex/Repo.git@refs/heads/main", "ref": "refs/heads/main", "commit": "ABC"},
                        "packages": ["p"], "binaries": ["p"], "profile": "release", "target": "x86_64-unknown-linux-gnu",
                        "builder": "native", "baseImage": "scratch", "platforms": ["linux/amd64"]
                    },
                },
                "runDetails": {"builder": {"id": "https://b"}},
            }
        })
    }

    /// The typed provenance statement of `v`.
    fn prov(v: &Value) -> Statement<Provenance> {
        match parse_statement(&serde_json::to_vec(v).unwrap())
            .unwrap()
            .typed
        {
            Typed::Provenance(s) => *s,
            other => panic!("not a provenance: {other:?}"),
        }
    }

    /// The subjects of `v`.
    fn subj(v: &Value) -> Vec<ResourceDescriptor> {
        serde_json::from_value(v["subject"].clone()).unwrap()
    }

    /// `v` as a BOM statement.
    fn bom(v: &Value) -> Statement<Bom> {
        Statement {
            type_: STATEMENT_V1.into(),
            subject: subj(v),
            predicate_type: CYCLONEDX_BOM.into(),
            predicate: serde_json::from_value(v["predicate"].clone()).unwrap(),
        }
    }

    fn statuses(r: &Report) -> Vec<(CheckId, Status)> {
        r.checks.iter().map(|c| (c.check, c.status)).collect()
    }

    #[test]
    fn provenance_checks_pass_and_fail() {
        let exp = Expectations {
            builder_id: Some("https://b".into()),
            source_repo: Some("https://GitHub.com/Ex/Repo/".into()),
            source_commit: Some("abc".into()),
            source_ref: Some("refs/heads/main".into()),
            ..Expectations::default()
        };
        let mut r = Report::new("x");
        check_provenance(&mut r, "a", &prov(&provenance()), &exp);
        assert!(r.verified, "{}", r.human());
        let mut bad = provenance();
        bad["predicate"]["buildDefinition"]["externalParameters"]["evil"] = "x".into();
        bad["predicate"]["buildDefinition"]["externalParameters"]["source"]["extra"] = "x".into();
        bad["predicate"]["runDetails"]["builder"]["id"] = "https://other".into();
        let mut r = Report::new("x");
        check_provenance(&mut r, "a", &prov(&bad), &exp);
        let failed: Vec<_> = r.failures().map(|c| c.check).collect();
        assert_eq!(failed, [CheckId::ExternalParameters, CheckId::BuilderId]);
        assert!(
            r.checks[1].reason.contains("unknown field `"),
            "{}",
            r.checks[1].reason
        );
        bad["predicate"]["buildDefinition"]["buildType"] = "https://x".into();
        let mut r = Report::new("x");
        check_provenance(&mut r, "a", &prov(&bad), &Expectations::default());
        assert_eq!(statuses(&r)[0], (CheckId::BuildType, Status::Fail));
    }

    #[test]
    fn source_mismatches_fail() {
        let exp = Expectations {
            source_repo: Some("https://github.com/ex/other".into()),
            source_commit: Some("abd".into()),
            source_ref: Some("refs/tags/v1".into()),
            ..Expectations::default()
        };
        let mut r = Report::new("x");
        check_provenance(&mut r, "a", &prov(&provenance()), &exp);
        let failed: Vec<_> = r.failures().map(|c| c.check).collect();
        assert_eq!(
            failed,
            [
                CheckId::SourceRepo,
                CheckId::SourceCommit,
                CheckId::SourceRef
            ]
        );
    }

    fn part(c: char, kind: Kind) -> Part {
        Part {
            digest: d(c),
            kind,
            label: kind.word().into(),
        }
    }

    fn target(parts: &[(char, Kind)]) -> Target {
        Target {
            parts: parts.iter().map(|&(c, k)| part(c, k)).collect(),
        }
    }

    #[test]
    fn subject_must_be_the_image() {
        let st = provenance();
        let mut r = Report::new("x");
        let t = target(&[('b', Kind::Index), ('a', Kind::Manifest)]);
        assert_eq!(check_subject(&mut r, None, &subj(&st), &t), [1]);
        let t = target(&[('b', Kind::Index), ('c', Kind::Manifest)]);
        assert!(check_subject(&mut r, None, &subj(&st), &t).is_empty());
        // A subject that says it is an index never names a manifest of the same digest (nor
        // a binary: a subject of another media type names no image document).
        let mut typed = provenance();
        typed["subject"][0]["mediaType"] = crate::formats::oci::MEDIA_TYPE_INDEX.into();
        let t = target(&[('a', Kind::Manifest)]);
        assert!(check_subject(&mut r, None, &subj(&typed), &t).is_empty());
        typed["subject"][0]["mediaType"] = "application/octet-stream".into();
        assert!(check_subject(&mut r, None, &subj(&typed), &t).is_empty());
        assert!(parse_statement(b"{}").is_err());
        assert!(
            parse_statement(
                br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x"}"#
            )
            .is_err()
        );
        // A subject without a digest names nothing: the framework's rule applies here too.
        let err = parse_statement(
            br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{}}],"predicateType":"x","predicate":{}}"#,
        )
        .unwrap_err();
        assert!(err.contains("has no digest"), "{err}");
    }

    #[test]
    fn sbom_must_describe_the_image() {
        let hex = |c: char| c.to_string().repeat(64);
        let st = |purl: &str| {
            serde_json::json!({
                "subject": [{"digest": {"sha256": hex('a')}}, {"digest": {"sha256": hex('b')}}],
                "predicate": {"bomFormat": "CycloneDX", "metadata": {"component": {"purl": purl}}}
            })
        };
        let purl = |c: char| format!("pkg:oci/hello@sha256%3A{}?repository_url=x", hex(c));
        let never = |_: &Digest| false;
        let index_b = |i: &Digest| *i == d('b');
        let t = target(&[('a', Kind::Manifest)]);
        let mut r = Report::new("x");
        check_sbom(&mut r, "s", &bom(&st(&purl('a'))), &t, &never);
        // Another subject of the same statement is not this image...
        check_sbom(&mut r, "s", &bom(&st(&purl('b'))), &t, &never);
        // ...unless it is an index that lists it.
        check_sbom(&mut r, "s", &bom(&st(&purl('b'))), &t, &index_b);
        // An index that is not a subject of the signed statement does not count.
        check_sbom(&mut r, "s", &bom(&st(&purl('c'))), &t, &|_| true);
        check_sbom(&mut r, "s", &bom(&st("pkg:cargo/x@1")), &t, &never);
        // Verifying an index: the SBOM must name that index, not one of its manifests.
        let t = target(&[('b', Kind::Index), ('a', Kind::Manifest)]);
        check_sbom(&mut r, "s", &bom(&st(&purl('a'))), &t, &|_| true);
        assert_eq!(
            statuses(&r).iter().map(|s| s.1).collect::<Vec<_>>(),
            [
                Status::Pass,
                Status::Fail,
                Status::Pass,
                Status::Fail,
                Status::Fail,
                Status::Fail
            ]
        );
    }

    #[test]
    fn repo_urls_normalise() {
        assert_eq!(
            normalize_repo("git+https://GitHub.com/a/b.git@refs/heads/main"),
            "https://github.com/a/b"
        );
        assert_eq!(
            normalize_repo("https://github.com/a/b/"),
            "https://github.com/a/b"
        );
        assert_ne!(
            normalize_repo("https://github.com/a/b"),
            normalize_repo("https://github.com/a/c")
        );
    }

    #[test]
    fn statements_are_parsed_once_and_typed_by_predicate_type() {
        let st = parse_statement(&serde_json::to_vec(&provenance()).unwrap()).unwrap();
        assert!(matches!(st.typed, Typed::Provenance(_)));
        assert_eq!(st.predicate_type(), SLSA_PROVENANCE_V1);
        assert_eq!(st.subject().len(), 1);
        // A provenance whose predicate is not one fails the `statement` check.
        let mut bad = provenance();
        bad["predicate"] = serde_json::json!({"buildDefinition": {}});
        let err = parse_statement(&serde_json::to_vec(&bad).unwrap()).unwrap_err();
        assert!(err.contains("is not an SLSA v1 provenance"), "{err}");
        bad["predicateType"] = CYCLONEDX_BOM.into();
        bad["predicate"] = serde_json::json!({"metadata": "x"});
        assert!(parse_statement(&serde_json::to_vec(&bad).unwrap()).is_err());
        bad["predicateType"] = "https://example.com/other".into();
        let st = parse_statement(&serde_json::to_vec(&bad).unwrap()).unwrap();
        assert!(matches!(st.typed, Typed::Other(_)));
    }

    #[test]
    fn predicate_type_must_match_the_announcement() {
        let mut r = Report::new("x");
        check_predicate_type(&mut r, "a", SLSA_PROVENANCE_V1, Some(CYCLONEDX_BOM));
        check_predicate_type(&mut r, "a", SLSA_PROVENANCE_V1, Some(SLSA_PROVENANCE_V1));
        assert_eq!(
            statuses(&r).iter().map(|s| s.1).collect::<Vec<_>>(),
            [Status::Fail, Status::Pass]
        );
    }
}
