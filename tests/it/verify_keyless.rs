//! Keyless single-bundle verification (`verify --bundle` with a Fulcio certificate): each
//! new check fails on its own, in its own test, on a conformance bundle made wrong in one
//! way; the identity flags are required; the trusted root is the shipped public-good one
//! unless `--trusted-root` says otherwise, and the report names it.

use crate::support;
use crate::support::read_json;

use std::path::{Path, PathBuf};

use serde_json::Value;

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn case(name: &str) -> PathBuf {
    support::shared_dir()
        .join("conformance/sigstore/bundle-verify")
        .join(name)
}

fn production_root() -> PathBuf {
    support::shared_dir().join("sigstore/trusted_root.production.json")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The failing checks' names, from the human report.
    fn failed(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("fail "))
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned))
            .collect()
    }

    /// Asserts exit 1 with `check` the only failing check, its reason containing `words`.
    fn fails_only(&self, check: &str, words: &str) {
        assert_eq!(self.code, 1, "{}{}", self.stdout, self.stderr);
        assert_eq!(self.failed(), [check], "{}", self.stdout);
        assert!(
            self.stderr.contains(&format!("{check}: ")) && self.stderr.contains(words),
            "{}",
            self.stderr
        );
    }
}

fn verify(bundle: &Path, artifact: &Path, root: Option<&Path>, extra: &[&str]) -> Run {
    let mut cmd = support::cargo_provenance();
    cmd.arg("verify")
        .arg("--bundle")
        .arg(bundle)
        .arg("--artifact")
        .arg(artifact)
        .args(extra);
    if let Some(r) = root {
        cmd.arg("--trusted-root").arg(r);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The happy-path v0.3 bundle (message signature, Rekor v1) with these identity flags.
fn happy(extra: &[&str]) -> Run {
    verify(
        &case("happy-path-v0.3").join("bundle.sigstore.json"),
        &case("a.txt"),
        None,
        extra,
    )
}

const POLICY: [&str; 4] = [
    "--certificate-identity",
    IDENTITY,
    "--certificate-oidc-issuer",
    ISSUER,
];

/// A conformance case run on its own, with its artifact and root and the default identity.
fn conformance_case(name: &str) -> Run {
    let dir = case(name);
    let artifact = if dir.join("artifact").is_file() {
        dir.join("artifact")
    } else {
        dir.with_file_name("a.txt")
    };
    let root = if dir.join("trusted_root.json").is_file() {
        dir.join("trusted_root.json")
    } else {
        production_root()
    };
    verify(
        &dir.join("bundle.sigstore.json"),
        &artifact,
        Some(&root),
        &POLICY,
    )
}

/// Writes `value` as JSON into `dir/name`.
fn write(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec(value).unwrap()).unwrap();
    p
}

#[test]
fn happy_path_verifies_on_the_shipped_root_and_names_it() {
    let r = happy(&POLICY);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("trusted root: Sigstore public-good production root, shipped"),
        "{}",
        r.stdout
    );
    for check in [
        "certificate-chain",
        "certificate-identity",
        "sct",
        "signing-time",
        "tlog-entry",
        "tlog-promise",
        "tlog-inclusion",
        "signature",
    ] {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("pass    {check} "))),
            "{check}: {}",
            r.stdout
        );
    }
    let mut json = POLICY.to_vec();
    json.extend(["--format", "json"]);
    let j: Value = serde_json::from_str(&happy(&json).stdout).unwrap();
    assert_eq!(
        j["trustedRoot"],
        "Sigstore public-good production root, shipped"
    );
    assert_eq!(j["verified"], true);
}

#[test]
fn a_digest_artifact_verifies_too() {
    let digest = support::run(std::process::Command::new("sha256sum").arg(case("a.txt")));
    let digest = format!("sha256:{}", digest.split_whitespace().next().unwrap());
    let r = verify(
        &case("happy-path-v0.3").join("bundle.sigstore.json"),
        Path::new(&digest),
        None,
        &POLICY,
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn identity_and_issuer_are_both_required() {
    for (given, missing) in [
        (&POLICY[..2], "--certificate-oidc-issuer"),
        (&POLICY[2..], "--certificate-identity"),
        (&[][..], "--certificate-identity"),
    ] {
        let r = happy(given);
        assert_eq!(r.code, 2, "{given:?}: {}", r.stderr);
        assert!(r.stderr.contains(missing), "{given:?}: {}", r.stderr);
    }
}

#[test]
fn wrong_identity_fails() {
    happy(&[
        "--certificate-identity",
        "https://github.com/other/repo/.github/workflows/release.yml@refs/heads/main",
        "--certificate-oidc-issuer",
        ISSUER,
    ])
    .fails_only(
        "certificate-identity",
        "expected `https://github.com/other/repo",
    );
}

#[test]
fn wrong_issuer_fails() {
    happy(&[
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        "https://accounts.google.com",
    ])
    .fails_only("certificate-identity", "OIDC issuer");
}

#[test]
fn identity_regexp_must_match_the_whole_identity() {
    let with = |re: &str| {
        happy(&[
            "--certificate-identity-regexp",
            re,
            "--certificate-oidc-issuer-regexp",
            r"https://token\.actions\.githubusercontent\.com",
        ])
    };
    let ok = with("https://github.com/sigstore-conformance/.*");
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    with("https://github.com/other-org/.*").fails_only("certificate-identity", "regexp");
    // Anchored: a match inside the identity is not enough.
    with("sigstore-conformance").fails_only("certificate-identity", "regexp");
}

#[test]
fn github_workflow_claims_are_checked() {
    let mut flags = POLICY.to_vec();
    flags.extend([
        "--certificate-github-workflow-repository",
        "sigstore-conformance/extremely-dangerous-public-oidc-beacon",
    ]);
    let r = happy(&flags);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    flags.extend(["--certificate-github-workflow-trigger", "push"]);
    happy(&flags).fails_only("certificate-identity", "workflow_dispatch");
}

#[test]
fn certificate_expired_at_signing_time_fails() {
    conformance_case("intoto-set-outside-signing-cert-validity_fail")
        .fails_only("signing-time", "CertExpired");
}

#[test]
fn sct_from_a_log_not_in_the_root_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let mut root = read_json(&production_root());
    // The CT logs of the root are another instance's: the SCT's log is not among them.
    for log in root["ctlogs"].as_array_mut().unwrap() {
        log["logId"]["keyId"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    }
    root["ctlogs"].as_array_mut().unwrap().truncate(1);
    let root = write(tmp.path(), "root.json", &root);
    verify(
        &case("happy-path-v0.3").join("bundle.sigstore.json"),
        &case("a.txt"),
        Some(&root),
        &POLICY,
    )
    .fails_only("sct", "signed certificate timestamp");
}

#[test]
fn tampered_inclusion_proof_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let mut b = read_json(&case("happy-path-v0.3").join("bundle.sigstore.json"));
    let h = b
        .pointer_mut("/verificationMaterial/tlogEntries/0/inclusionProof/hashes/0")
        .unwrap();
    let mut bytes = h.as_str().unwrap().to_owned().into_bytes();
    bytes[0] = if bytes[0] == b'A' { b'B' } else { b'A' };
    *h = String::from_utf8(bytes).unwrap().into();
    let bundle = write(tmp.path(), "b.json", &b);
    verify(&bundle, &case("a.txt"), None, &POLICY).fails_only("tlog-inclusion", "inclusion proof");
}

#[test]
fn checkpoint_signed_by_another_key_fails() {
    conformance_case("checkpoint-bad-keyhint_fail").fails_only("tlog-inclusion", "checkpoint");
    conformance_case("rekor2-checkpoint-no-matching-signature_fail")
        .fails_only("tlog-inclusion", "checkpoint");
}

#[test]
fn tlog_entry_for_another_artifact_fails() {
    conformance_case("wrong-hashedrekord-entry_fail")
        .fails_only("tlog-entry", "hashedrekord entry");
}

#[test]
fn timestamp_outside_the_tsa_validity_fails() {
    conformance_case("rekor2-timestamp-outside-trust-root-tsa-validity_fail")
        .fails_only("timestamp", "outside the validity period");
}

#[test]
fn trusted_root_without_the_ca_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let mut root = read_json(&production_root());
    root["certificateAuthorities"] = Value::Array(vec![]);
    let root = write(tmp.path(), "root.json", &root);
    verify(
        &case("happy-path-v0.3").join("bundle.sigstore.json"),
        &case("a.txt"),
        Some(&root),
        &POLICY,
    )
    .fails_only("certificate-chain", "root.json");
}

#[test]
fn another_instance_on_the_default_root_fails_naming_the_root() {
    let dir = case("intoto-with-custom-trust-root");
    let r = verify(
        &dir.join("bundle.sigstore.json"),
        &dir.join("artifact"),
        None,
        &POLICY,
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("trusted root: Sigstore public-good production root, shipped")
            && r.stderr.contains("--trusted-root"),
        "{}",
        r.stderr
    );
    let ok = verify(
        &dir.join("bundle.sigstore.json"),
        &dir.join("artifact"),
        Some(&dir.join("trusted_root.json")),
        &POLICY,
    );
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
}

#[test]
fn verified_time_threshold_is_enforced() {
    let mut flags = POLICY.to_vec();
    flags.extend(["--verified-time-threshold", "2"]);
    happy(&flags).fails_only("signing-time", "2 required");
}

#[test]
fn the_identity_policy_can_come_from_a_policy_file() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = tmp.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "certificate-identity-regexp = \"https://github.com/sigstore-conformance/.*\"\n\
             certificate-oidc-issuer = \"{ISSUER}\"\n\
             certificate-github-workflow-trigger = \"workflow_dispatch\"\n"
        ),
    )
    .unwrap();
    let p = policy.to_str().unwrap();
    let r = happy(&["--policy", p]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    std::fs::write(&policy, format!("certificate-oidc-issuer = \"{ISSUER}\"\n")).unwrap();
    let r = happy(&["--policy", p]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--certificate-identity"), "{}", r.stderr);
}

/// `flags` plus `--verified-time-threshold N`.
fn with_threshold<'a>(flags: &[&'a str], n: &'a str) -> Vec<&'a str> {
    let mut v = flags.to_vec();
    v.extend(["--verified-time-threshold", n]);
    v
}

/// A log entry repeated in the bundle is refused (sigstore-go's "duplicate tlog entries
/// found"): the copy would otherwise be a second verified signing time.
#[test]
fn a_repeated_log_entry_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut b = read_json(&case("happy-path-v0.3").join("bundle.sigstore.json"));
    let entries = b["verificationMaterial"]["tlogEntries"]
        .as_array_mut()
        .unwrap();
    entries.push(entries[0].clone());
    let bundle = write(tmp.path(), "b.json", &b);
    for n in ["1", "2"] {
        verify(&bundle, &case("a.txt"), None, &with_threshold(&POLICY, n))
            .fails_only("tlog-entry", "appears more than once");
    }
}

/// An RFC 3161 timestamp repeated in the bundle counts once toward the threshold: one
/// timestamp authority is one observer (sigstore-go's "duplicate timestamps from the same
/// authority").
#[test]
fn a_repeated_timestamp_counts_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = case("rekor2-happy-path");
    let mut b = read_json(&dir.join("bundle.sigstore.json"));
    let stamps = b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
        .as_array_mut()
        .unwrap();
    stamps.push(stamps[0].clone());
    let bundle = write(tmp.path(), "b.json", &b);
    let root = dir.join("trusted_root.json");
    let one = verify(&bundle, &case("a.txt"), Some(&root), &POLICY);
    assert_eq!(one.code, 0, "{}{}", one.stdout, one.stderr);
    verify(
        &bundle,
        &case("a.txt"),
        Some(&root),
        &with_threshold(&POLICY, "2"),
    )
    .fails_only("signing-time", "1 independent observer(s)");
}
