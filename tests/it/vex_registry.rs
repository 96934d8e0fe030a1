//! `cargo provenance vex` against the peers' registry (127.0.0.1:5000, distribution 2.8: the
//! fallback tag): cosign 2.5 verifies the VEX attestation; the tag, the index and earlier
//! referrers are unchanged; 8 concurrent runs leave 8 VEX referrers; an unknown tag is exit 2.

use crate::support;
use crate::support::vex as vex_support;

use std::path::Path;
use std::process::Command;

use cargo_provenance::formats::oci::Descriptor;
use cargo_provenance::oci::reference::Reference;
use cargo_provenance::oci::registry::Options;
use cargo_provenance::oci::store::Store;
use serde_json::Value;
use support::{Peers, Tier};
use vex_support::*;

/// Pushes the fixture to a fresh repository of the peers' registry; returns `REG/REPO:v1`.
fn push(peers: &Peers, f: &Fixture, prefix: &str) -> String {
    let dest = format!("{}:v1", peers.unique_repo(prefix));
    support::cargo_provenance()
        .args(["push", &f.layout_ref(), &dest])
        .assert()
        .success();
    dest
}

fn registry_store(reference: &str) -> Store {
    Store::open(
        &Reference::parse(reference).unwrap(),
        &Options::default(),
        false,
    )
    .unwrap()
}

fn cosign_verify(tier: &Tier, reference: &str, public: &Path, root: &Path) -> std::process::Output {
    tier.cosign()
        .args([
            "verify-attestation",
            "--type",
            VEX,
            "--key",
            public.to_str().unwrap(),
            "--new-bundle-format",
            "--trusted-root",
            root.to_str().unwrap(),
            "--insecure-ignore-tlog=true",
            "--allow-http-registry",
            reference,
        ])
        .output()
        .unwrap()
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn cosign_verifies_the_vex_from_the_registry_and_the_image_is_unchanged() {
    let peers = Peers::get();
    let f = fixture("cosign");
    let dest = push(&peers, &f, "vex-cosign");
    let repo = dest.trim_end_matches(":v1").to_owned();
    let store = registry_store(&dest);
    let reference = Reference::parse(&dest).unwrap();
    let index_before = store.resolve(&reference).unwrap();
    assert_eq!(index_before.digest, f.index.digest);
    let (index_bytes, _) = store.get_manifest(&f.index.digest).unwrap();
    let subjects: Vec<Descriptor> = std::iter::once(f.index.clone())
        .chain(f.platforms.iter().cloned())
        .collect();
    let before: Vec<_> = subjects.iter().map(|s| referrers(&store, s)).collect();
    assert!(before.iter().all(|b| b.len() == 1), "{before:?}");

    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keygen(keys.path());
    vex_cmd(&dest, &key, "CVE-2024-1000").assert().success();

    // Tag, index digest and bytes unchanged; earlier referrers kept; one VEX per subject.
    assert_eq!(store.resolve(&reference).unwrap().digest, f.index.digest);
    assert_eq!(store.get_manifest(&f.index.digest).unwrap().0, index_bytes);
    for (s, b) in subjects.iter().zip(&before) {
        let after = referrers(&store, s);
        assert!(b.is_subset(&after), "{b:?} not in {after:?}");
        assert_eq!(vex_count(&after), 1, "{after:?}");
    }

    let root = support::empty_trusted_root(keys.path());
    let other = tempfile::tempdir().unwrap();
    let (_, other_pub) = keygen(other.path());
    for tier in peers.tiers() {
        let name = tier.name();
        for s in &subjects {
            let r = format!("{repo}@{}", s.digest);
            let out = cosign_verify(&tier, &r, &public, &root);
            assert!(
                out.status.success(),
                "{name} verify-attestation {r}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap()
                .to_owned();
            let v: Value = serde_json::from_str(&line).unwrap();
            let payload = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                v["payload"].as_str().unwrap(),
            )
            .unwrap();
            let st: Value = serde_json::from_slice(&payload).unwrap();
            assert_eq!(st["predicateType"], VEX, "{name}");
            assert_eq!(st["predicate"]["statements"][0]["status"], "not_affected");
        }
        // Another key: cosign refuses.
        let out = cosign_verify(
            &tier,
            &format!("{repo}@{}", f.index.digest),
            &other_pub,
            &root,
        );
        assert!(!out.status.success(), "{name} accepted another key");
    }

    // discover shows it.
    let out = support::cargo_provenance()
        .args(["discover", "--format", "json", &dest])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.contains(VEX) && text.contains("\"vex\""), "{text}");
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn eight_concurrent_vex_runs_leave_eight_referrers() {
    let peers = Peers::get();
    let f = fixture("concurrent");
    let dest = push(&peers, &f, "vex-concurrent");
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = keygen(keys.path());
    let bin = assert_cmd::cargo::cargo_bin("cargo-provenance");
    let children: Vec<_> = (0..8)
        .map(|i| {
            Command::new(&bin)
                .args([
                    "vex",
                    &dest,
                    "--vulnerability",
                    &format!("CVE-2024-20{i:02}"),
                    "--status",
                    "under_investigation",
                    "--key",
                    key.to_str().unwrap(),
                ])
                .env("COSIGN_PASSWORD", PASSWORD)
                .env("SOURCE_DATE_EPOCH", "1704164645")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = registry_store(&dest);
    for s in std::iter::once(&f.index).chain(&f.platforms) {
        let refs = referrers(&store, s);
        assert_eq!(vex_count(&refs), 8, "{} has {refs:?}", s.digest);
        assert_eq!(refs.len(), 9, "the earlier referrer is kept");
    }
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn an_unresolvable_registry_ref_is_exit_2_with_the_cause() {
    let peers = Peers::get();
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = keygen(keys.path());
    let reference = format!("{}:v9", peers.unique_repo("vex-missing"));
    let out = vex_cmd(&reference, &key, "CVE-2024-3000").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("does not resolve"), "{err}");
    assert!(err.contains("no such image"), "{err}");
}

/// The SBOM check goes by the referrer manifest's own annotation, not the listing's: with
/// every annotation taken out of the fallback index (anyone who can push a tag can do that,
/// and other tools' indexes drop them), a `--product` the signed SBOM does not list is still
/// refused.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn the_sbom_check_reads_the_manifests_not_the_listings_annotations() {
    let peers = Peers::get();
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = keygen(keys.path());
    let f = fixture("vex-sbom-listing");
    attach_sbom(&f, &key, &["pkg:cargo/time@0.1.44"]);
    let dest = push(&peers, &f, "vex-sbom-listing");
    let url = format!(
        "http://{}/manifests/sha256-{}",
        dest.trim_end_matches(":v1").replacen('/', "/v2/", 1),
        f.index.digest.hex()
    );
    let index_type = "application/vnd.oci.image.index.v1+json";
    let got = Command::new("curl")
        .args(["-fsS", "-H", &format!("Accept: {index_type}"), &url])
        .output()
        .unwrap();
    let mut listing: Value = serde_json::from_slice(&got.stdout).unwrap();
    for entry in listing["manifests"].as_array_mut().unwrap() {
        entry.as_object_mut().unwrap().remove("annotations");
    }
    let body = serde_json::to_string(&listing).unwrap();
    let put = Command::new("curl")
        .args([
            "-fsS",
            "-X",
            "PUT",
            "-H",
            &format!("Content-Type: {index_type}"),
        ])
        .args(["--data-binary", &body, &url])
        .output()
        .unwrap();
    assert!(put.status.success(), "{put:?}");
    let out = vex_cmd(&dest, &key, "CVE-2024-4100").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not a component of the image's SBOM"), "{err}");
}
