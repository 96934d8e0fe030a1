//! `cargo provenance vex`: the OpenVEX document validates against the official schema
//! (../shared/schemas/openvex) for every status; bad input is exit 2 with the allowed values;
//! in an OCI layout the signed statement is attached to every subject of the image, keeps
//! the earlier referrers, and its `--product` purls are checked against the image's SBOM.
//! The registry tests (cosign, concurrency) are in tests/it/vex_registry.rs.

use crate::support;
use crate::support::vex as vex_support;

use std::collections::BTreeSet;

use cargo_provenance::formats::oci::{Descriptor, Platform};
use cargo_provenance::formats::openvex::{Justification, Status};
use cargo_provenance::oci::store::Store;
use cargo_provenance::util::digest::Digest;
use cargo_provenance::vex::{ImageProduct, VexInput, document};
use serde_json::{Value, json};
use vex_support::*;

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

/// Runs `vex ARGS` expecting exit 2 with `needle` in stderr and nothing on stdout.
fn vex_fails(args: &[&str], needle: &str) {
    support::fails_with(&["vex"], args, needle);
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

#[test]
fn vex_in_a_layout_is_signed_and_attached_to_every_subject() {
    let f = fixture("layout");
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keygen(keys.path());
    let store = Store::Layout(f.layout.clone());
    let subjects: Vec<Descriptor> = std::iter::once(f.index.clone())
        .chain(f.platforms.iter().cloned())
        .collect();
    let before: Vec<_> = subjects.iter().map(|s| referrers(&store, s)).collect();
    let bundle_file = keys.path().join("vex.sigstore.json");
    let out = vex_cmd(&f.layout_ref(), &key, "CVE-2024-0001")
        .args(["--output", bundle_file.to_str().unwrap()])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains(&f.index.digest.to_string()), "{stdout}");
    for (s, b) in subjects.iter().zip(&before) {
        let after = referrers(&store, s);
        assert!(b.is_subset(&after), "earlier referrers are kept");
        assert_eq!(after.len(), b.len() + 1);
        assert_eq!(vex_count(&after), 1);
    }
    assert_eq!(
        f.layout.resolve_tag("v1").unwrap().digest,
        f.index.digest,
        "the tag still names the same index"
    );
    // The bundle verifies with the public key; its statement is about the image's digests
    // and its predicate is a schema-valid OpenVEX document.
    let bundle: cargo_provenance::formats::bundle::Bundle =
        serde_json::from_slice(&std::fs::read(&bundle_file).unwrap()).unwrap();
    let pubkey = cargo_provenance::keys::PublicKey::read(&public).unwrap();
    let verified = cargo_provenance::sign::verify_bundle(&bundle, &pubkey).unwrap();
    let statement: Value = serde_json::from_slice(&verified.payload).unwrap();
    assert_eq!(statement["predicateType"], VEX);
    let subject_digests: BTreeSet<String> = statement["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("sha256:{}", s["digest"]["sha256"].as_str().unwrap()))
        .collect();
    let want: BTreeSet<String> = subjects.iter().map(|s| s.digest.to_string()).collect();
    assert_eq!(subject_digests, want);
    let errs = errors(&openvex_validator(), &statement["predicate"]);
    assert!(errs.is_empty(), "{errs:#?}");
    assert_eq!(statement["predicate"]["timestamp"], "2024-01-02T03:04:05Z");
    // Another key does not verify it.
    let other = cargo_provenance::keys::PrivateKey::generate().public_key();
    assert!(cargo_provenance::sign::verify_bundle(&bundle, &other).is_err());
    // Re-running the same statement adds nothing.
    vex_cmd(&f.layout_ref(), &key, "CVE-2024-0001")
        .assert()
        .success();
    assert_eq!(vex_count(&referrers(&store, &f.index)), 1);
}

#[test]
fn an_unresolvable_layout_ref_is_exit_2_with_the_cause() {
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = keygen(keys.path());
    let f = fixture("missing-tag");
    let missing_tag = format!("oci:{}:v2", f.layout.root().display());
    let missing_dir = format!("oci:{}/nowhere:v1", keys.path().display());
    for (reference, cause) in [
        (missing_tag.as_str(), "v2"),
        (missing_dir.as_str(), "nowhere"),
    ] {
        let out = vex_cmd(reference, &key, "CVE-2024-0002").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("does not resolve"), "{err}");
        assert!(err.contains(cause), "{err}");
    }
}

#[test]
fn products_are_checked_against_the_sbom_signed_by_the_same_key() {
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = keygen(keys.path());
    let f = fixture("sbom-check");
    attach_sbom(
        &f,
        &key,
        &["pkg:cargo/time@0.1.44", "pkg:cargo/itoa@1.0.11"],
    );
    let store = Store::Layout(f.layout.clone());
    // pkg:cargo/time@0.1.45 (vex_cmd's --product) is not shipped: exit 2, nothing attached.
    let out = vex_cmd(&f.layout_ref(), &key, "CVE-2024-4000")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not a component of the image's SBOM"), "{err}");
    assert!(err.contains("it has pkg:cargo/time@0.1.44"), "{err}");
    assert_eq!(vex_count(&referrers(&store, &f.index)), 0);
    // A shipped crate is accepted, without a warning.
    let out = support::cargo_provenance()
        .args([
            "vex",
            &f.layout_ref(),
            "--vulnerability",
            "CVE-2024-4001",
            "--status",
            "fixed",
            "--product",
            "pkg:cargo/itoa@1.0.11",
            "--key",
            key.to_str().unwrap(),
        ])
        .env("COSIGN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert_eq!(vex_count(&referrers(&store, &f.index)), 1);

    // An SBOM signed by another key is not trusted for the check: a warning, no error.
    let g = fixture("sbom-other-key");
    let other = tempfile::tempdir().unwrap();
    let (other_key, _) = keygen(other.path());
    attach_sbom(&g, &other_key, &["pkg:cargo/itoa@1.0.11"]);
    let out = vex_cmd(&g.layout_ref(), &key, "CVE-2024-4002")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("no SBOM signed by this key"), "{err}");

    // An SBOM signed by the same key but about another image, re-attached here, does not
    // vouch for this image's components: set aside like an unsigned one.
    let h = fixture("sbom-other-image");
    let elsewhere = cargo_provenance::util::digest::Digest::of(b"another image");
    attach_sbom_about(&h, &key, &["pkg:cargo/time@0.1.45"], &[elsewhere]);
    let out = vex_cmd(&h.layout_ref(), &key, "CVE-2024-4003")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("no SBOM signed by this key"), "{err}");
}
