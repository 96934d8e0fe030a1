//! Keyless interop with the local Sigstore stack (../shared/tools/sigstore-stack.sh: Fulcio,
//! Rekor v1, TSA, OIDC built on Sigstore's own mock services): the real cosign 3.1 signs a
//! blob keyless with a GitHub Actions identity; we verify it against the stack's trusted
//! root, and refuse it with another identity, another issuer, or the public-good root.

use crate::support;
use crate::support::keyless_stack;

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyless_stack::{GITHUB_ISSUER as ISSUER, Stack, github_identity, logged_body};
use serde_json::{Value, json};

const REPO: &str = "example/hello-service";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn identity() -> String {
    github_identity(REPO, "refs/heads/main")
}

fn verify<S: AsRef<std::ffi::OsStr>>(bundle: &Path, blob: &Path, extra: &[S]) -> (i32, String) {
    let out = support::cargo_provenance()
        .arg("verify")
        .arg("--bundle")
        .arg(bundle)
        .arg("--artifact")
        .arg(blob)
        .args(extra)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
#[ignore = "needs the local Sigstore stack (../shared/tools/sigstore-stack.sh start) and cosign 3.1"]
fn cosign3_keyless_blob_from_the_local_stack() {
    let stack = Stack::get();
    let tmp = tempfile::tempdir().unwrap();
    let blob = tmp.path().join("artifact.txt");
    std::fs::write(&blob, "keyless\n").unwrap();
    let tok = stack.github_token(tmp.path(), "gh", REPO, "refs/heads/main", SHA);
    let bundle = tmp.path().join("blob.sigstore.json");
    support::run(
        stack
            .cosign("sign-blob", &tok)
            .arg("--bundle")
            .arg(&bundle)
            .arg(&blob),
    );
    let id = identity();
    let root = ["--trusted-root", stack.trusted_root.as_str()];
    let policy = |id: &str, iss: &str| {
        let mut v = root.to_vec();
        v.extend([
            "--certificate-identity",
            id,
            "--certificate-oidc-issuer",
            iss,
        ]);
        v.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let mut good = policy(&id, ISSUER);
    good.extend([
        "--certificate-github-workflow-repository".into(),
        REPO.into(),
    ]);
    good.extend(["--certificate-github-workflow-sha".into(), SHA.into()]);
    let (code, out) = verify(&bundle, &blob, &good);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("pass    sct") && out.contains("pass    tlog-inclusion"),
        "{out}"
    );
    let (code, out) = verify(&bundle, &blob, &policy("https://github.com/evil/x", ISSUER));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("certificate-identity: "), "{out}");
    let (code, out) = verify(&bundle, &blob, &policy(&id, "https://accounts.google.com"));
    assert_eq!(code, 1, "{out}");
    // On the public-good root the stack's certificate does not chain: exit 1 naming the root.
    let (code, out) = verify(
        &bundle,
        &blob,
        &[
            "--certificate-identity",
            &id,
            "--certificate-oidc-issuer",
            ISSUER,
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Sigstore public-good production root"),
        "{out}"
    );
}

/// The policy flags against the stack's root for `id`.
fn stack_policy(stack: &Stack, id: &str) -> Vec<String> {
    [
        "--trusted-root",
        &stack.trusted_root,
        "--certificate-identity",
        id,
        "--certificate-oidc-issuer",
        ISSUER,
    ]
    .map(str::to_owned)
    .to_vec()
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec(v).unwrap()).unwrap();
}

/// `bundle` with its log entry replaced by `entry`.
fn with_entry(bundle: &Value, entry: &Value) -> Value {
    let mut b = bundle.clone();
    b["verificationMaterial"]["tlogEntries"] = json!([entry]);
    b
}

/// Asserts exit 1 with `check` failing for the reason `words`.
fn refused(out: &(i32, String), check: &str, words: &str) {
    assert_eq!(out.0, 1, "{}", out.1);
    let line = out
        .1
        .lines()
        .find(|l| l.starts_with("  fail") && l.contains(&format!(" {check} ")))
        .unwrap_or_else(|| panic!("no failing {check}:\n{}", out.1));
    assert!(line.contains(words), "{line}\n{}", out.1);
}

/// cosign 3.1 `attest-blob` against the stack: the mock Rekor logs the dsse entry in request
/// form (`spec.proposedContent`). It verifies; a genuinely logged entry whose body is for
/// another artifact, carries another signature or names another verifier is refused, and so
/// are a tampered proof, a tampered SET and a root without the stack's Fulcio CA (a check of
/// the crate that runs before its body parse).
#[test]
#[ignore = "needs the local Sigstore stack (../shared/tools/sigstore-stack.sh start) and cosign 3.1"]
fn cosign3_attestation_with_a_request_form_dsse_entry() {
    let stack = Stack::get();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (blob, blob2) = (dir.join("a.txt"), dir.join("b.txt"));
    std::fs::write(&blob, "keyless a\n").unwrap();
    std::fs::write(&blob2, "keyless b\n").unwrap();
    let predicate = dir.join("predicate.json");
    write_json(
        &predicate,
        &json!({"buildDefinition": {"buildType": "https://example.com/t", "externalParameters": {}},
            "runDetails": {"builder": {"id": "https://example.com/b"}}}),
    );
    let tok = stack.github_token(dir, "gh", REPO, "refs/heads/main", SHA);
    let a = stack.attest_blob(&tok, &predicate, &blob, &dir.join("a.json"));
    // The same statement signed again (another key and signature), and another artifact.
    let again = stack.attest_blob(&tok, &predicate, &blob, &dir.join("a2.json"));
    let b = stack.attest_blob(&tok, &predicate, &blob2, &dir.join("b.json"));
    assert!(
        logged_body(&a)["spec"].get("proposedContent").is_some(),
        "the stack no longer logs request bodies: {}",
        logged_body(&a)
    );
    let policy = stack_policy(&stack, &identity());
    let run = |name: &str, bundle: &Value| {
        let p = dir.join(name);
        write_json(&p, bundle);
        verify(&p, &blob, &policy)
    };
    let ok = run("ok.json", &a);
    assert_eq!(ok.0, 0, "{}", ok.1);
    assert!(ok.1.contains("dsse entry in request form"), "{}", ok.1);
    assert!(ok.1.contains("pass    tlog-inclusion"), "{}", ok.1);

    let entry_of = |v: &Value| v["verificationMaterial"]["tlogEntries"][0].clone();
    // A body for another artifact, and one for the same statement with another signature.
    refused(
        &run("other-artifact.json", &with_entry(&a, &entry_of(&b))),
        "tlog-entry",
        "another payload",
    );
    refused(
        &run("other-sig.json", &with_entry(&a, &entry_of(&again))),
        "tlog-entry",
        "another signature",
    );
    // This very envelope, logged with another verifier (the mock logs whatever it is sent).
    let body = logged_body(&a);
    let envelope = body["spec"]["proposedContent"]["envelope"]
        .as_str()
        .unwrap();
    let cert_of = |v: &Value| {
        let der = STANDARD
            .decode(
                v["verificationMaterial"]["certificate"]["rawBytes"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            STANDARD.encode(der)
        )
        .into_bytes()
    };
    let logged = stack.log_dsse(envelope, &[cert_of(&again)]);
    refused(
        &run("other-verifier.json", &with_entry(&a, &logged)),
        "tlog-entry",
        "verifiers[0] is not this bundle's",
    );
    let logged = stack.log_dsse(envelope, &[cert_of(&a)]);
    let relogged = run("relogged.json", &with_entry(&a, &logged));
    assert_eq!(
        relogged.0, 0,
        "the same body logged again verifies:\n{}",
        relogged.1
    );
    // Both entries in one bundle: two signed times, but one log, so one observer: they do
    // not meet a threshold of 2 (sigstore-go counts a log once); the same entry twice is
    // refused.
    let mut both = a.clone();
    both["verificationMaterial"]["tlogEntries"] = json!([entry_of(&a), logged]);
    let path = dir.join("both.json");
    write_json(&path, &both);
    let mut two = policy.clone();
    two.extend(["--verified-time-threshold".into(), "2".into()]);
    assert_eq!(verify(&path, &blob, &policy).0, 0);
    refused(
        &verify(&path, &blob, &two),
        "signing-time",
        "1 independent observer(s)",
    );
    both["verificationMaterial"]["tlogEntries"] = json!([entry_of(&a), entry_of(&a)]);
    write_json(&path, &both);
    refused(
        &verify(&path, &blob, &policy),
        "tlog-entry",
        "appears more than once",
    );

    // The log proofs, over the logged bytes.
    let mut e = entry_of(&a);
    let root = STANDARD
        .decode(e["inclusionProof"]["rootHash"].as_str().unwrap())
        .unwrap();
    let mut flipped = root.clone();
    flipped[0] ^= 1;
    e["inclusionProof"]["rootHash"] = json!(STANDARD.encode(&flipped));
    refused(
        &run("proof.json", &with_entry(&a, &e)),
        "tlog-inclusion",
        "",
    );
    // Another entry's SET: a genuine signature by the log, over another body.
    let mut e = entry_of(&a);
    e["inclusionPromise"] = entry_of(&b)["inclusionPromise"].clone();
    refused(
        &run("set.json", &with_entry(&a, &e)),
        "tlog-promise",
        "does not verify",
    );

    // A root with the stack's log and CT log but the public-good Fulcio CAs: the crate's
    // chain check (before its body parse) refuses.
    let mut root: Value =
        serde_json::from_slice(&std::fs::read(&stack.trusted_root).unwrap()).unwrap();
    let public: Value = serde_json::from_slice(
        &std::fs::read(support::shared_dir().join("sigstore/trusted_root.production.json"))
            .unwrap(),
    )
    .unwrap();
    root["certificateAuthorities"] = public["certificateAuthorities"].clone();
    let no_ca = dir.join("root-without-ca.json");
    write_json(&no_ca, &root);
    let mut p = policy.clone();
    p[1] = no_ca.display().to_string();
    let out = verify(&dir.join("ok.json"), &blob, &p);
    refused(&out, "certificate-chain", "");
}
