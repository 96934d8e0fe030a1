//! The canary over every output of `build` and `vex`: a real signed build of
//! examples/hello-service (native builder) pushed to the peers' registry, then `vex` attached
//! to it, each run at `-vv` with human and with JSON logs, with canaries planted in the git
//! remote, the environment (CI tokens, the key password, a registry password) and the docker
//! config's registry auth. Every file in the output directories (OCI layout blobs decompressed),
//! everything the registry holds for the repository (every tag, manifest and blob), and every
//! stdout and stderr are scanned; base64 strings inside JSON are decoded and scanned too
//! (DSSE payloads, bundle certificates).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::support::{self, Peers};

/// The registry auth planted in the docker config (`user:password`, base64 in `auth`).
const AUTH_USER: &str = "canaryuser";
const AUTH_PASSWORD: &str = "CANARYAUTH6";
const KEY_PASSWORD: &str = "CANARYKEYPW5";

/// Every canary, and what it stands for.
const CANARIES: &[&str] = &[
    "CANARYTOKEN1",
    "CANARYPASS2",
    "CANARYJOB3",
    "CANARYREMOTE4",
    KEY_PASSWORD,
    AUTH_PASSWORD,
    "CANARYIDTOKEN7",
];

/// A crate the image ships (examples/hello-service/Cargo.lock), the VEX statement's product.
const SERDE_JSON: &str = "pkg:cargo/serde_json@1.0.154";

/// The environment of a CI job, with secrets in it (no CI platform switched on, so that the
/// fixture's remote is the source URL).
fn planted_env(docker_config: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_TOKEN", "ghs_CANARYTOKEN1".into()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "CANARYIDTOKEN7".into()),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "http://127.0.0.1:9/token?t=CANARYIDTOKEN7".into(),
        ),
        ("REGISTRY_PASSWORD", "CANARYPASS2".into()),
        ("CI_JOB_TOKEN", "CANARYJOB3".into()),
        ("COSIGN_PASSWORD", KEY_PASSWORD.into()),
        ("DOCKER_CONFIG", docker_config.display().to_string()),
    ]
}

/// A docker config with Basic auth for the push target.
fn docker_config(dir: &Path, registry: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let auth = STANDARD.encode(format!("{AUTH_USER}:{AUTH_PASSWORD}"));
    let config = serde_json::json!({ "auths": { registry: { "auth": auth } } });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    dir.to_path_buf()
}

#[test]
#[ignore = "needs peers (registry on 127.0.0.1:5000): scripts/test.sh"]
fn no_secret_reaches_any_output_of_build_and_vex() {
    let peers = Peers::get();
    let (tmp, repo) = support::example_repo("hello-service");
    support::git(
        &repo,
        &[
            "remote",
            "set-url",
            "origin",
            "https://x-access-token:CANARYREMOTE4@github.com/example/hello-service.git",
        ],
    );
    let (key, _) = support::keygen(&tmp.path().join("keys"), KEY_PASSWORD);
    let env = planted_env(&docker_config(&tmp.path().join("docker"), &peers.registry));
    let image = format!("{}:v1", peers.unique_repo("canary"));
    let mut logs = Vec::new();
    let mut outs = Vec::new();
    for format in ["json", "human"] {
        let out = tmp.path().join(format!("out-{format}"));
        let o = run_build(&repo, &env, &key, &image, &out, format);
        logs.push((format!("build --message-format {format}"), o));
        outs.push(out);
    }
    for format in ["json", "human"] {
        let vex_out = tmp.path().join(format!("vex-{format}.sigstore.json"));
        let mut c = support::cargo_provenance();
        c.envs(env.iter().map(|(k, v)| (k, v.as_str())))
            .args(["vex", &image, "-vv", "--message-format", format])
            .args([
                "--vulnerability",
                "RUSTSEC-2020-0071",
                "--status",
                "not_affected",
            ])
            .args(["--justification", "vulnerable_code_not_in_execute_path"])
            .args(["--impact-statement", "never called"])
            .args(["--product", SERDE_JSON, "--key"])
            .arg(&key)
            .arg("--output")
            .arg(&vex_out);
        let o = c.output().unwrap();
        assert!(
            o.status.success(),
            "vex: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        logs.push((format!("vex --message-format {format}"), o));
        outs.push(vex_out);
    }

    let mut scanned = Scan::default();
    for (what, o) in &logs {
        assert!(
            !o.stdout.is_empty() || !o.stderr.is_empty(),
            "{what} logged nothing at -vv"
        );
        scanned.bytes(&format!("{what}: stdout"), &o.stdout);
        scanned.bytes(&format!("{what}: stderr"), &o.stderr);
    }
    for out in &outs {
        scanned.dir(out);
    }
    let pulled = registry_contents(&peers.registry, &image);
    assert!(
        pulled.iter().any(|(name, _)| name.contains("sha256-")),
        "the registry holds the referrers' fallback tag: {:?}",
        pulled.iter().map(|p| &p.0).collect::<Vec<_>>()
    );
    for (name, bytes) in &pulled {
        scanned.bytes(name, bytes);
    }
    scanned.assert_clean();
    // What was scanned is what the build and vex write: the summary, the SBOM, the provenance,
    // bundles (their DSSE payloads decoded), the layout's blobs (layers decompressed) and the
    // registry's manifests, referrers and configs (with their labels and annotations).
    for needle in [
        "summary.json",
        ".intoto.json",
        "sbom",
        "blobs/sha256/",
        "decompressed",
        "base64",
        "registry:",
    ] {
        assert!(
            scanned.names.iter().any(|n| n.contains(needle)),
            "nothing like {needle:?} was scanned: {:?}",
            scanned.names
        );
    }
    let fetched = scanned
        .names
        .iter()
        .filter(|n| n.starts_with("registry:"))
        .count();
    assert!(
        fetched >= 6,
        "the registry's manifests and blobs were scanned ({fetched})"
    );
}

/// `build --key --push -vv` of the fixture repository with the planted environment.
fn run_build(
    repo: &Path,
    env: &[(&str, String)],
    key: &Path,
    image: &str,
    out: &Path,
    format: &str,
) -> Output {
    let o = support::example_build()
        .current_dir(repo)
        .envs(env.iter().map(|(k, v)| (k, v.as_str())))
        .args(["--builder", "native", "--offline", "--push", "-vv"])
        .args(["--message-format", format, "--image", image, "--key"])
        .arg(key)
        .arg("--output-dir")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "build failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Every tag of the image's repository, and every manifest and blob they reach, fetched with
/// curl from the registry's HTTP API: (name, bytes).
fn registry_contents(registry: &str, image: &str) -> Vec<(String, Vec<u8>)> {
    let repo = image
        .strip_prefix(&format!("{registry}/"))
        .and_then(|r| r.rsplit_once(':'))
        .map(|(r, _)| r.to_owned())
        .expect("REGISTRY/REPO:TAG");
    let base = format!("http://{registry}/v2/{repo}");
    let tags: Value = serde_json::from_slice(&curl(&format!("{base}/tags/list"))).unwrap();
    let mut todo: Vec<String> = tags["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    while let Some(reference) = todo.pop() {
        if !seen.insert(reference.clone()) {
            continue;
        }
        let manifest = curl(&format!("{base}/manifests/{reference}"));
        let doc: Value = serde_json::from_slice(&manifest).unwrap();
        out.push((format!("registry: manifest {reference}"), manifest));
        for m in doc["manifests"].as_array().into_iter().flatten() {
            todo.push(m["digest"].as_str().unwrap().to_owned());
        }
        let blobs = doc["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(doc.get("config"));
        for b in blobs {
            let digest = b["digest"].as_str().unwrap();
            if seen.insert(digest.to_owned()) {
                out.push((
                    format!("registry: blob {digest}"),
                    curl(&format!("{base}/blobs/{digest}")),
                ));
            }
        }
    }
    out
}

fn curl(url: &str) -> Vec<u8> {
    let accept = "Accept: application/vnd.oci.image.index.v1+json, \
                  application/vnd.oci.image.manifest.v1+json, \
                  application/vnd.docker.distribution.manifest.v2+json, \
                  application/vnd.docker.distribution.manifest.list.v2+json";
    let o = Command::new("curl")
        .args(["-fsSL", "-H", accept, url])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// What was scanned (names) and what leaked (name, canary).
#[derive(Default)]
struct Scan {
    names: Vec<String>,
    leaks: Vec<(String, String)>,
}

impl Scan {
    /// Every file under `dir`, recursively (or `dir` itself when it is a file).
    fn dir(&mut self, dir: &Path) {
        if dir.is_file() {
            let bytes = std::fs::read(dir).unwrap();
            return self.bytes(&dir.display().to_string(), &bytes);
        }
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                self.dir(&path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                self.bytes(&path.display().to_string(), &bytes);
            }
        }
    }

    /// `bytes` as they are; decompressed when gzip or zstd (layers: tar headers and files);
    /// and, when JSON, every base64 string in it decoded.
    fn bytes(&mut self, name: &str, bytes: &[u8]) {
        self.names.push(name.to_owned());
        let auth = STANDARD.encode(format!("{AUTH_USER}:{AUTH_PASSWORD}"));
        for canary in CANARIES.iter().copied().chain([auth.as_str()]) {
            if contains(bytes, canary.as_bytes()) {
                self.leaks.push((name.to_owned(), canary.to_owned()));
            }
        }
        if let Some(plain) = decompress(bytes) {
            self.bytes(&format!("{name} (decompressed)"), &plain);
        }
        let lines = bytes.split(|b| *b == b'\n');
        for doc in lines.filter_map(|l| serde_json::from_slice::<Value>(l).ok()) {
            let mut decoded = Vec::new();
            base64_strings(&doc, &mut decoded);
            for (i, d) in decoded.iter().enumerate() {
                self.bytes(&format!("{name} (base64 string {i})"), d);
            }
        }
    }

    fn assert_clean(&self) {
        assert!(self.leaks.is_empty(), "secrets leaked: {:#?}", self.leaks);
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn decompress(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read as _;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .ok()?;
        Some(out)
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        zstd::decode_all(bytes).ok()
    } else {
        None
    }
}

/// Every string in `v` of 16 characters or more that is valid base64, decoded.
fn base64_strings(v: &Value, out: &mut Vec<Vec<u8>>) {
    match v {
        Value::String(s) if s.len() >= 16 => {
            if let Ok(d) = STANDARD.decode(s) {
                out.push(d);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| base64_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| base64_strings(x, out)),
        _ => {}
    }
}
