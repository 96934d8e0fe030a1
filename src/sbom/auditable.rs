//! The dependency list each shipped binary carries in cargo-auditable's format
//! ([`auditable_serde::VersionInfo`]): the crates the SBOM marks `required` for the binary's
//! package, resolved for the platform it is compiled for, plus the package itself as root.
//!
//! It is the same resolution as the SBOM's ([`super::resolve`], [`Resolution::scope`] of
//! one root), written the way `cargo auditable` writes its list: packages sorted by name
//! then package id, `source` as cargo-auditable names it, `format` 1. Unlike
//! `cargo auditable`, crates used only at build time (build scripts, proc-macros and what
//! only they pull in; its `"kind": "build"` entries) are not listed: they are not in the
//! binary. docs/sbom.md ("Dependency data in the binaries") says so.

use std::collections::{BTreeMap, HashMap};

use auditable_serde::{DependencyKind, Package as AuditPackage, Source, VersionInfo};
use cargo_metadata::Package;

use super::resolve::{Resolution, Use};
use super::{BuiltFor, Prepared, for_build};
use crate::error::Result;
use crate::select::Selection;

/// The crates.io source as `cargo metadata` spells it.
const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// The lists of one platform.
#[derive(Debug, Clone)]
pub struct PlatformLists {
    /// Package name → the list its binaries carry.
    pub lists: BTreeMap<String, VersionInfo>,
    /// The target's `target_arch` cfg value, as the build sees it.
    pub target_arch: String,
    /// The target's `target_endian` cfg value.
    pub target_endian: String,
}

/// The lists of one platform. Returns the project for the next platform too (it is read
/// once).
pub fn dependency_lists(
    prepared: Prepared,
    built: &BuiltFor,
    selection: &Selection,
) -> Result<(Prepared, PlatformLists)> {
    let Prepared { loaded, res } = prepared;
    let (loaded, res) = for_build(loaded, res, std::slice::from_ref(built), selection)?;
    let pkgs = &loaded.metadata.packages;
    let mut roots: Vec<usize> = res.bins.iter().map(|b| b.package).collect();
    roots.sort_unstable();
    roots.dedup();
    let mut lists = BTreeMap::new();
    for r in roots {
        lists.insert(pkgs[r].name.to_string(), version_info(pkgs, &res, r));
    }
    let cfg = |key: &str| {
        loaded
            .target_cfg
            .iter()
            .find_map(|c| {
                let text = c.to_string();
                let (k, v) = text.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
            })
            .unwrap_or_default()
    };
    let out = PlatformLists {
        lists,
        target_arch: cfg("target_arch"),
        target_endian: cfg("target_endian"),
    };
    Ok((Prepared { loaded, res }, out))
}

/// The list of the binaries of package `root`.
fn version_info(pkgs: &[Package], res: &Resolution, root: usize) -> VersionInfo {
    let (uses, _) = res.scope(&[root]);
    let mut listed: Vec<usize> = uses
        .iter()
        .filter(|(_, u)| **u == Use::Required)
        .map(|(&p, _)| p)
        .chain(std::iter::once(root))
        .collect();
    listed.sort_by(|&a, &b| {
        (&pkgs[a].name, &pkgs[a].id.repr).cmp(&(&pkgs[b].name, &pkgs[b].id.repr))
    });
    listed.dedup();
    let index: HashMap<usize, usize> = listed.iter().enumerate().map(|(i, &p)| (p, i)).collect();
    let packages = listed
        .iter()
        .map(|&p| {
            let mut dependencies: Vec<usize> = res
                .edges
                .get(&(p, false))
                .into_iter()
                .flatten()
                .filter(|d| !d.1 && d.0 != p)
                .filter_map(|d| index.get(&d.0).copied())
                .collect();
            dependencies.sort_unstable();
            dependencies.dedup();
            AuditPackage {
                name: pkgs[p].name.to_string(),
                version: pkgs[p].version.clone(),
                source: source(&pkgs[p]),
                kind: DependencyKind::Runtime,
                dependencies,
                root: p == root,
            }
        })
        .collect();
    VersionInfo {
        packages,
        format: 1,
    }
}

/// `source` as cargo-auditable writes it: `crates.io`, else the kind of source before `+`
/// (`git`, `registry`, `sparse`), `local` for path packages.
fn source(p: &Package) -> Source {
    match p.source.as_ref().map(|s| s.repr.as_str()) {
        None => Source::Local,
        Some(CRATES_IO) => Source::CratesIo,
        Some(other) => Source::from(other.split('+').next().unwrap_or(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_named_as_cargo_auditable_names_them() {
        let json = |source: Option<&str>| {
            serde_json::json!({
                "name": "x", "version": "1.0.0", "id": "x 1.0.0", "source": source,
                "dependencies": [], "targets": [], "features": {},
                "manifest_path": "/x/Cargo.toml", "authors": [], "categories": [],
                "keywords": [], "edition": "2021", "publish": null, "license": null,
                "license_file": null, "description": null, "readme": null,
                "repository": null, "homepage": null, "documentation": null,
                "links": null, "metadata": null, "rust_version": null
            })
        };
        let named = |s: Option<&str>| {
            let p: Package = serde_json::from_value(json(s)).unwrap();
            String::from(source(&p))
        };
        assert_eq!(named(None), "local");
        assert_eq!(named(Some(CRATES_IO)), "crates.io");
        assert_eq!(named(Some("git+https://example.com/r?rev=1#abc")), "git");
        assert_eq!(named(Some("sparse+https://example.com/index/")), "sparse");
    }
}
