//! `sbom` asks cargo for its platforms only (`--filter-platform`, src/sbom/filter.rs), and
//! the SBOM is the one the whole graph gives: a filtered graph that lacks a dependency our
//! cfgs select is read whole, and a cargo that refuses the filter is asked without it.

use std::path::{Path, PathBuf};

use super::helpers::{check_sbom, names};
use crate::support::cargo_provenance;

/// A workspace in `ws/` of a temporary directory, with `files` (paths relative to that
/// directory) written and its lockfile generated.
fn workspace(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = tmp.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let dir = tmp.path().join("ws");
    let lock = std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
        .args(["generate-lockfile", "--offline"])
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(lock.success());
    (tmp, dir)
}

/// The `[package]` table of a package `name` of `version`.
fn package(name: &str, version: &str) -> String {
    format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n")
}

/// The manifest of a library package `name` of `version`, with a feature `extra`.
fn lib(name: &str, version: &str) -> String {
    format!("{}\n[features]\nextra = []\n", package(name, version))
}

/// A workspace of `members` in `ws/` whose binary package `app` (with a build script) has
/// the manifest tables `app_deps`, beside the packages `others` (name, version, directory
/// relative to the temporary directory).
fn app_workspace(
    members: &str,
    app_deps: &str,
    others: &[(&str, &str, &str)],
) -> (tempfile::TempDir, PathBuf) {
    let mut files: Vec<(String, String)> = vec![
        (
            "ws/Cargo.toml".into(),
            format!("[workspace]\nmembers = [{members}]\nresolver = \"2\"\n"),
        ),
        (
            "ws/app/Cargo.toml".into(),
            format!("{}\n{app_deps}", package("app", "0.1.0")),
        ),
        ("ws/app/build.rs".into(), "fn main() {}\n".into()),
        ("ws/app/src/main.rs".into(), "fn main() {}\n".into()),
    ];
    for (name, version, dir) in others {
        files.push((format!("{dir}/Cargo.toml"), lib(name, version)));
        files.push((format!("{dir}/src/lib.rs"), String::new()));
    }
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    workspace(&files)
}

/// A workspace whose `app` has a build dependency on `hostdep` only where `foo` is not set:
/// with `RUSTFLAGS=--cfg foo`, cargo's filter (whose host cfg has the user's flags) drops it,
/// and our host cfg (without them) selects it.
fn disagreeing_workspace() -> (tempfile::TempDir, PathBuf) {
    app_workspace(
        "\"app\", \"hostdep\"",
        "[target.'cfg(not(foo))'.build-dependencies]\nhostdep = { path = \"../hostdep\" }\n",
        &[("hostdep", "0.1.0", "ws/hostdep")],
    )
}

/// A workspace whose `app` declares two packages named `dep` as build dependencies, 0.1.0
/// where `foo` is not set and 0.2.0 (renamed `other`: cargo wants one path per name) where
/// it is: with `RUSTFLAGS=--cfg foo`, cargo's filter keeps 0.2.0 only, and ours selects
/// 0.1.0, which must not be taken for the other.
fn two_of_one_name_workspace() -> (tempfile::TempDir, PathBuf) {
    app_workspace(
        "\"app\"",
        "[target.'cfg(not(foo))'.build-dependencies]\ndep = { path = \"../../depa\" }\n\n\
         [target.'cfg(foo)'.build-dependencies]\n\
         other = { path = \"../../depb\", package = \"dep\" }\n",
        &[("dep", "0.1.0", "depa"), ("dep", "0.2.0", "depb")],
    )
}

/// `sbom -p app` in `dir` (see [`sbom_of`]).
fn sbom_with(dir: &Path, rustflags: &str, cargo: Option<&Path>) -> (Vec<u8>, serde_json::Value) {
    sbom_of(dir, "app", rustflags, cargo)
}

/// `sbom -p package` in `dir` with `RUSTFLAGS` and `CARGO` as given: the checked document.
fn sbom_of(
    dir: &Path,
    package: &str,
    rustflags: &str,
    cargo: Option<&Path>,
) -> (Vec<u8>, serde_json::Value) {
    let mut cmd = cargo_provenance();
    cmd.current_dir(dir)
        .env("RUSTFLAGS", rustflags)
        .args(["sbom", "-p", package]);
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
    crate::support::write_script(&script, &text);
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

/// The versions of the components named `name` in `doc`.
fn versions(doc: &serde_json::Value, name: &str) -> Vec<String> {
    doc["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["name"] == name)
        .map(|c| c["version"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn another_package_of_its_name_does_not_stand_in_for_what_our_cfgs_select() {
    let (tmp, dir) = two_of_one_name_workspace();
    // Cargo's filtered graph has only 0.2.0 for `app` (checked, so that the test shows the
    // path): a match by name alone would take it for the 0.1.0 our host cfg selects.
    let meta = std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
        .args(["metadata", "--format-version", "1"])
        .args(["--filter-platform", "host-tuple"])
        .env("RUSTFLAGS", "--cfg foo")
        .current_dir(&dir)
        .output()
        .unwrap();
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout).unwrap();
    let app = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"].as_str().unwrap().contains("/app#"))
        .expect("app in cargo's graph");
    let deps = app["deps"].as_array().unwrap();
    assert_eq!(deps.len(), 1, "{app}");
    assert!(deps[0]["pkg"].as_str().unwrap().contains("depb"), "{app}");

    let cargo = cargo_without_the_filter(tmp.path());
    let (filtered, doc) = sbom_with(&dir, "--cfg foo", None);
    let (whole, _) = sbom_with(&dir, "--cfg foo", Some(&cargo));
    assert_eq!(versions(&doc, "dep"), ["0.1.0"]);
    assert_eq!(
        String::from_utf8_lossy(&filtered),
        String::from_utf8_lossy(&whole)
    );
}

#[test]
fn a_cargo_failure_other_than_the_filter_is_reported_without_asking_again() {
    let (tmp, dir) = disagreeing_workspace();
    // The lockfile goes stale: `app` now depends on a crate Cargo.lock does not list.
    let manifest = dir.join("app/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        format!("{text}\n[dependencies]\nfresh = {{ path = \"../../fresh\" }}\n"),
    )
    .unwrap();
    std::fs::create_dir_all(tmp.path().join("fresh/src")).unwrap();
    std::fs::write(tmp.path().join("fresh/Cargo.toml"), lib("fresh", "0.1.0")).unwrap();
    std::fs::write(tmp.path().join("fresh/src/lib.rs"), "").unwrap();
    // A cargo that logs its arguments, then runs the real one.
    let real = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let log = tmp.path().join("cargo.log");
    let script = tmp.path().join("cargo-logging");
    crate::support::write_script(
        &script,
        &format!(
            "#!/bin/sh\necho \"$@\" >>\"{}\"\nexec \"{}\" \"$@\"\n",
            log.display(),
            real.to_string_lossy()
        ),
    );

    let out = cargo_provenance()
        .current_dir(&dir)
        .env("CARGO", &script)
        .args(["sbom", "-p", "app"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Cargo.lock"), "{stderr}");
    let asked = std::fs::read_to_string(&log).unwrap();
    let metadata: Vec<&str> = asked
        .lines()
        .filter(|l| l.starts_with("metadata"))
        .collect();
    assert_eq!(metadata.len(), 1, "{asked}");
    assert!(metadata[0].contains("--filter-platform"), "{asked}");
}

/// The SBOM of `package` in `dir` with `RUSTFLAGS=--cfg foo`, from the filtered graph and
/// from the whole graph (a cargo that refuses the filter): the same bytes, and the document.
fn same_as_the_whole_graph(tmp: &Path, dir: &Path, package: &str) -> serde_json::Value {
    let cargo = cargo_without_the_filter(tmp);
    let (filtered, doc) = sbom_of(dir, package, "--cfg foo", None);
    let (whole, _) = sbom_of(dir, package, "--cfg foo", Some(&cargo));
    assert_eq!(
        String::from_utf8_lossy(&filtered),
        String::from_utf8_lossy(&whole)
    );
    doc
}

/// Cargo keeps an edge when any of its declarations is active and lists them all: here the
/// edge of `foo_new` (2.0.0) carries the kind and platform of `foo_old` (1.0.0), whose own
/// edge cargo's filter dropped. The edge's name tells them apart.
#[test]
fn the_edge_of_another_declaration_of_the_same_kind_and_platform_is_not_taken() {
    let (tmp, dir) = app_workspace(
        "\"app\"",
        "[dependencies]\nfoo_new = { package = \"foo\", path = \"../../foo2\" }\n\n\
         [target.'cfg(not(foo))'.build-dependencies]\n\
         foo_old = { package = \"foo\", path = \"../../foo1\" }\n\
         foo_new = { package = \"foo\", path = \"../../foo2\" }\n",
        &[("foo", "1.0.0", "foo1"), ("foo", "2.0.0", "foo2")],
    );
    let doc = same_as_the_whole_graph(tmp.path(), &dir, "app");
    assert_eq!(versions(&doc, "foo"), ["1.0.0", "2.0.0"]);
}

/// `bar/extra` turns on an optional build dependency that cargo's filter left out of the
/// graph: the graph is too small, and the whole graph is read.
#[test]
fn a_feature_of_an_optional_dependency_the_graph_lacks_reads_the_whole_graph() {
    let (tmp, dir) = app_workspace(
        "\"app\"",
        "[features]\ndefault = [\"bar/extra\"]\n\n\
         [target.'cfg(not(foo))'.build-dependencies]\n\
         bar = { path = \"../../bar\", optional = true }\n",
        &[("bar", "1.0.0", "bar")],
    );
    let doc = same_as_the_whole_graph(tmp.path(), &dir, "app");
    assert_eq!(versions(&doc, "bar"), ["1.0.0"]);
}

/// `-p w` names a crate only another platform depends on: the filtered graph does not have
/// it, and the whole graph decides.
#[test]
fn a_package_only_another_platform_depends_on_is_found_in_the_whole_graph() {
    let (tmp, dir) = app_workspace(
        "\"app\"",
        "[target.'cfg(windows)'.dependencies]\nw = { path = \"../../w\" }\n",
        &[("w", "0.1.0", "w")],
    );
    let doc = same_as_the_whole_graph(tmp.path(), &dir, "w");
    assert_eq!(doc["metadata"]["component"]["name"], "w", "{doc}");
}
