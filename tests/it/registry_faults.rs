//! Push, pull and copy through a fault-injecting proxy in front of the real registry
//! (distribution 2.8 of the peers): each completes under 500s, 429s and dropped connections
//! with a result byte-identical to a clean run; a push killed halfway and rerun ends complete,
//! and a watcher reading the registry directly never sees the tag on an incomplete image.

use crate::support;
use crate::support::oci as oci_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use cargo_provenance::formats::oci::{ImageIndex, ImageManifest};
use cargo_provenance::oci::layout::Layout;
use cargo_provenance::oci::reference::Reference;
use cargo_provenance::oci::referrers::fallback_tag;
use cargo_provenance::oci::registry::{Options, RegistryClient};
use cargo_provenance::oci::store::Store;
use cargo_provenance::util::digest::Digest;
use oci_support::{ChaosProxy, Fixture, fixture, layout_files};
use support::Peers;

fn client(reference: &str) -> RegistryClient {
    let Reference::Registry(r) = Reference::parse(reference).unwrap() else {
        panic!("{reference} is not a registry reference")
    };
    RegistryClient::new(&r, &Options::default()).unwrap()
}

fn pull(from: &str, dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    let dest = format!("oci:{}", dir.display());
    support::cargo_provenance()
        .args(["push", "-q", from, &dest])
        .assert()
        .success();
    layout_files(dir)
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn push_pull_and_copy_under_faults_are_byte_identical_to_a_clean_run() {
    let peers = Peers::get();
    let fx = fixture("faults");
    let original = layout_files(fx.layout.root());
    let clean = peers.unique_repo("faults-clean");
    fx.push(&format!("{clean}:v1"));
    let clean_pull = pull(&format!("{clean}:v1"), &fx.dir.path().join("clean"));
    assert!(
        clean_pull == original,
        "a clean round trip is byte-identical"
    );

    let proxy = ChaosProxy::start(&peers.registry, 1_000);
    let via = |repo: &str| format!("{}/{}", proxy.addr, repo.split_once('/').unwrap().1);
    let pushed = peers.unique_repo("faults-push");
    fx.push(&format!("{}:v1", via(&pushed)));
    let pulled = pull(
        &format!("{}:v1", via(&pushed)),
        &fx.dir.path().join("pulled"),
    );
    let copied = peers.unique_repo("faults-copy");
    support::cargo_provenance()
        .args([
            "push",
            "-q",
            &format!("{}:v1", via(&pushed)),
            &format!("{}:v1", via(&copied)),
        ])
        .assert()
        .success();
    let faults = proxy.faults.load(Ordering::SeqCst);
    let requests = proxy.requests.load(Ordering::SeqCst);
    eprintln!("push, pull and copy: {faults} faults injected in {requests} requests");
    assert!(faults >= 20, "the proxy injected faults ({faults})");
    // Read back directly, without the proxy: the same bytes as the clean run.
    for (label, repo, files) in [
        ("pull", &pushed, pulled),
        (
            "push",
            &pushed,
            pull(&format!("{pushed}:v1"), &fx.dir.path().join("push-back")),
        ),
        (
            "copy",
            &copied,
            pull(&format!("{copied}:v1"), &fx.dir.path().join("copy-back")),
        ),
    ] {
        assert!(
            files == clean_pull,
            "{label} ({repo}) under faults differs from the clean run"
        );
    }
}

/// True when everything of the fixture's image is in the registry: the index, each platform
/// manifest with its config and layers, and every referrer, listed under its subject.
fn complete(c: &RegistryClient, fx: &Fixture) -> bool {
    let store = Store::Layout(fx.layout.clone());
    let has = |d: &Digest| c.get_manifest(&d.to_string()).unwrap().is_some();
    let mut subjects = vec![fx.index.digest];
    for p in &fx.platforms {
        subjects.push(p.digest);
        let bytes = std::fs::read(fx.layout.blob_path(&p.digest)).unwrap();
        let m: ImageManifest = serde_json::from_slice(&bytes).unwrap();
        for b in std::iter::once(&m.config).chain(&m.layers) {
            if !c.blob_exists(&b.digest).unwrap() {
                return false;
            }
        }
    }
    subjects.push(fx.nested.0);
    for s in subjects {
        if !has(&s) {
            return false;
        }
        let listed: Vec<Digest> = match c.get_manifest(&fallback_tag(&s)).unwrap() {
            Some(m) => serde_json::from_slice::<ImageIndex>(&m.bytes)
                .unwrap()
                .manifests
                .iter()
                .map(|d| d.digest)
                .collect(),
            None => Vec::new(),
        };
        for r in store.referrers(&s).unwrap() {
            if !listed.contains(&r.digest) || !has(&r.digest) {
                return false;
            }
        }
    }
    true
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn a_push_killed_halfway_leaves_no_tag_and_a_rerun_completes_it() {
    let peers = Peers::get();
    let fx = Arc::new(fixture("killed"));
    // Every request is held 20 ms, so the push can be stopped in the middle.
    let proxy = ChaosProxy::start_slow(&peers.registry, 0, Duration::from_millis(20));
    let repo = peers.unique_repo("faults-killed");
    let via = format!("{}/{}:v1", proxy.addr, repo.split_once('/').unwrap().1);
    // A watcher reads the tag directly, all the time: whenever it is there, the image must be
    // complete.
    let stop = Arc::new(AtomicBool::new(false));
    let (seen_tag, seen_incomplete) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let watcher = {
        let (fx, stop, seen_tag, bad) = (
            fx.clone(),
            stop.clone(),
            seen_tag.clone(),
            seen_incomplete.clone(),
        );
        let direct = format!("{repo}:v1");
        std::thread::spawn(move || {
            let c = client(&direct);
            while !stop.load(Ordering::SeqCst) {
                if c.get_manifest("v1").unwrap().is_some() {
                    seen_tag.fetch_add(1, Ordering::SeqCst);
                    if !complete(&c, &fx) {
                        bad.fetch_add(1, Ordering::SeqCst);
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cargo-provenance"))
        .args(["provenance", "push", "-q", &fx.src(), &via])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while proxy.requests.load(Ordering::SeqCst) < 20 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the push ended before it could be stopped"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_at = proxy.requests.load(Ordering::SeqCst);
    let direct = client(&format!("{repo}:v1"));
    assert!(
        direct.get_manifest("v1").unwrap().is_none(),
        "no tag after the interrupted push"
    );
    assert!(
        !complete(&direct, &fx),
        "the push was stopped before it finished"
    );
    // The rerun completes it.
    fx.push(&via);
    let total = proxy.requests.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    eprintln!(
        "killed after {killed_at} requests; rerun to {total}; the watcher saw the tag {} times, \
         on an incomplete image {} times",
        seen_tag.load(Ordering::SeqCst),
        seen_incomplete.load(Ordering::SeqCst)
    );
    assert!(complete(&direct, &fx), "the rerun completes the image");
    assert!(
        seen_tag.load(Ordering::SeqCst) > 0,
        "the watcher saw the finished tag"
    );
    assert_eq!(
        seen_incomplete.load(Ordering::SeqCst),
        0,
        "a tag on an incomplete image"
    );
    let back = pull(&format!("{repo}:v1"), &fx.dir.path().join("back"));
    assert!(
        back == layout_files(fx.layout.root()),
        "the completed push round-trips"
    );
    let _ = Layout::open(fx.layout.root()).unwrap();
}
