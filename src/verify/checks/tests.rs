//! The checks' tests: each check passes on a good statement and fails on the bad ones.

use serde_json::Value;

use super::*;
use crate::formats::cyclonedx::Bom;
use crate::formats::intoto::ResourceDescriptor;
use crate::formats::slsa::Provenance;
use crate::util::digest::Digest;
use crate::verify::CheckId;
use crate::verify::document::{Kind, Part, Target};
use crate::verify::policy::Expectations;
use crate::verify::report::{Report, Status};

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
