//! The corpus workspaces (`../shared/corpus`, made repositories with `make-repo.sh`):
//! `inspect --all-features` resolves exactly each Cargo.lock's packages, with their checksums.
//! Also the lockfile helpers the example tests use.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::{inspect_json, support};

/// Cargo.lock's packages: (name, version, source without git query) → checksum.
pub fn lock_packages(path: &Path) -> BTreeMap<(String, String, String), Option<String>> {
    let lock: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let s = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            let source = s("source").unwrap_or_default();
            let source = match source.strip_prefix("git+") {
                Some(rest) => {
                    let (url, rev) = rest.split_once('#').unwrap_or((rest, ""));
                    format!("git+{}#{rev}", url.split('?').next().unwrap())
                }
                None => source,
            };
            (
                (s("name").unwrap(), s("version").unwrap(), source),
                s("checksum"),
            )
        })
        .collect()
}

/// A graph package's source written the way Cargo.lock writes it (git without query).
pub fn lock_source(p: &Value) -> String {
    let s = &p["source"];
    match s["kind"].as_str().unwrap() {
        "registry" => {
            let url = s["url"].as_str().unwrap();
            if url.starts_with("sparse+") {
                url.to_owned()
            } else {
                format!("registry+{url}")
            }
        }
        "git" => format!(
            "git+{}#{}",
            s["url"].as_str().unwrap(),
            s["rev"].as_str().unwrap()
        ),
        _ => String::new(),
    }
}

/// Makes corpus workspace `name` a repository and checks that `inspect --all-features`
/// resolves exactly its Cargo.lock's packages, with the lockfile's checksums.
fn corpus_matches_lockfile(name: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    support::run(
        Command::new("sh")
            .arg(support::shared_dir().join("corpus/make-repo.sh"))
            .arg(name)
            .arg(&dir),
    );
    let (v, _) = inspect_json(&dir, &["--all-features"]);
    let lock = lock_packages(&dir.join("Cargo.lock"));
    let mut graph = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for p in v["dependencies"]["packages"].as_array().unwrap() {
        let key = (
            p["name"].as_str().unwrap().to_owned(),
            p["version"].as_str().unwrap().to_owned(),
            lock_source(p),
        );
        graph.insert(key, p["checksum"].as_str().map(str::to_owned));
        assert!(
            ids.insert(p["id"].as_str().unwrap().to_owned()),
            "duplicate id {}",
            p["id"]
        );
    }
    let missing: Vec<_> = lock.keys().filter(|k| !graph.contains_key(*k)).collect();
    let extra: Vec<_> = graph.keys().filter(|k| !lock.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{name}: missing {missing:?}, extra {extra:?}"
    );
    assert_eq!(graph, lock, "{name}: checksums differ from Cargo.lock");
    assert!(graph.values().filter(|c| c.is_some()).count() > 10);
    // Every edge points at a package of the graph.
    for p in v["dependencies"]["packages"].as_array().unwrap() {
        for e in p["dependencies"].as_array().unwrap() {
            assert!(ids.contains(e["id"].as_str().unwrap()), "dangling edge {e}");
        }
    }
    assert!(v["git"]["commit"].is_string());
    assert!(
        !serde_json::to_string(&v)
            .unwrap()
            .contains(tmp.path().to_str().unwrap())
    );
}

#[test]
fn corpus_ripgrep_graph_is_the_lockfile() {
    corpus_matches_lockfile("ripgrep");
}

#[test]
fn corpus_uv_graph_is_the_lockfile() {
    corpus_matches_lockfile("uv");
}

#[test]
fn corpus_deno_graph_is_the_lockfile() {
    corpus_matches_lockfile("deno");
}

#[test]
fn corpus_rerun_graph_is_the_lockfile() {
    corpus_matches_lockfile("rerun");
}
