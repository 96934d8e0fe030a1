//! `sbom` asks cargo for its platforms only (`--filter-platform`, src/sbom/filter.rs), and
//! the SBOM is the one the whole graph gives: a filtered graph that lacks a dependency our
//! cfgs select is read whole, and a cargo that refuses the filter is asked without it.

use std::path::{Path, PathBuf};

use super::helpers::{check_sbom, names};
use crate::support::cargo_provenance;

/// A workspace whose `app` has a build dependency on `hostdep` only where `foo` is not set:
/// with `RUSTFLAGS=--cfg foo`, cargo's filter (whose host cfg has the user's flags) drops it,
/// and our host cfg (without them) selects it.
fn disagreeing_workspace() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ws");
    let write = |path: &str, text: &str| {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"app\", \"hostdep\"]\nresolver = \"2\"\n",
    );
    write(
        "app/Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [target.'cfg(not(foo))'.build-dependencies]\nhostdep = { path = \"../hostdep\" }\n",
    );
    write("app/build.rs", "fn main() {}\n");
    write("app/src/main.rs", "fn main() {}\n");
    write(
        "hostdep/Cargo.toml",
        "[package]\nname = \"hostdep\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write("hostdep/src/lib.rs", "");
    let lock = std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
        .args(["generate-lockfile", "--offline"])
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(lock.success());
    (tmp, dir)
}

/// `sbom -p app` in `dir` with `RUSTFLAGS` and `CARGO` as given: the checked document.
fn sbom_with(dir: &Path, rustflags: &str, cargo: Option<&Path>) -> (Vec<u8>, serde_json::Value) {
    let mut cmd = cargo_provenance();
    cmd.current_dir(dir)
        .env("RUSTFLAGS", rustflags)
        .args(["sbom", "-p", "app"]);
    if let Some(c) = cargo {
        cmd.env("CARGO", c);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "sbom failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = check_sbom(&out.stdout);
    (out.stdout, doc)
}

#[test]
fn a_filtered_graph_without_what_our_cfgs_select_is_read_whole() {
    let (_tmp, dir) = disagreeing_workspace();
    // Cargo's filtered graph has no `hostdep` here (checked, so that the test shows the path).
    let meta = std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            "host-tuple",
        ])
        .env("RUSTFLAGS", "--cfg foo")
        .current_dir(&dir)
        .output()
        .unwrap();
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout).unwrap();
    let resolved = meta["resolve"]["nodes"].as_array().unwrap();
    let app = resolved
        .iter()
        .find(|n| n["id"].as_str().unwrap().contains("/app#"))
        .expect("app in cargo's graph");
    assert_eq!(app["deps"].as_array().unwrap().len(), 0, "{app}");

    let (_, doc) = sbom_with(&dir, "--cfg foo", None);
    assert!(names(&doc).contains("hostdep"), "{:?}", names(&doc));
}

/// A `cargo` that refuses `--filter-platform` (as a cargo before `host-tuple` would) and
/// runs the real one otherwise.
fn cargo_without_the_filter(dir: &Path) -> PathBuf {
    let real = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let script = dir.join("cargo-without-filter");
    let text = format!(
        "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = --filter-platform ] && \
         {{ echo 'error: no such target: host-tuple' >&2; exit 101; }}; done\n\
         exec \"{}\" \"$@\"\n",
        real.to_string_lossy()
    );
    std::fs::write(&script, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn a_cargo_that_refuses_the_filter_gives_the_same_sbom() {
    let (tmp, dir) = disagreeing_workspace();
    let cargo = cargo_without_the_filter(tmp.path());
    let (filtered, _) = sbom_with(&dir, "", None);
    let (whole, doc) = sbom_with(&dir, "", Some(&cargo));
    assert!(names(&doc).contains("hostdep"));
    assert_eq!(filtered, whole);
}
