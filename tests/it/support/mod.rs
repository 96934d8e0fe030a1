//! Shared helpers for the integration tests: our binary, example fixtures, and the real
//! peers (dockerd + BuildKit, registry, cosign, oras) started by `scripts/peers.sh`.
//!
//! Peer tests are `#[ignore = "needs peers ..."]` so that a plain `cargo test` on a machine
//! without them reports them as ignored; the README's test command (`scripts/test.sh`) starts
//! the peers and runs them with `--include-ignored`. A peer test that runs and does not find
//! its peer panics: it never passes silently.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub mod image;
pub mod keyless;
pub mod keyless_stack;
pub mod oci;
pub mod sign_fixture;
pub mod tiers;
pub mod verify_fixture;
pub mod vex;
#[allow(unused_imports)]
pub use tiers::Tier;

/// The repository root (where our Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the checkout.
pub fn shared_dir() -> PathBuf {
    let p = repo_root().join("../shared");
    assert!(
        p.is_dir(),
        "../shared is missing beside the checkout ({})",
        p.display()
    );
    p
}

/// An `assert_cmd` command running our binary.
pub fn cargo_provenance() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("cargo-provenance").expect("binary built");
    c.env_remove("SOURCE_DATE_EPOCH");
    // A CI run of the tests must not give its own repository URL to the fixtures.
    c.env_remove("GITHUB_ACTIONS").env_remove("GITLAB_CI");
    c
}

/// A target directory shared by the tests that build the examples, so that each example
/// compiles once per test run, not once per test.
pub fn example_target_dir() -> PathBuf {
    let p = repo_root().join("target/example-builds");
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// `cargo provenance build` of an example: the shared target directory
/// ([`example_target_dir`]), and none of the caller's BuildKit or rustflags settings.
pub fn example_build() -> assert_cmd::Command {
    let mut c = cargo_provenance();
    c.env("CARGO_TARGET_DIR", example_target_dir())
        .env_remove("BUILDKIT_HOST")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .arg("build");
    c
}

/// `cargo provenance keygen --output-dir dir` with `password`: (cosign.key, cosign.pub).
pub fn keygen(dir: &Path, password: &str) -> (PathBuf, PathBuf) {
    cargo_provenance()
        .env("COSIGN_PASSWORD", password)
        .arg("keygen")
        .arg("--output-dir")
        .arg(dir)
        .assert()
        .success();
    (dir.join("cosign.key"), dir.join("cosign.pub"))
}

/// keygen (password `password`) + `build --offline --key` of examples/hello-service with
/// `builder` flags (e.g. `--builder native`) and `extra` appended, with the peers' docker
/// when given. Returns (guard, output dir, public key).
pub fn signed_build(
    peers: Option<&Peers>,
    builder: &[&str],
    extra: &[&str],
    password: &str,
) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (tmp, repo) = example_repo("hello-service");
    let keys = tmp.path().join("keys");
    keygen(&keys, password);
    let out = tmp.path().join("out");
    let mut c = example_build();
    if let Some(p) = peers {
        c.envs(p.envs());
    }
    let o = c
        .current_dir(&repo)
        .env("COSIGN_PASSWORD", password)
        .args(builder)
        .args(["--offline", "--key"])
        .arg(keys.join("cosign.key"))
        .arg("--output-dir")
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "build failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    (tmp, out, keys.join("cosign.pub"))
}

/// Runs a command, panicking with its output when it fails; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `cargo provenance COMMAND ARGS` expecting a usage error: exit 2, `needle` in stderr,
/// nothing on stdout.
pub fn fails_with(command: &[&str], args: &[&str], needle: &str) {
    let out = cargo_provenance()
        .args(command)
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{command:?} {args:?}: {err}");
    assert!(
        err.contains(needle),
        "{command:?} {args:?}: expected {needle:?} in:\n{err}"
    );
    assert!(out.stdout.is_empty(), "nothing is printed on error");
}

/// Runs `git` in `dir` with a fixed identity and dates.
pub fn git(dir: &Path, args: &[&str]) -> String {
    run(Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z")
        .env("GIT_COMMITTER_DATE", "2024-01-02T03:04:05Z"))
}

/// Copies `examples/<name>` into a new temporary directory (without `target/`), as
/// `<tmp>/<name>`. Returns the guard and the copied path.
pub fn copy_example(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join(name);
    copy_dir(&repo_root().join("examples").join(name), &dest);
    (tmp, dest)
}

/// Copies an example into a temporary directory and makes it a git repository with one
/// commit (committer time 2024-01-02T03:04:05Z = 1704164645) and an `origin` remote.
pub fn example_repo(name: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dest) = copy_example(name);
    git(&dest, &["init", "-q"]);
    git(&dest, &["add", "-A"]);
    git(&dest, &["commit", "-q", "-m", "initial"]);
    git(
        &dest,
        &[
            "remote",
            "add",
            "origin",
            &format!("https://github.com/example/{name}"),
        ],
    );
    (tmp, dest)
}

/// Recursively copies `src` to `dst`, skipping `target` directories.
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let from = entry.path();
        let to = dst.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&from, &to);
        } else {
            std::fs::copy(&from, &to).unwrap();
        }
    }
}

/// The real peers, as `scripts/peers.sh start` leaves them (see `../shared/tools/setup-peers.sh
/// env`). Panics with instructions when they are not there.
#[derive(Debug, Clone)]
pub struct Peers {
    /// `$PEERS` (default `/tmp/peers`).
    pub root: PathBuf,
    /// A PATH with the peers' binaries first.
    pub path: String,
    /// `DOCKER_HOST` of the peers' dockerd.
    pub docker_host: String,
    /// `DOCKER_CONFIG` with the buildx plugin.
    pub docker_config: PathBuf,
    /// The registry address, `127.0.0.1:5000`.
    pub registry: String,
}

impl Peers {
    /// Finds the running peers or panics saying how to start them.
    pub fn get() -> Peers {
        let root = PathBuf::from(std::env::var("PEERS").unwrap_or_else(|_| "/tmp/peers".into()));
        let bin = root.join("root/usr/bin");
        let sbin = root.join("root/usr/sbin");
        for tool in [
            bin.join("cosign"),
            bin.join("oras"),
            bin.join("docker"),
            bin.join("sigstore-go-verification"),
            root.join("dockercfg/cli-plugins/docker-buildx"),
        ] {
            assert!(
                tool.is_file(),
                "peer {} not found: run `scripts/peers.sh start` (or `scripts/test.sh`)",
                tool.display()
            );
        }
        let path = format!(
            "{}:{}:{}",
            bin.display(),
            sbin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let docker_host = format!("unix://{}", root.join("state/docker.sock").display());
        let registry = std::env::var("REG").unwrap_or_else(|_| "127.0.0.1:5000".into());
        let peers = Peers {
            docker_config: root.join("dockercfg"),
            root,
            path,
            docker_host,
            registry,
        };
        let ok = Command::new("curl")
            .args(["-fs", &format!("http://{}/v2/", peers.registry)])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            ok,
            "registry on {} not answering: run `scripts/peers.sh start`",
            peers.registry
        );
        peers
    }

    /// cosign 3.x, beside the default 2.5 (`$COSIGN3` of `setup-peers.sh env`); panics with
    /// instructions when it is missing.
    pub fn cosign3(&self) -> PathBuf {
        let path = std::env::var_os("COSIGN3")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.root.join("current/usr/bin/cosign"));
        assert!(
            path.is_file(),
            "peer cosign 3 ({}) not found: run `scripts/peers.sh install`",
            path.display()
        );
        path
    }

    /// A command for a peer tool with the peers' environment.
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        self.apply(&mut c);
        c
    }

    /// The peers' environment: PATH, DOCKER_HOST, DOCKER_CONFIG.
    pub fn envs(&self) -> [(&'static str, std::ffi::OsString); 3] {
        [
            ("PATH", self.path.clone().into()),
            ("DOCKER_HOST", self.docker_host.clone().into()),
            ("DOCKER_CONFIG", self.docker_config.clone().into()),
        ]
    }

    /// Applies the peers' environment ([`Peers::envs`]) to a command.
    pub fn apply(&self, c: &mut Command) {
        c.envs(self.envs());
    }

    /// Checks that dockerd answers, panicking with instructions otherwise.
    pub fn require_docker(&self) {
        let ok = self
            .cmd("docker")
            .arg("info")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            ok,
            "dockerd at {} not answering: run `scripts/peers.sh start`",
            self.docker_host
        );
    }

    /// A unique repository name on the registry for one test (`<prefix>-<pid>-<n>`).
    pub fn unique_repo(&self, prefix: &str) -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        format!(
            "{}/{prefix}-{}-{}",
            self.registry,
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        )
    }
}

/// Writes an empty Sigstore trusted root (for cosign's offline key-based verification) into
/// `dir` and returns its path.
pub fn empty_trusted_root(dir: &Path) -> PathBuf {
    let p = dir.join("empty-trusted-root.json");
    std::fs::write(
        &p,
        r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[],"certificateAuthorities":[],"ctlogs":[],"timestampAuthorities":[]}"#,
    )
    .unwrap();
    p
}

/// Reads one HTTP request (head + Content-Length body) for the tests' mock servers; `None`
/// when the peer closes before a whole head arrived.
pub fn read_http_request(conn: &mut std::net::TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = std::io::Read::read(conn, &mut tmp)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = std::io::Read::read(conn, &mut tmp)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    Ok(Some(buf))
}

/// Writes `text` to `path` as an executable script (a stand-in `cargo`, a wrapper, a helper).
pub fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Reads and parses a JSON file, naming it when it cannot be read.
pub fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

/// The bytes of blob `digest` in the OCI layout `layout`.
pub fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
}

/// Blob `digest` in the OCI layout `layout`, parsed as JSON.
pub fn blob_json(layout: &Path, digest: &str) -> Value {
    serde_json::from_slice(&blob(layout, digest)).unwrap()
}
