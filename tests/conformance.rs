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
            // Rekor inclusion proofs are not verified offline: said, never passed.
            assert!(
                o.stdout.contains("skip    tlog-inclusion"),
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
