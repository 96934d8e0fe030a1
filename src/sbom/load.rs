//! What the SBOM is computed from, read in one pass and without changing anything:
//! `cargo metadata --locked` (`--all-features` when features are asked for: the superset
//! graph the selection is a part of), the host's and the target's cfg values as the build
//! sees them ([`super::platform`], to evaluate `[target.'cfg(..)'.dependencies]`), the
//! Cargo.lock checksums, HEAD's commit time and the source URL.
//!
//! `cargo metadata` ([`crate::inspect::metadata`]) and the rustc cfg questions run at once. A stale
//! lockfile makes cargo fail (`--locked`): that is an exit-2 error and the file is untouched.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cargo_metadata::cargo_platform::Cfg;
use cargo_metadata::{Metadata, Package};

use crate::error::{Error, Result};
use crate::inspect::cargo_config::CargoConfig;
use crate::inspect::deps::LockChecksums;
use crate::inspect::source_url::Chosen;
use crate::inspect::toolchain::Programs;
use crate::select::Selection;

/// Everything read from the project and the toolchain.
#[derive(Debug)]
pub struct Loaded {
    /// `cargo metadata` (all features, all platforms), shared with `inspect` when it asked
    /// the same ([`crate::inspect::metadata::shared`]).
    pub metadata: Arc<Metadata>,
    /// cargo's exit, awaited while the answer is resolved: [`super::resolve::resolve`] checks
    /// it before its resolution is used.
    pub exit: Arc<crate::inspect::metadata::Exit>,
    /// The host triple (`rustc -vV`).
    pub host: String,
    /// `rustc --print cfg` for the host.
    pub host_cfg: Vec<Cfg>,
    /// The target triple (the host without `--target`).
    pub target: String,
    /// `rustc --print cfg --target <target>`.
    pub target_cfg: Vec<Cfg>,
    /// Cargo.lock checksums by `(name, version, source)`.
    pub checksums: LockChecksums,
    /// The manifest the selection starts from (absolute; never written to outputs).
    pub manifest: PathBuf,
    /// The programs cargo runs there (rustc, through its wrapper), for later cfg questions.
    pub programs: Programs,
    /// HEAD's committer time, when the workspace is in a git repository with commits.
    pub commit_time: Option<i64>,
    /// The repository's canonical source URL ([`crate::inspect::source_url`]).
    pub remote_url: Option<String>,
    /// Why there is no source URL (a local-path remote), for the standalone `sbom` command
    /// to print (in `build`, `inspect` prints them).
    pub source_warnings: Vec<String>,
    /// `[workspace.package] version` of the root manifest, when set.
    pub workspace_version: Option<String>,
    /// The feature resolver the workspace asks for (`"1"`, `"2"`, `"3"`).
    pub resolver: String,
    /// Whether `cargo metadata` ran with `--all-features`.
    pub all_features: bool,
    /// Whether `cargo metadata` ran with `--filter-platform` ([`super::filter`]).
    pub filtered: bool,
    /// The build platforms the resolution was last made for (empty until then): the same
    /// platforms again need no rustc question.
    pub resolved_for: Vec<super::BuiltFor>,
}

impl Loaded {
    /// The Cargo.lock checksum of a registry package.
    pub fn checksum(&self, p: &Package) -> Option<&str> {
        let source = &p.source.as_ref()?.repr;
        self.checksums
            .get(&p.name, &p.version.to_string(), source)
            .map(String::as_str)
    }

    /// The workspace root directory.
    pub fn workspace_root(&self) -> &Path {
        self.metadata.workspace_root.as_std_path()
    }

    /// Whether a dependency for `platform` can be built for the host or the target (either
    /// of our cfgs selects it).
    pub fn selects(&self, platform: &cargo_metadata::cargo_platform::Platform) -> bool {
        platform.matches(&self.host, &self.host_cfg)
            || platform.matches(&self.target, &self.target_cfg)
    }

    /// The manifest's directory, where cargo (and rustc) run.
    pub fn manifest_dir(&self) -> &Path {
        self.manifest.parent().unwrap_or(Path::new("."))
    }
}

/// `cargo metadata` output read already (by `inspect`), with the arguments it ran with: used
/// instead of running cargo when the SBOM would ask with the same arguments.
pub type Reuse = (Vec<OsString>, Arc<Metadata>);

/// Runs cargo and rustc and reads the lockfile and git state for `selection`;
/// `all_features` forces `cargo metadata --all-features`; `filter` asks cargo for the SBOM's
/// platforms only ([`super::filter`]; the whole graph when cargo refuses the filter).
pub fn load(
    selection: &Selection,
    all_features: bool,
    reuse: Option<Reuse>,
    filter: bool,
) -> Result<Loaded> {
    let all_features = all_features || asks_features(selection);
    let (manifest, dir, config, programs) = locate(selection)?;
    let mut args = metadata_args(selection, &manifest, all_features);
    let filter = filter
        .then(|| super::filter::args(selection, &config))
        .flatten();
    let filtered = filter.is_some();
    args.extend(filter.into_iter().flatten());
    let flag = selection.source_url.as_deref();
    // cargo metadata (or the same question's answer in this process) beside the rustc cfg
    // questions and the reading of the workspace root as guessed (see `RootFacts`).
    let (metadata, platforms, early) = std::thread::scope(|s| {
        let platforms = s
            .spawn(|| super::platform::read(&programs, &dir, &config, selection.target.as_deref()));
        let early = crate::inspect::deps::guess_workspace_root(&dir)
            .map(|root| s.spawn(move || RootFacts::read(root, flag)));
        let metadata = match reuse {
            Some((a, metadata)) if a == args => {
                Ok((metadata, crate::inspect::metadata::Exit::succeeded()))
            }
            // The probes beside it start at once here, as before: with them waiting, the
            // build (this is its cargo-auditable resolution) was not faster in
            // bench-build.sh (docs/inspect.md, "How it runs").
            _ => crate::inspect::metadata::shared_early(
                &programs.cargo,
                &args,
                &dir,
                &manifest,
                &crate::inspect::metadata::Started::default(),
            ),
        };
        let platforms = platforms.join().unwrap_or_else(|_| {
            Err(Error::msg(
                "internal error: the rustc cfg questions panicked",
            ))
        });
        (metadata, platforms, early.and_then(|h| h.join().ok()))
    });
    let (metadata, exit) = match metadata {
        // A cargo that does not know the filter's `host-tuple` (before 1.84) says so: the
        // whole graph. Any other failure is cargo's to report.
        Err(e) if filtered && e.to_string().contains("host-tuple") => {
            return load(selection, all_features, None, false);
        }
        m => m?,
    };
    // A failure of cargo comes before the errors of what was read beside it.
    let first = |e: Error| exit.check().err().unwrap_or(e);
    let platforms = platforms.map_err(first)?;
    let root = metadata.workspace_root.as_std_path();
    let facts = match early {
        Some(facts) if facts.root == root => facts,
        _ => RootFacts::read(root.to_path_buf(), flag),
    };
    let checksums = facts.checksums.map_err(first)?;
    let (workspace_version, resolver) = root_manifest_settings(&facts.manifest, &metadata, root);
    let (commit_time, source) = facts.git.map_err(first)?;
    Ok(Loaded {
        metadata,
        exit,
        host: platforms.host,
        host_cfg: platforms.host_cfg,
        target: platforms.target,
        target_cfg: platforms.target_cfg,
        checksums,
        manifest,
        programs,
        commit_time,
        remote_url: source.url,
        source_warnings: source.warnings,
        workspace_version,
        resolver,
        all_features,
        filtered,
        resolved_for: Vec::new(),
    })
}

/// Whether the selection asks for features: the graph is then read with all of them.
fn asks_features(selection: &Selection) -> bool {
    selection.all_features || !selection.feature_list().is_empty()
}

/// Where `cargo metadata` runs for `selection`: the manifest, its directory, the cargo
/// configuration there and the programs it names.
fn locate(selection: &Selection) -> Result<(PathBuf, PathBuf, CargoConfig, Programs)> {
    let manifest = crate::inspect::locate_manifest(selection)?;
    let dir = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let config = CargoConfig::load(&dir, crate::inspect::cargo_home().as_deref())?;
    let programs = Programs::find(&config);
    Ok((manifest, dir, config, programs))
}

/// The workspace root and target directory cargo names for `selection`, read from the
/// `cargo metadata` that [`load`] asks first (every platform, the selection's features).
/// That question is asked once per process ([`crate::inspect::metadata::shared_early`]):
/// the build confirms its guessed layout with the answer the cargo-auditable resolution
/// reads, without a cargo run of its own. Cargo's failure is an error.
pub fn layout(selection: &Selection) -> Result<(PathBuf, PathBuf)> {
    let (manifest, dir, _, programs) = locate(selection)?;
    let args = metadata_args(selection, &manifest, asks_features(selection));
    let started = crate::inspect::metadata::Started::default();
    let (metadata, exit) =
        crate::inspect::metadata::shared_early(&programs.cargo, &args, &dir, &manifest, &started)?;
    exit.check()?;
    Ok((
        metadata.workspace_root.clone().into_std_path_buf(),
        metadata.target_directory.clone().into_std_path_buf(),
    ))
}

/// The arguments of `cargo metadata` (after the program), in the order `inspect` puts them,
/// so that equal questions compare equal.
fn metadata_args(selection: &Selection, manifest: &Path, all_features: bool) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["metadata", "--format-version", "1", "--locked"]
        .map(OsString::from)
        .into();
    args.push("--manifest-path".into());
    args.push(manifest.as_os_str().to_owned());
    // The graph must hold every optional dependency the selection can turn on. Without
    // feature flags, cargo's graph for every member's default features is such a superset
    // (fewer packages or `--no-default-features` only take away); with them, all features.
    // When the resolution still meets an optional dependency the graph lacks (a non-member
    // selected with -p), it is loaded again with all features.
    if all_features {
        args.push("--all-features".into());
    }
    if selection.offline {
        args.push("--offline".into());
    }
    args
}

/// What is read from the workspace root: Cargo.lock's checksums, the root manifest, and
/// HEAD's time and the source URL.
///
/// Read beside `cargo metadata`, from the root as guessed before cargo names it
/// ([`crate::inspect::deps::guess_workspace_root`]), and used only when cargo names the same
/// root; else read again. This takes the lockfile's parse (~10 ms on corpus/rerun) off the
/// time after cargo exits.
struct RootFacts {
    root: PathBuf,
    checksums: Result<LockChecksums>,
    /// The root `Cargo.toml` (an empty table when unreadable: cargo read it already).
    manifest: toml::Value,
    git: Result<(Option<i64>, Chosen)>,
}

impl RootFacts {
    fn read(root: PathBuf, flag: Option<&str>) -> RootFacts {
        let checksums = LockChecksums::read(&root.join("Cargo.lock"));
        let text = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
        let manifest = toml::from_str(&text).unwrap_or(toml::Value::Table(Default::default()));
        let git = git_info(&root, flag);
        RootFacts {
            root,
            checksums,
            manifest,
            git,
        }
    }
}

/// `[workspace.package] version` and the resolver version of the root manifest `value`.
fn root_manifest_settings(
    value: &toml::Value,
    metadata: &Metadata,
    root: &Path,
) -> (Option<String>, String) {
    let ws = value.get("workspace");
    let version = ws
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let explicit = ws
        .and_then(|w| w.get("resolver"))
        .or_else(|| value.get("package").and_then(|p| p.get("resolver")))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let resolver = explicit.unwrap_or_else(|| {
        // Without `resolver`, the root package's edition decides (2021+ => "2").
        let root_manifest = root.join("Cargo.toml");
        let edition = metadata
            .packages
            .iter()
            .find(|p| p.manifest_path.as_std_path() == root_manifest)
            .map(|p| p.edition.as_str().to_owned());
        match edition.as_deref() {
            Some("2015") | Some("2018") => "1".to_owned(),
            Some(_) => "2".to_owned(),
            None => "1".to_owned(),
        }
    });
    (version, resolver)
}

/// HEAD's committer time and the source URL, when in a git repository (`flag` is
/// `--source-url`).
fn git_info(root: &Path, flag: Option<&str>) -> Result<(Option<i64>, Chosen)> {
    let Ok(repo) = crate::inspect::git::open(root) else {
        return Ok((None, Chosen::default()));
    };
    let time = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .map(|c| c.committer().when().seconds());
    let (_, chosen) = crate::inspect::git::remote(&repo, flag)?;
    Ok((time, chosen))
}

/// The directory of a package (its manifest's parent).
pub fn package_dir(p: &Package) -> PathBuf {
    p.manifest_path
        .as_std_path()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}
