//! The Sigstore conformance suite's `bundle-verify` cases (../shared/conformance/sigstore),
//! run through `cargo provenance verify --bundle ... --artifact ...` as the conformance
//! protocol does: `key.pub` present: `--key`; otherwise the identity and issuer (the case's
//! `identity`/`issuer` files, else the suite's defaults). Every case must give the expected
//! result, and every `_fail` case must fail for its own reason: the check that fails (or,
//! for input errors, exit 2 and the message) is in [`EXPECTED_FAILURES`].

use crate::support;

use std::path::Path;

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Why each `_fail` case must be rejected: `(case, exit code, failing check, words of the
/// reason)`. Exit 1 cases name the check in the failure summary (`CHECK: reason`); exit 2
/// cases are input errors whose message says what is wrong.
#[rustfmt::skip]
const EXPECTED_FAILURES: &[(&str, i32, &str, &str)] = &[
    ("bundle-empty-certificate-chain_fail", 1, "certificate-chain", "is empty"),
    ("bundle-from-wrong-instance_fail", 1, "tlog-promise", "No log key valid"),
    ("bundle-invalid-base64-signature_fail", 1, "bundle", "invalid base64"),
    ("bundle-malformed-json_fail", 1, "bundle", "not valid JSON"),
    ("bundle-negative-log-index_fail", 1, "bundle", "negative log index"),
    ("bundle-unknown-version_fail", 1, "bundle", "version=99.9"),
    ("bundle-with-root-cert_fail", 1, "certificate-chain", "self-signed root"),
    ("checkpoint-bad-keyhint_fail", 1, "tlog-inclusion", "checkpoint"),
    ("checkpoint-wrong-roothash_fail", 1, "tlog-inclusion", "root hash does not match checkpoint"),
    ("dsse-invalid-sig_fail", 1, "signature", "DSSE signature verification failed"),
    ("dsse-mismatch-envelope_fail", 1, "tlog-entry", "DSSE payload hash mismatch"),
    ("dsse-mismatch-sig_fail", 1, "tlog-entry", "DSSE signature in bundle does not match"),
    ("inclusion-proof-corrupted-hash_fail", 1, "tlog-inclusion", "root hash mismatch"),
    ("incorrect-public-key_fail", 1, "tlog-promise", "SET verification failed"),
    ("integrated-time-in-future_fail", 1, "signing-time", "CertExpired"),
    ("intoto-expired-certificate_fail", 1, "signing-time", "CertNotValidYet"),
    ("intoto-log-entry-mismatch_fail", 1, "tlog-entry", "log entry"),
    ("intoto-missing-inclusion-proof_fail", 1, "tlog-inclusion", "must have an inclusion proof"),
    ("intoto-set-outside-signing-cert-validity_fail", 1, "signing-time", "CertExpired"),
    ("intoto-tsa-timestamp-outside-cert-validity_fail", 1, "signing-time", "CertExpired"),
    ("invalid-checkpoint-signature_fail", 1, "tlog-inclusion", "No valid Rekor signature found on checkpoint"),
    ("invalid-ct-key_fail", 1, "sct", "SCT signature verification failed"),
    ("invalid-inclusion-proof_fail", 1, "tlog-inclusion", "inclusion proof"),
    ("managed-key-no-key_fail", 2, "", "pass the public key with --key"),
    ("managed-key-wrong-key_fail", 2, "", "key.pub is not a PEM public key"),
    ("message-digest-mismatch_fail", 1, "artifact-digest", "message digest in bundle does not match"),
    ("rekor2-checkpoint-missing-log-signature_fail", 1, "bundle", "Invalid checkpoint format: no signatures"),
    ("rekor2-checkpoint-missing-origin_fail", 1, "bundle", "Invalid checkpoint format"),
    ("rekor2-checkpoint-missing-root-hash_fail", 1, "bundle", "Invalid checkpoint format: missing root hash"),
    ("rekor2-checkpoint-missing-size_fail", 1, "bundle", "Invalid checkpoint format: invalid tree size"),
    ("rekor2-checkpoint-no-matching-signature_fail", 1, "tlog-inclusion", "No valid Rekor signature found on checkpoint"),
    ("rekor2-dsse-invalid-sig_fail", 1, "signature", "DSSE signature verification failed"),
    ("rekor2-dsse-mismatch-envelope_fail", 1, "tlog-entry", "hashedrekord entry"),
    ("rekor2-dsse-mismatch-sig_fail", 1, "tlog-entry", "DSSE signature in bundle does not match"),
    ("rekor2-no-inclusion-proof_fail", 1, "tlog-inclusion", "must have an inclusion proof"),
    ("rekor2-no-timestamp_fail", 1, "signing-time", "requires RFC3161 timestamp"),
    ("rekor2-timestamp-outside-trust-root-tsa-validity_fail", 1, "timestamp", "outside the validity period of the authority"),
    ("rekor2-timestamp-outside-tsa-cert-validity_fail", 1, "timestamp", "TSA certificate chain validation failed"),
    ("rekor2-timestamp-payload-mismatch_fail", 1, "timestamp", "message hash mismatch"),
    ("rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail", 1, "timestamp", "does not match any trusted TSA"),
    ("rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail", 1, "timestamp", "does not match any trusted TSA"),
    ("rekor2-timestamp-with-incorrect-time_fail", 1, "signing-time", "CertExpired"),
    ("set-invalid-signature_fail", 1, "tlog-promise", "SET verification failed"),
    ("signature-mismatch_fail", 1, "signature", "signature verification failed"),
    ("trust-root-tlog-missing-validity-start_fail", 2, "", "missing field `start`"),
    ("wrong-hashedrekord-artifact_fail", 1, "tlog-entry", "hashedrekord entry"),
    ("wrong-hashedrekord-cert-and-sig_fail", 1, "tlog-entry", "certificate in bundle does not match"),
    ("wrong-hashedrekord-entry_fail", 1, "tlog-entry", "hashedrekord entry"),
    ("wrong-material_fail", 1, "artifact-digest", "message digest in bundle does not match"),
];

fn read_or(dir: &Path, file: &str, default: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| default.to_owned())
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
    } else {
        cmd.arg("--certificate-identity")
            .arg(read_or(dir, "identity", DEFAULT_IDENTITY))
            .arg("--certificate-oidc-issuer")
            .arg(read_or(dir, "issuer", DEFAULT_ISSUER));
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
        dirs.len() >= 70,
        "expected the 70 conformance cases in {}",
        root.display()
    );
    dirs
}

/// What is wrong with a case's outcome, if anything.
fn judge(name: &str, o: &Outcome) -> Option<String> {
    if !name.ends_with("_fail") {
        if o.code != 0 {
            return Some(format!("must verify, exit {}: {}", o.code, o.stderr.trim()));
        }
        let keyless = !name.starts_with("managed-key-");
        let needed: &[&str] = if keyless {
            &[
                "certificate-chain",
                "certificate-identity",
                "signing-time",
                "tlog-entry",
                "tlog-inclusion",
            ]
        } else {
            &["signature", "tlog-inclusion", "tlog-promise"]
        };
        return needed
            .iter()
            .find(|c| {
                !o.stdout.lines().any(|l| {
                    l.trim_start().starts_with("pass") && l.split_whitespace().nth(1) == Some(**c)
                })
            })
            .map(|c| format!("verified, but check {c} did not pass:\n{}", o.stdout));
    }
    let Some((_, code, check, words)) = EXPECTED_FAILURES.iter().find(|e| e.0 == name) else {
        return Some("a _fail case without an expected reason: add it to EXPECTED_FAILURES".into());
    };
    let reason_ok = if *code == 1 {
        o.stderr
            .lines()
            .any(|l| l.contains(&format!("{check}: ")) && l.contains(words))
    } else {
        o.stderr.contains(words)
    };
    if o.code != *code || !reason_ok {
        return Some(format!(
            "must fail with exit {code} ({check}: ...{words}...), got exit {}: {}",
            o.code,
            o.stderr.trim()
        ));
    }
    None
}

/// The acceptance test of issue 14: every case right, for the right reason; the tally is
/// printed, and docs/verify.md lists every case.
#[test]
fn every_conformance_case_gives_the_expected_result() {
    let docs = std::fs::read_to_string(support::repo_root().join("docs/verify.md")).unwrap();
    let (mut total, mut wrong, mut undocumented) = (0, Vec::new(), Vec::new());
    for dir in cases() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        total += 1;
        if let Some(why) = judge(&name, &run_case(&dir)) {
            wrong.push(format!("{name}: {why}"));
        }
        if !docs.contains(&format!("`{name}`")) {
            undocumented.push(name);
        }
    }
    println!(
        "conformance: {} of {total} cases right",
        total - wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(
        undocumented.is_empty(),
        "not listed in docs/verify.md: {undocumented:?}"
    );
    for (name, ..) in EXPECTED_FAILURES {
        assert!(
            support::shared_dir()
                .join("conformance/sigstore/bundle-verify")
                .join(name)
                .is_dir(),
            "{name} in EXPECTED_FAILURES is not a case"
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

/// `--require-tlog`: a key-signed bundle without a verified log entry fails `tlog-entry`;
/// without the flag an offline key bundle stays valid. The default root for the check is the
/// shipped public-good one.
#[test]
fn require_tlog_needs_a_verified_entry_for_key_bundles() {
    let case =
        support::shared_dir().join("conformance/sigstore/bundle-verify/managed-key-happy-path");
    let run = |bundle: &Path, extra: &[&str]| {
        let out = support::cargo_provenance()
            .arg("verify")
            .arg("--bundle")
            .arg(bundle)
            .arg("--artifact")
            .arg(case.parent().unwrap().join("a.txt"))
            .arg("--key")
            .arg(case.join("key.pub"))
            .args(extra)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    };
    let logged = case.join("bundle.sigstore.json");
    let (code, out) = run(&logged, &["--require-tlog"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("pass    tlog-inclusion"), "{out}");
    let tmp = tempfile::tempdir().unwrap();
    let mut b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&logged).unwrap()).unwrap();
    b["verificationMaterial"]["tlogEntries"] = serde_json::json!([]);
    let offline = tmp.path().join("offline.json");
    std::fs::write(&offline, serde_json::to_vec(&b).unwrap()).unwrap();
    let (code, out) = run(&offline, &[]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&offline, &["--require-tlog"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("tlog-entry: --require-tlog: the bundle carries no transparency log entry"),
        "{out}"
    );
}

/// `--require-tlog` is not met by a genuine log entry of another signature: the managed-key
/// bundle with its entry replaced by a real `intoto` entry (of the custom-root case, whose
/// inclusion proof and signed entry timestamp verify against that root) passes
/// `tlog-inclusion`, but its body is not shown to record this signature (`tlog-entry` is a
/// skip for that kind), so `--require-tlog` fails. Nor by two entries that each pass one half:
/// the genuine entry stripped of its proof and promise (its body records this signature, but
/// it is not shown in the log; its log id set to the root's log), beside the copied one.
#[test]
fn require_tlog_is_not_met_by_a_copied_entry_of_another_signature() {
    let dir = support::shared_dir().join("conformance/sigstore/bundle-verify");
    let case = dir.join("managed-key-happy-path");
    let other = dir.join("intoto-with-custom-trust-root");
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let genuine = read(&case.join("bundle.sigstore.json"));
    let copied =
        read(&other.join("bundle.sigstore.json"))["verificationMaterial"]["tlogEntries"].clone();
    let mut half = genuine["verificationMaterial"]["tlogEntries"][0].clone();
    let half = half.as_object_mut().unwrap();
    half.remove("inclusionProof");
    half.remove("inclusionPromise");
    half.insert("logId".into(), copied[0]["logId"].clone());
    let mut combined = vec![serde_json::Value::Object(half.clone())];
    combined.extend(copied.as_array().unwrap().iter().cloned());
    let tmp = tempfile::tempdir().unwrap();
    for (name, entries, needle) in [
        (
            "copied",
            copied.clone(),
            "no log entry is shown to record this signature",
        ),
        (
            "two-halves",
            serde_json::Value::Array(combined),
            "no single log entry both records this signature and is shown in the log",
        ),
    ] {
        let mut b = genuine.clone();
        b["verificationMaterial"]["tlogEntries"] = entries;
        let path = tmp.path().join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec(&b).unwrap()).unwrap();
        let out = support::cargo_provenance()
            .arg("verify")
            .arg("--bundle")
            .arg(&path)
            .arg("--artifact")
            .arg(dir.join("a.txt"))
            .arg("--key")
            .arg(case.join("key.pub"))
            .arg("--trusted-root")
            .arg(other.join("trusted_root.json"))
            .arg("--require-tlog")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {text}");
        assert!(text.contains("pass    tlog-inclusion"), "{name}: {text}");
        assert!(
            text.contains(&format!("tlog-entry: --require-tlog: {needle}")),
            "{name}: {text}"
        );
    }
}
