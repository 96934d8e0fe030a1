//! Stage 1, inspect: what the build comes from (toolchain, git state, dependency graph,
//! cargo settings), read without changing anything (Cargo.lock is never rewritten).
//!
//! [`collect`] runs `cargo metadata --locked` and, at the same time, `rustc -vV`, `cargo -V`,
//! `rustup show active-toolchain` and the git probe, so that inspecting costs about what
//! `cargo metadata` alone costs. Every field is described in `docs/inspect.md`.

pub mod answers;
pub mod cargo_config;
pub mod deps;
pub mod git;
pub mod metadata;
pub mod model;
pub mod profile;
pub mod report;
pub mod rustflags;
pub mod source_url;
pub mod toolchain;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cargo_metadata::{Metadata, PackageId};

pub use model::*;

use crate::error::{Error, Result};
use crate::select::Selection;
use crate::ui::Ui;
use crate::util::par::Cores;
use cargo_config::CargoConfig;
use toolchain::{Programs, ToolchainProbe, relative_to};

/// Answers a caller already has (`build` asks rustc before compiling), so that
/// [`collect_with`] does not ask again.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// `rustc -vV`, reused when inspect would run the same programs in the same directory.
    pub rustc_vv: Option<KnownRustcVv>,
}

/// `rustc -vV` as [`Programs::rustc_command`] printed it.
#[derive(Debug, Clone)]
pub struct KnownRustcVv {
    /// The programs it ran with.
    pub programs: Programs,
    /// The directory it ran in (rust-toolchain files apply from there).
    pub dir: PathBuf,
    /// Its output.
    pub text: String,
}

/// What [`collect_with`] read: the build inputs, and the `cargo metadata` output they come
/// from with the arguments it ran with (the SBOM reuses it when it would ask the same).
pub struct Collected {
    /// The build inputs.
    pub inputs: BuildInputs,
    /// `cargo metadata`'s arguments (after the program).
    pub metadata_args: Vec<std::ffi::OsString>,
    /// Its parsed output (shared with whoever else asked the same in this process).
    pub metadata: Arc<Metadata>,
}

/// Collects the build inputs of the selected packages. Warnings (no git, no commits) are
/// printed through `ui` and kept in [`BuildInputs::warnings`].
pub fn collect(selection: &Selection, ui: &Ui) -> Result<BuildInputs> {
    collect_then(selection, ui, |_| ()).map(|(inputs, ())| inputs)
}

/// [`collect`], with `then` run on the inputs while cargo exits (it frees its state and exits
/// after printing its answer): what `then` made is returned, like the inputs, only once cargo
/// succeeded. `inspect` renders its report so.
pub fn collect_then<T>(
    selection: &Selection,
    ui: &Ui,
    then: impl FnOnce(&BuildInputs) -> T,
) -> Result<(BuildInputs, T)> {
    let (c, made) = collect_with_then(selection, ui, &Known::default(), Cores::All, then)?;
    Ok((c.inputs, made))
}

/// [`collect`], reusing what is [`Known`] already and handing back `cargo metadata`.
pub fn collect_with(selection: &Selection, ui: &Ui, known: &Known) -> Result<Collected> {
    // The build: `cargo build` runs beside, and a thread more only takes a core from rustc
    // (bench-build.sh with every core here: 1.219 against 1.196 before).
    collect_with_then(selection, ui, known, Cores::One, |_| ()).map(|(c, ())| c)
}

/// [`collect_with`] and [`collect_then`] in one.
fn collect_with_then<T>(
    selection: &Selection,
    ui: &Ui,
    known: &Known,
    cores: Cores,
    then: impl FnOnce(&BuildInputs) -> T,
) -> Result<(Collected, T)> {
    let manifest = locate_manifest(selection)?;
    let dir = manifest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let config = CargoConfig::load(&dir, cargo_home().as_deref())?;
    let programs = Programs::find(&config);
    let shown = selection
        .manifest_path
        .as_deref()
        .unwrap_or(Path::new("Cargo.toml"));
    ui.verbose(
        "Inspecting",
        format!(
            "{} (cargo metadata --locked, rustc -vV, cargo -V, rustup, git)",
            shown.display()
        ),
    );
    let started = std::time::Instant::now();
    let known_vv = known
        .rustc_vv
        .as_ref()
        .filter(|k| k.programs == programs && k.dir == dir)
        .map(|k| k.text.clone());
    let probed = probe(
        selection, &programs, &config, &dir, &manifest, known_vv, started,
    )?;
    // cargo exits while its answer is worked on; a failure of cargo comes first.
    let exit = Arc::clone(&probed.exit);
    let collected =
        assemble(selection, ui, probed, (&manifest, &config), started, cores).map(|c| {
            let made = then(&c.inputs);
            (c, made)
        });
    exit.check()?;
    collected
}

/// The build inputs made of what [`probe`] read (the second half of [`collect_with`]).
fn assemble(
    selection: &Selection,
    ui: &Ui,
    probed: Probed,
    (manifest, config): (&Path, &CargoConfig),
    started: std::time::Instant,
    cores: Cores,
) -> Result<Collected> {
    let (meta, git) = (probed.meta, probed.git);
    let (toolchain, target, target_explicit, rustflags, rustflags_source, toolchain_time) =
        probed.settings;

    let root = PathBuf::from(meta.workspace_root.as_std_path());
    let lock_path = root.join("Cargo.lock");
    let lock = match probed.early_lock {
        Some((p, Ok(lock))) if p == lock_path => lock,
        _ => deps::LockChecksums::read(&lock_path)?,
    };
    let roots = select_roots(&meta, selection, manifest)?;
    let rest = || -> Result<_> {
        let binaries = select_binaries(&meta, selection, &roots)?;
        let manifest_profiles = read_profiles(&root.join("Cargo.toml"))?;
        let profile =
            profile::resolve(selection.profile_name(), manifest_profiles.as_ref(), config)?;
        Ok((binaries, profile, package_names(&meta, &roots)))
    };
    let (dependencies, rest) = match cores {
        // The graph (most of the work) beside the rest.
        Cores::All => std::thread::scope(|s| {
            let graph = s.spawn(|| deps::graph(&meta, &lock, &roots, cores));
            let rest = rest();
            let graph = graph
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (graph, rest)
        }),
        Cores::One => (deps::graph(&meta, &lock, &roots, cores), rest()),
    };
    let dependencies = dependencies?;
    let (binaries, profile, packages) = rest?;
    let workspace_path = match &git.workdir {
        Some(w) => match relative_to(&root, w).as_str() {
            "." => String::new(),
            p => p.to_owned(),
        },
        None => String::new(),
    };
    for w in &git.warnings {
        ui.warn(w);
    }
    let times = [
        probed.meta_time,
        toolchain_time,
        probed.git_time,
        started.elapsed(),
    ];
    show_probes(ui, times, git.state.as_ref());
    let inputs = BuildInputs {
        toolchain,
        git: git.state,
        cargo: CargoSettings {
            target,
            target_explicit,
            rustflags,
            rustflags_source,
            profile,
            features: selection.feature_list(),
            all_features: selection.all_features,
            no_default_features: selection.no_default_features,
            packages,
            binaries,
            workspace_path,
        },
        dependencies,
        warnings: git.warnings,
    };
    Ok(Collected {
        inputs,
        metadata_args: probed.args,
        metadata: meta,
    })
}

/// The names of the packages `roots` names, sorted, once each.
fn package_names(meta: &Metadata, roots: &[PackageId]) -> Vec<String> {
    let mut packages: Vec<String> = roots
        .iter()
        .filter_map(|id| meta.packages.iter().find(|p| &p.id == id))
        .map(|p| p.name.to_string())
        .collect();
    packages.sort();
    packages.dedup();
    packages
}

/// The `-v` lines of the probes: when each ended (cargo metadata, toolchain, git, all), and
/// the git state.
fn show_probes(ui: &Ui, [meta, toolchain, git, total]: [Duration; 4], state: Option<&GitState>) {
    ui.verbose(
        "Timing",
        format!(
            "cargo metadata {:.3}s, toolchain {:.3}s, git {:.3}s, total {:.3}s",
            meta.as_secs_f64(),
            toolchain.as_secs_f64(),
            git.as_secs_f64(),
            total.as_secs_f64()
        ),
    );
    if let Some(g) = state {
        ui.verbose(
            "Git",
            format!(
                "{} {}{}",
                g.commit,
                g.branch.as_deref().unwrap_or("(detached)"),
                if g.dirty { " (dirty)" } else { "" }
            ),
        );
    }
}

/// The toolchain's and the project's settings as `inspect` reads them (after cargo's
/// configuration): the target, whether it was asked for, the rustflags and where they came
/// from, and when the probe ended.
type Settings = (Toolchain, String, bool, Vec<String>, String, Duration);

/// What the probes run beside `cargo metadata` answered.
struct Probed {
    /// The arguments `cargo metadata` ran with.
    args: Vec<std::ffi::OsString>,
    meta: Arc<Metadata>,
    /// cargo's exit, checked before anything made of `meta` is returned.
    exit: Arc<metadata::Exit>,
    meta_time: Duration,
    settings: Settings,
    git: git::GitProbe,
    git_time: Duration,
    early_lock: Option<(PathBuf, Result<deps::LockChecksums>)>,
}

/// Runs `cargo metadata` (the long pole, started first), the git probe, the toolchain probe
/// and a guess at Cargo.lock at once.
fn probe(
    selection: &Selection,
    programs: &Programs,
    config: &CargoConfig,
    dir: &Path,
    manifest: &Path,
    known_vv: Option<String>,
    started: std::time::Instant,
) -> Result<Probed> {
    let args = deps::metadata_args(selection, manifest);
    // Read Cargo.lock while cargo works, and again below if the workspace root turns out
    // elsewhere.
    let guessed_lock = deps::guess_workspace_root(dir).map(|d| d.join("Cargo.lock"));
    let cargo_started = metadata::Started::default();
    let (git, meta, settings, early_lock, meta_time) = std::thread::scope(|s| {
        let git = s.spawn(|| {
            cargo_started.wait();
            (
                git::probe(dir, selection.source_url.as_deref()),
                started.elapsed(),
            )
        });
        let lock = s.spawn(|| {
            cargo_started.wait();
            guessed_lock
                .as_ref()
                .map(|p| (p.clone(), deps::LockChecksums::read(p)))
        });
        let settings = s.spawn(|| -> Result<Settings> {
            cargo_started.wait();
            let tc = ToolchainProbe::start(programs.clone(), dir, known_vv)?.finish()?;
            let (target, explicit) =
                rustflags::target(selection.target.as_deref(), config, &tc.host);
            let (flags, source) = rustflags::effective(config, &target, || {
                rustflags::target_cfgs(programs, dir, &target)
            })?;
            Ok((tc, target, explicit, flags, source, started.elapsed()))
        });
        // cargo metadata is the long pole (or the same question asked already in this
        // process): on this thread, which parses its output into the main heap.
        let meta = metadata::shared_early(&programs.cargo, &args, dir, manifest, &cargo_started);
        let meta_time = started.elapsed();
        (
            git.join(),
            meta,
            settings.join(),
            lock.join().ok().flatten(),
            meta_time,
        )
    });
    let (meta, exit) = meta?;
    // A failure of cargo comes before the errors of what was read beside it.
    let first = |e: Error| exit.check().err().unwrap_or(e);
    let settings = settings
        .map_err(|_| Error::msg("internal error: the toolchain probe panicked"))?
        .map_err(first)?;
    let (git, git_time) = git.map_err(|_| Error::msg("internal error: the git probe panicked"))?;
    let git = git.map_err(first)?;
    Ok(Probed {
        args,
        meta,
        exit,
        meta_time,
        settings,
        git,
        git_time,
        early_lock,
    })
}

/// The manifest to inspect, absolute: `--manifest-path` (which must exist), else the
/// nearest `Cargo.toml` from the current directory upwards, as cargo finds it.
pub fn locate_manifest(selection: &Selection) -> Result<PathBuf> {
    if let Some(path) = &selection.manifest_path {
        if !path.exists() {
            return Err(Error::msg(format!(
                "manifest {} does not exist: pass the path of a Cargo.toml with --manifest-path",
                path.display()
            )));
        }
        if !path.is_file() {
            return Err(Error::msg(format!(
                "manifest {} is not a file: --manifest-path takes the path of a Cargo.toml \
                 (e.g. {}/Cargo.toml)",
                path.display(),
                path.display()
            )));
        }
        return path
            .canonicalize()
            .map_err(|e| Error::io("resolving", path, e));
    }
    let cwd = std::env::current_dir()
        .map_err(|e| Error::msg(format!("cannot read the current directory: {e}")))?;
    cwd.ancestors()
        .map(|d| d.join("Cargo.toml"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::msg(format!(
                "could not find Cargo.toml in {} or any parent directory: run in a cargo \
                 project or pass --manifest-path",
                cwd.display()
            ))
        })
}

/// `$CARGO_HOME`, else `~/.cargo`.
pub fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// The `[profile]` table of the workspace root manifest.
fn read_profiles(root_manifest: &Path) -> Result<Option<toml::Table>> {
    let text = std::fs::read_to_string(root_manifest)
        .map_err(|e| Error::io("reading", root_manifest, e))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        Error::msg(format!(
            "{} is not valid TOML: {}",
            root_manifest.display(),
            e.message()
        ))
    })?;
    Ok(table.get("profile").and_then(|p| p.as_table()).cloned())
}

/// Whether `manifest` (canonical) is the workspace's root manifest and that is no package:
/// then no member is selected by its manifest, and the members' paths need not be
/// canonicalised to find that out.
fn virtual_root(meta: &Metadata, members: &[&cargo_metadata::Package], manifest: &Path) -> bool {
    let root = meta.workspace_root.join("Cargo.toml");
    !members.iter().any(|p| p.manifest_path == root)
        && root
            .as_std_path()
            .canonicalize()
            .is_ok_and(|r| r == manifest)
}

/// The workspace members of `meta`, in `packages` order (as
/// [`Metadata::workspace_packages`], with one hash lookup per package instead of a scan of
/// the members: corpus/rerun has 1256 packages).
fn workspace_packages(meta: &Metadata) -> Vec<&cargo_metadata::Package> {
    let members: std::collections::HashSet<&PackageId> = meta.workspace_members.iter().collect();
    meta.packages
        .iter()
        .filter(|p| members.contains(&p.id))
        .collect()
}

/// The packages the selection names: `-p` specs (`name` or `name@version`), `--workspace`,
/// the owners of `--bin` targets, else the package of the manifest, else the workspace's
/// default members.
pub fn select_roots(
    meta: &Metadata,
    selection: &Selection,
    manifest: &Path,
) -> Result<Vec<PackageId>> {
    let members = workspace_packages(meta);
    if selection.workspace {
        return Ok(members.iter().map(|p| p.id.clone()).collect());
    }
    if !selection.packages.is_empty() {
        let mut out = Vec::new();
        for spec in &selection.packages {
            let (name, version) = match spec.split_once(['@', ':']) {
                Some((n, v)) => (n, Some(v)),
                None => (spec.as_str(), None),
            };
            let matches: Vec<&cargo_metadata::Package> = meta
                .packages
                .iter()
                .filter(|p| {
                    p.name.as_str() == name && version.is_none_or(|v| p.version.to_string() == v)
                })
                .collect();
            let preferred: Vec<&cargo_metadata::Package> = matches
                .iter()
                .copied()
                .filter(|p| members.iter().any(|m| m.id == p.id))
                .collect();
            let chosen = if preferred.len() == 1 {
                preferred
            } else {
                matches
            };
            match chosen.as_slice() {
                [one] => out.push(one.id.clone()),
                [] => {
                    return Err(Error::msg(format!(
                        "package `{spec}` (-p) is not in the workspace or its dependencies; \
                         workspace members: {}",
                        member_names(&members)
                    )));
                }
                many => {
                    return Err(Error::msg(format!(
                        "package `{spec}` (-p) is ambiguous: versions {}; write `{name}@VERSION`",
                        many.iter()
                            .map(|p| p.version.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
        return Ok(out);
    }
    if !selection.bins.is_empty() {
        let owners: Vec<PackageId> = members
            .iter()
            .filter(|p| {
                p.targets
                    .iter()
                    .any(|t| t.is_bin() && selection.bins.contains(&t.name))
            })
            .map(|p| p.id.clone())
            .collect();
        if !owners.is_empty() {
            return Ok(owners);
        }
        return Err(Error::msg(format!(
            "no workspace member has a binary named {}; members: {}",
            selection.bins.join(", "),
            member_names(&members)
        )));
    }
    let manifest = manifest.canonicalize().unwrap_or(manifest.to_path_buf());
    // cargo prints canonical manifest paths: compared as printed first, canonicalised (a
    // syscall per member) only when none matches so.
    let canonical = |p: &&&cargo_metadata::Package| {
        let m = p.manifest_path.as_std_path();
        m.canonicalize().unwrap_or(m.to_path_buf()) == manifest
    };
    let exact = members
        .iter()
        .find(|p| p.manifest_path.as_std_path() == manifest);
    let scan = || match virtual_root(meta, &members, &manifest) {
        true => None,
        false => members.iter().find(canonical),
    };
    if let Some(p) = exact.or_else(scan) {
        return Ok(vec![p.id.clone()]);
    }
    if meta.workspace_default_members.is_available() {
        let default: std::collections::HashSet<&PackageId> =
            meta.workspace_default_members.iter().collect();
        Ok(members
            .iter()
            .filter(|p| default.contains(&p.id))
            .map(|p| p.id.clone())
            .collect())
    } else {
        Ok(members.iter().map(|p| p.id.clone()).collect())
    }
}

fn member_names(members: &[&cargo_metadata::Package]) -> String {
    let mut names: Vec<&str> = members.iter().map(|p| p.name.as_str()).collect();
    names.sort();
    names.join(", ")
}

/// The binaries of the selected packages (only those `--bin` names, when given), sorted.
pub fn select_binaries(
    meta: &Metadata,
    selection: &Selection,
    roots: &[PackageId],
) -> Result<Vec<BinaryTarget>> {
    let mut all = Vec::new();
    for p in meta.packages.iter().filter(|p| roots.contains(&p.id)) {
        for t in p.targets.iter().filter(|t| t.is_bin()) {
            all.push(BinaryTarget {
                package: p.name.to_string(),
                name: t.name.clone(),
                required_features: t.required_features.clone(),
            });
        }
    }
    for wanted in &selection.bins {
        if !all.iter().any(|b| &b.name == wanted) {
            return Err(Error::msg(format!(
                "no selected package has a binary named `{wanted}` (--bin); binaries: {}",
                all.iter()
                    .map(|b| b.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let mut bins: Vec<BinaryTarget> = all
        .into_iter()
        .filter(|b| selection.bins.is_empty() || selection.bins.contains(&b.name))
        .collect();
    bins.sort();
    Ok(bins)
}
