//! The CEL of the generated Kyverno policies, evaluated (not only parsed) for every API
//! version (v1, v1beta1, v1alpha1) against real images in the registry.
//!
//! The evaluator is the `cel` crate. Kyverno's image functions are bound to what our own
//! `verify` says about the image, with the attestor's key taken from the policy itself:
//! - `verifyImageSignatures(image, [attestors...])`: the number of verified image
//!   signatures (`sign/v1` statements) that name the image, from `verify --require signature`;
//! - `verifyAttestationSignatures(image, attestation, [attestors...])`: the same for the
//!   attestation's in-toto type (`--require provenance|sbom|vex|vuln`).
//!
//! `images`, `attestors` and `attestations` are bound as Kyverno binds them for a pod with one
//! container: `images.containers` the pod's image, `attestors.NAME` / `attestations.NAME` the
//! policy's entries (here their names and in-toto types, which is what the functions use).
//!
//! The images: a signed `build` (admitted), the same image with its image-signature
//! referrers stripped (denied by the `verifyImageSignatures` validation alone), and the signed
//! image under a policy naming another key (denied by every validation).

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cel::{Context, Program, Value as Cel};
use serde_json::{Value, json};
use support::Peers;

const SIGN: &str = "https://sigstore.dev/cosign/sign/v1";

/// `verify --require` for an in-toto type.
fn requirement(predicate_type: &str) -> &'static str {
    match predicate_type {
        SIGN => "signature",
        "https://slsa.dev/provenance/v1" => "provenance",
        "https://cyclonedx.org/bom" => "sbom",
        "https://openvex.dev/ns/v0.2.0" => "vex",
        "https://cosign.sigstore.dev/attestation/vuln/v1" => "vuln",
        other => panic!("no --require for {other}"),
    }
}

/// Our verify of `image` with `key` requiring `predicate_type`: the number of verified
/// attestations of that type when the requirement holds, else 0.
fn verified_count(image: &str, key: &Path, predicate_type: &str) -> i64 {
    let out = support::cargo_provenance()
        .args(["verify", image, "--key"])
        .arg(key)
        .args(["--require", requirement(predicate_type), "--format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("verify {image}: {e}: {out:?}"));
    if !out.status.success() {
        return 0;
    }
    report["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["verified"] == true && a["predicateType"] == predicate_type)
        .count() as i64
}

/// The public keys of a policy's cosign attestors, by name, written into `dir`.
fn attestor_keys(policy: &Value, dir: &Path) -> BTreeMap<String, PathBuf> {
    policy["spec"]["attestors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let name = a["name"].as_str().unwrap().to_owned();
            let pem = a["cosign"]["key"]["data"].as_str().unwrap();
            let path = dir.join(format!("{name}.pub"));
            std::fs::write(&path, pem).unwrap();
            (name, path)
        })
        .collect()
}

fn names(list: &[Cel]) -> Vec<String> {
    list.iter()
        .map(|v| match v {
            Cel::String(s) => s.to_string(),
            other => panic!("attestor is not bound as its name: {other:?}"),
        })
        .collect()
}

/// Evaluates every validation of `policy` for a pod running `image`: (expression, result).
fn evaluate(policy: &Value, image: &str, dir: &Path) -> Vec<(String, bool)> {
    let keys = Arc::new(attestor_keys(policy, dir));
    let mut ctx = Context::default();
    ctx.add_variable(
        "images",
        json!({"containers": [image], "initContainers": [], "ephemeralContainers": []}),
    )
    .unwrap();
    let attestors: BTreeMap<&String, &String> = keys.keys().map(|k| (k, k)).collect();
    ctx.add_variable("attestors", attestors).unwrap();
    let attestations: BTreeMap<String, String> = policy["spec"]["attestations"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|a| {
                    let name = a["name"].as_str().unwrap().to_owned();
                    (name, a["intoto"]["type"].as_str().unwrap().to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    ctx.add_variable("attestations", attestations).unwrap();
    let k = keys.clone();
    ctx.add_function(
        "verifyImageSignatures",
        move |image: Arc<String>, attestors: Arc<Vec<Cel>>| -> i64 {
            names(&attestors)
                .iter()
                .map(|a| verified_count(&image, &k[a], SIGN))
                .sum()
        },
    )
    .unwrap();
    ctx.add_function(
        "verifyAttestationSignatures",
        move |image: Arc<String>, kind: Arc<String>, attestors: Arc<Vec<Cel>>| -> i64 {
            names(&attestors)
                .iter()
                .map(|a| verified_count(&image, &keys[a], &kind))
                .sum()
        },
    )
    .unwrap();
    policy["spec"]["validations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let e = v["expression"].as_str().unwrap();
            let result = Program::compile(e)
                .unwrap_or_else(|err| panic!("{e}: {err:?}"))
                .execute(&ctx)
                .unwrap_or_else(|err| panic!("evaluating {e}: {err:?}"));
            match result {
                Cel::Bool(b) => (e.to_owned(), b),
                other => panic!("{e} gave {other:?}, not a bool"),
            }
        })
        .collect()
}

/// `policy kyverno --api-version VERSION --key KEY` with the defaults (`--require`).
fn policy(version: &str, key: &Path) -> Value {
    let out = support::cargo_provenance()
        .args(["policy", "kyverno", "--image-glob", "127.0.0.1:5000/*"])
        .args([
            "--allow-insecure-registry",
            "--api-version",
            version,
            "--key",
        ])
        .arg(key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_yaml_ng::from_slice(&out.stdout).unwrap()
}

/// The layout of a signed build without its image-signature referrers: the image still
/// carries its provenance and SBOM.
fn strip_image_signatures(layout: &Path, into: &Path) {
    support::copy_dir(layout, into);
    let path = into.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let manifests = index["manifests"].as_array_mut().unwrap();
    let before = manifests.len();
    manifests.retain(|m| m["annotations"]["dev.cargo-provenance.role"] != "image-signature");
    assert!(
        manifests.len() < before,
        "no image-signature entry in {path:?}"
    );
    std::fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn cel_admits_a_verified_image_and_denies_unverified_ones() {
    let peers = Peers::get();
    let repo = peers.unique_repo("policy-cel");
    let (tmp, out, key) = support::signed_build(
        None,
        &["--builder", "native"],
        &["--push", "--image", &format!("{repo}:v1")],
        "cel-pw",
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let signed = format!("{repo}@{}", summary["index_digest"].as_str().unwrap());
    let stripped_layout = tmp.path().join("stripped");
    strip_image_signatures(&out.join("oci"), &stripped_layout);
    let repo2 = peers.unique_repo("policy-cel-nosig");
    let o = support::cargo_provenance()
        .args(["push", &format!("oci:{}:v1", stripped_layout.display())])
        .arg(format!("{repo2}:v1"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let unsigned = format!("{repo2}@{}", summary["index_digest"].as_str().unwrap());
    let other = tmp.path().join("other");
    let (_, other_key) = support::keygen(&other, "other");

    for version in ["v1", "v1beta1", "v1alpha1"] {
        let p = policy(version, &key);
        let is_sig = |e: &str| e.contains("verifyImageSignatures(");
        let ok = evaluate(&p, &signed, tmp.path());
        assert_eq!(
            ok.len(),
            3,
            "{version}: signature, provenance, sbom: {ok:?}"
        );
        assert!(ok.iter().any(|(e, _)| is_sig(e)), "{version}: {ok:?}");
        assert!(
            ok.iter().all(|(_, b)| *b),
            "{version} denies {signed}: {ok:?}"
        );

        // No image signature: only the verifyImageSignatures validation denies.
        for (e, b) in evaluate(&p, &unsigned, tmp.path()) {
            assert_eq!(b, !is_sig(&e), "{version} {unsigned}: {e}");
        }

        // Another key in the policy: every validation denies.
        let p = policy(version, &other_key);
        let bad = evaluate(&p, &signed, tmp.path());
        assert!(bad.iter().all(|(_, b)| !*b), "{version} admits: {bad:?}");
    }
}
