//! `push` edge cases against the real registry: stale fallback-index entries, digest-pinned
//! destinations, and re-pushing.

use crate::support;
use crate::support::oci as oci_support;

use cargo_provenance::formats::oci::{Descriptor, MEDIA_TYPE_MANIFEST};
use cargo_provenance::oci::layout::Layout;
use cargo_provenance::oci::reference::Reference;
use cargo_provenance::oci::referrers::update_fallback;
use cargo_provenance::oci::registry::{Options, RegistryClient};
use cargo_provenance::oci::store::Store;
use cargo_provenance::publish::copy::push;
use cargo_provenance::publish::{self, BundleInfo, Role};
use oci_support::make_image;
use support::Peers;

fn ghost() -> Descriptor {
    let mut ghost = Descriptor::of(MEDIA_TYPE_MANIFEST, b"no such manifest");
    ghost.artifact_type = Some("application/x-ghost".into());
    ghost
}

fn client(reference: &str) -> RegistryClient {
    let Reference::Registry(r) = Reference::parse(reference).unwrap() else {
        panic!()
    };
    RegistryClient::new(&r, &Options::default()).unwrap()
}

/// A temporary directory holding a layout (`src`) with image `v1` ([`make_image`] with
/// `platforms` and `seed`), its index and platform manifests, and `oci:PATH:v1`.
struct Staged {
    dir: tempfile::TempDir,
    layout: Layout,
    index: Descriptor,
    platforms: Vec<Descriptor>,
    src: String,
}

fn staged(platforms: &[&str], seed: &str) -> Staged {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(&dir.path().join("src")).unwrap();
    let (index, platforms) = make_image(&layout, "v1", platforms, seed);
    let src = format!("oci:{}:v1", layout.root().display());
    Staged {
        dir,
        layout,
        index,
        platforms,
        src,
    }
}

/// Two signed bundle referrers of the index (predicate types `.../a/v1` and `.../b/v1`).
fn attach_two_bundles(layout: &Layout, index: &Descriptor) {
    let signer = oci_support::Signer::new();
    let store = Store::Layout(layout.clone());
    for pt in ["https://example.com/a/v1", "https://example.com/b/v1"] {
        let b = signer.bundle(&[("app".into(), index.digest)], pt, serde_json::json!({}));
        let info = BundleInfo {
            bundle_json: &b,
            predicate_type: pt,
            role: Role::ImageAttestation,
            created: "2024-01-02T03:04:05Z",
        };
        publish::attach_bundle(&store, index, "app", &info).unwrap();
    }
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn a_refused_fallback_index_fails_at_once_with_the_registry_reason() {
    let peers = Peers::get();
    let repo = peers.unique_repo("push-refused");
    let Staged {
        dir: _dir,
        index,
        src,
        ..
    } = staged(&["linux/amd64"], "refused");
    push(&src, &format!("{repo}:v1"), &Options::default(), &|_| {}).unwrap();
    // distribution 2.8 checks that an index's manifests exist: a 400, not worth retrying.
    let e = update_fallback(&client(&format!("{repo}:v1")), &index.digest, &ghost())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("refused") && e.contains("MANIFEST_BLOB_UNKNOWN"),
        "{e}"
    );
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn stale_fallback_entries_are_skipped_and_counted() {
    let peers = Peers::get();
    let repo = peers.unique_repo("push-dangling");
    let Staged {
        dir,
        layout,
        index,
        src,
        ..
    } = staged(&["linux/amd64"], "dangling");
    attach_two_bundles(&layout, &index);
    let store = Store::Layout(layout.clone());
    let (_, report) = push(&src, &format!("{repo}:v1"), &Options::default(), &|_| {}).unwrap();
    assert_eq!(report.referrers, 2);
    // Delete one referrer manifest behind the fallback index's back (distribution 2.8 here
    // allows deletes), as a registry clean-up or another tool may.
    let gone = store.referrers(&index.digest).unwrap()[0].digest;
    let path = repo.split_once('/').unwrap().1;
    support::run(std::process::Command::new("curl").args([
        "-fsS",
        "-X",
        "DELETE",
        &format!("http://{}/v2/{path}/manifests/{gone}", peers.registry),
    ]));
    let back = dir.path().join("back");
    let (_, report) = push(
        &format!("{repo}:v1"),
        &format!("oci:{}", back.display()),
        &Options::default(),
        &|_| {},
    )
    .unwrap();
    assert_eq!(report.dangling, 1, "the deleted referrer is skipped");
    assert_eq!(report.referrers, 1, "the other one is copied");
    let back_refs = Store::Layout(Layout::open(&back).unwrap())
        .referrers(&index.digest)
        .unwrap();
    assert_eq!(back_refs.len(), 1);
    assert_ne!(back_refs[0].digest, gone);
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn a_destination_digest_must_match_and_repush_skips_blobs() {
    let peers = Peers::get();
    let repo = peers.unique_repo("push-digest");
    let Staged {
        dir: _dir,
        index,
        src,
        ..
    } = staged(&["linux/amd64", "linux/arm64"], "digest");
    let wrong = format!("{repo}@sha256:{}", "0".repeat(64));
    let out = support::cargo_provenance()
        .args(["push", &src, &wrong])
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("names digest"));
    let (_, first) = push(&src, &format!("{repo}:v1"), &Options::default(), &|_| {}).unwrap();
    assert_eq!(first.blobs_copied, 4);
    let (_, again) = push(&src, &format!("{repo}:v1"), &Options::default(), &|_| {}).unwrap();
    assert_eq!(again.blobs_copied, 0, "HEAD skips blobs already there");
    assert_eq!(again.blobs_skipped, 4);
    let out = support::cargo_provenance()
        .args([
            "--message-format",
            "json",
            "push",
            &src,
            &format!("{repo}@{}", index.digest),
        ])
        .assert()
        .success();
    let line = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let v: serde_json::Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    assert_eq!(v["reason"], "push");
    assert!(
        v["destination"]
            .as_str()
            .unwrap()
            .ends_with(&index.digest.to_string())
    );
}

/// Copies across tools, both generations of oras: our `push` to the registry, `oras cp -r`
/// (1.2 and 1.3) to another repository, and our `push` back into a layout: the image and
/// both referrers arrive with their digests, and oras' copy lists what ours does.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn oras_copies_what_we_push_and_we_copy_what_oras_copied() {
    let peers = Peers::get();
    let Staged {
        dir,
        layout,
        index,
        src,
        ..
    } = staged(&["linux/amd64"], "oras-copy");
    attach_two_bundles(&layout, &index);
    let store = Store::Layout(layout.clone());
    let want: Vec<_> = store
        .referrers(&index.digest)
        .unwrap()
        .into_iter()
        .map(|d| d.digest)
        .collect();
    let ours = peers.unique_repo("push-oras-src");
    push(&src, &format!("{ours}:v1"), &Options::default(), &|_| {}).unwrap();
    for tier in peers.tiers() {
        let name = tier.name();
        let theirs = peers.unique_repo("push-oras-dst");
        support::run(tier.oras().args([
            "cp",
            "-r",
            "--from-plain-http",
            "--to-plain-http",
            &format!("{ours}:v1"),
            &format!("{theirs}:v1"),
        ]));
        let listed = tier.oras_discover(&["--plain-http", &format!("{theirs}@{}", index.digest)]);
        let mut got: Vec<String> = listed
            .iter()
            .map(|m| m["digest"].as_str().unwrap().to_owned())
            .collect();
        got.sort();
        let mut expected: Vec<String> = want.iter().map(|d| d.to_string()).collect();
        expected.sort();
        assert_eq!(got, expected, "{name}: oras cp -r carried the referrers");
        let back = dir.path().join(format!("back-{:?}", tier.generation));
        let (pinned, report) = push(
            &format!("{theirs}:v1"),
            &format!("oci:{}", back.display()),
            &Options::default(),
            &|_| {},
        )
        .unwrap();
        assert_eq!(pinned.digest(), Some(index.digest), "{name}");
        assert_eq!(report.referrers, 2, "{name}: {report:?}");
        let back_refs: Vec<_> = Store::Layout(Layout::open(&back).unwrap())
            .referrers(&index.digest)
            .unwrap()
            .into_iter()
            .map(|d| d.digest)
            .collect();
        assert_eq!(back_refs, want, "{name}");
    }
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn the_fallback_merge_keeps_fields_it_does_not_model() {
    use cargo_provenance::formats::oci::MEDIA_TYPE_INDEX;
    use cargo_provenance::oci::referrers::fallback_tag;
    let peers = Peers::get();
    let repo = peers.unique_repo("push-foreign-fields");
    let Staged {
        dir: _dir,
        index,
        platforms,
        src,
        ..
    } = staged(&["linux/amd64", "linux/arm64"], "foreign");
    push(&src, &format!("{repo}:v1"), &Options::default(), &|_| {}).unwrap();
    let c = client(&format!("{repo}:v1"));
    // Another tool's fallback index: its own annotations, and an entry with fields our
    // Descriptor does not model.
    let tag = fallback_tag(&index.digest);
    let foreign = serde_json::json!({
        "schemaVersion": 2, "mediaType": MEDIA_TYPE_INDEX,
        "annotations": {"org.example.tool": "other"},
        "manifests": [{"mediaType": MEDIA_TYPE_MANIFEST,
                       "digest": platforms[0].digest.to_string(), "size": platforms[0].size,
                       "urls": ["https://mirror.example/x"],
                       "org.example.extension": {"kept": true}}]});
    c.put_manifest(
        &tag,
        &serde_json::to_vec(&foreign).unwrap(),
        MEDIA_TYPE_INDEX,
        None,
        true,
    )
    .unwrap();
    update_fallback(&c, &index.digest, &platforms[1]).unwrap();
    let got = c.get_manifest(&tag).unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&got.bytes).unwrap();
    assert_eq!(v["annotations"]["org.example.tool"], "other", "{v}");
    assert_eq!(
        v["manifests"][0]["urls"][0], "https://mirror.example/x",
        "{v}"
    );
    assert_eq!(
        v["manifests"][0]["org.example.extension"]["kept"], true,
        "{v}"
    );
    assert_eq!(
        v["manifests"][1]["digest"],
        platforms[1].digest.to_string(),
        "{v}"
    );
    assert_eq!(v["manifests"].as_array().unwrap().len(), 2, "{v}");
}
