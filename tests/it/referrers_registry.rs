//! Referrers against real registries: the shared distribution 2.8 on 127.0.0.1:5000 (no
//! referrers API: the fallback tag) and ferro-oci-server (referrers API), checked with oras
//! 1.2 and cosign 2.5; concurrent writers; a chaos proxy; later referrers; round trips.

use crate::support;
use crate::support::oci as oci_support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use cargo_provenance::formats::oci::{Descriptor, ImageIndex};
use cargo_provenance::oci::layout::Layout;
use cargo_provenance::oci::reference::Reference;
use cargo_provenance::oci::referrers::fallback_tag;
use cargo_provenance::oci::registry::{Options, RegistryClient};
use cargo_provenance::oci::store::Store;
use cargo_provenance::publish::{self, BundleInfo, Role};
use cargo_provenance::util::digest::Digest;
use oci_support::{ChaosProxy, Fixture, Signer, fixture, layout_files};
use support::{Peers, Tier};

const SLSA: &str = "https://slsa.dev/provenance/v1";
const CDX: &str = "https://cyclonedx.org/bom";

fn client(reference: &str) -> RegistryClient {
    let Reference::Registry(r) = Reference::parse(reference).unwrap() else {
        panic!()
    };
    RegistryClient::new(&r, &Options::default()).unwrap()
}

fn fallback_index(c: &RegistryClient, subject: &Digest) -> Option<ImageIndex> {
    c.get_manifest(&fallback_tag(subject))
        .unwrap()
        .map(|m| serde_json::from_slice(&m.bytes).unwrap())
}

/// `oras discover --format json` digests and predicate types of `reference`'s referrers.
fn oras_discover(tier: &Tier, reference: &str) -> BTreeMap<String, String> {
    discovered(&tier.oras_discover(&["--plain-http", reference]))
}

/// Digests and predicate types of the referrers `oras discover` listed.
fn discovered(referrers: &[serde_json::Value]) -> BTreeMap<String, String> {
    referrers
        .iter()
        .map(|m| {
            (
                m["digest"].as_str().unwrap().to_owned(),
                m["annotations"][publish::ANNOTATION_PREDICATE_TYPE]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

fn our_discover(reference: &str) -> BTreeMap<String, String> {
    let out = support::cargo_provenance()
        .args(["discover", "--format", "json", reference])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["digest"].as_str().unwrap().to_owned(),
                m["predicateType"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn cosign_verify(
    tier: &Tier,
    fx: &Fixture,
    pubkey: &std::path::Path,
    kind: &str,
    reference: &str,
) -> std::process::Output {
    let root = support::empty_trusted_root(fx.dir.path());
    tier.cosign()
        .args(["verify-attestation", "--key"])
        .arg(pubkey)
        .args(["--type", kind, "--new-bundle-format", "--trusted-root"])
        .arg(&root)
        .args([
            "--insecure-ignore-tlog=true",
            "--allow-http-registry",
            reference,
        ])
        .output()
        .unwrap()
}

/// The whole interop check against one registry: push, then oras, cosign (both generations)
/// and our discover on the index and on each platform manifest.
fn interop(peers: &Peers, repo: &str, expect_fallback: bool) {
    let fx = fixture(repo);
    let dest = format!("{repo}:v1");
    fx.push(&dest);
    let pubkey = fx.signer.write_pub(fx.dir.path());
    let other = Signer::new();
    let wrong_dir = tempfile::tempdir().unwrap();
    let wrong = other.write_pub(wrong_dir.path());
    for tier in peers.tiers() {
        let name = tier.name();
        for subject in std::iter::once(&fx.index).chain(fx.platforms.iter()) {
            let at = format!("{repo}@{}", subject.digest);
            let oras = oras_discover(&tier, &at);
            let ours = our_discover(&at);
            assert_eq!(ours, oras, "{name}: discover agrees with oras on {at}");
            let types: BTreeSet<&str> = oras.values().map(String::as_str).collect();
            assert_eq!(
                types,
                BTreeSet::from([CDX, SLSA]),
                "{name}: oras lists provenance and SBOM on {at}"
            );
            for kind in ["slsaprovenance1", "cyclonedx"] {
                let out = cosign_verify(&tier, &fx, &pubkey, kind, &at);
                assert!(
                    out.status.success(),
                    "{name}: cosign verify-attestation --type {kind} {at}:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        // Via the tag too (cosign resolves it to the index).
        let out = cosign_verify(&tier, &fx, &pubkey, "slsaprovenance1", &dest);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Another key fails.
        let out = cosign_verify(&tier, &fx, &wrong, "slsaprovenance1", &dest);
        assert!(
            !out.status.success(),
            "{name}: cosign must reject another key"
        );
    }
    // The fallback tag (when used) carries artifactType and all annotations.
    let c = client(&dest);
    match fallback_index(&c, &fx.index.digest) {
        Some(idx) => {
            assert!(
                expect_fallback,
                "a registry with the referrers API got a fallback tag"
            );
            assert_eq!(idx.manifests.len(), 2);
            for d in &idx.manifests {
                assert_eq!(d.artifact_type.as_deref(), Some(publish::MEDIA_TYPE_BUNDLE));
                for k in [
                    publish::ANNOTATION_ROLE,
                    publish::ANNOTATION_PREDICATE_TYPE,
                    publish::ANNOTATION_SUBJECT_NAME,
                    publish::ANNOTATION_BUNDLE_CONTENT,
                    "org.opencontainers.image.created",
                ] {
                    assert!(d.annotations.contains_key(k), "{k} in the fallback index");
                }
            }
        }
        None => assert!(
            !expect_fallback,
            "no fallback tag on the distribution registry"
        ),
    }
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn distribution_fallback_tag_oras_cosign_and_discover_agree() {
    let peers = Peers::get();
    interop(&peers, &peers.unique_repo("ref-fallback"), true);
}

/// Starts ferro-oci-server (a registry with the referrers API) through
/// `scripts/referrers-registry.sh` and returns its address.
fn ferro() -> String {
    let script = support::repo_root().join("scripts/referrers-registry.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("start")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ferro-oci-server did not start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = support::run(Command::new("bash").arg(&script).arg("env"));
    env.trim().strip_prefix("FERRO_REG=").unwrap().to_owned()
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn referrers_api_registry_oras_cosign_and_discover_agree() {
    let peers = Peers::get();
    let reg = ferro();
    let repo = format!("{reg}/ref-api-{}", std::process::id());
    interop(&peers, &repo, false);
}

/// Attaches `n` different referrers to `subject` concurrently, each thread its own client.
fn concurrent_attaches(
    repo: &str,
    subject: &Descriptor,
    signer: &std::sync::Arc<Signer>,
    n: usize,
    tag: &str,
) -> BTreeSet<Digest> {
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (repo, subject, signer, tag) = (
                repo.to_owned(),
                subject.clone(),
                signer.clone(),
                tag.to_owned(),
            );
            std::thread::spawn(move || {
                let store = Store::Registry(Box::new(client(&format!("{repo}:v1"))));
                let b = signer.bundle(
                    &[(format!("w{i}"), subject.digest)],
                    SLSA,
                    serde_json::json!({"writer": i, "tag": tag}),
                );
                let info = BundleInfo {
                    bundle_json: &b,
                    predicate_type: SLSA,
                    role: Role::ImageAttestation,
                    created: "2024-01-02T03:04:05Z",
                };
                publish::attach_bundle(&store, &subject, &format!("w{i}"), &info)
                    .unwrap()
                    .digest
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn eight_concurrent_attaches_all_land_in_the_fallback_index() {
    let peers = Peers::get();
    let repo = peers.unique_repo("ref-concurrent");
    let fx = fixture("concurrent");
    fx.push(&format!("{repo}:v1"));
    let signer = std::sync::Arc::new(Signer::new());
    let before: BTreeSet<Digest> = fallback_index(&client(&format!("{repo}:v1")), &fx.index.digest)
        .unwrap()
        .manifests
        .iter()
        .map(|d| d.digest)
        .collect();
    let n: usize = std::env::var("REFERRERS_WRITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let mine = concurrent_attaches(&repo, &fx.index, &signer, n, "a");
    assert_eq!(mine.len(), n);
    let idx = fallback_index(&client(&format!("{repo}:v1")), &fx.index.digest).unwrap();
    let listed: Vec<Digest> = idx.manifests.iter().map(|d| d.digest).collect();
    let set: BTreeSet<Digest> = listed.iter().copied().collect();
    assert_eq!(listed.len(), set.len(), "no duplicates");
    assert!(mine.is_subset(&set), "all {n} concurrent referrers present");
    assert!(before.is_subset(&set), "earlier referrers kept");
    assert_eq!(set.len(), before.len() + n);
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn chaos_proxy_failures_end_complete_and_duplicate_free() {
    let peers = Peers::get();
    let proxy = ChaosProxy::start(&peers.registry, 60);
    let name = peers.unique_repo("ref-chaos");
    let path = name.split_once('/').unwrap().1.to_owned();
    let via_proxy = format!("{}/{path}", proxy.addr);
    let fx = fixture("chaos");
    fx.push(&format!("{via_proxy}:v1"));
    let signer = std::sync::Arc::new(Signer::new());
    let mine = concurrent_attaches(&via_proxy, &fx.index, &signer, 8, "chaos");
    // Re-running the whole publish through the proxy duplicates nothing.
    fx.push(&format!("{via_proxy}:v1"));
    let faults = proxy.faults.load(std::sync::atomic::Ordering::SeqCst);
    let requests = proxy.requests.load(std::sync::atomic::Ordering::SeqCst);
    eprintln!("chaos proxy: {faults} faults injected in {requests} requests");
    assert!(faults >= 20, "the proxy injected faults ({faults})");
    // Read the result directly from the registry.
    let direct = client(&format!("{name}:v1"));
    let tagged = direct.get_manifest("v1").unwrap().unwrap();
    assert_eq!(tagged.digest, fx.index.digest);
    for subject in std::iter::once(&fx.index).chain(fx.platforms.iter()) {
        let idx = fallback_index(&direct, &subject.digest).unwrap();
        let listed: Vec<Digest> = idx.manifests.iter().map(|d| d.digest).collect();
        let set: BTreeSet<Digest> = listed.iter().copied().collect();
        assert_eq!(
            listed.len(),
            set.len(),
            "no duplicates for {}",
            subject.digest
        );
        let expected = if subject.digest == fx.index.digest {
            2 + 8
        } else {
            2
        };
        assert_eq!(set.len(), expected, "complete for {}", subject.digest);
        for d in &idx.manifests {
            assert!(
                direct
                    .get_manifest(&d.digest.to_string())
                    .unwrap()
                    .is_some()
            );
        }
    }
    let idx: BTreeSet<Digest> = fallback_index(&direct, &fx.index.digest)
        .unwrap()
        .manifests
        .iter()
        .map(|d| d.digest)
        .collect();
    assert!(mine.is_subset(&idx));
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn a_later_referrer_leaves_tag_index_and_earlier_referrers_unchanged() {
    let peers = Peers::get();
    let repo = peers.unique_repo("ref-later");
    let fx = fixture("later");
    fx.push(&format!("{repo}:v1"));
    let c = client(&format!("{repo}:v1"));
    let tag_before = c.get_manifest("v1").unwrap().unwrap();
    let refs_before = fallback_index(&c, &fx.index.digest).unwrap().manifests;
    let platform_before = fallback_index(&c, &fx.platforms[0].digest)
        .unwrap()
        .manifests;
    let store = Store::Registry(Box::new(c));
    let vex = fx.signer.bundle(
        &[("app".into(), fx.index.digest)],
        "https://openvex.dev/ns/v0.2.0",
        serde_json::json!({}),
    );
    let info = BundleInfo {
        bundle_json: &vex,
        predicate_type: "https://openvex.dev/ns/v0.2.0",
        role: Role::Vex,
        created: "2024-03-01T00:00:00Z",
    };
    let added = publish::attach_bundle(&store, &fx.index, "app", &info).unwrap();
    let Store::Registry(c) = store else { panic!() };
    let tag_after = c.get_manifest("v1").unwrap().unwrap();
    assert_eq!(
        tag_after.bytes, tag_before.bytes,
        "the image index is byte-identical"
    );
    assert_eq!(tag_after.digest, fx.index.digest);
    let refs_after = fallback_index(&c, &fx.index.digest).unwrap().manifests;
    assert_eq!(
        &refs_after[..refs_before.len()],
        &refs_before[..],
        "earlier entries unchanged"
    );
    assert_eq!(refs_after.len(), refs_before.len() + 1);
    // The entry is the referrer's descriptor, with the manifest inline.
    let last = refs_after.last().unwrap();
    assert!(last.embedded(u64::MAX).is_some(), "{last:?}");
    assert_eq!(
        &Descriptor {
            data: None,
            ..last.clone()
        },
        &added
    );
    assert_eq!(
        fallback_index(&c, &fx.platforms[0].digest)
            .unwrap()
            .manifests,
        platform_before
    );
    let rendered = our_discover(&format!("{repo}:v1"));
    assert_eq!(
        rendered.get(&added.digest.to_string()).map(String::as_str),
        Some("https://openvex.dev/ns/v0.2.0")
    );
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn layout_registry_layout_round_trip_is_byte_identical() {
    let peers = Peers::get();
    let fx = fixture("roundtrip");
    for (label, repo) in [
        ("distribution", peers.unique_repo("ref-roundtrip")),
        (
            "referrers API",
            format!("{}/ref-roundtrip-{}", ferro(), std::process::id()),
        ),
    ] {
        fx.push(&format!("{repo}:v1"));
        let back = fx
            .dir
            .path()
            .join(format!("back-{}", label.replace(' ', "-")));
        support::cargo_provenance()
            .args([
                "push",
                &format!("{repo}:v1"),
                &format!("oci:{}", back.display()),
            ])
            .assert()
            .success();
        let a = layout_files(fx.layout.root());
        let b = layout_files(&back);
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{label}: same files"
        );
        assert!(a == b, "{label}: byte-identical layouts");
        let back_store = Store::Layout(Layout::open(&back).unwrap());
        let nested: Vec<Digest> = back_store
            .referrers(&fx.nested.0)
            .unwrap()
            .iter()
            .map(|d| d.digest)
            .collect();
        assert_eq!(
            nested,
            vec![fx.nested.1],
            "{label}: referrers of referrers travel too"
        );
    }
}

#[test]
fn unreachable_registry_is_exit_2_naming_it() {
    let fx = fixture("unreachable");
    let out = support::cargo_provenance()
        .args(["push", &fx.src(), "127.0.0.1:9/nothing:v1"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("127.0.0.1:9/nothing"), "{err}");
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn oras_discovers_referrers_in_our_oci_layout() {
    let peers = Peers::get();
    let fx = fixture("layout-oras");
    let root = fx.layout.root().display().to_string();
    // oras 1.2 resolves `DIR@digest` only for top-level index.json entries, so platform
    // manifests are selected with `--platform` from the tag, as a user would.
    let targets = std::iter::once((fx.index.digest, None)).chain(
        fx.platforms
            .iter()
            .map(|p| (p.digest, Some(p.platform.as_ref().unwrap().to_string()))),
    );
    for ((digest, platform), tier) in
        targets.flat_map(|t| peers.tiers().map(|tier| (t.clone(), tier)))
    {
        let layout_ref = format!("{root}:v1");
        let mut args = vec!["--oci-layout"];
        if let Some(p) = &platform {
            args.extend(["--platform", p]);
        }
        args.push(&layout_ref);
        let oras = discovered(&tier.oras_discover(&args));
        let ours = our_discover(&format!("oci:{root}@{digest}"));
        assert_eq!(ours, oras, "oras and we agree on the layout for {digest}");
        let ours_by_platform = match &platform {
            Some(p) => {
                let out = support::cargo_provenance()
                    .args([
                        "discover",
                        "--format",
                        "json",
                        "--platform",
                        p,
                        &format!("oci:{root}:v1"),
                    ])
                    .assert()
                    .success();
                let v: serde_json::Value =
                    serde_json::from_slice(&out.get_output().stdout).unwrap();
                assert_eq!(
                    v["digest"],
                    digest.to_string(),
                    "--platform {p} selects the manifest"
                );
                v["manifests"].as_array().unwrap().len()
            }
            None => ours.len(),
        };
        assert_eq!(ours_by_platform, oras.len());
        let types: BTreeSet<&str> = oras.values().map(String::as_str).collect();
        assert_eq!(types, BTreeSet::from([CDX, SLSA]));
    }
}
