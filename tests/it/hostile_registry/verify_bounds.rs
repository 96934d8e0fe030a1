//! The bounds `verify` keeps against a hostile registry: referrers per subject, layers per
//! attestation manifest, entries per index, bytes read in all. Each test serves an image whose
//! evidence passes one bound and checks that verify fails (or stops) without reading past it.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;

use cargo_provenance::util::digest::Digest;
use serde_json::json;

use super::{
    Answer, OCI_INDEX, OCI_MANIFEST, Seen, is_image, manifest_with_config, no_config, serve,
};
use crate::support;

/// Serves the image, `extra` answering first (a listing, a tag), and runs `verify --key` on
/// it: asserts exit 1 and `needles` in the output; returns the paths the registry saw.
fn verify_against(
    extra: impl Fn(&Seen) -> Option<Answer> + Send + Sync + 'static,
    needles: &[&str],
) -> Vec<String> {
    verify_against_expecting(1, extra, needles)
}

/// [`verify_against`] with a server that answers requests whose path `at` accepts with the
/// JSON document `doc` of its media type.
fn verify_answering(
    at: impl Fn(&str) -> bool + Send + Sync + 'static,
    doc: (serde_json::Value, &'static str),
    needles: &[&str],
) -> Vec<String> {
    verify_against(
        move |s| at(&s.path).then(|| Answer::json(&doc.0, doc.1)),
        needles,
    )
}

/// [`verify_against`], expecting exit `code`.
fn verify_against_expecting(
    code: i32,
    extra: impl Fn(&Seen) -> Option<Answer> + Send + Sync + 'static,
    needles: &[&str],
) -> Vec<String> {
    let manifest = manifest_with_config(b"{}", 2);
    let (addr, seen) = serve(
        "127.0.0.1",
        Arc::new(move |s: &Seen| {
            if let Some(a) = extra(s) {
                a
            } else if is_image(&s.path) {
                Answer::json(&manifest, OCI_MANIFEST)
            } else {
                Answer::status("404 Not Found")
            }
        }),
    );
    let cfg = no_config();
    let key = tempfile::tempdir().unwrap();
    let (_, public) = support::keygen(key.path(), "bounds");
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-provenance"))
        .args(["provenance", "verify", &format!("{addr}/app:v1"), "--key"])
        .arg(&public)
        .env("DOCKER_CONFIG", cfg.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(code), "{text}");
    for n in needles {
        assert!(text.contains(n), "expected `{n}` in:\n{text}");
    }
    let seen = seen.lock().unwrap();
    seen.iter().map(|s| s.path.clone()).collect()
}

#[test]
fn a_referrers_listing_past_the_bound_fails_without_reading_one() {
    let descriptors: Vec<serde_json::Value> = (0..257)
        .map(|i| {
            json!({"mediaType": OCI_MANIFEST, "size": 100,
                   "digest": Digest::of(format!("padding {i}").as_bytes()).to_string(),
                   "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"})
        })
        .collect();
    let listing = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors});
    let image = Digest::of(&serde_json::to_vec(&manifest_with_config(b"{}", 2)).unwrap());
    let seen = verify_answering(
        |p| p.contains("/referrers/"),
        (listing, OCI_INDEX),
        &["lists 257 referrers", "at most 256"],
    );
    let fetched = seen
        .iter()
        .filter(|p| p.contains("/manifests/sha256:") && !p.ends_with(&image.to_string()))
        .count();
    assert_eq!(fetched, 0, "a referrer past the bound was fetched");
}

#[test]
fn a_cosign_tag_with_too_many_layers_fails_without_reading_one() {
    let layers: Vec<serde_json::Value> = (0..65)
        .map(|i| {
            json!({"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                   "digest": Digest::of(format!("layer {i}").as_bytes()).to_string(),
                   "size": 10})
        })
        .collect();
    let sig = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                     "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                "digest": Digest::of(b"{}").to_string(), "size": 2},
                     "layers": layers});
    let seen = verify_answering(
        |p| p.ends_with(".sig"),
        (sig, OCI_MANIFEST),
        &["has 65 layers", "at most 64"],
    );
    let blob_reads = seen.iter().filter(|p| p.contains("/blobs/")).count();
    assert_eq!(blob_reads, 0, "a layer past the bound was fetched");
}

#[test]
fn an_index_past_the_entry_bound_fails_without_reading_an_entry() {
    let entries: Vec<serde_json::Value> = (0..129)
        .map(|i| {
            json!({"mediaType": OCI_MANIFEST, "size": 100,
                   "digest": Digest::of(format!("platform {i}").as_bytes()).to_string(),
                   "platform": {"os": "linux", "architecture": format!("arch{i}")}})
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
    let seen = verify_answering(
        |p| p.ends_with("/manifests/v1"),
        (index, OCI_INDEX),
        &["lists 129 manifests", "more than the 128"],
    );
    let entry_reads = seen
        .iter()
        .filter(|p| {
            (0..129).any(|i| p.contains(&Digest::of(format!("platform {i}").as_bytes()).hex()))
        })
        .count();
    assert_eq!(entry_reads, 0, "an entry past the bound was fetched");
}

/// Referrers that each stay within the per-item bounds (a 31 MiB bundle layer each) but
/// together pass the bound on all that verify reads (256 MiB): verify stops with an error
/// (exit 2) and reads no more than the bound and what was in flight.
#[test]
fn referrers_past_the_total_read_bound_stop_verify() {
    past_the_read_bound(false);
}

/// The same with every layer failing its digest check (the right size, other bytes): bytes
/// that fail count too, read ahead or not, so verify stops as early. Before, read-ahead
/// counted none of them and fetched every layer (a hands-on attack fetched and hashed
/// 8 GiB per part this way).
#[test]
fn layers_failing_their_digest_count_against_the_read_bound() {
    past_the_read_bound(true);
}

/// Serves 12 referrers with a 31 MiB layer each (`corrupt`: bytes of another digest) and
/// checks that verify stops at the read bound, having read fewer than 12 layers.
fn past_the_read_bound(corrupt: bool) {
    const LAYER: usize = 31 << 20;
    let image = Digest::of(&serde_json::to_vec(&manifest_with_config(b"{}", 2)).unwrap());
    let mut served: HashMap<String, (Vec<u8>, &'static str)> = HashMap::new();
    let mut listed = Vec::new();
    for i in 0..12u8 {
        let mut layer = vec![b' '; LAYER];
        layer[0] = b'a' + i;
        let digest = Digest::of(&layer);
        if corrupt {
            layer[1] = b'!';
        }
        let referrer = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                       "digest": Digest::of(b"{}").to_string(), "size": 2},
            "layers": [{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                        "digest": digest.to_string(), "size": LAYER}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": image.to_string(), "size": 2}
        }))
        .unwrap();
        let r = Digest::of(&referrer);
        listed.push(json!({"mediaType": OCI_MANIFEST, "digest": r.to_string(),
                           "size": referrer.len(),
                           "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}));
        served.insert(format!("/manifests/{r}"), (referrer, OCI_MANIFEST));
        served.insert(
            format!("/blobs/{digest}"),
            (layer, "application/octet-stream"),
        );
    }
    let listing = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": listed});
    let seen = verify_against_expecting(
        2,
        move |s| {
            if s.path.contains("/referrers/") {
                return Some(Answer::json(&listing, OCI_INDEX));
            }
            served
                .iter()
                .find(|(k, _)| s.path.ends_with(k.as_str()))
                .map(|(_, (b, t))| Answer::bytes(b.clone(), t))
        },
        &["read more than 256 MiB"],
    );
    let blob_reads = seen.iter().filter(|p| p.contains("/blobs/")).count();
    assert!(blob_reads < 12, "every layer was read: {blob_reads}");
}

/// A referrers listing of one descriptor padded with tiny annotations to 4 MiB: a few bytes
/// of JSON each, ten times that once parsed.
fn padded_listing() -> Vec<u8> {
    let mut pad = String::new();
    let mut i = 0u32;
    while pad.len() < (4 << 20) - 4096 {
        pad.push_str(&format!("\"{i:x}\":\"\","));
        i += 1;
    }
    pad.pop();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":2,"annotations":{{{pad}}}}}]}}"#,
        Digest::of(b"padding")
    )
    .into_bytes()
}

/// Eight platforms, each with a fallback referrers listing padded to 4 MiB with tiny
/// annotations: listings count against the read bound for what they hold once parsed (not
/// their 4 MiB of JSON each), only their digests are kept, and verify stops (exit 2) in
/// bounded memory. Before, 32 MiB of JSON counted as 32 MiB and was kept as about 330 MiB, and verify went on (exit 1).
#[test]
fn padded_referrers_listings_count_as_what_they_hold() {
    const PLATFORMS: usize = 8;
    let mut served: HashMap<String, (Vec<u8>, &'static str)> = HashMap::new();
    let mut entries = Vec::new();
    let listing = padded_listing();
    for i in 0..PLATFORMS {
        let m = serde_json::to_vec(&manifest_with_config(format!("{i}").as_bytes(), 1)).unwrap();
        let d = Digest::of(&m);
        entries.push(json!({"mediaType": OCI_MANIFEST, "digest": d.to_string(),
                            "size": m.len(), "platform": {"os": "linux", "architecture": format!("a{i}")}}));
        served.insert(format!("/manifests/{d}"), (m, OCI_MANIFEST));
        let tag = format!("/manifests/sha256-{}", d.hex());
        served.insert(tag, (listing.clone(), OCI_INDEX));
    }
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                           "manifests": entries}))
    .unwrap();
    served.insert("/manifests/v1".into(), (index, OCI_INDEX));
    let (addr, _) = serve(
        "127.0.0.1",
        Arc::new(move |s: &Seen| {
            match served.get(&s.path[s.path.find("/manifests/").unwrap_or(0)..]) {
                Some((b, t)) => Answer::bytes(b.clone(), t),
                None => Answer::status("404 Not Found"),
            }
        }),
    );
    let key = tempfile::tempdir().unwrap();
    let (_, public) = support::keygen(key.path(), "bounds");
    let cfg = no_config();
    let reference = format!("{addr}/app:v1");
    let (code, err, rss) = super::run(
        &["verify", &reference, "--key", &public.display().to_string()],
        cfg.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("read more than 256 MiB"), "{err}");
    assert!(rss < PADDED_RSS_BOUND_KIB, "peak RSS {} MiB", rss >> 10);
}

/// Peak RSS for [`padded_referrers_listings_count_as_what_they_hold`]: the listings in
/// flight (at most 8 of 4 MiB, parsed) and what was kept, far below the 8 × 40 MiB they
/// hold parsed.
const PADDED_RSS_BOUND_KIB: i64 = 384 << 10;

/// A registry that lists 256 referrers and answers every other request with a 404 whose
/// body is 1 MiB (the most an error answer may carry): error answers count too, as every
/// byte the client receives does (retried, refused and failed answers alike), so verify
/// stops at the read bound (exit 2). Before, none of them counted: a hands-on attack read
/// 32 GiB of 404 bodies over 128 parts, and verify ended with its verdict.
#[test]
fn error_answers_count_against_the_read_bound() {
    let listed: Vec<serde_json::Value> = (0..256)
        .map(|i| {
            json!({"mediaType": OCI_MANIFEST, "size": 100,
                   "digest": Digest::of(format!("missing {i}").as_bytes()).to_string()})
        })
        .collect();
    let listing = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": listed});
    let image = Digest::of(&serde_json::to_vec(&manifest_with_config(b"{}", 2)).unwrap());
    let seen = verify_against_expecting(
        2,
        move |s| {
            if s.path.contains("/referrers/") {
                return Some(Answer::json(&listing, OCI_INDEX));
            }
            let named = s.path.ends_with("/manifests/v1") || s.path.ends_with(&image.to_string());
            (!named).then(|| Answer {
                status: "404 Not Found",
                headers: vec![],
                body: super::Body::Stream {
                    fill: b' ',
                    len: 1 << 20,
                    announce: true,
                },
            })
        },
        &["read more than 256 MiB"],
    );
    assert!(seen.len() > 200, "{} requests", seen.len());
}

/// cosign's tags are asked only once verify has read the referrers and they left the image
/// unverified, and then both at once, by the read-ahead. The fallback tag's answer takes
/// 300 ms and lists one referrer, no attestation, whose manifest takes 300 ms more: a tag
/// asked before the referrer's manifest arrived would be seen while it waits. The `.att`
/// tag's answer takes 300 ms: a `.sig` tag asked only after it (by the verifier, not the
/// read-ahead) would be seen once it was answered.
#[test]
fn cosign_tags_are_asked_once_the_referrers_leave_the_image_unverified() {
    use std::sync::atomic::{AtomicU8, Ordering};
    // 0: nothing answered yet; 1: the listing answered; 2: the referrer's manifest
    // answered; 3: the `.att` tag answered.
    let phase = Arc::new(AtomicU8::new(0));
    let tags_seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    // A referrer that is no attestation (no layers): verify ignores it.
    let referrer = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": "application/example",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                   "digest": Digest::of(b"{}").to_string(), "size": 2},
        "layers": []
    }))
    .unwrap();
    let referrer_digest = Digest::of(&referrer);
    let listing = json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "artifactType": "application/example",
                       "digest": referrer_digest.to_string(), "size": referrer.len()}]
    });
    let (ph, t) = (phase.clone(), tags_seen.clone());
    verify_against(
        move |s| {
            let p = &s.path;
            let wait = || std::thread::sleep(std::time::Duration::from_millis(300));
            if p.ends_with(".att") || p.ends_with(".sig") {
                t.lock().unwrap().push(ph.load(Ordering::SeqCst));
                if p.ends_with(".att") {
                    wait();
                    ph.store(3, Ordering::SeqCst);
                }
            } else if p.contains("/manifests/sha256-") {
                wait();
                ph.store(1, Ordering::SeqCst);
                return Some(Answer::json(&listing, OCI_INDEX));
            } else if p.ends_with(&referrer_digest.to_string()) {
                wait();
                ph.store(2, Ordering::SeqCst);
                return Some(Answer::bytes(referrer.clone(), OCI_MANIFEST));
            }
            None
        },
        &[],
    );
    let tags = tags_seen.lock().unwrap();
    assert_eq!(
        tags.len(),
        2,
        "cosign's tags were not asked once each: {tags:?}"
    );
    assert!(
        tags.iter().all(|&phase| phase == 2),
        "a tag asked before the referrers were read, or one after the other: {tags:?}"
    );
}

/// For an index, the platform manifests it lists and the referrers listings of its parts are
/// asked together: the index names their digests. The platform manifest's answer takes
/// 300 ms here, and its listing (the API and the fallback tag) must be asked while it is on
/// its way; before 6b02a10 the listings waited for the manifests. Nothing else changes: the
/// verdict is the one of before (no attestation: exit 1).
#[test]
fn an_indexs_listings_are_asked_beside_its_platform_manifests() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let platform = serde_json::to_vec(&manifest_with_config(b"{}", 2)).unwrap();
    let digest = Digest::of(&platform);
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest.to_string(),
                       "size": platform.len(),
                       "platform": {"os": "linux", "architecture": "amd64"}}]});
    let answered = Arc::new(AtomicBool::new(false));
    // For each listing request of the platform manifest: whether its manifest had answered.
    let listings = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (done, seen) = (answered.clone(), listings.clone());
    let api = format!("/referrers/{digest}");
    let fallback = format!("/manifests/sha256-{}", digest.hex());
    let by_digest = format!("/manifests/{digest}");
    verify_against(
        move |s| {
            let p = &s.path;
            if p.ends_with("/manifests/v1") {
                return Some(Answer::json(&index, OCI_INDEX));
            }
            if p.ends_with(&by_digest) {
                std::thread::sleep(std::time::Duration::from_millis(300));
                done.store(true, Ordering::SeqCst);
                return Some(Answer::bytes(platform.clone(), OCI_MANIFEST));
            }
            if p.ends_with(&api) || p.ends_with(&fallback) {
                seen.lock().unwrap().push(done.load(Ordering::SeqCst));
            }
            None
        },
        &["no verified attestation"],
    );
    let listings = listings.lock().unwrap();
    assert!(
        listings.len() >= 2,
        "the platform manifest's listing was not asked: {listings:?}"
    );
    assert!(
        listings.iter().any(|&after| !after),
        "the platform manifest's listing waited for its manifest: {listings:?}"
    );
}

/// A registry that answers every request after a second, with a 500 (retried): per request
/// that is six attempts and their backoff, so without an overall deadline the first
/// request alone keeps verify for 8 s or more. `--timeout 2s` ends it about then, with an
/// error naming the flag; a duration it cannot read is refused before anything is sent.
#[test]
fn a_registry_answering_slowly_is_given_up_on_at_the_timeout() {
    let (addr, seen) = serve(
        "127.0.0.1",
        Arc::new(|_: &Seen| {
            std::thread::sleep(std::time::Duration::from_secs(1));
            Answer::status("500 Internal Server Error")
        }),
    );
    let cfg = no_config();
    let key = tempfile::tempdir().unwrap();
    let (_, public) = support::keygen(key.path(), "slow");
    let verify = |timeout: &str| {
        let started = std::time::Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_cargo-provenance"))
            .args(["provenance", "verify", &format!("{addr}/app:v1"), "--key"])
            .arg(&public)
            .args(["--timeout", timeout])
            .env("DOCKER_CONFIG", cfg.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), err, started.elapsed())
    };
    let (code, err, took) = verify("2s");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`--timeout`"), "{err}");
    assert!(took < std::time::Duration::from_secs(5), "{took:?}: {err}");
    let asked = seen.lock().unwrap().len();
    assert!(asked <= 3, "{asked} requests in 2 s");
    let (code, err, _) = verify("soon");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("is not a duration"), "{err}");
    assert_eq!(seen.lock().unwrap().len(), asked, "nothing sent");
}

/// A registry that asks for a token from a realm that never answers: the token's fetch is
/// bounded by `--timeout` too.
#[test]
fn a_token_service_that_never_answers_is_given_up_on_at_the_timeout() {
    let (addr, _) = serve(
        "127.0.0.1",
        Arc::new(|s: &Seen| {
            assert!(s.path.starts_with("/token"), "{}", s.path);
            std::thread::sleep(std::time::Duration::from_secs(30));
            Answer::status("500 Internal Server Error")
        }),
    );
    let challenge = format!(r#"Bearer realm="http://{addr}/token",service="s""#);
    let (registry, _) = serve(
        "127.0.0.1",
        Arc::new(move |_: &Seen| Answer {
            headers: vec![("WWW-Authenticate".into(), challenge.clone())],
            ..Answer::status("401 Unauthorized")
        }),
    );
    let cfg = no_config();
    let key = tempfile::tempdir().unwrap();
    let (_, public) = support::keygen(key.path(), "token");
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-provenance"))
        .args([
            "provenance",
            "verify",
            &format!("{registry}/app:v1"),
            "--key",
        ])
        .arg(&public)
        .args(["--timeout", "2s"])
        .env("DOCKER_CONFIG", cfg.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("`--timeout`"), "{err}");
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(6), "{took:?}: {err}");
}
