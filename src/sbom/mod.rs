//! The CycloneDX SBOM of exactly the crates compiled into the shipped binaries.
//!
//! [`generate`] reads the project ([`load`]: `cargo metadata --locked`, `rustc` cfgs,
//! Cargo.lock checksums, git), replays cargo's feature resolution for the selection
//! ([`resolve`]: which crates are linked, which only run at build time), and writes the
//! document ([`cyclonedx`]). `docs/sbom.md` says where every field comes from.

pub mod auditable;
mod component;
mod crosscheck;
pub mod cyclonedx;
mod filter;
pub mod license;
pub mod load;
pub mod platform;
pub mod resolve;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::{Error, Result};
use crate::inspect::model::{BuiltBinary, CompiledUnit};

use crate::select::Selection;
use crate::ui::Ui;
use crate::util::digest::Digest;
use crate::util::url::strip_userinfo;
use component::library;
pub use component::package_key;
pub use cyclonedx::{ComponentScope, ComponentSpec, Kind};
use load::Loaded;
use resolve::Resolution;

/// The value of the SBOM property `cargo-provenance:auditable` on binaries that carry
/// cargo-auditable's dependency data (the `.dep-v0` section).
pub const AUDITABLE_VALUE: &str = "dep-v0";

/// The CycloneDX schema version to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpecVersion {
    /// CycloneDX 1.4.
    V1_4,
    /// CycloneDX 1.5 (the default).
    #[default]
    V1_5,
}

impl std::str::FromStr for SpecVersion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "1.4" => Ok(SpecVersion::V1_4),
            "1.5" => Ok(SpecVersion::V1_5),
            _ => Err(Error::msg(format!(
                "CycloneDX spec version `{s}` is not supported: use 1.4 or 1.5"
            ))),
        }
    }
}

/// What `metadata.component` describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SbomSubject {
    /// The root package (or, in workspace mode with several packages, the workspace).
    Application,
    /// A container image: `metadata.component` is the image, purl `pkg:oci/NAME@sha256%3A...`.
    Image {
        /// The image name as given to `build --image` (`[registry/]repo[:tag]`).
        name: String,
        /// The image (index) digest.
        digest: Digest,
    },
}

/// What to describe and how.
#[derive(Debug, Clone)]
pub struct SbomRequest<'a> {
    /// The cargo selection (packages, bins, features, target, manifest).
    pub selection: &'a Selection,
    /// The schema version.
    pub spec_version: SpecVersion,
    /// What `metadata.component` is.
    pub subject: SbomSubject,
    /// The built binaries (sha256 of each file); empty when nothing was built.
    pub binaries: Vec<BuiltBinary>,
    /// The units cargo compiled (from `build`): every required crate must be among them.
    pub compiled_units: Option<Vec<CompiledUnit>>,
    /// `SOURCE_DATE_EPOCH`; `None`: HEAD's commit time, and without git no timestamp.
    pub source_date_epoch: Option<i64>,
    /// One SBOM for every selected package's binaries (`--workspace`).
    pub workspace_mode: bool,
    /// The target and rustflags of each platform the build compiled for (from `build`;
    /// empty otherwise): the crates are resolved for them (see [`BuiltFor`]).
    pub built_for: Vec<BuiltFor>,
    /// The built binaries carry cargo-auditable's dependency data (`build` without
    /// `--no-auditable`): their components say so (`cargo-provenance:auditable`).
    pub auditable: bool,
}

/// What a build compiled one platform for: its target triple and every rustflag cargo got
/// (the user's, `+crt-static`, `-Ctarget-cpu`). They can differ from what the project's settings say
/// (`--platform` without `--target`, a static build), and `[target.'cfg(..)'.dependencies]`
/// must be evaluated as the build evaluated them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltFor {
    /// The Rust target triple.
    pub target: String,
    /// The rustflags of the target units.
    pub rustflags: Vec<String>,
}

/// A generated SBOM.
#[derive(Debug, Clone)]
pub struct Sbom {
    /// The document's bytes, as written to disk.
    pub json: Vec<u8>,
    /// `serialNumber` (`urn:uuid:...`, a UUID v5 of the content).
    pub serial_number: String,
    /// `metadata.component`.
    pub subject: ComponentSpec,
    /// The binaries and crates listed, sorted by bom-ref.
    pub components: Vec<ComponentSpec>,
    /// Warnings (also printed through the `Ui`).
    pub warnings: Vec<String>,
}

impl Sbom {
    /// The crates linked into the binaries (`scope: required`).
    pub fn required(&self) -> impl Iterator<Item = &ComponentSpec> {
        self.components
            .iter()
            .filter(|c| c.scope == Some(ComponentScope::Required))
    }
}

/// One SBOM for the selection. Without `workspace_mode`, the selection must ship exactly
/// one package's binaries.
pub fn generate(req: &SbomRequest, ui: &Ui) -> Result<Sbom> {
    let start = std::time::Instant::now();
    let (loaded, res) = load_and_resolve(req.selection, None, req.built_for.is_empty())?;
    let prepared = Prepared { loaded, res };
    warn_source(&prepared.loaded, ui);
    generate_prepared(req, prepared, start, ui)
}

/// Why the SBOM has no source URL (`build` leaves this to `inspect`, which says it once).
fn warn_source(loaded: &Loaded, ui: &Ui) {
    for w in &loaded.source_warnings {
        ui.warn(w);
    }
}

/// The project as read for an SBOM (`cargo metadata`, rustc, Cargo.lock, git) and resolved:
/// [`prepare`] runs it ahead (e.g. while cargo builds), [`generate_prepared`] uses it.
pub struct Prepared {
    loaded: Loaded,
    res: Resolution,
}

/// Reads and resolves the project for `selection` (the first half of [`generate`]), using
/// `reuse` instead of running `cargo metadata` when it answers the same question.
pub fn prepare(selection: &Selection, reuse: Option<load::Reuse>) -> Result<Prepared> {
    let (loaded, res) = load_and_resolve(selection, reuse, false)?;
    Ok(Prepared { loaded, res })
}

/// [`generate`] with the project read by [`prepare`] for the same selection; `start` is when
/// the reading began (for the `-v` timing line).
pub fn generate_prepared(
    req: &SbomRequest,
    prepared: Prepared,
    start: std::time::Instant,
    ui: &Ui,
) -> Result<Sbom> {
    let Prepared { loaded, res } = prepared;
    let (loaded, res) = for_build(loaded, res, &req.built_for, req.selection)?;
    let resolved_at = start.elapsed();
    let roots = shipped_roots(&loaded, &res, ui);
    if !req.workspace_mode && roots.len() > 1 {
        let names: Vec<&str> = roots
            .iter()
            .map(|&r| loaded.metadata.packages[r].name.as_str())
            .collect();
        return Err(Error::msg(format!(
            "{} packages are selected ({}): use --workspace for one SBOM of all of them, -p NAME \
             for one, or --output DIR for one file per package",
            names.len(),
            names.join(", ")
        )));
    }
    let sbom = build(&loaded, &res, &roots, req, ui)?;
    ui.verbose(
        "Timing",
        format!(
            "load (cargo metadata, rustc, Cargo.lock, git) and resolve {} ms, document {} ms",
            resolved_at.as_millis(),
            (start.elapsed() - resolved_at).as_millis()
        ),
    );
    Ok(sbom)
}

/// One SBOM per selected package that ships binaries, named by package (features resolved
/// for the whole selection, as one `cargo build` of it would).
pub fn generate_each(req: &SbomRequest, ui: &Ui) -> Result<Vec<(String, Sbom)>> {
    let (loaded, res) = load_and_resolve(req.selection, None, req.built_for.is_empty())?;
    warn_source(&loaded, ui);
    shipped_roots(&loaded, &res, ui)
        .into_iter()
        .map(|r| {
            Ok((
                loaded.metadata.packages[r].name.to_string(),
                build(&loaded, &res, &[r], req, ui)?,
            ))
        })
        .collect()
}

/// Loads the project and resolves the selection, loading again with all features when the
/// default-feature graph turned out too small (see [`load::load`]). `filter`: cargo is asked
/// for the SBOM's platforms only, and the whole graph (all features) is read when the
/// filtered one lacks a dependency our cfgs select ([`filter`]).
fn load_and_resolve(
    selection: &Selection,
    reuse: Option<load::Reuse>,
    filter: bool,
) -> Result<(Loaded, Resolution)> {
    let loaded = load::load(selection, false, reuse, filter)?;
    let res = match resolve::resolve(&loaded, selection) {
        // A filtered graph may lack what the selection names (`-p` of a crate that only
        // another platform depends on): the whole graph decides. Not when cargo failed.
        Err(_) if loaded.filtered && loaded.exit.check().is_ok() => {
            return load_and_resolve(selection, None, false);
        }
        res => res?,
    };
    if res.incomplete && (!loaded.all_features || loaded.filtered) {
        let loaded = load::load(selection, true, None, false)?;
        let res = resolve::resolve(&loaded, selection)?;
        return Ok((loaded, res));
    }
    Ok((loaded, res))
}

/// The project resolved for what the build compiled: each platform's target cfg is asked
/// with the flags cargo got and the crates are resolved for it, and the resolutions are
/// joined, so the SBOM lists every crate linked into any platform's binaries. The given
/// resolution is kept when the build compiled exactly what the settings said.
fn for_build(
    mut loaded: Loaded,
    res: Resolution,
    built: &[BuiltFor],
    selection: &Selection,
) -> Result<(Loaded, Resolution)> {
    // Resolved for these very platforms already (the build's cargo-auditable data).
    if !built.is_empty() && loaded.resolved_for == built {
        return Ok((loaded, res));
    }
    let mut platforms = Vec::with_capacity(built.len());
    for b in built {
        let cfg = platform::target_cfg(
            &loaded.programs,
            loaded.manifest_dir(),
            &b.target,
            &b.rustflags,
        )?;
        platforms.push((b.target.clone(), cfg));
    }
    if platforms.is_empty()
        || platforms
            .iter()
            .all(|(t, c)| *t == loaded.target && *c == loaded.target_cfg)
    {
        loaded.resolved_for = built.to_vec();
        return Ok((loaded, res));
    }
    let mut joined = resolve_all(&mut loaded, &platforms, selection)?;
    if joined.incomplete && !loaded.all_features {
        loaded = load::load(selection, true, None, false)?;
        joined = resolve_all(&mut loaded, &platforms, selection)?;
    }
    loaded.resolved_for = built.to_vec();
    Ok((loaded, joined))
}

/// Resolves the selection for each (target, cfg) and joins the results; `loaded` is left
/// with the first platform.
fn resolve_all(
    loaded: &mut Loaded,
    platforms: &[(String, Vec<cargo_metadata::cargo_platform::Cfg>)],
    selection: &Selection,
) -> Result<Resolution> {
    let mut joined: Option<Resolution> = None;
    for (target, cfg) in platforms.iter().rev() {
        loaded.target = target.clone();
        loaded.target_cfg = cfg.clone();
        let r = resolve::resolve(loaded, selection)?;
        joined = Some(match joined {
            None => r,
            Some(mut j) => {
                j.join(r);
                j
            }
        });
    }
    joined.ok_or_else(|| Error::msg("internal error: no platform to resolve for"))
}

/// The packages whose binaries ship; the selected packages when no binary is selected.
fn shipped_roots(loaded: &Loaded, res: &Resolution, ui: &Ui) -> Vec<usize> {
    let mut roots: Vec<usize> = res.bins.iter().map(|b| b.package).collect();
    roots.dedup();
    if roots.is_empty() {
        let names: Vec<&str> = res
            .selected
            .iter()
            .map(|&p| loaded.metadata.packages[p].name.as_str())
            .collect();
        ui.warn(format!(
            "no binary target selected in {}: the SBOM describes the libraries",
            names.join(", ")
        ));
        roots = res.selected.clone();
    }
    roots
}

fn build(
    loaded: &Loaded,
    res: &Resolution,
    roots: &[usize],
    req: &SbomRequest,
    ui: &Ui,
) -> Result<Sbom> {
    let (uses, units) = res.scope(roots);
    let mut components = Vec::new();
    let mut refs: HashMap<usize, String> = HashMap::new();
    for (&p, &u) in &uses {
        let spec = library(loaded, res, &units, p, u);
        refs.insert(p, spec.bom_ref.clone());
        components.push(spec);
    }
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (&p, r) in &refs {
        deps.insert(r.clone(), dep_refs(res, &units, &refs, p));
    }
    let subject = subject(loaded, roots, req, &refs)?;
    let mut subject_deps = BTreeSet::new();
    let scope = Scope {
        res,
        units: &units,
        refs: &refs,
    };
    for bin in res.bins.iter().filter(|b| roots.contains(&b.package)) {
        let spec = binary(loaded, req, bin);
        subject_deps.insert(spec.bom_ref.clone());
        deps.insert(spec.bom_ref.clone(), scope.dep_refs(bin.package));
        components.push(spec);
    }
    check_built_binaries(loaded, res, roots, req)?;
    if subject_deps.is_empty() {
        for &r in roots {
            subject_deps.extend(scope.dep_refs(r));
            if let Some(own) = refs.get(&r) {
                subject_deps.insert(own.clone());
            }
        }
    }
    deps.insert(subject.bom_ref.clone(), subject_deps);
    if let Some(compiled) = &req.compiled_units {
        crosscheck::compiled(loaded, &uses, roots, compiled)?;
    }
    let (timestamp, warnings) = timestamp_and_warnings(loaded, req)?;
    components.sort_by(|a, b| a.bom_ref.cmp(&b.bom_ref));
    let doc = cyclonedx::Document {
        spec_version: req.spec_version,
        timestamp,
        subject: subject.clone(),
        components,
        dependencies: deps,
    };
    let (json, serial_number) = cyclonedx::render(&doc)?;
    for w in &warnings {
        ui.warn(w);
    }
    Ok(Sbom {
        json,
        serial_number,
        subject,
        components: doc.components,
        warnings,
    })
}

/// `metadata.timestamp` (SOURCE_DATE_EPOCH, else HEAD's commit time), and what the SBOM
/// cannot say: no time, or resolver 1's feature unification.
fn timestamp_and_warnings(
    loaded: &Loaded,
    req: &SbomRequest,
) -> Result<(Option<String>, Vec<String>)> {
    let mut warnings = Vec::new();
    let epoch = req.source_date_epoch.or(loaded.commit_time);
    let timestamp = match epoch {
        Some(e) => Some(crate::util::time::rfc3339(e)?),
        None => {
            warnings.push(
                "no SOURCE_DATE_EPOCH and no git commit: the SBOM has no metadata.timestamp"
                    .to_owned(),
            );
            None
        }
    };
    if loaded.resolver == "1" {
        warnings.push(
            "the workspace uses feature resolver 1; the SBOM follows resolver 2's rules, so a crate \
             enabled only through dev- or build-dependency feature unification may be missing"
                .to_owned(),
        );
    }
    Ok((timestamp, warnings))
}

/// What [`dep_refs`] needs, for one SBOM.
struct Scope<'a> {
    res: &'a Resolution,
    units: &'a BTreeSet<resolve::Unit>,
    refs: &'a HashMap<usize, String>,
}

impl Scope<'_> {
    fn dep_refs(&self, package: usize) -> BTreeSet<String> {
        dep_refs(self.res, self.units, self.refs, package)
    }
}

/// The component of a selected binary target; with its digest, path in the image and the
/// cargo-auditable mark when the build made it (`req.binaries`).
fn binary(loaded: &Loaded, req: &SbomRequest, bin: &resolve::Bin) -> ComponentSpec {
    let p = &loaded.metadata.packages[bin.package];
    let built = req
        .binaries
        .iter()
        .find(|b| b.package == *p.name && b.name == bin.name);
    let mut props = vec![(
        "cargo-provenance:package".to_owned(),
        format!("{}@{}", p.name, p.version),
    )];
    if let Some(b) = built {
        props.push((
            "cargo-provenance:path-in-image".to_owned(),
            b.path_in_image.clone(),
        ));
        if req.auditable {
            props.push((
                "cargo-provenance:auditable".to_owned(),
                AUDITABLE_VALUE.to_owned(),
            ));
        }
    }
    ComponentSpec {
        bom_ref: format!("bin:{}/{}", p.name, bin.name),
        kind: Kind::Application,
        name: bin.name.clone(),
        version: Some(p.version.to_string()),
        scope: None,
        sha256: built.map(|b| b.digest.hex()),
        license: license::normalize(
            p.license.as_deref(),
            p.license_file.as_ref().map(|f| f.as_str()),
        ),
        purl: None,
        vcs: p.repository.as_deref().map(strip_userinfo),
        properties: props,
    }
}

/// Every binary the build made must be a binary target of the SBOM's packages (`roots`):
/// else the build and the SBOM's selection differ, and the SBOM would not describe what
/// ships.
fn check_built_binaries(
    loaded: &Loaded,
    res: &Resolution,
    roots: &[usize],
    req: &SbomRequest,
) -> Result<()> {
    let pkgs = &loaded.metadata.packages;
    let unknown: Vec<String> = req
        .binaries
        .iter()
        .filter(|b| {
            !res.bins.iter().any(|x| {
                roots.contains(&x.package) && *pkgs[x.package].name == b.package && x.name == b.name
            })
        })
        .map(|b| format!("{}/{}", b.package, b.name))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(Error::msg(format!(
        "built binaries {} are not among the selected binary targets: the build and the SBOM \
         selection differ",
        unknown.join(", ")
    )))
}

/// The bom-refs of a package's dependencies among the listed components.
fn dep_refs(
    res: &Resolution,
    units: &BTreeSet<resolve::Unit>,
    refs: &HashMap<usize, String>,
    p: usize,
) -> BTreeSet<String> {
    res.package_deps(p, units)
        .into_iter()
        .filter_map(|d| refs.get(&d).cloned())
        .collect()
}

fn subject(
    loaded: &Loaded,
    roots: &[usize],
    req: &SbomRequest,
    refs: &HashMap<usize, String>,
) -> Result<ComponentSpec> {
    let pkgs = &loaded.metadata.packages;
    if let SbomSubject::Image { name, digest } = &req.subject {
        let bare = name.split('@').next().unwrap_or(name);
        return Ok(ComponentSpec {
            bom_ref: format!("image:{bare}@{digest}"),
            kind: Kind::Container,
            name: bare.to_owned(),
            version: Some(digest.to_string()),
            scope: None,
            sha256: Some(digest.hex()),
            license: None,
            purl: Some(cyclonedx::oci_purl(bare, &digest.hex())),
            vcs: loaded.remote_url.clone(),
            properties: Vec::new(),
        });
    }
    if let [r] = roots {
        let p = &pkgs[*r];
        let mut key = package_key(loaded, p);
        if refs.values().any(|v| *v == key) {
            key = format!("app:{key}");
        }
        return Ok(ComponentSpec {
            bom_ref: key,
            kind: Kind::Application,
            name: p.name.to_string(),
            version: Some(p.version.to_string()),
            scope: None,
            sha256: None,
            license: license::normalize(
                p.license.as_deref(),
                p.license_file.as_ref().map(|f| f.as_str()),
            ),
            purl: Some(cyclonedx::cargo_purl(&p.name, &p.version.to_string(), &[])),
            vcs: p
                .repository
                .as_deref()
                .map(strip_userinfo)
                .or_else(|| loaded.remote_url.clone()),
            properties: Vec::new(),
        });
    }
    // A workspace: its root package, else the repository's name, else `workspace`.
    let root_manifest = loaded.workspace_root().join("Cargo.toml");
    let root_pkg = pkgs
        .iter()
        .find(|p| p.manifest_path.as_std_path() == root_manifest);
    let name = root_pkg.map(|p| p.name.to_string()).unwrap_or_else(|| {
        loaded
            .remote_url
            .as_deref()
            .and_then(|u| u.trim_end_matches('/').rsplit(['/', ':']).next())
            .map(|n| n.trim_end_matches(".git").to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "workspace".to_owned())
    });
    let version = root_pkg
        .map(|p| p.version.to_string())
        .or_else(|| loaded.workspace_version.clone());
    let members: Vec<String> = roots.iter().map(|&r| pkgs[r].name.to_string()).collect();
    Ok(ComponentSpec {
        bom_ref: format!("workspace:{name}"),
        kind: Kind::Application,
        name,
        version,
        scope: None,
        sha256: None,
        license: None,
        purl: None,
        vcs: loaded.remote_url.clone(),
        properties: vec![("cargo-provenance:packages".to_owned(), members.join(","))],
    })
}
