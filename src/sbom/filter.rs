//! `cargo metadata --filter-platform` for the standalone `sbom`: cargo then resolves and
//! prints only what the SBOM's platforms build (corpus/rerun: 1,076 packages instead of
//! 1,237, 5.9 MB of JSON instead of 6.9 MB, and `cargo metadata` about 7% faster), and the
//! SBOM is the one the whole graph gives, or the whole graph is read.
//!
//! Cargo's filter decides with its own cfg values of the platforms; the SBOM's resolution
//! ([`super::resolve`]) decides with ours. Where they could differ (the user's `--cfg`
//! rustflags apply to cargo's host platform but not to ours), a dependency ours selects
//! could be missing from the filtered graph, or, worse, another package of its name (declared
//! for another platform) could stand in for it. So in a filtered graph a declaration is
//! matched only to an edge that cargo made for it ([`carries`]: the edge's name is the
//! declaration's and its `dep_kinds` name the declaration's kind and platform); a
//! declaration our cfgs select without such an edge marks the resolution incomplete, and the
//! whole graph is read, with all features, as for any incomplete resolution
//! ([`super::load_and_resolve`]), as it is when the filtered graph lacks what `-p` names. A
//! cargo that does not know the filter's `host-tuple` (before 1.84) fails saying so, and the
//! whole graph is read then too; any other failure is reported as it is.
//!
//! Used by `sbom` (and `audit`'s SBOM) only: `build` reads the whole graph once for
//! `inspect`, the SBOM and the cargo-auditable data.

use std::ffi::OsString;

use cargo_metadata::{Dependency, NodeDep};

use crate::inspect::cargo_config::CargoConfig;
use crate::select::Selection;

/// The `--filter-platform` arguments for `selection`: the requested target (`--target`,
/// else `build.target`) when there is one, and cargo's `host-tuple` (build scripts and
/// proc-macros are built for the host). `None` (no filter) for a target spec file.
pub fn args(selection: &Selection, config: &CargoConfig) -> Option<Vec<OsString>> {
    let mut out = Vec::new();
    if let Some(t) =
        crate::inspect::rustflags::requested_target(selection.target.as_deref(), config)
    {
        if t.ends_with(".json") || t.contains('/') {
            return None;
        }
        out.extend(["--filter-platform".into(), t.into()]);
    }
    out.extend(["--filter-platform".into(), "host-tuple".into()]);
    Some(out)
}

/// Whether cargo's resolved edge `dep` was made for the declaration `d`: its name is the
/// declaration's (the extern crate name: a renamed declaration's new name, else a name no
/// declaration of the package is renamed to; `renamed` holds those names), and one of its
/// `dep_kinds` has the declaration's kind and platform. Cargo keeps an edge when any of its
/// declarations is active and lists them all, so the kind and platform alone could match
/// the edge of another declaration of the same package name; the name tells them apart (cargo
/// refuses one package depended on under two names). In a filtered graph, a declaration our
/// cfgs select that no edge carries is one cargo did not resolve for us, and the resolution
/// then marks the graph incomplete, which reads the whole graph ([`super::resolve`]).
pub fn carries(dep: &NodeDep, d: &Dependency, renamed: &[String]) -> bool {
    let named = match &d.rename {
        Some(r) => dep.name == extern_name(r),
        None => !renamed.contains(&dep.name),
    };
    named
        && dep
            .dep_kinds
            .iter()
            .any(|k| k.kind == d.kind && k.target == d.target)
}

/// The extern crate names of the declarations of a package renamed to another name than
/// their package's (`renamed` of [`carries`]; cargo records `tower = { package = "tower" }`
/// as renamed to its own name).
pub fn renamed(deps: &[Dependency]) -> Vec<String> {
    deps.iter()
        .filter_map(|d| d.rename.as_deref().filter(|r| *r != d.name))
        .map(extern_name)
        .collect()
}

/// The name a dependency's crate is known by in code (and in cargo's `resolve` edges).
fn extern_name(name_in_toml: &str) -> String {
    name_in_toml.replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args_for(target: Option<&str>) -> Option<Vec<String>> {
        let sel = Selection {
            target: target.map(str::to_owned),
            ..Selection::default()
        };
        args(&sel, &CargoConfig::default())
            .map(|a| a.iter().map(|s| s.to_string_lossy().into_owned()).collect())
    }

    #[test]
    fn the_filter_names_the_target_and_the_host_and_never_a_spec_file() {
        assert_eq!(args_for(None).unwrap(), ["--filter-platform", "host-tuple"]);
        assert_eq!(
            args_for(Some("aarch64-unknown-linux-gnu")).unwrap(),
            [
                "--filter-platform",
                "aarch64-unknown-linux-gnu",
                "--filter-platform",
                "host-tuple"
            ]
        );
        assert_eq!(args_for(Some("my-target.json")), None);
        assert_eq!(args_for(Some("specs/my-target")), None);
    }
}
