//! The cargo half of the build stage: the toolchain and project read once, the build planned
//! (platforms, SOURCE_DATE_EPOCH, base, output directory), then cargo run per platform with
//! the binaries copied to `<output-dir>/bin/<platform>/`.

use std::path::{Path, PathBuf};

use super::platform::{self, TargetPlatform};
use super::workspace::{Answer, Confirmed, Layout, Pending};
use super::{BuildOptions, BuilderChoice, auditable, base, cargo, git, source_date_epoch};
use crate::error::{Error, Result};
use crate::inspect::cargo_config::CargoConfig;
use crate::inspect::model::{BuiltBinary, CompiledUnit};
use crate::inspect::toolchain::Programs;
use crate::select::Selection;
use crate::ui::Ui;
use crate::util::digest::Digest;

/// The toolchain and the workspace, as cargo's configuration names them (read once).
pub(super) struct Toolchain {
    /// The cargo configuration of the manifest's directory.
    pub config: CargoConfig,
    /// The programs it names (cargo, rustc).
    pub programs: Programs,
    /// The manifest's directory.
    pub manifest_dir: PathBuf,
    /// The workspace root.
    pub workspace_root: PathBuf,
    /// The target directory.
    pub target_dir: PathBuf,
    /// `rustc -vV` and the sysroot.
    pub rustc: cargo::RustcInfo,
}

/// Reads the toolchain: `cargo metadata` and the rustc queries at once (rustc in the
/// manifest's directory, where rust-toolchain files apply as they do in the workspace root
/// above it, with the programs cargo's configuration names, as `inspect` runs them). The
/// cargo-auditable resolver starts reading the project beside them. `before_writing` gets
/// the toolchain's answers before anything is written.
///
/// With `guess`, the workspace root and target directory are guessed from the files
/// ([`super::workspace::guess`]) and `cargo metadata`'s answer is left pending, for
/// [`compile`] to confirm once cargo is done; without, it is awaited here.
pub(super) fn read_toolchain(
    sel: &Selection,
    no_auditable: bool,
    guess: bool,
    before_writing: &mut dyn FnMut(&crate::inspect::Known) -> Result<()>,
) -> Result<(Toolchain, Option<auditable::Resolver>, Pending)> {
    let manifest_dir = crate::inspect::locate_manifest(sel)?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let config = CargoConfig::load(&manifest_dir, cargo::cargo_home().as_deref())?;
    let guessed = guess
        .then(|| {
            let start = super::workspace::start_dir(sel.manifest_path.as_deref(), &manifest_dir);
            super::workspace::guess(&start, &config)
        })
        .flatten();
    let answer = match guessed.as_ref().is_some_and(|g| g.root == manifest_dir)
        && !no_auditable
        && super::workspace::shares_the_resolution(&manifest_dir)
    {
        true => Answer::Shared(sel.clone()),
        false => Answer::NoDeps(super::workspace::Metadata::spawn(
            sel.manifest_path.as_deref(),
        )?),
    };
    // The cargo-auditable data: the project is read from now on, resolved beside cargo and
    // linked in by our rustc wrapper.
    let resolver = (!no_auditable).then(|| auditable::Resolver::start(sel.clone(), &config));
    let programs = Programs::find(&config);
    let rustc = cargo::rustc_info(&programs, &manifest_dir);
    let layout = Pending::start(guessed, answer);
    let known = crate::inspect::Known {
        rustc_vv: rustc.as_ref().ok().map(|r| crate::inspect::KnownRustcVv {
            programs: programs.clone(),
            dir: manifest_dir.clone(),
            text: r.verbose_version.clone(),
        }),
    };
    before_writing(&known)?;
    let (layout, pending) = layout?;
    let toolchain = Toolchain {
        config,
        programs,
        manifest_dir,
        workspace_root: layout.root,
        target_dir: layout.target_dir,
        rustc: rustc?,
    };
    Ok((toolchain, resolver, pending))
}

impl Toolchain {
    /// The workspace root and target directory used.
    fn layout(&self) -> Layout {
        Layout {
            root: self.workspace_root.clone(),
            target_dir: self.target_dir.clone(),
        }
    }
}

/// What the build makes and where: decided before cargo runs.
pub(super) struct Plan {
    /// HEAD's commit and the source URL, when in git.
    pub git: Option<git::GitFacts>,
    /// SOURCE_DATE_EPOCH and where it came from.
    pub sde: (i64, String),
    /// The platforms, in the requested order.
    pub platforms: Vec<TargetPlatform>,
    /// The tag in the layout.
    pub tag: String,
    /// `--base`.
    pub base_ref: base::BaseRef,
    /// A base opened (OCI layout) or pulled (native builder) before compiling.
    pub early_base: Option<base::BaseImage>,
    /// `--output-dir`.
    pub output_dir: PathBuf,
    /// Registry bases pulled by the native builder are kept here (blobs are fetched once).
    pub base_cache: PathBuf,
    /// Link the C runtime statically.
    pub static_crt: bool,
    /// The user's rustflags for the first platform, and where they came from.
    pub user_rustflags: (Vec<String>, String),
    /// How the native builder makes its layer, when it may build the image (`native`, or
    /// `auto` until its probe says otherwise), and whether it is known to: the layer is then
    /// made while cargo finishes ([`super::layer_ahead`]).
    pub layer_ahead: Option<(super::layer_ahead::Settings, super::layer_ahead::Wanted)>,
}

/// Plans the build: git facts, SOURCE_DATE_EPOCH, the platforms (checked installed), the
/// tag, the base (a base in an OCI layout is opened before compiling, so that a missing one
/// fails fast; so is a registry base the native builder cannot read), the output directory.
pub(super) fn plan(
    opts: &BuildOptions,
    sel: &Selection,
    tc: &Toolchain,
    native: &super::layer_ahead::Wanted,
    ui: &Ui,
) -> Result<Plan> {
    let git = git::facts(&tc.workspace_root, sel.source_url.as_deref())?;
    let sde = source_date_epoch(git.as_ref(), ui)?;
    // `--target`, else `build.target` of the cargo configuration (as inspect records it).
    let (target, explicit) =
        crate::inspect::rustflags::target(sel.target.as_deref(), &tc.config, &tc.rustc.host);
    let platforms = platform::parse_list(
        &opts.platforms,
        explicit.then_some(&*target),
        &tc.rustc.host,
    )?;
    for p in &platforms {
        platform::check_installed(&p.rust_target, &tc.rustc.host, &tc.rustc.sysroot)?;
    }
    let tag = super::image_tag(opts.image.as_deref())?;
    let base_ref = match opts.base.as_deref() {
        Some(b) => base::parse(b)?,
        None => base::BaseRef::Scratch,
    };
    let output_dir = opts
        .output_dir
        .clone()
        .unwrap_or_else(|| tc.target_dir.join("provenance"));
    let base_cache = output_dir.join("base-cache");
    let given_base = opts.base.as_deref().unwrap_or("");
    let early_base = match &base_ref {
        base::BaseRef::Layout { .. } => Some(base::BaseImage::open(given_base, &base_ref)?),
        base::BaseRef::Registry(r) if opts.builder == BuilderChoice::Native => {
            ui.status("Pulling", format!("base image {r}"));
            Some(base::pull(r, &base_cache)?)
        }
        _ => None,
    };
    let static_crt = opts.static_crt
        || (opts.dockerfile.is_none() && matches!(base_ref, base::BaseRef::Scratch));
    let user_rustflags = cargo::user_rustflags(
        &tc.config,
        &tc.programs,
        &tc.manifest_dir,
        &platforms[0].rust_target,
    )?;
    let may_be_native = matches!(opts.builder, BuilderChoice::Native | BuilderChoice::Auto)
        && opts.dockerfile.is_none();
    let layer_ahead = may_be_native.then(|| {
        let settings = super::layer_ahead::Settings {
            source_date_epoch: sde.0,
            compression: opts.compression,
        };
        (settings, native.clone())
    });
    Ok(Plan {
        layer_ahead,
        git,
        sde,
        platforms,
        tag,
        base_ref,
        early_base,
        output_dir,
        base_cache,
        static_crt,
        user_rustflags,
    })
}

/// One platform's binaries, with the rustflags cargo got.
pub(super) struct CompiledPlatform {
    /// The platform.
    pub platform: TargetPlatform,
    /// The rustflags cargo got.
    pub rustflags: Vec<String>,
    /// Its binaries, copied to `<output-dir>/bin/<platform>/`.
    pub binaries: Vec<BuiltBinary>,
    /// Its layer, being made since cargo named the binaries (native builder).
    pub layer_ahead: Option<super::layer_ahead::Runner>,
}

/// How [`compile`] ended.
pub(super) enum Attempt {
    /// Compiled, in the layout cargo names.
    Done(Box<Compiled>),
    /// The guessed layout is not cargo's (this one is): nothing was copied out; the build
    /// must run again without guessing.
    Again(Layout),
}

/// What cargo compiled, on every platform.
pub(super) struct Compiled {
    /// Per platform, in the plan's order.
    pub platforms: Vec<CompiledPlatform>,
    /// Every unit compiled for any platform, sorted, deduplicated.
    pub units: Vec<CompiledUnit>,
    /// The project as the cargo-auditable resolution read it (for the SBOM).
    pub project: Option<crate::sbom::Prepared>,
}

/// The cargo step of one platform, before the wrapper's environment is known.
struct Step<'a> {
    platform: &'a TargetPlatform,
    target_dir: PathBuf,
    user_rustflags: Vec<String>,
}

impl<'a> Step<'a> {
    fn cargo(
        &'a self,
        sel: &'a Selection,
        tc: &'a Toolchain,
        plan: &Plan,
    ) -> cargo::CargoBuild<'a> {
        cargo::CargoBuild::new(
            sel,
            self.platform,
            plan.static_crt,
            plan.sde.0,
            &tc.workspace_root,
            &self.target_dir,
            &tc.rustc,
            &self.user_rustflags,
        )
    }
}

/// The layout to run an attempt again in, when it failed with `e` in a guessed layout that
/// cargo does not confirm (the error may come from the guess); else `e` (also when cargo's
/// answer is an error: `e` came first, and the full `cargo metadata` that may answer fails
/// where the build does not, offline without other platforms' packages, say).
pub(super) fn again_or(pending: &mut Pending, tc: &Toolchain, e: Error) -> Result<Layout> {
    if !pending.is_guessed() {
        return Err(e);
    }
    match pending.confirm(&tc.layout()) {
        Ok(Confirmed::Other(layout)) => Ok(layout),
        Ok(Confirmed::Same) | Err(_) => Err(e),
    }
}

/// Runs cargo once per platform (with the cargo-auditable wrapper when `resolver` is there),
/// copies the binaries out, and checks the dependency data each one embeds. A guessed
/// layout (`pending`) is confirmed once the first cargo run ends, before anything is
/// copied out or another platform built; an error before that is the caller's to check
/// ([`again_or`]).
pub(super) fn compile(
    sel: &Selection,
    tc: &Toolchain,
    plan: &Plan,
    mut resolver: Option<auditable::Resolver>,
    pending: &mut Pending,
    ui: &Ui,
) -> Result<Attempt> {
    let sel = &for_cargo(sel, tc);
    let steps = steps(tc, plan)?;
    let wrapper_envs = match &mut resolver {
        None => vec![Vec::new(); steps.len()],
        Some(resolver) => {
            let plans = steps
                .iter()
                .map(|s| auditable::Plan {
                    built_for: crate::sbom::BuiltFor {
                        target: s.platform.rust_target.clone(),
                        rustflags: s.cargo(sel, tc, plan).rustflags(),
                    },
                    drop_parent: s.target_dir.join("provenance-auditable"),
                })
                .collect();
            resolver.setup(plans)?
        }
    };
    let mut platforms = Vec::new();
    let mut units = Vec::new();
    for (s, wrapper_env) in steps.iter().zip(&wrapper_envs) {
        let step = cargo::CargoBuild {
            wrapper_env,
            layer_ahead: plan.layer_ahead.as_ref(),
            ..s.cargo(sel, tc, plan)
        };
        let p = s.platform;
        ui.status(
            "Compiling",
            format!(
                "binaries for {} ({}{})",
                p.name(),
                p.rust_target,
                if plan.static_crt { ", static" } else { "" }
            ),
        );
        let out = step.run(ui);
        let confirmed = pending.confirm(&tc.layout());
        if let Ok(Confirmed::Other(layout)) = confirmed {
            if let Some(r) = resolver {
                let _ = r.finish();
            }
            return Ok(Attempt::Again(layout));
        }
        // Cargo's own failure first: it is what the user acts on.
        let mut out = out?;
        confirmed?;
        std::fs::create_dir_all(&plan.output_dir)
            .map_err(|e| Error::io("creating", &plan.output_dir, e))?;
        let binaries = copy_binaries(&out.binaries, &plan.output_dir.join("bin").join(p.dir()))?;
        units.extend(out.units);
        platforms.push(CompiledPlatform {
            platform: p.clone(),
            rustflags: step.rustflags(),
            binaries,
            layer_ahead: out.layer_ahead.take(),
        });
    }
    units.sort();
    units.dedup();
    let mut project = None;
    if let Some(r) = resolver {
        let (data, read) = r.finish()?;
        for (p, embedded) in platforms.iter().zip(data) {
            for b in &p.binaries {
                auditable::check_binary(&b.local_path, &b.package, &embedded)?;
            }
        }
        project = read;
    }
    Ok(Attempt::Done(Box::new(Compiled {
        platforms,
        units,
        project,
    })))
}

/// The selection as `cargo build` gets it: cargo runs in the workspace root, so without
/// `--manifest-path` the manifest found from the current directory (as cargo finds it) is
/// named, and cargo builds the package the user is in, not the root's default members
/// (which the cargo-auditable resolution, reading the project from the current directory,
/// would not know).
fn for_cargo(sel: &Selection, tc: &Toolchain) -> Selection {
    let mut sel = sel.clone();
    if sel.manifest_path.is_none() {
        sel.manifest_path = Some(tc.manifest_dir.join("Cargo.toml"));
    }
    sel
}

/// Each platform's target directory (its own when it adds rustflags) and user rustflags.
fn steps<'a>(tc: &Toolchain, plan: &'a Plan) -> Result<Vec<Step<'a>>> {
    let first = &plan.platforms[0].rust_target;
    plan.platforms
        .iter()
        .map(|p| {
            let target_dir = if p.rustflags.is_empty() {
                tc.target_dir.clone()
            } else {
                tc.target_dir
                    .join("provenance-builds")
                    .join(p.dir().replace('/', "-"))
            };
            let user_rustflags = if &p.rust_target == first {
                plan.user_rustflags.0.clone()
            } else {
                cargo::user_rustflags(&tc.config, &tc.programs, &tc.manifest_dir, &p.rust_target)?.0
            };
            Ok(Step {
                platform: p,
                target_dir,
                user_rustflags,
            })
        })
        .collect()
}

/// Where a binary is in the image: `/usr/local/bin/<name>`.
pub(super) fn path_in_image(name: &str) -> String {
    format!("/usr/local/bin/{name}")
}

/// Copies cargo's binaries into `dir` (emptied first: it is rebuilt on every run), hashed.
fn copy_binaries(raw: &[cargo::RawBinary], dir: &Path) -> Result<Vec<BuiltBinary>> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io("removing", dir, e))?;
    }
    let mut binaries = Vec::new();
    for raw in raw {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        let local = dir.join(&raw.name);
        // Read while cargo finished, when the file is still as it was read.
        let early = raw.early.as_ref().and_then(|e| e.if_unchanged(&raw.path));
        let (digest, size) = match early {
            Some(e) => {
                std::fs::write(&local, &*e.bytes).map_err(|e| Error::io("writing", &local, e))?;
                (e.digest, e.bytes.len() as u64)
            }
            None => {
                std::fs::copy(&raw.path, &local).map_err(|e| Error::io("copying", &raw.path, e))?;
                let bytes = crate::util::fs::read(&local)?;
                (Digest::of(&bytes), bytes.len() as u64)
            }
        };
        set_executable(&local)?;
        binaries.push(BuiltBinary {
            package: raw.package.clone(),
            name: raw.name.clone(),
            path_in_image: path_in_image(&raw.name),
            digest,
            size,
            local_path: local,
        });
    }
    Ok(binaries)
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io("setting permissions of", path, e))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path) -> Result<()> {
    Ok(())
}
