//! Which crates ship: cargo's feature resolver (version 2) replayed on the `cargo metadata`
//! graph, then each crate scoped by how the shipped binaries reach it.
//!
//! `cargo metadata` reports one unified feature set per package (dev-dependencies, every
//! platform and build-time use mixed together), which is why metadata-based SBOMs list too
//! much. Cargo's own build decouples them: features are tracked per *unit* — a package built
//! for the target, or for the host (build scripts, proc-macros and everything they use) — and
//! only dependencies whose `[target.'cfg(..)']` condition holds for that unit's platform are
//! followed; dev-dependencies are not built at all. [`resolve`] does the same walk, with the
//! same rules as cargo's `FeatureResolver` (optional dependencies, `dep:` and weak `?/`
//! features, implicit features), starting from the selected packages and the command line
//! features. A package reached as a target unit through normal edges from a shipped root is
//! linked into the binary (`required`); one reached only as a host unit is build-only
//! (`excluded`); everything else is not part of the build and absent.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use cargo_metadata::cargo_platform::Platform;
use cargo_metadata::{DependencyKind, Metadata, Package, TargetKind};

use super::load::Loaded;
use crate::error::{Error, Result};
use crate::select::Selection;

/// A unit: a package index and whether it is built for the host.
pub type Unit = (usize, bool);

/// How a crate is used by the shipped binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Use {
    /// Linked into a binary.
    Required,
    /// Used only while building (build scripts, proc-macros and what only they pull in).
    BuildOnly,
}

/// A selected binary target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bin {
    /// The index of its package.
    pub package: usize,
    /// The binary's name.
    pub name: String,
}

/// One dependency declaration, with the package it resolved to.
#[derive(Debug)]
struct Decl<'a> {
    name_in_toml: String,
    build: bool,
    platform: Option<&'a Platform>,
    optional: bool,
    default_features: bool,
    features: &'a [String],
    pkg: usize,
}

/// The resolved units of a selection and their edges.
#[derive(Debug)]
pub struct Resolution {
    /// The packages selected (feature roots), sorted.
    pub selected: Vec<usize>,
    /// The selected binaries, sorted by package then name.
    pub bins: Vec<Bin>,
    /// Every unit cargo would build, with its features.
    pub features: BTreeMap<Unit, BTreeSet<String>>,
    /// Edges between units.
    pub edges: BTreeMap<Unit, BTreeSet<Unit>>,
    /// Whether a package's library is a proc-macro.
    pub proc_macro: Vec<bool>,
    /// True when an optional dependency was turned on that the metadata graph does not hold
    /// (the graph was loaded without `--all-features`): resolve again with all features.
    pub incomplete: bool,
}

impl Resolution {
    /// The root unit of a package (its lib and bins' dependencies).
    pub fn root_unit(&self, package: usize) -> Unit {
        (package, self.proc_macro[package])
    }

    /// Scopes every package the given shipped roots reach: target units reached through
    /// target edges are [`Use::Required`], the rest [`Use::BuildOnly`]. Roots themselves are
    /// left out unless another root depends on them. Also returns every unit reached.
    pub fn scope(&self, roots: &[usize]) -> (BTreeMap<usize, Use>, BTreeSet<Unit>) {
        let mut required: HashSet<Unit> = HashSet::new();
        let mut all: HashSet<Unit> = HashSet::new();
        let mut stack: Vec<Unit> = roots.iter().map(|&r| self.root_unit(r)).collect();
        let starts: HashSet<Unit> = stack.iter().copied().collect();
        while let Some(u) = stack.pop() {
            if !all.insert(u) {
                continue;
            }
            stack.extend(self.edges.get(&u).into_iter().flatten().copied());
        }
        let mut stack: Vec<Unit> = starts.iter().copied().filter(|u| !u.1).collect();
        while let Some(u) = stack.pop() {
            if !required.insert(u) {
                continue;
            }
            stack.extend(
                self.edges
                    .get(&u)
                    .into_iter()
                    .flatten()
                    .filter(|d| !d.1)
                    .copied(),
            );
        }
        let reached_as_dep: HashSet<usize> = all
            .iter()
            .flat_map(|u| self.edges.get(u).into_iter().flatten())
            .map(|d| d.0)
            .collect();
        let mut out = BTreeMap::new();
        for &u in &all {
            if roots.contains(&u.0) && !reached_as_dep.contains(&u.0) {
                continue;
            }
            let used = if required.contains(&(u.0, false)) {
                Use::Required
            } else {
                Use::BuildOnly
            };
            out.entry(u.0)
                .and_modify(|s: &mut Use| *s = (*s).min(used))
                .or_insert(used);
        }
        (out, all.into_iter().collect())
    }

    /// Adds the resolution of the same selection for another platform: units, features and
    /// edges joined, so that [`Resolution::scope`] covers the crates of both.
    pub fn join(&mut self, other: Resolution) {
        for (u, f) in other.features {
            self.features.entry(u).or_default().extend(f);
        }
        for (u, e) in other.edges {
            self.edges.entry(u).or_default().extend(e);
        }
        self.bins.extend(other.bins);
        self.bins.sort();
        self.bins.dedup();
        self.incomplete |= other.incomplete;
    }

    /// The packages a package depends on through the given units, sorted.
    pub fn package_deps(&self, package: usize, units: &BTreeSet<Unit>) -> BTreeSet<usize> {
        [(package, false), (package, true)]
            .iter()
            .filter(|u| units.contains(u))
            .flat_map(|u| self.edges.get(u).into_iter().flatten())
            .map(|d| d.0)
            .filter(|&d| d != package)
            .collect()
    }
}

/// Resolves which units cargo would build for `selection` on the loaded workspace.
pub fn resolve(loaded: &Loaded, selection: &Selection) -> Result<Resolution> {
    let res = resolve_parsed(loaded, selection);
    // cargo exits while its answer is resolved; a failure of cargo comes first.
    loaded.exit.check()?;
    res
}

/// [`resolve`] before cargo's exit is checked.
fn resolve_parsed(loaded: &Loaded, selection: &Selection) -> Result<Resolution> {
    let meta = &loaded.metadata;
    let pkgs = &meta.packages;
    let index: HashMap<&str, usize> = pkgs
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.repr.as_str(), i))
        .collect();
    let proc_macro: Vec<bool> = pkgs.iter().map(is_proc_macro).collect();
    let (decls, unresolved, doubt) = declarations(meta, &index, loaded)?;
    let selected = select_packages(loaded, &index, selection)?;
    let mut r = FeatureResolver {
        pkgs,
        decls: &decls,
        proc_macro: &proc_macro,
        loaded,
        features: BTreeMap::new(),
        deps_on: HashMap::new(),
        processed: HashSet::new(),
        deferred: HashMap::new(),
        unresolved: &unresolved,
        incomplete: false,
    };
    let root_fvs = cli_features(pkgs, &selected, selection)?;
    for (&p, fvs) in selected.iter().zip(&root_fvs) {
        r.activate_pkg((p, proc_macro[p]), fvs);
    }
    let mut edges: BTreeMap<Unit, BTreeSet<Unit>> = BTreeMap::new();
    for &u in r.features.keys() {
        let on = r.deps_on.get(&u);
        let set = edges.entry(u).or_default();
        for (d, du) in r.deps(u) {
            if !d.optional || on.is_some_and(|s| s.contains(&d.name_in_toml)) {
                set.insert(du);
            }
        }
    }
    let bins = select_bins(pkgs, &selected, &r.features, &proc_macro, selection)?;
    // A filtered graph that lacks what our cfgs select is read whole ([`super::filter`]).
    let incomplete = r.incomplete || doubt;
    Ok(Resolution {
        selected,
        bins,
        features: r.features,
        edges,
        proc_macro,
        incomplete,
    })
}

fn is_proc_macro(p: &Package) -> bool {
    p.targets
        .iter()
        .any(|t| t.kind.contains(&TargetKind::ProcMacro))
}

/// Declarations of each package mapped to resolved packages, the names of optional ones
/// the graph holds no package for, and whether a filtered graph lacks a non-optional one our
/// cfgs select.
type Declarations<'a> = (Vec<Vec<Decl<'a>>>, Vec<HashSet<String>>, bool);

/// Maps every non-dev dependency declaration to the package the resolve picked for it. In a
/// graph cargo filtered for our platforms, only an edge cargo made for the declaration
/// counts ([`super::filter::carries`]).
fn declarations<'a>(
    meta: &'a Metadata,
    index: &HashMap<&str, usize>,
    loaded: &Loaded,
) -> Result<Declarations<'a>> {
    let pkgs = &meta.packages;
    let resolve = meta
        .resolve
        .as_ref()
        .ok_or_else(|| Error::msg("`cargo metadata` returned no dependency graph (`resolve`)"))?;
    let mut out: Vec<Vec<Decl>> = pkgs.iter().map(|_| Vec::new()).collect();
    let mut unresolved: Vec<HashSet<String>> = pkgs.iter().map(|_| HashSet::new()).collect();
    let mut doubt = false;
    for node in &resolve.nodes {
        let Some(&i) = index.get(node.id.repr.as_str()) else {
            continue;
        };
        let renamed = match loaded.filtered {
            true => super::filter::renamed(&pkgs[i].dependencies),
            false => Vec::new(),
        };
        let cands: Vec<(usize, &cargo_metadata::NodeDep)> = node
            .deps
            .iter()
            .filter_map(|e| index.get(e.pkg.repr.as_str()).map(|&c| (c, e)))
            .collect();
        for d in &pkgs[i].dependencies {
            if d.kind == DependencyKind::Development {
                continue;
            }
            let by_name: Vec<usize> = cands
                .iter()
                .filter(|(c, e)| {
                    *pkgs[*c].name == d.name
                        && (!loaded.filtered || super::filter::carries(e, d, &renamed))
                })
                .map(|&(c, _)| c)
                .collect();
            // An optional one for a platform neither of ours is never built here: a graph
            // without it (a `--filter-platform` graph lacks them all) is not too small.
            let selected = d.target.as_ref().is_none_or(|p| loaded.selects(p));
            // No resolved package: an optional dependency no feature can turn on, or a
            // dependency without a library; cargo builds nothing for it either. In a
            // filtered graph, a non-optional one may be what cargo's filter left out.
            let Some(pkg) = pick(pkgs, by_name, d) else {
                if d.optional && selected {
                    unresolved[i].insert(d.rename.clone().unwrap_or_else(|| d.name.clone()));
                }
                doubt |= !d.optional && selected && loaded.filtered;
                continue;
            };
            out[i].push(Decl {
                name_in_toml: d.rename.clone().unwrap_or_else(|| d.name.clone()),
                build: d.kind == DependencyKind::Build,
                platform: d.target.as_ref(),
                optional: d.optional,
                default_features: d.uses_default_features,
                features: &d.features,
                pkg,
            });
        }
    }
    Ok((out, unresolved, doubt))
}

/// The package the resolve picked for `d` among the resolved packages of its name: those its
/// version requirement accepts (else all), then the one from where it is declared, else (a
/// path dependency) one without a source, else the first.
fn pick(pkgs: &[Package], by_name: Vec<usize>, d: &cargo_metadata::Dependency) -> Option<usize> {
    let by_req: Vec<usize> = by_name
        .iter()
        .copied()
        .filter(|&c| d.req.matches(&pkgs[c].version))
        .collect();
    let pool = if by_req.is_empty() { &by_name } else { &by_req };
    pool.iter()
        .copied()
        .find(|&c| is_declared_source(&pkgs[c], d))
        .or_else(|| {
            pool.iter()
                .copied()
                .find(|&c| d.path.is_some() && pkgs[c].source.is_none())
        })
        .or_else(|| pool.first().copied())
}

/// Whether `pkg` comes from where `d` declares it: the directory of a path dependency, else
/// its source (a git package's source ends in `#<commit>`, which the declaration lacks).
/// Several packages of one name can be resolved for one package (renamed dependencies, for
/// different platforms): the source tells them apart.
fn is_declared_source(pkg: &Package, d: &cargo_metadata::Dependency) -> bool {
    match (&d.path, &pkg.source, &d.source) {
        (Some(dir), None, _) => pkg.manifest_path.parent() == Some(dir.as_path()),
        (None, Some(got), Some(wanted)) => {
            without_commit(&got.repr) == without_commit(&wanted.repr)
        }
        (None, None, None) => true,
        _ => false,
    }
}

/// A source without its `#<commit>` (a git package's).
fn without_commit(source: &str) -> &str {
    source.split_once('#').map_or(source, |(base, _)| base)
}

/// The packages the selection names (`inspect`'s rules, so that every stage selects the
/// same), as indices, sorted.
fn select_packages(
    loaded: &Loaded,
    index: &HashMap<&str, usize>,
    sel: &Selection,
) -> Result<Vec<usize>> {
    let ids = crate::inspect::select_roots(&loaded.metadata, sel, &loaded.manifest)?;
    let mut out: Vec<usize> = ids
        .iter()
        .filter_map(|id| index.get(id.repr.as_str()).copied())
        .collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The feature values the command line turns on for each selected package (resolver 2 rules).
fn cli_features(pkgs: &[Package], selected: &[usize], sel: &Selection) -> Result<Vec<Vec<String>>> {
    let mut out: Vec<Vec<String>> = selected.iter().map(|_| Vec::new()).collect();
    for (k, &p) in selected.iter().enumerate() {
        if sel.all_features {
            out[k].extend(pkgs[p].features.keys().cloned());
        }
        if !sel.no_default_features {
            out[k].push("default".to_owned());
        }
    }
    for f in sel.feature_list() {
        if let Some((pkg, feat)) = f.split_once('/') {
            let pkg = pkg.trim_end_matches('?');
            match selected.iter().position(|&p| *pkgs[p].name == pkg) {
                Some(k) => out[k].push(feat.to_owned()),
                None => out.iter_mut().for_each(|v| v.push(f.clone())),
            }
            continue;
        }
        let mut found = false;
        for (k, &p) in selected.iter().enumerate() {
            if pkgs[p].features.contains_key(&f) || f.starts_with("dep:") {
                out[k].push(f.clone());
                found = true;
            }
        }
        if !found {
            let names: Vec<&str> = selected.iter().map(|&p| pkgs[p].name.as_str()).collect();
            return Err(Error::msg(format!(
                "none of the selected packages ({}) has the feature `{f}` given with --features",
                names.join(", ")
            )));
        }
    }
    Ok(out)
}

/// The binary targets of the selected packages that cargo would build.
fn select_bins(
    pkgs: &[Package],
    selected: &[usize],
    features: &BTreeMap<Unit, BTreeSet<String>>,
    proc_macro: &[bool],
    sel: &Selection,
) -> Result<Vec<Bin>> {
    let mut out = Vec::new();
    for &p in selected {
        let enabled = features.get(&(p, proc_macro[p]));
        for t in pkgs[p]
            .targets
            .iter()
            .filter(|t| t.kind.contains(&TargetKind::Bin))
        {
            let explicit = sel.bins.contains(&t.name);
            if !sel.bins.is_empty() && !explicit {
                continue;
            }
            let missing: Vec<&str> = t
                .required_features
                .iter()
                .filter(|f| !f.contains('/') && !enabled.is_some_and(|e| e.contains(*f)))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                if explicit {
                    return Err(Error::msg(format!(
                        "binary `{}` of package `{}` requires the features {}: add them with --features",
                        t.name,
                        pkgs[p].name,
                        missing.join(", ")
                    )));
                }
                continue;
            }
            out.push(Bin {
                package: p,
                name: t.name.clone(),
            });
        }
    }
    for b in &sel.bins {
        if !out.iter().any(|x| &x.name == b) {
            return Err(Error::msg(format!(
                "no binary target named `{b}` in the selected packages"
            )));
        }
    }
    out.sort();
    Ok(out)
}

/// cargo's `FeatureResolver`, decoupled for host units, dev-dependencies off.
struct FeatureResolver<'a> {
    pkgs: &'a [Package],
    decls: &'a [Vec<Decl<'a>>],
    proc_macro: &'a [bool],
    loaded: &'a Loaded,
    features: BTreeMap<Unit, BTreeSet<String>>,
    deps_on: HashMap<Unit, HashSet<String>>,
    processed: HashSet<Unit>,
    deferred: HashMap<(Unit, String), Vec<String>>,
    unresolved: &'a [HashSet<String>],
    incomplete: bool,
}

impl<'a> FeatureResolver<'a> {
    /// The declarations of a unit's package that apply to it, with the unit each builds.
    fn deps(&self, u: Unit) -> Vec<(&'a Decl<'a>, Unit)> {
        let decls: &'a [Decl<'a>] = &self.decls[u.0];
        decls
            .iter()
            .filter(|d| match d.platform {
                None => true,
                Some(p) if d.build || u.1 => p.matches(&self.loaded.host, &self.loaded.host_cfg),
                Some(p) => p.matches(&self.loaded.target, &self.loaded.target_cfg),
            })
            .map(|d| (d, (d.pkg, u.1 || d.build || self.proc_macro[d.pkg])))
            .collect()
    }

    fn activate_pkg(&mut self, u: Unit, fvs: &[String]) {
        self.features.entry(u).or_default();
        for fv in fvs {
            self.activate_fv(u, fv);
        }
        if !self.processed.insert(u) {
            return;
        }
        for (d, du) in self.deps(u) {
            if !d.optional {
                self.activate_pkg(du, &dep_fvs(d));
            }
        }
    }

    fn activate_fv(&mut self, u: Unit, fv: &str) {
        if let Some(dep) = fv.strip_prefix("dep:") {
            self.activate_dependency(u, dep);
        } else if let Some((dep, feat)) = fv.split_once('/') {
            match dep.strip_suffix('?') {
                Some(dep) => self.activate_dep_feature(u, dep, feat, true),
                None => self.activate_dep_feature(u, dep, feat, false),
            }
        } else {
            self.activate_rec(u, fv);
        }
    }

    fn activate_rec(&mut self, u: Unit, feature: &str) {
        if !self
            .features
            .entry(u)
            .or_default()
            .insert(feature.to_owned())
        {
            return;
        }
        let pkgs: &'a [Package] = self.pkgs;
        if let Some(fvs) = pkgs[u.0].features.get(feature) {
            for fv in fvs {
                self.activate_fv(u, fv);
            }
        }
    }

    fn activate_dependency(&mut self, u: Unit, name: &str) {
        self.deps_on.entry(u).or_default().insert(name.to_owned());
        if self.unresolved[u.0].contains(name) {
            self.incomplete = true;
        }
        let deferred = self
            .deferred
            .remove(&(u, name.to_owned()))
            .unwrap_or_default();
        for (d, du) in self.deps(u) {
            if d.name_in_toml != name {
                continue;
            }
            self.activate_pkg(du, &dep_fvs(d));
            for f in &deferred {
                self.activate_fv(du, f);
            }
        }
    }

    fn activate_dep_feature(&mut self, u: Unit, dep: &str, feat: &str, weak: bool) {
        // `dep/feat` turns the optional dependency on: one the graph lacks makes it too small.
        if !weak && self.unresolved[u.0].contains(dep) {
            self.incomplete = true;
        }
        for (d, du) in self.deps(u) {
            if d.name_in_toml != dep {
                continue;
            }
            if d.optional {
                let on = self.deps_on.get(&u).is_some_and(|s| s.contains(dep));
                if weak && !on {
                    self.deferred
                        .entry((u, dep.to_owned()))
                        .or_default()
                        .push(feat.to_owned());
                    continue;
                }
                self.activate_dependency(u, dep);
                if !weak && self.pkgs[u.0].features.contains_key(dep) {
                    self.activate_rec(u, dep);
                }
            }
            self.activate_pkg(du, &[feat.to_owned()]);
        }
    }
}

/// The feature values a dependency declaration asks for.
fn dep_fvs(d: &Decl) -> Vec<String> {
    let mut v: Vec<String> = d.features.to_vec();
    if d.default_features {
        v.push("default".to_owned());
    }
    v
}
