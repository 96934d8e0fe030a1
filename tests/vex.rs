//! `cargo provenance vex`: the OpenVEX document validates against the official schema
//! (../shared/schemas/openvex) for every status; bad input is exit 2 with the allowed values.

mod support;

use cargo_provenance::formats::oci::Platform;
use cargo_provenance::formats::openvex::{Justification, Status};
use cargo_provenance::util::digest::Digest;
use cargo_provenance::vex::{ImageProduct, VexInput, document};
use serde_json::{Value, json};

fn openvex_validator() -> jsonschema::Validator {
    let path = support::shared_dir().join("schemas/openvex/openvex_json_schema.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn images() -> Vec<ImageProduct> {
    vec![
        ImageProduct {
            repository: "127.0.0.1:5000/team/app".into(),
            digest: Digest::of(b"index"),
            platform: None,
        },
        ImageProduct {
            repository: "127.0.0.1:5000/team/app".into(),
            digest: Digest::of(b"amd64"),
            platform: Some(Platform {
                architecture: "amd64".into(),
                os: "linux".into(),
                os_version: None,
                variant: None,
            }),
        },
    ]
}

fn input(status: Status) -> VexInput {
    VexInput {
        vulnerability: "RUSTSEC-2020-0071".into(),
        status,
        justification: (status == Status::NotAffected)
            .then_some(Justification::VulnerableCodeNotInExecutePath),
        impact_statement: None,
        action_statement: (status == Status::Affected).then(|| "upgrade to 1.2.3".into()),
        subcomponents: vec!["pkg:cargo/time@0.1.45".into()],
        author: "Release team".into(),
    }
}

#[test]
fn documents_validate_against_the_openvex_schema() {
    let v = openvex_validator();
    for status in Status::ALL {
        let doc = document(&input(*status), &images(), "2024-01-02T03:04:05Z").unwrap();
        let value = serde_json::to_value(&doc).unwrap();
        let errs = errors(&v, &value);
        assert!(errs.is_empty(), "{status}: {errs:#?}\n{value:#}");
        assert_eq!(value["@context"], "https://openvex.dev/ns/v0.2.0");
        assert_eq!(value["version"], 1);
        let product = &value["statements"][0]["products"][0];
        assert!(
            product["@id"]
                .as_str()
                .unwrap()
                .starts_with("pkg:oci/app@sha256%3A")
        );
        assert_eq!(
            product["subcomponents"][0]["identifiers"]["purl"],
            "pkg:cargo/time@0.1.45"
        );
    }
    // With every optional flag, and with no subcomponents.
    let mut i = input(Status::NotAffected);
    i.impact_statement = Some("the vulnerable API is never called".into());
    i.action_statement = Some("none needed".into());
    i.subcomponents.clear();
    let doc =
        serde_json::to_value(document(&i, &images(), "2024-01-02T03:04:05Z").unwrap()).unwrap();
    assert!(errors(&v, &doc).is_empty(), "{:#?}", errors(&v, &doc));
    assert!(
        doc["statements"][0]["products"][0]
            .get("subcomponents")
            .is_none()
    );
}

#[test]
fn the_schema_check_bites() {
    let v = openvex_validator();
    let good = serde_json::to_value(
        document(
            &input(Status::NotAffected),
            &images(),
            "2024-01-02T03:04:05Z",
        )
        .unwrap(),
    )
    .unwrap();
    let mut no_justification = good.clone();
    no_justification["statements"][0]
        .as_object_mut()
        .unwrap()
        .remove("justification");
    assert!(!errors(&v, &no_justification).is_empty());
    let mut bad_status = good.clone();
    bad_status["statements"][0]["status"] = json!("unaffected");
    assert!(!errors(&v, &bad_status).is_empty());
    let mut bad_time = good.clone();
    bad_time["timestamp"] = json!("yesterday");
    assert!(!errors(&v, &bad_time).is_empty());
    let mut extra = good;
    extra["note"] = json!("x");
    assert!(!errors(&v, &extra).is_empty());
}

/// Runs `vex ARGS` expecting exit 2 with `needle` in stderr.
fn vex_fails(args: &[&str], needle: &str) {
    let out = support::cargo_provenance()
        .arg("vex")
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in:\n{err}"
    );
}

#[test]
fn bad_input_is_exit_2_with_the_allowed_values() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("cosign.key");
    std::fs::write(&key, "not a key").unwrap();
    let key = key.to_str().unwrap();
    let base = [
        "oci:/nonexistent/layout:v1",
        "--vulnerability",
        "CVE-2024-1",
        "--key",
        key,
    ];
    let with = |extra: &[&'static str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let run = |args: Vec<String>, needle: &str| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        vex_fails(&a, needle);
    };
    run(
        with(&["--status", "unaffected"]),
        "not_affected, affected, fixed, under_investigation",
    );
    run(
        with(&["--status", "not_affected"]),
        "vulnerable_code_not_in_execute_path",
    );
    run(
        with(&["--status", "not_affected", "--justification", "because"]),
        "component_not_present, vulnerable_code_not_present",
    );
    run(
        with(&[
            "--status",
            "fixed",
            "--justification",
            "component_not_present",
        ]),
        "only goes with --status not_affected",
    );
    run(with(&["--status", "affected"]), "--action-statement");
    run(
        with(&["--status", "fixed", "--product", "time@0.3"]),
        "not a package URL",
    );
}
