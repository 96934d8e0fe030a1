//! Helpers shared by the image tests (`tests/it/image.rs`, `tests/it/image_peers.rs`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support;

pub const HELLO_OUTPUT: &str = r#"{"greeting":"hello from hello-service","answer":"42"}"#;

/// A PATH with every directory holding a `docker` executable removed.
pub fn path_without_docker() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|d| !d.join("docker").exists())
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

pub fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

pub fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
}

pub fn blob_json(layout: &Path, digest: &str) -> Value {
    serde_json::from_slice(&blob(layout, digest)).unwrap()
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
