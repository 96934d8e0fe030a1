//! The gate inside `build` (native builder, OCI layout; no peer), the signed scan
//! attestation, `audit REF` on the built layout, and `verify --require vuln`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{PASSWORD, db, support};

pub use crate::support::read_json;

/// `build --builder native --key K` of hello-service with `extra`; (exit code, stderr).
pub fn build(repo: &Path, key: &Path, out: &Path, extra: &[&str]) -> (i32, String) {
    let o = support::cargo_provenance()
        .current_dir(repo)
        .env("CARGO_TARGET_DIR", support::example_target_dir())
        .env("COSIGN_PASSWORD", PASSWORD)
        .env_remove("BUILDKIT_HOST")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args(["build", "--builder", "native", "--offline", "--key"])
        .arg(key)
        .arg("--output-dir")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Referrer manifests in a layout's index.json.
pub fn layout_referrers(layout: &Path) -> Vec<Value> {
    let top = read_json(&layout.join("index.json"));
    top["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| {
            let hex = d["digest"].as_str()?.strip_prefix("sha256:")?;
            let m: Value =
                serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(hex)).ok()?)
                    .ok()?;
            m.get("subject")?;
            Some(m)
        })
        .collect()
}

/// The payload statement of a bundle file.
pub fn bundle_statement(path: &Path) -> Value {
    use base64::Engine as _;
    let b = read_json(path);
    let payload = base64::engine::general_purpose::STANDARD
        .decode(b["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// A repo, its key pair and the hello database: (guard, repo, key, pub, db).
pub fn setup() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf, PathBuf) {
    let (tmp, repo) = support::example_repo("hello-service");
    let (key, public) = support::keygen(&tmp.path().join("keys"), PASSWORD);
    let db = db::hello(tmp.path());
    (tmp, repo, key, public, db)
}

/// `build --fail-on high` with a critical advisory on a shipped crate: exit 1 with the
/// finding listed, no bundle written, nothing attached (the layout has no referrer, no
/// summary). With a VEX `not_affected` statement it passes and the signed scan attached to
/// the image lists the finding as suppressed, with the statement.
#[test]
fn build_gate_stops_before_signing_and_vex_lets_it_pass() {
    let (tmp, repo, key, public, db) = setup();
    let out = tmp.path().join("out");
    let dbs = db.to_str().unwrap();
    let (code, err) = build(
        &repo,
        &key,
        &out,
        &["--fail-on", "high", "--advisory-db", dbs],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("RUSTSEC-2099-0001 in itoa@1.0.18 (critical)"),
        "{err}"
    );
    assert!(
        err.contains("nothing was signed, attached or pushed"),
        "{err}"
    );
    for f in [
        "provenance.sigstore.json",
        "sbom.sigstore.json",
        "vuln.sigstore.json",
        "summary.json",
        "provenance.intoto.json",
    ] {
        assert!(!out.join(f).exists(), "{f} written by a failed gate");
    }
    assert!(layout_referrers(&out.join("oci")).is_empty());

    let vex = tmp.path().join("itoa.vex.json");
    db::vex(
        &vex,
        "CVE-2099-0001",
        "pkg:cargo/itoa@1.0.18",
        "not_affected",
    );
    let (code, err) = build(
        &repo,
        &key,
        &out,
        &[
            "--fail-on",
            "high",
            "--advisory-db",
            dbs,
            "--vex",
            vex.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let st = bundle_statement(&out.join("vuln.sigstore.json"));
    assert_eq!(
        st["predicateType"],
        "https://cosign.sigstore.dev/attestation/vuln/v1"
    );
    let p = &st["predicate"];
    assert_eq!(p["scanner"]["db"]["version"], "snapshot-2026-08-20");
    assert_eq!(p["invocation"]["parameters"]["fail_on"], "high");
    let s = &p["scanner"]["result"]["suppressed"][0];
    assert_eq!(s["finding"]["id"], "RUSTSEC-2099-0001");
    assert_eq!(s["by"]["status"], "not_affected");
    assert_eq!(s["by"]["vulnerability"], "CVE-2099-0001");
    assert!(
        p["metadata"]["scanStartedOn"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let summary = read_json(&out.join("summary.json"));
    let vuln = summary["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["predicate_type"] == "https://cosign.sigstore.dev/attestation/vuln/v1")
        .unwrap();
    assert_eq!(vuln["bundle_file"], "vuln.sigstore.json");
    assert_eq!(vuln["referrers"].as_array().unwrap().len(), 2);
    let annotated = layout_referrers(&out.join("oci"))
        .iter()
        .filter(|m| {
            m["annotations"]["dev.sigstore.bundle.predicateType"]
                == "https://cosign.sigstore.dev/attestation/vuln/v1"
        })
        .count();
    assert_eq!(
        annotated, 2,
        "attached to the index and the platform manifest"
    );

    // verify --require vuln: the scan is there, nothing at or above high unsuppressed.
    let layout = format!("oci:{}", out.join("oci").display());
    let verify = |extra: &[&str]| {
        support::cargo_provenance()
            .args(["verify", &layout, "--key"])
            .arg(&public)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = verify(&[
        "--require",
        "provenance,sbom,vuln",
        "--vuln-max-severity",
        "medium",
    ]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("vuln-severity"), "{text}");

    // audit REF: the image's verified SBOM, same findings as on the project.
    let o = support::cargo_provenance()
        .args([
            "audit",
            &layout,
            "--format",
            "json",
            "--offline",
            "--advisory-db",
            dbs,
            "--key",
        ])
        .arg(&public)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["vulnerabilities"][0]["id"], "RUSTSEC-2099-0001");
    assert_eq!(r["build_only"][0]["id"], "RUSTSEC-2099-0004");
    assert_eq!(r["targets"][0]["os"], "linux");
    // With the wrong key nothing is audited: a failed check.
    let other = support::keygen(&tmp.path().join("other"), PASSWORD).1;
    let o = support::cargo_provenance()
        .args(["audit", &layout, "--offline", "--advisory-db", dbs, "--key"])
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not verify"));

    // The image's own VEX referrer (signed by `vex` with the key) suppresses in `audit REF`.
    let audit_ref = |extra: &[&str]| {
        support::cargo_provenance()
            .args([
                "audit",
                &layout,
                "--format",
                "json",
                "--offline",
                "--advisory-db",
                dbs,
            ])
            .args(["--fail-on", "high", "--key"])
            .arg(&public)
            .args(extra)
            .output()
            .unwrap()
    };
    assert_eq!(audit_ref(&[]).status.code(), Some(1));
    let o = support::cargo_provenance()
        .env("COSIGN_PASSWORD", PASSWORD)
        .args(["vex", &layout, "--vulnerability", "GHSA-xxxx-yyyy-zzzz"])
        .args([
            "--status",
            "not_affected",
            "--justification",
            "vulnerable_code_not_present",
        ])
        .args(["--product", "pkg:cargo/itoa@1.0.18", "--key"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "vex: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = audit_ref(&[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = &r["suppressed"][0];
    assert_eq!(s["finding"]["id"], "RUSTSEC-2099-0001");
    assert!(
        s["by"]["source"]
            .as_str()
            .unwrap()
            .starts_with("VEX referrer"),
        "{s}"
    );
}

/// `verify --require vuln` fails when the scan has an unsuppressed finding above the level,
/// and when there is no scan at all.
#[test]
fn verify_require_vuln_checks_the_level() {
    let (tmp, repo, key, public, db) = setup();
    let out = tmp.path().join("out");
    // Scanned, report only: the critical finding is in the attestation.
    let (code, err) = build(&repo, &key, &out, &["--advisory-db", db.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let layout = format!("oci:{}", out.join("oci").display());
    let run = |extra: &[&str]| {
        let o = support::cargo_provenance()
            .args(["verify", &layout, "--key"])
            .arg(&public)
            .args(extra)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (code, text) = run(&["--require", "vuln", "--vuln-max-severity", "high"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("RUSTSEC-2099-0001"), "{text}");
    let (code, text) = run(&["--require", "vuln"]);
    assert_eq!(code, Some(0), "no level: the scan's presence only\n{text}");
    // No scan at all (the same output directory: the earlier scan files are removed).
    assert!(out.join("vuln.sigstore.json").is_file());
    let out2 = out.clone();
    let (code, err) = build(&repo, &key, &out2, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!out2.join("vuln.sigstore.json").exists());
    assert!(!out2.join("vuln.intoto.json").exists());
    let o = support::cargo_provenance()
        .args([
            "verify",
            &format!("oci:{}", out2.join("oci").display()),
            "--key",
        ])
        .arg(&public)
        .args(["--require", "vuln"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

/// With `--reproducible` the scan's times are SOURCE_DATE_EPOCH: two builds give the same
/// scan statement and bundle.
#[test]
fn reproducible_builds_give_the_same_scan() {
    let (tmp, repo, key, _public, db) = setup();
    let mut bytes = Vec::new();
    for dir in ["a", "b"] {
        let out = tmp.path().join(dir);
        let (code, err) = build(
            &repo,
            &key,
            &out,
            &["--reproducible", "--advisory-db", db.to_str().unwrap()],
        );
        assert_eq!(code, 0, "{err}");
        bytes.push((
            std::fs::read(out.join("vuln.intoto.json")).unwrap(),
            std::fs::read(out.join("vuln.sigstore.json")).unwrap(),
        ));
    }
    assert!(bytes[0].0 == bytes[1].0, "vuln.intoto.json differs");
    assert!(bytes[0].1 == bytes[1].1, "vuln.sigstore.json differs");
    let st: Value = serde_json::from_slice(&bytes[0].0).unwrap();
    assert_eq!(
        st["predicate"]["metadata"]["scanStartedOn"],
        "2024-01-02T03:04:05Z"
    );
}
