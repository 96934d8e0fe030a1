//! The resolved dependency graph: `cargo metadata --locked` (run by [`super::metadata`],
//! never rewriting Cargo.lock),
//! checksums from Cargo.lock (cargo metadata does not report them), and the conversion to
//! [`DepGraph`] with ids free of this machine's paths.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use cargo_metadata::{DependencyKind, Metadata, PackageId};

use super::model::{DepGraph, Edge, EdgeKind, Package, Source};
use super::toolchain::relative_to_canonical;
use crate::error::{Error, Result};
use crate::select::Selection;
use crate::util::par::Cores;
use crate::util::url::strip_userinfo;

/// The crates.io index as cargo names it in source ids.
pub const CRATES_IO: &str = "https://github.com/rust-lang/crates.io-index";
/// crates.io's sparse index as a source id: the same registry as [`CRATES_IO`].
pub const CRATES_IO_SPARSE: &str = "sparse+https://index.crates.io/";

/// The arguments of `cargo metadata` for a selection: always `--locked`, never
/// `--filter-platform` (the graph keeps every platform's packages).
pub fn metadata_args(selection: &Selection, manifest: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "metadata".into(),
        "--format-version".into(),
        "1".into(),
        "--locked".into(),
        "--manifest-path".into(),
        manifest.as_os_str().to_owned(),
    ];
    let features = selection.feature_list();
    if !features.is_empty() {
        args.push("--features".into());
        args.push(features.join(",").into());
    }
    if selection.all_features {
        args.push("--all-features".into());
    }
    if selection.no_default_features {
        args.push("--no-default-features".into());
    }
    if selection.offline {
        args.push("--offline".into());
    }
    args
}

/// The workspace root as guessed before `cargo metadata` names it: the nearest directory, from
/// `dir` up, that holds a Cargo.lock (cargo writes it at the workspace root). Callers read
/// the root's files beside cargo with it and read them again when cargo names another root.
pub fn guess_workspace_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .map(Path::to_path_buf)
}

/// Checksums from Cargo.lock: by name, each (version, source id, checksum) of that name
/// (looked up without allocating).
#[derive(Debug, Default)]
pub struct LockChecksums(HashMap<String, Vec<(String, String, String)>>);

impl LockChecksums {
    /// Reads `Cargo.lock` (any version: `checksum` per package, or the v1 `[metadata]`
    /// table).
    pub fn read(path: &Path) -> Result<LockChecksums> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
        Self::parse(&text).map_err(|e| e.context(path.display()))
    }

    /// Parses the text of a Cargo.lock.
    pub fn parse(text: &str) -> Result<LockChecksums> {
        let lock: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            Error::msg(format!("Cargo.lock is not valid TOML: {}", e.message()))
        })?;
        let mut map = LockChecksums::default();
        let s = |v: Option<&toml::Value>| v.and_then(|v| v.as_str()).unwrap_or("").to_owned();
        if let Some(packages) = lock.get("package").and_then(|p| p.as_array()) {
            for p in packages {
                if let Some(sum) = p.get("checksum").and_then(|c| c.as_str()) {
                    let (version, source) = (s(p.get("version")), s(p.get("source")));
                    map.insert(s(p.get("name")), version, source, sum.to_owned());
                }
            }
        }
        // v1: `"checksum NAME VERSION (SOURCE)" = "HEX"`.
        if let Some(meta) = lock.get("metadata").and_then(|m| m.as_table()) {
            for (k, v) in meta {
                let Some(rest) = k.strip_prefix("checksum ") else {
                    continue;
                };
                let mut parts = rest.splitn(3, ' ');
                let (Some(name), Some(version), Some(source)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let source = source.trim_start_matches('(').trim_end_matches(')');
                if let Some(sum) = v.as_str().filter(|s| s.len() == 64) {
                    let (version, source) = (version.to_owned(), source.to_owned());
                    map.insert(name.to_owned(), version, source, sum.to_owned());
                }
            }
        }
        Ok(map)
    }

    /// Records a checksum; a later one for the same package replaces it.
    fn insert(&mut self, name: String, version: String, source: String, sum: String) {
        let same = self.0.entry(name).or_default();
        same.retain(|(v, s, _)| (v, s) != (&version, &source));
        same.push((version, source, sum));
    }

    /// The checksum of a package, when the lockfile has one.
    pub fn get(&self, name: &str, version: &str, source: &str) -> Option<&String> {
        let same = self.0.get(name)?;
        same.iter()
            .find(|(v, s, _)| v == version && s == source)
            .map(|(_, _, sum)| sum)
    }
}

/// Parses a cargo source id (`registry+URL`, `sparse+URL`, `git+URL?query#rev`).
pub fn parse_source(repr: &str) -> Source {
    if repr == CRATES_IO_SPARSE {
        return Source::Registry {
            url: CRATES_IO.into(),
        };
    }
    if let Some(url) = repr.strip_prefix("registry+") {
        return Source::Registry {
            url: strip_userinfo(url),
        };
    }
    if repr.starts_with("sparse+") {
        return Source::Registry {
            url: strip_userinfo(repr),
        };
    }
    if let Some(rest) = repr.strip_prefix("git+") {
        let (url, rev) = rest.split_once('#').unwrap_or((rest, ""));
        let url = url.split_once('?').map_or(url, |(u, _)| u);
        return Source::Git {
            url: strip_userinfo(url),
            rev: rev.to_owned(),
        };
    }
    let (kind, url) = repr.split_once('+').unwrap_or(("unknown", repr));
    Source::Registry {
        url: format!("{kind}+{}", strip_userinfo(url)),
    }
}

/// The path-free id of a package (see [`Package::id`]).
pub fn package_id(name: &str, version: &str, source: &Source) -> String {
    match source {
        Source::Registry { url } if url == CRATES_IO => format!("{name}@{version}"),
        Source::Registry { url } => format!("{name}@{version}+registry:{url}"),
        Source::Git { url, rev } => format!("{name}@{version}+git:{url}#{rev}"),
        Source::Path { path } => format!("{name}@{version}+path:{path}"),
    }
}

/// The graph: every package of the resolve (so the whole Cargo.lock under
/// `--all-features`), with `roots` marking the selection.
///
/// Packages are addressed by their position in `meta.packages` (one hash lookup per id
/// string): on corpus/rerun (1256 packages) this runs after `cargo metadata` exits, while
/// the user waits; on `cores` ([`Cores::All`] for `inspect`).
pub fn graph(
    meta: &Metadata,
    lock: &LockChecksums,
    roots: &[PackageId],
    cores: Cores,
) -> Result<DepGraph> {
    // Resolved once for the ~150 path packages of a large workspace (2 system calls a
    // component each time).
    let root_dir = PathBuf::from(meta.workspace_root.as_std_path());
    let root_dir = root_dir.canonicalize().unwrap_or(root_dir);
    let resolve = meta.resolve.as_ref().ok_or_else(|| {
        Error::msg("`cargo metadata` returned no resolve graph; is cargo too old?")
    })?;
    let position: HashMap<&str, usize> = meta
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.repr.as_str(), i))
        .collect();
    // Mapped on every core: on a workspace of 1,000 packages this is most of what is left
    // to do once cargo exits (docs/inspect.md, "How it runs").
    let mut packages: Vec<Package> =
        crate::util::par::map(&meta.packages, cores, |p| convert(p, lock, &root_dir));
    let ids: Vec<String> = packages.iter().map(|p| p.id.clone()).collect();
    let mut in_resolve = vec![false; packages.len()];
    let nodes = crate::util::par::map(&resolve.nodes, cores, |node| {
        let &i = position.get(node.id.repr.as_str())?;
        let mut features: Vec<String> = node.features.iter().map(|f| f.to_string()).collect();
        features.sort();
        let mut edges: Vec<Edge> = node
            .deps
            .iter()
            .filter_map(|dep| {
                let &to = position.get(dep.pkg.repr.as_str())?;
                Some(edge(dep, &ids[to]))
            })
            .collect();
        edges.sort_by(|a, b| a.id.cmp(&b.id).then_with(|| a.name.cmp(&b.name)));
        Some((i, features, edges))
    });
    for (i, features, edges) in nodes.into_iter().flatten() {
        in_resolve[i] = true;
        packages[i].features = features;
        packages[i].dependencies = edges;
    }
    // Only packages in the resolve (cargo metadata lists exactly those).
    let mut kept: Vec<Package> = packages
        .into_iter()
        .zip(in_resolve)
        .filter_map(|(p, kept)| kept.then_some(p))
        .collect();
    kept.sort_by(|a, b| a.id.cmp(&b.id));
    let mut root_ids: Vec<String> = roots
        .iter()
        .filter_map(|r| position.get(r.repr.as_str()).map(|&i| ids[i].clone()))
        .collect();
    root_ids.sort();
    root_ids.dedup();
    Ok(DepGraph {
        roots: root_ids,
        packages: kept,
    })
}

/// One package of `cargo metadata` as a graph [`Package`], its features and dependencies
/// still empty (`root_dir` is canonical).
fn convert(p: &cargo_metadata::Package, lock: &LockChecksums, root_dir: &Path) -> Package {
    let version = p.version.to_string();
    let (source, source_repr) = match &p.source {
        Some(s) => (parse_source(&s.repr), s.repr.as_str()),
        None => {
            let dir = p
                .manifest_path
                .parent()
                .map(|d| d.as_std_path().to_path_buf())
                .unwrap_or_default();
            let path = relative_to_canonical(&dir, root_dir);
            (Source::Path { path }, "")
        }
    };
    let kinds: BTreeSet<&cargo_metadata::TargetKind> =
        p.targets.iter().flat_map(|t| &t.kind).collect();
    let mut target_kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
    target_kinds.sort();
    Package {
        id: package_id(&p.name, &version, &source),
        name: p.name.to_string(),
        checksum: lock.get(&p.name, &version, source_repr).cloned(),
        version,
        source,
        license: p.license.clone(),
        license_file: p
            .license_file
            .as_ref()
            .and_then(|f| f.file_name())
            .map(str::to_owned),
        repository: p.repository.as_deref().map(strip_userinfo),
        features: Vec::new(),
        target_kinds,
        dependencies: Vec::new(),
    }
}

/// The graph edge of one resolved dependency, to the package whose graph id is `to`.
fn edge(dep: &cargo_metadata::NodeDep, to: &str) -> Edge {
    let mut kinds: Vec<EdgeKind> = dep
        .dep_kinds
        .iter()
        .map(|k| EdgeKind {
            kind: match k.kind {
                DependencyKind::Build => "build",
                DependencyKind::Development => "dev",
                _ => "normal",
            }
            .to_owned(),
            target: k.target.as_ref().map(|t| t.to_string()),
        })
        .collect();
    if kinds.is_empty() {
        kinds.push(EdgeKind {
            kind: "normal".into(),
            target: None,
        });
    }
    kinds.sort();
    kinds.dedup();
    Edge {
        id: to.to_owned(),
        name: dep.name.clone(),
        kinds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse() {
        assert_eq!(
            parse_source("registry+https://github.com/rust-lang/crates.io-index"),
            Source::Registry {
                url: CRATES_IO.into()
            }
        );
        assert_eq!(
            parse_source("git+https://u:tok@github.com/x/y?branch=main#0123abcd"),
            Source::Git {
                url: "https://github.com/x/y".into(),
                rev: "0123abcd".into()
            }
        );
        assert_eq!(
            parse_source("sparse+https://index.example/"),
            Source::Registry {
                url: "sparse+https://index.example/".into()
            }
        );
        // crates.io over the sparse protocol is crates.io.
        assert_eq!(
            parse_source(CRATES_IO_SPARSE),
            parse_source(&format!("registry+{CRATES_IO}"))
        );
    }

    #[test]
    fn ids_are_path_free() {
        let crates = Source::Registry {
            url: CRATES_IO.into(),
        };
        assert_eq!(package_id("serde", "1.0.0", &crates), "serde@1.0.0");
        let p = Source::Path {
            path: "crates/a".into(),
        };
        assert_eq!(package_id("a", "0.1.0", &p), "a@0.1.0+path:crates/a");
    }

    #[test]
    fn lock_checksums_v1_and_v3() {
        let v3 = "version = 3\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\n\
                  source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
                  checksum = \"abc\"\n[[package]]\nname = \"local\"\nversion = \"0.1.0\"\n";
        let l = LockChecksums::parse(v3).unwrap();
        assert_eq!(
            l.get("a", "1.0.0", &format!("registry+{CRATES_IO}"))
                .unwrap(),
            "abc"
        );
        assert!(l.get("local", "0.1.0", "").is_none());
        let sum = "1".repeat(64);
        let v1 = format!(
            "[[package]]\nname = \"b\"\nversion = \"2.0.0\"\nsource = \"registry+{CRATES_IO}\"\n\
             [metadata]\n\"checksum b 2.0.0 (registry+{CRATES_IO})\" = \"{sum}\"\n"
        );
        let l = LockChecksums::parse(&v1).unwrap();
        assert_eq!(
            l.get("b", "2.0.0", &format!("registry+{CRATES_IO}"))
                .unwrap(),
            &sum
        );
        assert!(LockChecksums::parse("[[package]").is_err());
    }
}
