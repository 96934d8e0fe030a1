//! Keyless attestations in image mode (`verify REF`): found like any other, verified with the
//! identity policy and the trusted root, set aside (`ignored`) when they do not verify, with
//! `--key`, instead of it, or without either (exit 2).

use crate::support;
use crate::support::verify_fixture;

use verify_fixture::{Fixture, SLSA, attach_all, run_verify};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The fixture image with a key-signed provenance and a keyless DSSE bundle (a conformance
/// bundle: it verifies, but its statement is about another artifact).
fn fixture() -> Fixture {
    let f = Fixture::signed();
    let bundle = std::fs::read(
        support::shared_dir()
            .join("conformance/sigstore/bundle-verify/happy-path-intoto-in-dsse-v3")
            .join("bundle.sigstore.json"),
    )
    .unwrap();
    attach_all(&f.layout, &f.img, &bundle, SLSA);
    f
}

fn ignored_lines<'a>(stdout: &'a str, check: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("ignored") && l.contains(&format!(" {check} ")))
        .collect()
}

#[test]
fn keyless_attestations_without_an_identity_policy_are_set_aside() {
    let f = fixture();
    let o = f.verify(&[]);
    o.passes();
    let lines = ignored_lines(&o.stdout, "signature");
    assert!(
        lines.iter().any(|l| l.contains("--certificate-identity")),
        "{}",
        o.stdout
    );
}

#[test]
fn keyless_attestations_about_another_artifact_are_set_aside_with_the_reason() {
    let f = fixture();
    let o = f.verify(&[
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
    ]);
    // The key-signed provenance still counts; the keyless bundle verifies cryptographically
    // on the public-good root but names another artifact: ignored as `subject`.
    o.passes()
        .says("trusted root: Sigstore public-good production root, shipped");
    assert!(
        !ignored_lines(&o.stdout, "subject").is_empty(),
        "{}",
        o.stdout
    );
}

#[test]
fn identity_flags_alone_do_not_count_key_signed_attestations() {
    let f = fixture();
    let o = run_verify(&[
        &f.reference(),
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
    ]);
    o.fails_only(&["require"]);
    assert!(
        ignored_lines(&o.stdout, "signature")
            .iter()
            .any(|l| l.contains("pass --key")),
        "{}",
        o.stdout
    );
}

#[test]
fn a_wrong_identity_sets_keyless_attestations_aside() {
    let f = fixture();
    let o = f.verify(&[
        "--certificate-identity",
        "https://github.com/other/repo/.github/workflows/x.yml@refs/heads/main",
        "--certificate-oidc-issuer",
        ISSUER,
    ]);
    o.passes();
    assert!(
        !ignored_lines(&o.stdout, "certificate-identity").is_empty(),
        "{}",
        o.stdout
    );
}

#[test]
fn neither_key_nor_identity_is_an_input_error() {
    let f = fixture();
    let o = run_verify(&[&f.reference()]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("--key") && o.stderr.contains("--certificate-identity"),
        "{}",
        o.stderr
    );
    let o = run_verify(&[&f.reference(), "--certificate-identity", IDENTITY]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("--certificate-oidc-issuer"),
        "{}",
        o.stderr
    );
}

#[test]
fn require_tlog_refuses_key_signed_attestations_without_a_log_entry() {
    let f = Fixture::signed();
    f.verify(&[]).passes();
    f.verify(&["--require-tlog"])
        .fails("tlog-entry")
        .says("--require-tlog: the bundle carries no transparency log entry");
}

#[test]
fn offline_refuses_registry_references() {
    let o = run_verify(&["127.0.0.1:5000/x/y:v1", "--key", "k.pub", "--offline"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("--offline"), "{}", o.stderr);
}

/// Keyless verification of a layout (and of a bundle) needs no network: inside a network
/// namespace of its own (no route anywhere) it gives the same verdicts.
#[test]
#[ignore = "needs root for `unshare --net` (scripts/test.sh runs it)"]
fn keyless_verification_opens_no_socket() {
    let probe = std::process::Command::new("unshare")
        .args(["--net", "true"])
        .status();
    assert!(
        probe.map(|s| s.success()).unwrap_or(false),
        "`unshare --net` is not available here (root and util-linux are needed)"
    );
    let f = fixture();
    let bin = assert_cmd::cargo::cargo_bin("cargo-provenance");
    let key = f.key.pub_path.display().to_string();
    let case = support::shared_dir().join("conformance/sigstore/bundle-verify");
    let runs: [Vec<String>; 2] = [
        vec![f.reference(), "--offline".into(), "--key".into(), key],
        vec![
            "--bundle".into(),
            case.join("happy-path-v0.3/bundle.sigstore.json")
                .display()
                .to_string(),
            "--artifact".into(),
            case.join("a.txt").display().to_string(),
        ],
    ];
    for args in runs {
        let out = std::process::Command::new("unshare")
            .arg("--net")
            .arg(&bin)
            .args(["provenance", "verify"])
            .args(&args)
            .args([
                "--certificate-identity",
                IDENTITY,
                "--certificate-oidc-issuer",
                ISSUER,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}:\n{text}");
        assert!(
            text.contains("trusted root: Sigstore public-good"),
            "{text}"
        );
    }
}

/// The same from the registry (fallback tags): keyless attestations are found and judged as
/// in a layout.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn keyless_attestations_from_the_registry() {
    let peers = support::Peers::get();
    let f = fixture();
    let dest = format!("{}:v1", peers.unique_repo("verify-keyless"));
    f.push(&dest);
    let o = f.verify_with(
        &dest,
        &f.key.pub_path,
        &[
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
        ],
    );
    o.passes().says("trusted root: Sigstore public-good");
    assert!(
        !ignored_lines(&o.stdout, "subject").is_empty(),
        "{}",
        o.stdout
    );
    let o = run_verify(&[
        &dest,
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
    ]);
    o.fails_only(&["require"]);
}

/// `--require-tlog` in image mode is not met by two entries that each pass one half: a made-up
/// `dsse` entry whose body records this attestation's payload, signature and key (passes
/// `tlog-entry`; no inclusion proof, so `tlog-inclusion` is a skip), beside a genuine `intoto`
/// entry of another signature copied from a conformance bundle (its body is not checked; its
/// inclusion proof and signed entry timestamp verify against that case's root).
#[test]
fn require_tlog_is_not_met_by_two_entries_passing_a_half_each() {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let other = support::shared_dir()
        .join("conformance/sigstore/bundle-verify/intoto-with-custom-trust-root");
    let read = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let copied =
        read(&other.join("bundle.sigstore.json"))["verificationMaterial"]["tlogEntries"][0].clone();
    let f = verify_fixture::Fixture::bare();
    let s = f.img.subjects();
    let signed = f.key.bundle(&verify_fixture::provenance(&s));
    let mut bundle: serde_json::Value = serde_json::from_slice(&signed).unwrap();
    let env = &bundle["dsseEnvelope"];
    let payload = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    let body = serde_json::json!({
        "apiVersion": "0.0.1", "kind": "dsse",
        "spec": {
            "payloadHash": {"algorithm": "sha256",
                            "value": cargo_provenance::util::digest::Digest::of(&payload).hex()},
            "signatures": [{"signature": env["signatures"][0]["sig"],
                            "verifier": b64(&std::fs::read(&f.key.pub_path).unwrap())}]
        }
    });
    let made_up = serde_json::json!({
        "logIndex": "1", "logId": copied["logId"],
        "kindVersion": {"kind": "dsse", "version": "0.0.1"},
        "integratedTime": copied["integratedTime"],
        "canonicalizedBody": b64(&serde_json::to_vec(&body).unwrap())
    });
    bundle["verificationMaterial"]["tlogEntries"] = serde_json::json!([made_up, copied]);
    attach_all(
        &f.layout,
        &f.img,
        &serde_json::to_vec(&bundle).unwrap(),
        SLSA,
    );
    let root = other.join("trusted_root.json").display().to_string();
    let o = f.verify(&["--trusted-root", &root]);
    o.passes();
    assert!(o.stdout.contains("pass    tlog-entry"), "{}", o.stdout);
    assert!(o.stdout.contains("pass    tlog-inclusion"), "{}", o.stdout);
    f.verify(&["--trusted-root", &root, "--require-tlog"])
        .fails("tlog-entry")
        .says("no single log entry both records this signature and is shown in the log");
}
