//! cosign's legacy `.att` tags beside referrers: verify reads them only when the referrers
//! leave the image unverified, or when what it checks reads every statement of a kind (the
//! vulnerability gate reads every scan). docs/verify.md, "Where attestations are found".

use super::*;
use cargo_provenance::formats::cosign_legacy as legacy;
use serde_json::{Value, json};
use verify_fixture::{Fixture, Key};

/// A scan statement (cosign's vuln predicate, as `audit` writes it) naming `subjects`, with
/// one finding of `severity` when given.
fn scan(subjects: &Value, severity: Option<&str>) -> Value {
    let findings: Vec<Value> = severity
        .map(|s| {
            json!({"id": "RUSTSEC-2099-0001", "package": "hello", "version": "0.1.0",
                         "severity": s})
        })
        .into_iter()
        .collect();
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subjects,
        "predicateType": cargo_provenance::formats::predicate::COSIGN_VULN,
        "predicate": {"scanner": {"uri": "https://example.test/scanner", "version": "1",
                                  "result": {"vulnerabilities": findings}},
                      "metadata": {"scanStartedOn": "2024-01-02T03:04:05Z",
                                   "scanFinishedOn": "2024-01-02T03:04:05Z"}}
    })
}

/// Tags a cosign 2.x `.att` manifest on `subject`: one DSSE envelope layer over `statement`,
/// signed by `key` (the envelope of the bundle our signer makes).
fn legacy_att(layout: &Layout, subject: &Digest, statement: &Value, key: &Key) {
    let bundle: Value = serde_json::from_slice(&key.bundle(statement)).unwrap();
    let envelope = serde_json::to_vec(&bundle["dsseEnvelope"]).unwrap();
    let layer = layout.put_blob(&envelope).unwrap();
    let config = layout.put_blob(b"{}").unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": legacy::MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                   "digest": config.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.dsse.envelope.v1+json",
                    "digest": layer.to_string(), "size": envelope.len(),
                    "annotations": {"predicateType": statement["predicateType"]}}]
    }))
    .unwrap();
    layout.put_blob(&manifest).unwrap();
    let d = Descriptor::of(legacy::MANIFEST_MEDIA_TYPE, &manifest);
    layout.tag(&legacy::legacy_tag(subject, "att"), &d).unwrap();
}

/// [`legacy_att`] on the index and on every platform manifest of `f`'s image, signed by its
/// key.
fn legacy_att_on_every_part(f: &Fixture, statement: &Value) {
    for p in std::iter::once(&f.img.index).chain(&f.img.platforms) {
        legacy_att(&f.layout, p, statement, &f.key);
    }
}

/// A clean scan in the referrers and, in cosign's `.att` tags, a scan by the same key with a
/// critical finding: the vulnerability gate reads both and fails; the presence-only
/// requirement is met by the referrers, and verify reads no tag. With another key both are
/// read and neither counts.
#[test]
fn the_vulnerability_gate_reads_the_scans_in_legacy_tags() {
    let f = Fixture::signed();
    let s = f.img.subjects();
    let clean = f.key.bundle(&scan(&s, None));
    verify_fixture::attach_all(
        &f.layout,
        &f.img,
        &clean,
        cargo_provenance::formats::predicate::COSIGN_VULN,
    );
    legacy_att_on_every_part(&f, &scan(&s, Some("critical")));
    let gate = [
        "--require",
        "provenance,vuln",
        "--vuln-max-severity",
        "high",
    ];
    f.verify(&gate)
        .fails_only(&["vuln-severity"])
        .says("RUSTSEC-2099-0001")
        .says(".att#0");
    let o = f.verify(&["--require", "provenance,vuln"]);
    o.passes();
    assert!(!o.stdout.contains(".att"), "{}", o.stdout);
    let o = f.verify_with(
        &f.reference(),
        &f.other.pub_path,
        &["--require", "provenance,vuln"],
    );
    o.fails("require").says(".att#0");
}

/// `audit REF` audits every verified SBOM: a vulnerable crate listed only by an SBOM in
/// cosign's `.att` tags is found, although the referrers' SBOM (listing none) already
/// verifies the image.
#[test]
fn audit_reads_the_sboms_in_legacy_tags() {
    let f = Fixture::signed();
    let s = f.img.subjects();
    let mut sbom = verify_fixture::sbom(&s, &f.img.index);
    sbom["predicate"]["components"] = json!([{"type": "library", "name": "itoa",
        "version": "1.0.18", "purl": "pkg:cargo/itoa@1.0.18"}]);
    legacy_att_on_every_part(&f, &sbom);
    let db = crate::audit::db::hello(f.dir.path());
    let o = support::cargo_provenance()
        .args(["audit", &f.reference(), "--format", "json", "--offline"])
        .arg("--advisory-db")
        .arg(&db)
        .arg("--key")
        .arg(&f.key.pub_path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["vulnerabilities"][0]["id"], "RUSTSEC-2099-0001", "{r:#}");
}

/// The SLSA level is assessed from a verified provenance: with `--require sbom` met by the
/// referrers and the provenance only in cosign's `.att` tags, verify still reads the tags
/// and reports L1 (not 0), from the legacy provenance.
#[test]
fn a_provenance_only_in_legacy_tags_still_gives_the_slsa_level() {
    let f = Fixture::bare();
    let s = f.img.subjects();
    let sbom = f.key.bundle(&verify_fixture::sbom(&s, &f.img.index));
    verify_fixture::attach_all(&f.layout, &f.img, &sbom, verify_fixture::CDX);
    legacy_att_on_every_part(&f, &verify_fixture::provenance(&s));
    let o = f.verify(&["--require", "sbom", "--format", "json"]);
    o.passes();
    let r: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(r["slsa"]["level"], 1, "{r:#}");
    let found: Vec<&str> = r["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["foundAs"].as_str())
        .collect();
    assert!(found.contains(&"cosign-tag"), "{found:?}");
}

/// `--rebuild` reads every attestation (found by the review): it starts from the first
/// verified provenance it can rebuild from. Here the referrers' provenance verifies but
/// records no `internalParameters` (the image verifies on it), and a complete one (the real
/// build's parameters) is only in cosign's `.att` tags: the rebuild starts from that one and
/// gets as far as looking for the recorded commit in `--source`, an empty repository.
#[test]
fn rebuild_starts_from_a_provenance_in_legacy_tags() {
    let f = Fixture::bare();
    let s = f.img.subjects();
    let partial = verify_fixture::provenance(&s);
    let bundle = f.key.bundle(&partial);
    verify_fixture::attach_all(&f.layout, &f.img, &bundle, verify_fixture::SLSA);
    let real = read_json(&built().dir.join("out/provenance.intoto.json"));
    let mut complete = partial.clone();
    complete["predicate"]["buildDefinition"]["internalParameters"] =
        real["predicate"]["buildDefinition"]["internalParameters"].clone();
    legacy_att_on_every_part(&f, &complete);
    f.verify(&[]).passes();
    let repo = tempfile::tempdir().unwrap();
    support::run(
        std::process::Command::new("git")
            .args(["init", "-q"])
            .arg(repo.path()),
    );
    let source = repo.path().display().to_string();
    f.verify(&["--rebuild", "--source", &source])
        .fails_only(&["rebuild"])
        .says("is not in the repository");
}
