//! Helpers for the referrers/push/discover tests: tiny OCI images in a layout, signed
//! bundles from the project's signer (cosign verifies them with `--key`), and a chaos
//! proxy that injects 500s, 429s and dropped connections in front of a registry.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cargo_provenance::formats::oci::{
    Descriptor, ImageConfig, ImageIndex, ImageManifest, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX,
    MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_MANIFEST, Platform, RootFs, RuntimeConfig,
};
use cargo_provenance::oci::layout::Layout;
use cargo_provenance::oci::store::Store;
use cargo_provenance::publish::{self, BundleInfo, Role};
use cargo_provenance::util::digest::Digest;

/// A small multi-platform image in `layout`, tagged `tag`: per platform a config, one layer
/// and a manifest; then an index. Returns the index descriptor and the platform manifests.
pub fn make_image(
    layout: &Layout,
    tag: &str,
    platforms: &[&str],
    seed: &str,
) -> (Descriptor, Vec<Descriptor>) {
    let mut manifests = Vec::new();
    for p in platforms {
        let parts: Vec<&str> = p.split('/').collect();
        let layer = format!("layer for {p} {seed}").into_bytes();
        let layer_d = Descriptor::of(MEDIA_TYPE_LAYER_GZIP, &layer);
        layout.put_blob(&layer).unwrap();
        let config = ImageConfig {
            created: Some("2024-01-02T03:04:05Z".into()),
            architecture: parts[1].into(),
            os: parts[0].into(),
            variant: parts.get(2).map(|s| s.to_string()),
            config: RuntimeConfig {
                entrypoint: Some(vec!["/hello".into()]),
                ..Default::default()
            },
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: vec![Digest::of(&layer)],
            },
            history: vec![],
        };
        let config_bytes = serde_json::to_vec(&config).unwrap();
        layout.put_blob(&config_bytes).unwrap();
        let m = ImageManifest {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_MANIFEST.into()),
            artifact_type: None,
            config: Descriptor::of(MEDIA_TYPE_CONFIG, &config_bytes),
            layers: vec![layer_d],
            subject: None,
            annotations: Default::default(),
        };
        let mb = serde_json::to_vec(&m).unwrap();
        layout.put_blob(&mb).unwrap();
        let mut d = Descriptor::of(MEDIA_TYPE_MANIFEST, &mb);
        d.platform = Some(Platform {
            architecture: parts[1].into(),
            os: parts[0].into(),
            os_version: None,
            variant: parts.get(2).map(|s| s.to_string()),
        });
        manifests.push(d);
    }
    let mut index = ImageIndex::new();
    index.manifests = manifests.clone();
    let ib = serde_json::to_vec(&index).unwrap();
    layout.put_blob(&ib).unwrap();
    let idx = Descriptor::of(MEDIA_TYPE_INDEX, &ib);
    layout.tag(tag, &idx).unwrap();
    (idx, manifests)
}

/// A signed image in a layout: index + 2 platform manifests, provenance and SBOM attached to
/// all three.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub layout: Layout,
    pub index: Descriptor,
    pub platforms: Vec<Descriptor>,
    pub signer: Signer,
    /// (a referrer of the index, a referrer of that referrer).
    pub nested: (Digest, Digest),
}

pub fn fixture(seed: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(&dir.path().join("src")).unwrap();
    let (index, platforms) = make_image(&layout, "v1", &["linux/amd64", "linux/amd64/v3"], seed);
    let signer = Signer::new();
    let store = Store::Layout(layout.clone());
    let subjects = publish::image_subjects(&store, &index, "app").unwrap();
    let names: Vec<(String, Digest)> = subjects
        .iter()
        .map(|s| (s.name.clone(), s.descriptor.digest))
        .collect();
    for (pt, pred) in [
        (
            "https://slsa.dev/provenance/v1",
            serde_json::json!({"buildDefinition": {"buildType": "https://example.com/t", "externalParameters": {"seed": seed}}, "runDetails": {"builder": {"id": "https://example.com/b"}}}),
        ),
        (
            "https://cyclonedx.org/bom",
            serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.5"}),
        ),
    ] {
        let b = signer.bundle(&names, pt, pred);
        let info = BundleInfo {
            bundle_json: &b,
            predicate_type: pt,
            role: Role::ImageAttestation,
            created: "2024-01-02T03:04:05Z",
        };
        publish::attach_to_image(&store, &index, "app", &info).unwrap();
    }
    // A referrer of a referrer: a statement about the index's first referrer.
    let first = store.referrers(&index.digest).unwrap()[0].clone();
    let review = "https://example.com/review/v1";
    let b = signer.bundle(
        &[("referrer".into(), first.digest)],
        review,
        serde_json::json!({"ok": true}),
    );
    let info = BundleInfo {
        bundle_json: &b,
        predicate_type: review,
        role: Role::Vex,
        created: "2024-01-02T03:04:05Z",
    };
    let nested = publish::attach_bundle(&store, &first.bare(), "referrer", &info).unwrap();
    Fixture {
        dir,
        layout,
        index,
        platforms,
        signer,
        nested: (first.digest, nested.digest),
    }
}

impl Fixture {
    pub fn src(&self) -> String {
        format!("oci:{}:v1", self.layout.root().display())
    }
    pub fn push(&self, dest: &str) {
        crate::support::cargo_provenance()
            .args(["push", &self.src(), dest])
            .assert()
            .success();
    }
}

/// Signs statements with the project's own signer (`sign::KeySigner`, a fresh P-256 key):
/// Sigstore bundles v0.3 that cosign verifies with `--key`.
pub struct Signer {
    signer: cargo_provenance::sign::KeySigner,
}

impl Signer {
    pub fn new() -> Signer {
        Signer {
            signer: cargo_provenance::sign::KeySigner::new(
                cargo_provenance::keys::PrivateKey::generate(),
            ),
        }
    }

    /// Writes the public key as PEM (cosign.pub) into `dir`, returns its path.
    pub fn write_pub(&self, dir: &Path) -> std::path::PathBuf {
        let p = dir.join("cosign.pub");
        std::fs::write(&p, self.signer.public_key().to_pem()).unwrap();
        p
    }

    /// A Sigstore bundle v0.3 holding a DSSE envelope of an in-toto Statement v1 about
    /// `subjects`.
    pub fn bundle(
        &self,
        subjects: &[(String, Digest)],
        predicate_type: &str,
        predicate: serde_json::Value,
    ) -> Vec<u8> {
        use cargo_provenance::formats::intoto::{ResourceDescriptor, Statement};
        let subject = subjects
            .iter()
            .map(|(n, d)| ResourceDescriptor::named_sha256(n.clone(), d))
            .collect();
        let payload = Statement::new(subject, predicate_type, predicate)
            .to_payload()
            .unwrap();
        cargo_provenance::sign::sign_statement(&payload, &self.signer)
            .unwrap()
            .bytes
    }
}

/// A TCP proxy in front of `upstream` (HTTP/1.1, one request per connection) that fails
/// requests on a fixed schedule: 500, 429, connection dropped before forwarding, and
/// connection dropped after forwarding (the request took effect, the answer is lost). Only
/// the first `max_faults` scheduled faults fire.
pub struct ChaosProxy {
    pub addr: String,
    pub requests: Arc<AtomicU64>,
    pub faults: Arc<AtomicU64>,
    /// The request line of every request (`GET /v2/... HTTP/1.1`), in order of arrival.
    pub seen: Arc<std::sync::Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    E500,
    E429,
    DropBefore,
    DropAfter,
}

fn schedule(n: u64) -> Fault {
    match n % 10 {
        2 => Fault::E500,
        5 => Fault::E429,
        7 if n % 20 == 7 => Fault::DropBefore,
        9 if n % 30 == 9 => Fault::DropAfter,
        _ => Fault::None,
    }
}

impl ChaosProxy {
    pub fn start(upstream: &str, max_faults: u64) -> ChaosProxy {
        Self::start_slow(upstream, max_faults, std::time::Duration::ZERO)
    }

    /// Like [`ChaosProxy::start`], holding every request for `delay` first (so a client can
    /// be stopped in the middle of its work).
    pub fn start_slow(upstream: &str, max_faults: u64, delay: std::time::Duration) -> ChaosProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(AtomicU64::new(0));
        let faults = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (r, f, s, up, log) = (
            requests.clone(),
            faults.clone(),
            stop.clone(),
            upstream.to_owned(),
            seen.clone(),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (r, f, up, log) = (r.clone(), f.clone(), up.clone(), log.clone());
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    let _ = handle(conn, &up, &r, &f, max_faults, &log);
                });
            }
        });
        ChaosProxy {
            addr,
            requests,
            faults,
            seen,
            stop,
        }
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn handle(
    mut conn: TcpStream,
    upstream: &str,
    reqs: &AtomicU64,
    faults: &AtomicU64,
    max: u64,
    log: &std::sync::Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let Some(req) = crate::support::read_http_request(&mut conn)? else {
        return Ok(());
    };
    let line = req.split(|&b| b == b'\r').next().unwrap_or_default();
    log.lock()
        .unwrap()
        .push(String::from_utf8_lossy(line).into_owned());
    let n = reqs.fetch_add(1, Ordering::SeqCst) + 1;
    let mut fault = schedule(n);
    if fault != Fault::None
        && faults
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| {
                (f < max).then_some(f + 1)
            })
            .is_err()
    {
        fault = Fault::None;
    }
    match fault {
        Fault::E500 => {
            conn.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: close\r\n\r\nchaos")?;
            return Ok(());
        }
        Fault::E429 => {
            conn.write_all(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 5\r\nConnection: close\r\n\r\nchaos")?;
            return Ok(());
        }
        Fault::DropBefore => {
            let _ = conn.shutdown(std::net::Shutdown::Both);
            return Ok(());
        }
        _ => {}
    }
    // Force one request per upstream connection and read the answer to EOF.
    let head_end = find(&req, b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&req[..head_end]).to_string();
    let mut new_head = String::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        if line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        new_head.push_str(line);
        new_head.push_str("\r\n");
    }
    new_head.push_str("Connection: close\r\n\r\n");
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(new_head.as_bytes())?;
    up.write_all(&req[head_end..])?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp)?;
    if fault == Fault::DropAfter {
        let _ = conn.shutdown(std::net::Shutdown::Both);
        return Ok(());
    }
    // Tell the client this connection ends here.
    if let Some(i) = find(&resp, b"\r\n") {
        let mut out = resp[..i + 2].to_vec();
        out.extend_from_slice(b"Connection: close\r\n");
        let rest = &resp[i + 2..];
        // Drop an upstream Connection header if any (keep the rest as is).
        let rest_str = String::from_utf8_lossy(rest);
        if let Some(he) = find(rest, b"\r\n\r\n") {
            let headers: Vec<&str> = rest_str[..he]
                .split("\r\n")
                .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                .collect();
            out.extend_from_slice(headers.join("\r\n").as_bytes());
            out.extend_from_slice(&rest[he..]);
        } else {
            out.extend_from_slice(rest);
        }
        conn.write_all(&out)?;
    }
    Ok(())
}

/// Every file of a layout (blobs, index.json, oci-layout) by relative path, without the
/// lock file.
pub fn layout_files(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let name = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else if !name.starts_with('.') {
                out.insert(name, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}
