//! `cargo metadata --filter-platform` for the standalone `sbom`: cargo then resolves and
//! prints only what the SBOM's platforms build (corpus/rerun: 1,076 packages instead of
//! 1,237, 5.9 MB of JSON instead of 6.9 MB, and `cargo metadata` about 7% faster), and the
//! SBOM is the one the whole graph gives, or the whole graph is read.
//!
//! Cargo's filter decides with its own cfg values of the platforms; the SBOM's resolution
//! ([`super::resolve`]) decides with ours. Where they could differ (the user's `--cfg`
//! rustflags apply to cargo's host platform but not to ours, a spec file target), a
//! dependency ours selects could be missing from the filtered graph, and the resolution
//! would skip it as cargo skips a dependency with nothing to build. So the filtered graph is
//! used only when [`lacks_a_dependency`] finds no such gap: every non-dev, non-optional
//! dependency whose platform either of our cfgs selects has a resolved package of its name
//! and version requirement. Otherwise the whole graph is read, as without the filter
//! ([`super::load_and_resolve`]); an optional dependency that is missing makes the
//! resolution incomplete, which reads the whole graph too. A cargo that does not know the
//! filter's `host-tuple` (before 1.84) fails, and the whole graph is read then too.
//!
//! Used by `sbom` (and `audit`'s SBOM) only: `build` reads the whole graph once for
//! `inspect`, the SBOM and the cargo-auditable data.

use std::collections::HashMap;
use std::ffi::OsString;

use cargo_metadata::DependencyKind;

use super::load::Loaded;
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

/// Whether the (filtered) graph of `loaded` lacks a package that a dependency our cfgs
/// select may need: a non-dev, non-optional dependency, unconditional or for a platform the
/// host's or the target's cfg matches, with no resolved package of its name whose version
/// its requirement accepts (any version for a path dependency or a pre-release).
pub fn lacks_a_dependency(loaded: &Loaded) -> bool {
    let meta = &loaded.metadata;
    let Some(resolve) = meta.resolve.as_ref() else {
        return true;
    };
    let by_id: HashMap<&str, usize> = meta
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.repr.as_str(), i))
        .collect();
    resolve.nodes.iter().any(|node| {
        let Some(&i) = by_id.get(node.id.repr.as_str()) else {
            return false;
        };
        let resolved: Vec<&cargo_metadata::Package> = node
            .deps
            .iter()
            .filter_map(|d| by_id.get(d.pkg.repr.as_str()))
            .map(|&c| &meta.packages[c])
            .collect();
        meta.packages[i].dependencies.iter().any(|d| {
            d.kind != DependencyKind::Development
                && !d.optional
                && d.target.as_ref().is_none_or(|p| loaded.selects(p))
                && !resolved.iter().any(|p| {
                    // Cargo lets a path dependency, and a requirement, accept pre-releases
                    // that the semver crate's requirement refuses: those are not checked.
                    *p.name == d.name
                        && (d.path.is_some()
                            || !p.version.pre.is_empty()
                            || d.req.matches(&p.version))
                })
        })
    })
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
