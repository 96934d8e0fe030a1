//! Helpers shared by the image tests (`tests/it/image.rs`, `tests/it/image_peers.rs`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support;
pub use crate::support::{blob, blob_json, read_json};

pub const HELLO_OUTPUT: &str = r#"{"greeting":"hello from hello-service","answer":"42"}"#;

/// A PATH with every directory holding a `docker` executable removed.
fn path_without_docker() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|d| !d.join("docker").exists())
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// `cmd` on a machine without docker: no `docker` on its PATH ([`path_without_docker`]) and
/// a `DOCKER_HOST` that does not exist.
pub fn without_docker(cmd: &mut assert_cmd::Command) -> &mut assert_cmd::Command {
    cmd.env("PATH", path_without_docker())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
}

/// The image index the layout's tag points at.
pub fn image_index(layout: &Path, tag: &str) -> (String, Value) {
    let top = read_json(&layout.join("index.json"));
    let entry = top["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("tag {tag} not in {top}"))
        .clone();
    let digest = entry["digest"].as_str().unwrap().to_owned();
    (digest.clone(), blob_json(layout, &digest))
}

/// A crate without dependencies (builds in a second), with a lockfile.
pub fn tiny_crate(main_rs: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiny");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("Cargo.lock"),
        "version = 4\n\n[[package]]\nname = \"tiny\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/main.rs"), main_rs).unwrap();
    (tmp, dir)
}

/// A workspace in `ws` whose one member, `app` (in `ws/app`, its `main.rs` given), has no
/// dependencies; the lockfile is at the root. Returns the member's directory.
pub fn workspace_with_app(ws: &Path, main_rs: &str) -> PathBuf {
    let app = ws.join("app");
    std::fs::create_dir_all(app.join("src")).unwrap();
    std::fs::write(
        ws.join("Cargo.toml"),
        "[workspace]\nmembers = [\"app\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    std::fs::write(ws.join("Cargo.lock"), APP_LOCK).unwrap();
    std::fs::write(
        app.join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(app.join("src/main.rs"), main_rs).unwrap();
    app
}

/// The lockfile of [`workspace_with_app`].
pub const APP_LOCK: &str = "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n";

pub fn build_cmd(manifest_dir: &Path) -> assert_cmd::Command {
    let mut c = support::cargo_provenance();
    c.current_dir(manifest_dir)
        .env_remove("BUILDKIT_HOST")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args(["build", "--no-sign", "--offline"]);
    c
}

pub fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One commit cloned three ways under `dir`: `https` (an https remote), `ssh` (a scp-like ssh
/// remote) and `local` (the local path of `origin` as its remote).
pub fn three_clones(dir: &Path, origin: &Path) -> [PathBuf; 3] {
    let clone = |name: &str, remote: Option<&str>| {
        let dest = dir.join(name);
        support::run(
            std::process::Command::new("git")
                .args(["clone", "-q"])
                .arg(origin)
                .arg(&dest),
        );
        if let Some(r) = remote {
            support::git(&dest, &["remote", "set-url", "origin", r]);
        }
        dest
    };
    [
        clone(
            "https",
            Some("https://github.com/example/hello-service.git"),
        ),
        clone("ssh", Some("git@github.com:example/hello-service.git")),
        clone("local", None),
    ]
}

/// No file under `dir` (binaries, layout blobs, statements, summary) holds `machine`.
pub fn assert_no_machine_path(dir: &Path, machine: &str) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_no_machine_path(&path, machine);
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes
                .windows(machine.len())
                .any(|w| w == machine.as_bytes()),
            "{} holds the path {machine}",
            path.display()
        );
    }
}
