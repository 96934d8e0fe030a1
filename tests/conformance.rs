//! The Sigstore conformance suite's `bundle-verify` cases (../shared/conformance/sigstore),
//! run through `cargo provenance verify --bundle ... --artifact ...` as the conformance
//! protocol does: key-based cases (`managed-key-*`) give the expected result; keyless cases
//! are never accepted.

mod support;

use std::path::Path;

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_case(dir: &Path) -> Outcome {
    let shared = support::shared_dir();
    let artifact = if dir.join("artifact").is_file() {
        dir.join("artifact")
    } else {
        dir.parent().unwrap().join("a.txt")
    };
    let root = if dir.join("trusted_root.json").is_file() {
        dir.join("trusted_root.json")
    } else {
        shared.join("sigstore/trusted_root.production.json")
    };
    let mut cmd = support::cargo_provenance();
    cmd.arg("verify")
        .arg("--bundle")
        .arg(dir.join("bundle.sigstore.json"))
        .arg("--artifact")
        .arg(&artifact)
        .arg("--trusted-root")
        .arg(&root);
    if dir.join("key.pub").is_file() {
        cmd.arg("--key").arg(dir.join("key.pub"));
    }
    let out = cmd.output().unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn cases() -> Vec<std::path::PathBuf> {
    let root = support::shared_dir().join("conformance/sigstore/bundle-verify");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("bundle.sigstore.json").is_file())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() > 60,
        "expected the conformance cases in {}",
        root.display()
    );
    dirs
}

fn is_keyless(dir: &Path) -> bool {
    let b = std::fs::read_to_string(dir.join("bundle.sigstore.json")).unwrap();
    let v: Result<serde_json::Value, _> = serde_json::from_str(&b);
    v.map(|v| v["verificationMaterial"].get("publicKey").is_none())
        .unwrap_or(true)
}

#[test]
fn managed_key_cases_give_the_expected_result() {
    let mut seen = 0;
    for dir in cases() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("managed-key-") {
            continue;
        }
        seen += 1;
        let o = run_case(&dir);
        if name.ends_with("_fail") {
            assert_ne!(
                o.code, 0,
                "{name} must be rejected:\n{}{}",
                o.stdout, o.stderr
            );
        } else {
            assert_eq!(o.code, 0, "{name} must verify:\n{}{}", o.stdout, o.stderr);
            // With the trusted root, the log entry is checked offline: body, SET, inclusion.
            assert!(
                o.stdout.contains("pass    tlog-inclusion"),
                "{name}:\n{}",
                o.stdout
            );
            assert!(
                o.stdout.contains("pass    tlog-promise"),
                "{name}:\n{}",
                o.stdout
            );
        }
    }
    assert_eq!(seen, 4);
}

#[test]
fn keyless_cases_are_never_accepted() {
    let mut keyless = 0;
    for dir in cases() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("managed-key-") || !is_keyless(&dir) {
            continue;
        }
        let o = run_case(&dir);
        assert_ne!(
            o.code, 0,
            "{name} (keyless) must not be accepted:\n{}{}",
            o.stdout, o.stderr
        );
        if !name.ends_with("_fail") {
            keyless += 1;
            assert!(
                o.stderr.contains("keyless verification not supported yet"),
                "{name}: {}",
                o.stderr
            );
        }
    }
    assert!(keyless > 10, "only {keyless} keyless happy-path cases seen");
}

#[test]
fn every_case_is_classified() {
    for dir in cases() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("managed-key-") || is_keyless(&dir),
            "{name}: a key-based case outside managed-key-*: add it to the key-based test"
        );
    }
}

fn run_bundle(bundle: &Path, key: &Path, root: Option<&Path>) -> Outcome {
    let dir = support::shared_dir().join("conformance/sigstore/bundle-verify");
    let mut cmd = support::cargo_provenance();
    cmd.arg("verify")
        .arg("--bundle")
        .arg(bundle)
        .arg("--artifact")
        .arg(dir.join("a.txt"))
        .arg("--key")
        .arg(key);
    if let Some(r) = root {
        cmd.arg("--trusted-root").arg(r);
    }
    let out = cmd.output().unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn tampered_log_entries_fail_and_unverifiable_ones_are_skipped() {
    let case = support::shared_dir()
        .join("conformance/sigstore/bundle-verify/managed-key-and-trusted-root");
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.join("bundle.sigstore.json")).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (key, root) = (case.join("key.pub"), case.join("trusted_root.json"));
    let write = |name: &str, v: &serde_json::Value| {
        let p = tmp.path().join(name);
        std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
        p
    };
    let entry = "/verificationMaterial/tlogEntries/0";
    let cases: [(&str, &str, serde_json::Value); 4] = [
        ("proof", "/inclusionProof/hashes/0", "mP1ItkhGOy+dLvpQy98fgCaurhBWXc9i/uWmEMEpyLA=".into()),
        ("set", "/inclusionPromise/signedEntryTimestamp", "MEUCIQCO6uaIl/S82pzGvha7eqf9b3zVQCIUlmfEyzGmgQ8BXAIgAlyHDDSsaikwq6tmJPJhVgEUZ3GzM9bzg6NyUQq343Y=".replace("Y=", "Q=").into()),
        ("time", "/integratedTime", "1767810966".into()),
        ("root", "/inclusionProof/rootHash", "sg9woqQRBW3wEuVnviCG01eNA0JbNx5tWRxb0LcxFyA=".into()),
    ];
    let expected = [
        "tlog-inclusion",
        "tlog-promise",
        "tlog-promise",
        "tlog-inclusion",
    ];
    for ((name, pointer, value), check) in cases.into_iter().zip(expected) {
        let mut b = original.clone();
        *b.pointer_mut(&format!("{entry}{pointer}")).unwrap() = value;
        let o = run_bundle(&write(name, &b), &key, Some(&root));
        assert_eq!(o.code, 1, "{name}: {}{}", o.stdout, o.stderr);
        assert!(
            o.stderr.contains(&format!("{check}: ")),
            "{name}: {}",
            o.stderr
        );
    }
    // Without a trusted root nothing about the log can be confirmed: skipped, not passed.
    let o = run_bundle(&case.join("bundle.sigstore.json"), &key, None);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("skip    tlog-promise") && o.stdout.contains("skip    tlog-inclusion"),
        "{}",
        o.stdout
    );
}

/// With `--bundle`, expectations about the build (builder id, source, `--require`) cannot be
/// checked: they are refused (exit 2) rather than silently ignored.
#[test]
fn bundle_mode_refuses_build_expectations() {
    let case =
        support::shared_dir().join("conformance/sigstore/bundle-verify/managed-key-happy-path");
    for extra in [
        &["--builder-id", "https://example.com/builder"][..],
        &["--source-commit", "abc"][..],
        &["--require", "provenance"][..],
    ] {
        let out = support::cargo_provenance()
            .arg("verify")
            .arg("--bundle")
            .arg(case.join("bundle.sigstore.json"))
            .arg("--artifact")
            .arg(case.parent().unwrap().join("a.txt"))
            .arg("--key")
            .arg(case.join("key.pub"))
            .args(extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(extra[0]) && err.contains("--bundle"), "{err}");
    }
}
