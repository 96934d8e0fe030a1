//! Bounded reads against a registry that misbehaves on purpose (src/oci/limits.rs).
//!
//! A small HTTP server here answers as a hostile registry would: an oversized manifest, a
//! blob longer than its descriptor, a blob with another digest, deeply nested JSON, an
//! endless chain of referrers pages, a redirect to another host, a gzip bomb (and, in
//! [`verify_bounds`], evidence past verify's counts and bytes). Each run of our
//! binary must end with a clear error (or, for the gzip bomb, a plain copy) in bounded memory
//! and time: its peak RSS is printed and must stay far below what the attack sends; a run
//! that takes over a minute is killed and fails.

use crate::support;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cargo_provenance::util::digest::Digest;
use serde_json::json;

/// What the attack sends: 256 MiB.
const HUGE: u64 = 256 << 20;
/// Peak RSS a run may reach while refusing it.
const RSS_BOUND_KIB: i64 = 96 << 10;

/// A response body: bytes, or `len` bytes of `fill` streamed in chunks.
enum Body {
    Bytes(Vec<u8>),
    Stream { fill: u8, len: u64, announce: bool },
}

struct Answer {
    status: &'static str,
    headers: Vec<(String, String)>,
    body: Body,
}

impl Answer {
    fn json(v: &serde_json::Value, media_type: &str) -> Answer {
        Answer::bytes(serde_json::to_vec(v).unwrap(), media_type)
    }

    fn bytes(b: Vec<u8>, media_type: &str) -> Answer {
        Answer {
            status: "200 OK",
            headers: vec![("Content-Type".into(), media_type.into())],
            body: Body::Bytes(b),
        }
    }

    fn status(status: &'static str) -> Answer {
        Answer {
            status,
            headers: vec![],
            body: Body::Bytes(b"{}".to_vec()),
        }
    }
}

/// One request as the server saw it: method, path and headers (lowercase names).
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: BTreeMap<String, String>,
}

type Handler = dyn Fn(&Seen) -> Answer + Send + Sync;

/// Serves `handler` on `ip` (a loopback address); returns `ip:port` and what it saw.
fn serve(ip: &str, handler: Arc<Handler>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let l = TcpListener::bind(format!("{ip}:0")).unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let (handler, log) = (handler.clone(), log.clone());
            std::thread::spawn(move || answer(conn, &*handler, &log));
        }
    });
    (addr, seen)
}

fn answer(mut conn: TcpStream, handler: &Handler, log: &Mutex<Vec<Seen>>) {
    let Ok(Some(req)) = support::read_http_request(&mut conn) else {
        return;
    };
    let text = String::from_utf8_lossy(&req).into_owned();
    let mut lines = text.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("")
        .to_owned();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let seen = Seen { path, headers };
    log.lock().unwrap().push(seen.clone());
    let a = handler(&seen);
    let mut head = format!("HTTP/1.1 {}\r\nConnection: close\r\n", a.status);
    for (k, v) in &a.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match a.body {
        Body::Bytes(b) => {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", b.len()));
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&b);
        }
        Body::Stream {
            fill,
            len,
            announce,
        } => {
            if announce {
                head.push_str(&format!("Content-Length: {len}\r\n\r\n"));
            } else {
                head.push_str("\r\n"); // no length: the body ends when the connection closes
            }
            if conn.write_all(head.as_bytes()).is_err() {
                return;
            }
            let chunk = vec![fill; 1 << 16];
            let mut sent = 0;
            while sent < len {
                let n = chunk.len().min((len - sent) as usize);
                if conn.write_all(&chunk[..n]).is_err() {
                    return; // the client stopped reading: what we want
                }
                sent += n as u64;
            }
        }
    }
}

/// Runs `cargo-provenance ARGS` with a docker config in `cfg`; returns (exit code, stderr,
/// peak RSS in KiB), killing it after a minute.
fn run(args: &[&str], cfg: &Path) -> (i32, String, i64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cargo-provenance"))
        .arg("provenance")
        .args(args)
        .env("DOCKER_CONFIG", cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let start = Instant::now();
    // The child's own peak (VmHWM), polled while it runs: wait4's ru_maxrss would count the
    // test process too (a vforked child inherits its high-water mark until exec).
    let mut peak = 0i64;
    let status = loop {
        peak = peak.max(vm_hwm_kib(pid).unwrap_or(0));
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("`{}` still running after 60 s", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let code = status.code().unwrap_or(-1);
    let err = reader.join().unwrap();
    eprintln!(
        "`{}`: exit {code}, peak RSS {} MiB, {:.2} s",
        args.join(" "),
        peak >> 10,
        start.elapsed().as_secs_f64()
    );
    (code, err, peak)
}

/// `VmHWM` of a running process, in KiB.
fn vm_hwm_kib(pid: u32) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn no_config() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("config.json"), "{}").unwrap();
    d
}

/// Asserts exit 2, an error containing `needle`, and a bounded peak RSS.
fn refused(outcome: (i32, String, i64), needle: &str) {
    let (code, err, rss) = outcome;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(needle), "expected `{needle}` in:\n{err}");
    assert!(
        rss < RSS_BOUND_KIB,
        "peak RSS {} MiB while refusing: the bound did not hold",
        rss >> 10
    );
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// True for the manifest paths of the one image the test registries serve (its tag `v1` or
/// a digest); fallback referrers tags (`sha256-...`) are not there.
fn is_image(path: &str) -> bool {
    path.ends_with("/manifests/v1") || path.contains("/manifests/sha256:")
}

/// An image manifest whose config descriptor says `size` bytes of `content`.
fn manifest_with_config(content: &[u8], size: u64) -> serde_json::Value {
    json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": Digest::of(content).to_string(), "size": size},
        "layers": []
    })
}

#[test]
fn an_oversized_manifest_is_refused_at_4_mib() {
    for announce in [true, false] {
        let (addr, _) = serve(
            "127.0.0.1",
            Arc::new(move |_: &Seen| Answer {
                status: "200 OK",
                headers: vec![("Content-Type".into(), OCI_INDEX.into())],
                body: Body::Stream {
                    fill: b' ',
                    len: HUGE,
                    announce,
                },
            }),
        );
        let cfg = no_config();
        refused(
            run(&["discover", &format!("{addr}/app:v1")], cfg.path()),
            "past the 4 MiB allowed",
        );
    }
}

/// A registry serving `manifest` for every manifest request and `blob` for every blob.
fn registry_with(
    manifest: serde_json::Value,
    blob: Arc<dyn Fn() -> Answer + Send + Sync>,
) -> String {
    let (addr, _) = serve(
        "127.0.0.1",
        Arc::new(move |s: &Seen| {
            if is_image(&s.path) {
                Answer::json(&manifest, OCI_MANIFEST)
            } else if s.path.contains("/blobs/") {
                blob()
            } else {
                Answer::status("404 Not Found")
            }
        }),
    );
    addr
}

#[test]
fn a_blob_longer_than_its_descriptor_is_refused_at_its_size() {
    let content = b"{\"a\":\"b\"}\n";
    for announce in [true, false] {
        let addr = registry_with(
            manifest_with_config(content, content.len() as u64),
            Arc::new(move || Answer {
                status: "200 OK",
                headers: vec![],
                body: Body::Stream {
                    fill: b'x',
                    len: HUGE,
                    announce,
                },
            }),
        );
        let out = tempfile::tempdir().unwrap();
        let dest = format!("oci:{}", out.path().join("oci").display());
        let cfg = no_config();
        refused(
            run(&["push", &format!("{addr}/app:v1"), &dest], cfg.path()),
            "past the 10 bytes allowed",
        );
    }
}

#[test]
fn a_blob_with_another_digest_is_refused() {
    let content = b"{\"a\":\"b\"}\n";
    let addr = registry_with(
        manifest_with_config(content, content.len() as u64),
        Arc::new(|| Answer::bytes(b"{\"a\":\"c\"}\n".to_vec(), "application/octet-stream")),
    );
    let out = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}", out.path().join("oci").display());
    let cfg = no_config();
    refused(
        run(&["push", &format!("{addr}/app:v1"), &dest], cfg.path()),
        "sent content with digest",
    );
}

#[test]
fn deeply_nested_json_is_an_error_not_a_crash() {
    let depth = 1_000_000; // 2 MB: under the manifest bound
    let mut doc = "[".repeat(depth);
    doc.push_str(&"]".repeat(depth));
    let (addr, _) = serve(
        "127.0.0.1",
        Arc::new(move |_: &Seen| Answer::bytes(doc.clone().into_bytes(), OCI_INDEX)),
    );
    let cfg = no_config();
    let key = tempfile::tempdir().unwrap();
    let (_, public) = support::keygen(key.path(), "nested");
    let (code, err, _) = run(
        &[
            "verify",
            &format!("{addr}/app:v1"),
            "--key",
            public.to_str().unwrap(),
        ],
        cfg.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("recursion limit"), "{err}");
    let (code, err, _) = run(
        &["push", &format!("{addr}/app:v1"), "oci:/nonexistent/x"],
        cfg.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not valid"), "{err}");
}

#[test]
fn an_endless_referrers_page_chain_is_refused() {
    let manifest = manifest_with_config(b"{}", 2);
    let (addr, seen) = serve(
        "127.0.0.1",
        Arc::new(move |s: &Seen| {
            if s.path.contains("/referrers/") {
                let n: u64 = s
                    .path
                    .rsplit("page=")
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let mut a = Answer::json(
                    &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
                    OCI_INDEX,
                );
                let next = format!(
                    "<{}?page={}>; rel=\"next\"",
                    s.path.split('?').next().unwrap(),
                    n + 1
                );
                a.headers.push(("Link".into(), next));
                a
            } else if is_image(&s.path) {
                Answer::json(&manifest, OCI_MANIFEST)
            } else {
                Answer::status("404 Not Found")
            }
        }),
    );
    let cfg = no_config();
    refused(
        run(&["discover", &format!("{addr}/app:v1")], cfg.path()),
        "more than 32 pages of referrers",
    );
    let pages = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.path.contains("/referrers/"))
        .count();
    assert_eq!(pages, 32);
}

#[test]
fn a_redirect_to_another_host_gets_no_credentials() {
    let content = b"{\"a\":\"b\"}\n".to_vec();
    // The other host: 127.0.0.2 (another loopback address, so another host for HTTP).
    let served = content.clone();
    let (other, other_seen) = serve(
        "127.0.0.2",
        Arc::new(move |_: &Seen| Answer::bytes(served.clone(), "application/octet-stream")),
    );
    let manifest = manifest_with_config(&content, content.len() as u64);
    let (addr, seen) = serve(
        "127.0.0.1",
        Arc::new(move |s: &Seen| {
            if !s.headers.contains_key("authorization") {
                let mut a = Answer::status("401 Unauthorized");
                a.headers
                    .push(("WWW-Authenticate".into(), "Basic realm=\"test\"".into()));
                a
            } else if is_image(&s.path) {
                Answer::json(&manifest, OCI_MANIFEST)
            } else if s.path.contains("/blobs/") {
                let mut a = Answer::status("307 Temporary Redirect");
                a.headers
                    .push(("Location".into(), format!("http://{other}/storage/blob")));
                a
            } else {
                Answer::status("404 Not Found")
            }
        }),
    );
    let cfg = tempfile::tempdir().unwrap();
    let auth = base64_encode(b"user:s3cret-password");
    std::fs::write(
        cfg.path().join("config.json"),
        json!({"auths": {addr.clone(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}", out.path().join("oci").display());
    let (code, err, _) = run(&["push", &format!("{addr}/app:v1"), &dest], cfg.path());
    assert_eq!(code, 0, "{err}");
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|s| s.headers.contains_key("authorization")),
        "the registry itself got the credentials"
    );
    let at_other = other_seen.lock().unwrap().clone();
    assert!(!at_other.is_empty(), "the redirect was not followed");
    for s in &at_other {
        assert!(
            !s.headers.contains_key("authorization"),
            "credentials forwarded to another host: {s:?}"
        );
    }
}

#[test]
fn a_gzip_bomb_layer_is_copied_not_inflated() {
    use flate2::{Compression, write::GzEncoder};
    // 512 MiB of zeros compress to about 0.5 MiB.
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..512 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": Digest::of(&config).to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": Digest::of(&bomb).to_string(), "size": bomb.len()}]
    });
    let (config_d, bomb_d) = (
        Digest::of(&config).to_string(),
        Digest::of(&bomb).to_string(),
    );
    let (addr, _) = serve(
        "127.0.0.1",
        Arc::new(move |s: &Seen| {
            if is_image(&s.path) {
                Answer::json(&manifest, OCI_MANIFEST)
            } else if s.path.ends_with(&config_d) {
                Answer::bytes(config.clone(), "application/octet-stream")
            } else if s.path.ends_with(&bomb_d) {
                Answer::bytes(bomb.clone(), "application/octet-stream")
            } else {
                Answer::status("404 Not Found")
            }
        }),
    );
    let out = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}", out.path().join("oci").display());
    let cfg = no_config();
    let (code, err, rss) = run(&["push", &format!("{addr}/app:v1"), &dest], cfg.path());
    assert_eq!(code, 0, "{err}");
    assert!(rss < RSS_BOUND_KIB, "peak RSS {} MiB", rss >> 10);
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A referrer whose bundle layer claims 2^50 bytes (with a matching `Content-Length`): verify
/// sets it aside without fetching or reserving anything, and the run stays small.
#[test]
fn an_attestation_layer_claiming_a_huge_size_is_not_read() {
    let manifest = manifest_with_config(b"{}", 2);
    let subject = Digest::of(&serde_json::to_vec(&manifest).unwrap());
    let huge: u64 = 1 << 50;
    let referrer = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                   "digest": Digest::of(b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                    "digest": Digest::of(b"huge").to_string(), "size": huge}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject.to_string(), "size": 1}
    });
    let referrer_bytes = serde_json::to_vec(&referrer).unwrap();
    let referrer_digest = Digest::of(&referrer_bytes);
    let listing = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": referrer_digest.to_string(),
         "size": referrer_bytes.len(),
         "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}]});
    let (addr, seen) = serve(
        "127.0.0.1",
        Arc::new(move |s: &Seen| {
            if s.path.contains("/referrers/") {
                Answer::json(&listing, OCI_INDEX)
            } else if s.path.ends_with(&referrer_digest.to_string()) {
                Answer::bytes(referrer_bytes.clone(), OCI_MANIFEST)
            } else if is_image(&s.path) {
                Answer::json(&manifest, OCI_MANIFEST)
            } else if s.path.contains("/blobs/") {
                Answer {
                    status: "200 OK",
                    headers: vec![],
                    body: Body::Stream {
                        fill: 0,
                        len: huge,
                        announce: true,
                    },
                }
            } else {
                Answer::status("404 Not Found")
            }
        }),
    );
    let cfg = no_config();
    let key = tempfile::tempdir().unwrap();
    let (_, public) = support::keygen(key.path(), "huge");
    let (code, err, rss) = run(
        &[
            "verify",
            &format!("{addr}/app:v1"),
            "--key",
            public.to_str().unwrap(),
        ],
        cfg.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(rss < RSS_BOUND_KIB, "peak RSS {} MiB", rss >> 10);
    let blob_reads = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.path.contains("/blobs/"))
        .count();
    assert_eq!(blob_reads, 0, "the huge layer was fetched");
}

mod verify_bounds;
