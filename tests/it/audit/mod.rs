//! `cargo provenance audit` and the vulnerability gate of `build`, without peers: matching
//! the shipped crates of examples/hello-service against a small advisory database written
//! for the test (tests/it/audit/db.rs), VEX suppression, the outputs, bad input, and the gate
//! before signing. Agreement with cargo-audit on the corpus is in tests/it/audit/agreement.rs,
//! the registry and cosign in tests/it/audit/peers.rs.

use crate::support;

pub mod db;

mod agreement;

mod build;

mod peers;

use std::path::Path;

use serde_json::Value;

pub const PASSWORD: &str = "audit-test-pw";

/// `audit` on the hello-service copy in `repo`; returns (exit code, stdout, stderr).
pub fn audit(repo: &Path, args: &[&str]) -> (i32, String, String) {
    let o = support::cargo_provenance()
        .current_dir(repo)
        .args(["audit", "--offline"])
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn audit_json(repo: &Path, db: &Path, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["--format", "json", "--advisory-db", db.to_str().unwrap()];
    args.extend(extra);
    let (code, out, err) = audit(repo, &args);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (code, v, err)
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let f = f.get("finding").unwrap_or(f);
            format!(
                "{} {}",
                f["id"].as_str().unwrap(),
                f["package"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn shipped_findings_build_only_apart_other_target_and_withdrawn_ignored() {
    let (tmp, repo) = support::copy_example("hello-service");
    let db = db::hello(tmp.path());
    let (code, r, err) = audit_json(&repo, &db, &[]);
    assert_eq!(code, 0, "no --fail-on: report only\n{err}");
    assert_eq!(ids(&r["vulnerabilities"]), ["RUSTSEC-2099-0001 itoa"]);
    let v = &r["vulnerabilities"][0];
    assert_eq!(v["severity"], "critical");
    assert_eq!(v["scope"], "shipped");
    assert_eq!(v["gating"], false);
    assert_eq!(ids(&r["warnings"]), ["RUSTSEC-2099-0002 serde_json"]);
    assert_eq!(r["warnings"][0]["kind"], "unmaintained");
    assert_eq!(ids(&r["build_only"]), ["RUSTSEC-2099-0004 syn"]);
    assert_eq!(r["build_only"][0]["severity"], "medium", "CVSS v4 vector");
    assert_eq!(r["build_only"][0]["scope"], "build-only");
    assert_eq!(r["not_applicable"][0]["id"], "RUSTSEC-2099-0003");
    assert!(
        r["not_applicable"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("windows")
    );
    assert_eq!(r["database"]["date"], "2026-08-20");
    assert_eq!(r["database"]["date_source"], "newest-advisory");
    assert_eq!(r["database"]["advisories"], 6);
    assert_eq!(r["failed"], false);
    // The human table says the same.
    let (code, out, _) = audit(&repo, &["--advisory-db", db.to_str().unwrap()]);
    assert_eq!(code, 0);
    for needle in [
        "RUSTSEC-2099-0001",
        "itoa@1.0.18",
        "critical",
        "Build-only crates",
        "syn@",
        "Not applicable to the target",
        "no gate",
    ] {
        assert!(out.contains(needle), "{needle:?} missing in:\n{out}");
    }
}

#[test]
fn the_gate_fails_at_or_above_the_level_and_build_only_only_when_included() {
    let (tmp, repo) = support::copy_example("hello-service");
    let db = db::hello(tmp.path());
    let (code, r, err) = audit_json(&repo, &db, &["--fail-on", "high"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(r["failed"], true);
    assert!(
        err.contains("RUSTSEC-2099-0001 in itoa@1.0.18 (critical)"),
        "{err}"
    );
    // critical is still at or above critical; the medium build-only one gates only with
    // --include-build-deps.
    assert_eq!(audit_json(&repo, &db, &["--fail-on", "critical"]).0, 1);
    // Only the medium build-only finding would be at `medium` without the critical one:
    let vex = tmp.path().join("itoa.vex.json");
    db::vex(
        &vex,
        "RUSTSEC-2099-0001",
        "pkg:cargo/itoa@1.0.18",
        "not_affected",
    );
    let v = vex.to_str().unwrap();
    let (code, r, _) = audit_json(&repo, &db, &["--fail-on", "low", "--vex", v]);
    assert_eq!(code, 0, "{r}");
    let (code, r, err) = audit_json(
        &repo,
        &db,
        &["--fail-on", "low", "--vex", v, "--include-build-deps"],
    );
    assert_eq!(code, 1, "{r}");
    assert!(err.contains("RUSTSEC-2099-0004 in syn"), "{err}");
    // Informational advisories gate only when named.
    let (code, _, err) = audit_json(&repo, &db, &["--vex", v, "--deny", "unmaintained"]);
    assert_eq!(code, 1);
    assert!(err.contains("RUSTSEC-2099-0002 in serde_json"), "{err}");
    assert_eq!(
        audit_json(&repo, &db, &["--vex", v, "--deny", "unsound"]).0,
        0
    );
}

#[test]
fn vex_not_affected_and_fixed_suppress_affected_and_under_investigation_do_not() {
    let (tmp, repo) = support::copy_example("hello-service");
    let db = db::hello(tmp.path());
    for (status, vuln, suppresses) in [
        ("not_affected", "RUSTSEC-2099-0001", true),
        ("fixed", "CVE-2099-0001", true),
        ("not_affected", "GHSA-xxxx-yyyy-zzzz", true),
        ("affected", "RUSTSEC-2099-0001", false),
        ("under_investigation", "CVE-2099-0001", false),
    ] {
        let vex = tmp.path().join(format!("{status}.json"));
        db::vex(&vex, vuln, "pkg:cargo/itoa@1.0.18", status);
        let (code, r, err) = audit_json(
            &repo,
            &db,
            &["--fail-on", "high", "--vex", vex.to_str().unwrap()],
        );
        assert_eq!(
            code,
            if suppresses { 0 } else { 1 },
            "{status} {vuln}: {err}"
        );
        if suppresses {
            let s = &r["suppressed"][0];
            assert_eq!(s["finding"]["id"], "RUSTSEC-2099-0001");
            assert_eq!(s["by"]["status"], status);
            assert_eq!(s["by"]["vulnerability"], vuln);
            assert_eq!(s["by"]["source"], vex.to_str().unwrap());
            assert_eq!(s["by"]["statement"], 0);
            let (_, human, _) = audit(
                &repo,
                &[
                    "--advisory-db",
                    db.to_str().unwrap(),
                    "--vex",
                    vex.to_str().unwrap(),
                ],
            );
            assert!(human.contains("Suppressed by VEX"), "{human}");
            assert!(
                human.contains(&format!("{status} by {}", vex.display())),
                "{human}"
            );
        } else {
            assert_eq!(r["vulnerabilities"][0]["vex"]["status"], status);
            assert!(r["suppressed"].as_array().unwrap().is_empty());
        }
    }
    // Another crate's purl does not suppress.
    let vex = tmp.path().join("other.json");
    db::vex(
        &vex,
        "RUSTSEC-2099-0001",
        "pkg:cargo/itoa@1.0.17",
        "not_affected",
    );
    let (code, _, _) = audit_json(
        &repo,
        &db,
        &["--fail-on", "high", "--vex", vex.to_str().unwrap()],
    );
    assert_eq!(code, 1);
}

#[test]
fn sarif_lists_results_and_suppressions() {
    let (tmp, repo) = support::copy_example("hello-service");
    let db = db::hello(tmp.path());
    let vex = tmp.path().join("v.json");
    db::vex(
        &vex,
        "RUSTSEC-2099-0001",
        "pkg:cargo/itoa@1.0.18",
        "not_affected",
    );
    let (code, out, err) = audit(
        &repo,
        &[
            "--format",
            "sarif",
            "--advisory-db",
            db.to_str().unwrap(),
            "--vex",
            vex.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let results = s["runs"][0]["results"].as_array().unwrap();
    let itoa = results
        .iter()
        .find(|r| r["ruleId"] == "RUSTSEC-2099-0001")
        .unwrap();
    assert_eq!(itoa["suppressions"][0]["kind"], "external");
    let rules = s["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "RUSTSEC-2099-0004"));
    // Deterministic: the same report twice.
    let (_, again, _) = audit(
        &repo,
        &[
            "--format",
            "sarif",
            "--advisory-db",
            db.to_str().unwrap(),
            "--vex",
            vex.to_str().unwrap(),
        ],
    );
    assert_eq!(out, again);
}

/// Bad input: each is exit 2 with a message naming the file (or directory) and what to do.
#[test]
fn bad_input_names_the_file() {
    let (tmp, repo) = support::copy_example("hello-service");
    let db = db::hello(tmp.path());
    let dbs = db.to_str().unwrap();
    let check = |args: &[&str], needles: &[&str]| {
        let (code, out, err) = audit(&repo, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty());
        for n in needles {
            assert!(err.contains(n), "{args:?}: {n:?} missing in:\n{err}");
        }
    };
    // A missing database; a directory that is not one.
    let missing = tmp.path().join("nope");
    check(
        &["--advisory-db", missing.to_str().unwrap()],
        &[missing.to_str().unwrap(), "no such directory"],
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    check(
        &["--advisory-db", empty.to_str().unwrap()],
        &["is not an advisory database", "crates"],
    );
    // The default database, missing, with --offline.
    let (code, _, err) = {
        let o = support::cargo_provenance()
            .current_dir(&repo)
            .env("CARGO_HOME", tmp.path().join("cargo-home"))
            .args(["audit", "--offline"])
            .output()
            .unwrap();
        (
            o.status.code(),
            (),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cargo-home/advisory-db") && err.contains("--offline"),
        "{err}"
    );
    // Broken TOML in an advisory.
    let broken = db.join("crates/itoa/RUSTSEC-2099-0001.md");
    let good = std::fs::read_to_string(&broken).unwrap();
    std::fs::write(
        &broken,
        good.replace("package = \"itoa\"", "package = itoa\""),
    )
    .unwrap();
    check(
        &["--advisory-db", dbs],
        &[broken.to_str().unwrap(), "does not parse"],
    );
    // An unknown CVSS vector.
    std::fs::write(&broken, good.replace("CVSS:3.1/AV:N", "CVSS:9.9/AV:N")).unwrap();
    check(&["--advisory-db", dbs], &[broken.to_str().unwrap(), "cvss"]);
    std::fs::write(&broken, &good).unwrap();
    // A VEX file that does not parse; one that is not OpenVEX.
    let bad = tmp.path().join("bad.vex.json");
    std::fs::write(&bad, "{ not json").unwrap();
    check(
        &["--advisory-db", dbs, "--vex", bad.to_str().unwrap()],
        &[bad.to_str().unwrap(), "not JSON"],
    );
    std::fs::write(&bad, r#"{"statements": []}"#).unwrap();
    check(
        &["--advisory-db", dbs, "--vex", bad.to_str().unwrap()],
        &[bad.to_str().unwrap(), "not an OpenVEX"],
    );
    // `build` checks the database and the VEX files before cargo compiles.
    let o = support::cargo_provenance()
        .current_dir(&repo)
        .args([
            "build",
            "--offline",
            "--no-sign",
            "--fail-on",
            "high",
            "--advisory-db",
            dbs,
        ])
        .arg("--vex")
        .arg(&bad)
        .arg("--output-dir")
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("not an OpenVEX") && !err.contains("Compiling"),
        "{err}"
    );
    // Unknown levels and kinds.
    check(
        &["--advisory-db", dbs, "--fail-on", "severe"],
        &["low, medium, high, critical"],
    );
    check(
        &["--advisory-db", dbs, "--deny", "yanked"],
        &["unmaintained, unsound, notice"],
    );
}

/// A database older than a week warns with its date: a git database by its last commit.
#[test]
fn an_old_database_warns_with_its_date() {
    let (tmp, repo) = support::copy_example("hello-service");
    let db = db::hello(tmp.path());
    let (_, _, err) = audit(&repo, &["--advisory-db", db.to_str().unwrap()]);
    assert!(
        err.contains("newest advisory is dated 2026-08-20") || !err.contains("days old"),
        "{err}"
    );
    support::git(&db, &["init", "-q"]);
    support::git(&db, &["add", "-A"]);
    support::git(&db, &["commit", "-q", "-m", "db"]);
    let (code, r, err) = audit_json(&repo, &db, &[]);
    assert_eq!(code, 0);
    assert_eq!(r["database"]["date"], "2024-01-02");
    assert_eq!(r["database"]["date_source"], "git-commit");
    assert_eq!(r["database"]["version"].as_str().unwrap().len(), 40);
    assert!(
        err.contains("days old (its last commit is dated 2024-01-02)"),
        "{err}"
    );
}

/// `--vuln-max-severity` needs `vuln` required, in `verify` and in `policy kyverno`; the
/// Kyverno policy compares the scan's `highest` with the allowed levels.
#[test]
fn vuln_max_severity_needs_the_vuln_requirement() {
    let key = support::repo_root().join("tests/golden/kyverno-test-cosign.pub");
    let key = key.to_str().unwrap();
    support::fails_with(
        &["policy", "kyverno"],
        &[
            "--image-glob",
            "r/*",
            "--key",
            key,
            "--vuln-max-severity",
            "high",
        ],
        "add `vuln` to --require",
    );
    support::fails_with(
        &["verify"],
        &[
            "oci:/nonexistent",
            "--key",
            key,
            "--vuln-max-severity",
            "high",
        ],
        "add `--require vuln`",
    );
    let out = support::cargo_provenance()
        .args(["policy", "kyverno", "--image-glob", "r/*", "--key", key])
        .args(["--require", "vuln", "--vuln-max-severity", "none"])
        .output()
        .unwrap();
    let yaml = String::from_utf8_lossy(&out.stdout);
    assert!(
        yaml.contains("scanner.result.highest in [\"none\"]"),
        "{yaml}"
    );
}
