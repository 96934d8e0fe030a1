//! Helpers for the keyless build tests: the running Sigstore stack, a GitHub Actions
//! emulation around `build --keyless`, and a fault-injecting HTTP proxy.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::support;

/// The repository the emulated workflow runs for (the example's git remote).
pub const REPO: &str = "example/hello-service";
/// The workflow file.
pub const WORKFLOW: &str = ".github/workflows/release.yml";
/// The issuer of GitHub Actions tokens (the stack maps it to its own keys).
pub const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The certificate identity of the emulated workflow on `main`.
pub fn gh_identity() -> String {
    format!("https://github.com/{REPO}/{WORKFLOW}@refs/heads/main")
}

/// The running stack, from `sigstore-stack.sh env`.
pub struct Stack {
    pub trusted_root: PathBuf,
    pub signing_config: PathBuf,
    pub fulcio: String,
    pub rekor: String,
    pub tsa: String,
    pub oidc: String,
    pub actions_url: String,
    pub actions_bearer: String,
    pub sigstore_go: PathBuf,
}

impl Stack {
    /// The stack or a panic saying how to start it.
    pub fn get() -> Stack {
        let tools = support::shared_dir().join("tools");
        let env = support::run(Command::new(tools.join("sigstore-stack.sh")).arg("env"));
        let var = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .map(|v| v.trim_matches('\'').trim_matches('"').to_owned())
                .unwrap_or_else(|| panic!("{name} missing from sigstore-stack.sh env"))
        };
        let trusted_root = PathBuf::from(var("SIGSTORE_STACK_TRUSTED_ROOT"));
        assert!(
            trusted_root.is_file(),
            "the Sigstore stack is not running: ../shared/tools/sigstore-stack.sh install && start"
        );
        let peers = PathBuf::from(std::env::var("PEERS").unwrap_or_else(|_| "/tmp/peers".into()));
        let sigstore_go = std::env::var_os("SIGSTORE_GO_VERIFY13")
            .map(PathBuf::from)
            .unwrap_or_else(|| peers.join("current/usr/bin/sigstore-go-verification"));
        assert!(
            sigstore_go.is_file(),
            "sigstore-go 1.3 not found: setup-peers.sh install"
        );
        let tsa = var("SIGSTORE_STACK_TSA_URL");
        Stack {
            trusted_root,
            signing_config: PathBuf::from(var("SIGSTORE_STACK_SIGNING_CONFIG")),
            fulcio: var("SIGSTORE_STACK_FULCIO_URL"),
            rekor: var("SIGSTORE_STACK_REKOR_URL"),
            tsa: tsa.trim_end_matches("/api/v1/timestamp").to_owned(),
            oidc: var("SIGSTORE_STACK_OIDC_ISSUER"),
            actions_url: var("ACTIONS_ID_TOKEN_REQUEST_URL"),
            actions_bearer: var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
            sigstore_go,
        }
    }

    /// The base URL of `fulcio`, `rekor` or `tsa`.
    pub fn url(&self, service: &str) -> String {
        match service {
            "fulcio" => self.fulcio.clone(),
            "rekor" => self.rekor.clone(),
            "tsa" => self.tsa.clone(),
            other => panic!("no service {other}"),
        }
    }

    /// The stack's signing config with `service` at `url`, written into `dir`.
    pub fn config_with(&self, service: &str, url: &str, dir: &Path) -> PathBuf {
        let text = std::fs::read_to_string(&self.signing_config).unwrap();
        let base = self.url(service);
        assert!(text.contains(&base));
        let p = dir.join(format!("signing-config-{service}.json"));
        std::fs::write(&p, text.replace(&base, url)).unwrap();
        p
    }

    /// A GitHub-style token from the stack's `/mint`, with `extra` query parameters.
    pub fn mint(&self, extra: &str) -> String {
        let url = format!(
            "{}/mint?repository={REPO}&workflow_file={WORKFLOW}&ref=refs/heads/main{extra}",
            self.oidc
        );
        support::run(Command::new("curl").args(["-fsS", &url]))
            .trim()
            .to_owned()
    }

    /// The stack's trusted root with its Fulcio CA replaced by another CA (the TSA's root).
    pub fn root_with_foreign_ca(&self, dir: &Path) -> PathBuf {
        let mut root: Value =
            serde_json::from_slice(&std::fs::read(&self.trusted_root).unwrap()).unwrap();
        let tsa_root = root["timestampAuthorities"][0]["certChain"]["certificates"][1].clone();
        root["certificateAuthorities"][0]["certChain"]["certificates"] =
            Value::Array(vec![tsa_root]);
        let p = dir.join("foreign-ca-root.json");
        std::fs::write(&p, serde_json::to_vec_pretty(&root).unwrap()).unwrap();
        p
    }
}

/// Changes to one build's command line and environment.
#[derive(Default)]
pub struct Cmd {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub trusted_root: Option<PathBuf>,
}

/// hello-service in a git checkout on `main`, and an output directory.
pub struct Build {
    pub tmp: tempfile::TempDir,
    pub repo: PathBuf,
    pub out: PathBuf,
    pub sha: String,
}

impl Build {
    pub fn new() -> Build {
        let (tmp, repo) = support::example_repo("hello-service");
        support::git(&repo, &["branch", "-M", "main"]);
        let sha = support::git(&repo, &["rev-parse", "HEAD"])
            .trim()
            .to_owned();
        let out = tmp.path().join("out");
        Build {
            tmp,
            repo,
            out,
            sha,
        }
    }

    /// `build --keyless --push` with the stack's signing config.
    pub fn run(
        &self,
        stack: &Stack,
        peers: &support::Peers,
        image: &str,
        tweak: impl Fn(&mut Cmd),
        extra: &[&str],
    ) -> std::process::Output {
        self.run_with_config(stack, peers, image, &stack.signing_config, tweak, extra)
    }

    /// `build --builder native --keyless --push` as a GitHub Actions job of [`REPO`] would
    /// run it, with `config` as the signing config.
    pub fn run_with_config(
        &self,
        stack: &Stack,
        peers: &support::Peers,
        image: &str,
        config: &Path,
        tweak: impl Fn(&mut Cmd),
        extra: &[&str],
    ) -> std::process::Output {
        let mut cmd = Cmd::default();
        tweak(&mut cmd);
        let mut c = self.gh_command(stack, peers, &cmd);
        c.args([
            "build",
            "--builder",
            "native",
            "--offline",
            "--keyless",
            "--push",
        ])
        .arg("--signing-config")
        .arg(config)
        .arg("--trusted-root")
        .arg(cmd.trusted_root.as_ref().unwrap_or(&stack.trusted_root))
        .args(["--image", image])
        .arg("--output-dir")
        .arg(&self.out)
        .args(extra)
        .args(&cmd.args);
        c.output().unwrap()
    }

    /// The environment of a GitHub Actions job of [`REPO`] on `main` at this checkout's
    /// commit, the ambient token coming from the stack's emulation.
    pub fn gh_env(&self, stack: &Stack) -> Vec<(String, String)> {
        let actions_url = format!(
            "{}&repository={REPO}&workflow_file={WORKFLOW}&ref=refs/heads/main&sha={}&run_id=4242&run_attempt=2",
            stack.actions_url, self.sha
        );
        [
            ("GITHUB_ACTIONS", "true".to_owned()),
            ("GITHUB_SERVER_URL", "https://github.com".to_owned()),
            ("GITHUB_REPOSITORY", REPO.to_owned()),
            ("GITHUB_SHA", self.sha.clone()),
            ("GITHUB_REF", "refs/heads/main".to_owned()),
            (
                "GITHUB_WORKFLOW_REF",
                format!("{REPO}/{WORKFLOW}@refs/heads/main"),
            ),
            ("GITHUB_RUN_ID", "4242".to_owned()),
            ("GITHUB_RUN_ATTEMPT", "2".to_owned()),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", actions_url),
            (
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                stack.actions_bearer.clone(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Our binary in the checkout, in the environment of [`Build::gh_env`], with `cmd.env`
    /// on top.
    pub fn gh_command(
        &self,
        stack: &Stack,
        peers: &support::Peers,
        cmd: &Cmd,
    ) -> assert_cmd::Command {
        let mut c = support::cargo_provenance();
        c.envs(peers.envs())
            .current_dir(&self.repo)
            .env("CARGO_TARGET_DIR", support::example_target_dir())
            .env_remove("BUILDKIT_HOST")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("SIGSTORE_ID_TOKEN")
            .envs(self.gh_env(stack))
            .envs(cmd.env.iter().map(|(k, v)| (k, v)));
        c
    }
}

/// Every file under `dir`, as (relative name, lossy text).
pub fn all_files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.strip_prefix(dir).unwrap().display().to_string();
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                out.push((name, text));
            }
        }
    }
    out
}

/// Referrer manifests (Sigstore bundles) listed in the output's OCI layout.
pub fn referrers_in_layout(out: &Path) -> usize {
    let Ok(bytes) = std::fs::read(out.join("oci/index.json")) else {
        return 0;
    };
    let index: Value = serde_json::from_slice(&bytes).unwrap();
    index["manifests"].as_array().map_or(0, |m| {
        m.iter().filter(|d| d["artifactType"].is_string()).count()
    })
}

/// Whether the registry has the repository `reg/name` (anything was pushed to it).
pub fn pushed(repo: &str) -> bool {
    let (host, name) = repo.split_once('/').unwrap();
    let o = Command::new("curl")
        .args(["-fsS", &format!("http://{host}/v2/{name}/tags/list")])
        .output()
        .unwrap();
    o.status.success()
}

/// The signing certificate of a bundle, parsed.
pub fn certificate(bundle: &Value) -> sigstore_crypto::x509::CertificateInfo {
    use base64::Engine;
    let raw = bundle["verificationMaterial"]["certificate"]["rawBytes"]
        .as_str()
        .unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .unwrap();
    sigstore_crypto::x509::parse_certificate_info(&sigstore_types::DerCertificate::from_bytes(&der))
        .unwrap()
}

/// What the proxy does to POST requests (GETs are forwarded).
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Nothing listens.
    Down,
    /// Every POST is answered with this status.
    Status(u16),
    /// The first POST is forwarded; every later one gets the first one's answer.
    Replay,
    /// Everything is forwarded; every request is counted.
    Count,
}

/// A fault-injecting HTTP/1.1 proxy on 127.0.0.1 in front of a stack service.
pub struct Proxy {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Proxy {
    pub fn start(upstream: &str, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        if let Fault::Down = fault {
            drop(listener);
            return Proxy { port, hits };
        }
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let counter = hits.clone();
        std::thread::spawn(move || {
            let mut recorded: Option<Vec<u8>> = None;
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let Ok(Some(req)) = support::read_http_request(&mut conn) else {
                    continue;
                };
                let post = req.starts_with(b"POST");
                let resp = match (post, fault) {
                    (true, Fault::Status(s)) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let body =
                            format!("{{\"code\":{s},\"message\":\"injected by the test proxy\"}}");
                        format!(
                            "HTTP/1.1 {s} Injected\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .into_bytes()
                    }
                    (true, Fault::Replay) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                        match &recorded {
                            Some(r) => r.clone(),
                            None => {
                                let r = forward(&upstream, &req);
                                recorded = Some(r.clone());
                                r
                            }
                        }
                    }
                    (_, Fault::Count) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                        forward(&upstream, &req)
                    }
                    _ => forward(&upstream, &req),
                };
                let _ = conn.write_all(&resp);
            }
        });
        Proxy { port, hits }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Requests counted (POSTs with a fault; all with [`Fault::Count`]).
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Sends `req` to `upstream` with `Connection: close` and returns the whole answer.
fn forward(upstream: &str, req: &[u8]) -> Vec<u8> {
    let head_end = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&req[..head_end]);
    let mut lines: Vec<&str> = head
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    lines.push("Connection: close");
    let mut out = lines.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&req[head_end..]);
    let mut s = TcpStream::connect(upstream).unwrap();
    s.write_all(&out).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    resp
}
