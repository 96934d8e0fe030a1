//! The SBOM against what `build` compiled (cargo's `compiler-artifact` messages): the
//! resolution and the build must agree both ways, or no SBOM is written (exit 2).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::load::Loaded;
use super::resolve::Use;
use crate::error::{Error, Result};
use crate::inspect::model::CompiledUnit;

/// Checks the resolved set against the compiled units: every `required` crate must have
/// been compiled, and every compiled crate must be listed (linked, build-only or a shipped
/// package). Either mismatch is an error naming the crates: the SBOM would be wrong.
pub fn compiled(
    loaded: &Loaded,
    uses: &BTreeMap<usize, Use>,
    roots: &[usize],
    compiled: &[CompiledUnit],
) -> Result<()> {
    let pkgs = &loaded.metadata.packages;
    let mut built: BTreeSet<usize> = BTreeSet::new();
    let mut unlisted: BTreeSet<String> = BTreeSet::new();
    let index = Index::new(loaded);
    for u in compiled {
        match index.find(u) {
            Some(i) if uses.contains_key(&i) || roots.contains(&i) => {
                if is_library(u) {
                    built.insert(i);
                }
            }
            _ => {
                unlisted.insert(format!("{}@{}", u.name, u.version));
            }
        }
    }
    let missing: Vec<String> = uses
        .iter()
        .filter(|(i, u)| **u == Use::Required && !built.contains(i))
        .map(|(&i, _)| format!("{}@{}", pkgs[i].name, pkgs[i].version))
        .collect();
    if !missing.is_empty() {
        return Err(Error::msg(format!(
            "crates resolved as linked into the binaries were not compiled by the build: {}; the \
             build and the SBOM selection (features, target, packages) differ",
            missing.join(", ")
        )));
    }
    if !unlisted.is_empty() {
        return Err(Error::msg(format!(
            "the build compiled {}, which the SBOM does not list: the SBOM's resolution (target, \
             rustflags, features) differs from the build's, so no SBOM is written; please report \
             this with the project's .cargo/config.toml and the command line",
            unlisted.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

/// A unit that is a library of its package (not a binary, build script, test, example).
fn is_library(u: &CompiledUnit) -> bool {
    u.target_kinds.iter().any(|k| {
        !matches!(
            k.as_str(),
            "bin" | "custom-build" | "test" | "example" | "bench"
        )
    })
}

/// Packages by cargo's package id, with a name-and-version fallback.
struct Index<'a> {
    loaded: &'a Loaded,
    by_id: HashMap<&'a str, usize>,
}

impl<'a> Index<'a> {
    fn new(loaded: &'a Loaded) -> Self {
        let by_id = loaded
            .metadata
            .packages
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.repr.as_str(), i))
            .collect();
        Index { loaded, by_id }
    }

    /// The package of a unit: by id, else the one package with its name and version.
    fn find(&self, u: &CompiledUnit) -> Option<usize> {
        if let Some(&i) = self.by_id.get(u.package_id.as_str()) {
            return Some(i);
        }
        let mut it = self
            .loaded
            .metadata
            .packages
            .iter()
            .enumerate()
            .filter(|(_, p)| *p.name == u.name && p.version.to_string() == u.version);
        match (it.next(), it.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }
}
