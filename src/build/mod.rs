//! Stage 2, build: the cargo build with reproducibility settings, then the image (BuildKit
//! or the native builder) in an OCI layout, and `summary.json`.
//!
//! [`build`] runs the whole stage and returns a [`BuildOutput`], which the attest, sign and
//! publish stages consume. See `docs/image.md` for every setting and file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::formats::oci::{Descriptor, MEDIA_TYPE_INDEX, Platform};
use crate::inspect::cargo_config::CargoConfig;
use crate::inspect::model::{BuiltBinary, CompiledUnit};
use crate::inspect::toolchain::Programs;
use crate::oci::layout::Layout;
use crate::select::Selection;
use crate::ui::Ui;
use crate::util::digest::Digest;

pub mod auditable;
pub mod base;
pub mod builder;
pub mod buildkit;
mod buildkit_stage;
pub mod buildx_plugin;
pub mod cargo;
pub mod compress;
pub mod git;
pub mod handoff;
pub mod job_summary;
pub mod native;
pub mod platform;
pub mod summary;
pub mod tar;

pub use builder::{BuilderChoice, BuilderInfo, BuilderKind, choose_builder};
use builder::{PendingInfo, Probe};
pub use buildkit::BuildKitStatement;
pub use summary::Summary;

/// The Dockerfile template for static binaries on `scratch`.
pub const TEMPLATE_SCRATCH: &str = include_str!("../../templates/Dockerfile.scratch");
/// The Dockerfile template for binaries on a base image (`--base`).
pub const TEMPLATE_BASE: &str = include_str!("../../templates/Dockerfile.base");
/// The user the image runs as (distroless' `nonroot`; numeric, so no /etc/passwd is needed).
pub const IMAGE_USER: &str = "65532:65532";

/// Everything `build` needs besides the selection.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// What to build.
    pub selection: Selection,
    /// `--builder`.
    pub builder: BuilderChoice,
    /// `--buildx-builder NAME`.
    pub buildx_builder: Option<String>,
    /// `--dockerfile PATH` (BuildKit only).
    pub dockerfile: Option<PathBuf>,
    /// `--base REF|scratch`.
    pub base: Option<String>,
    /// `--image NAME[:TAG]`.
    pub image: Option<String>,
    /// `--platform` values.
    pub platforms: Vec<String>,
    /// `--output-dir` (default `<target dir>/provenance`).
    pub output_dir: Option<PathBuf>,
    /// `--static`: link the C runtime statically (implied on `scratch`).
    pub static_crt: bool,
    /// `--no-auditable`: no cargo-auditable data in the binaries.
    pub no_auditable: bool,
    /// `--compression`: how the image's layers are compressed.
    pub compression: compress::LayerCompression,
}

/// One platform of the image.
#[derive(Debug, Clone)]
pub struct PlatformImage {
    /// The platform.
    pub platform: Platform,
    /// The Rust target triple.
    pub rust_target: String,
    /// The rustflags cargo got (user flags, remaps, static, target-cpu).
    pub rustflags: Vec<String>,
    /// The platform manifest's descriptor (as in the index).
    pub manifest: Descriptor,
    /// The binaries in this platform's image.
    pub binaries: Vec<BuiltBinary>,
}

/// The base image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseImageInfo {
    /// As given with `--base`.
    pub reference: String,
    /// The digest it resolved to (index or manifest), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
}

/// The Dockerfile BuildKit ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DockerfileInfo {
    /// `<builtin>/Dockerfile.scratch`, `<builtin>/Dockerfile.base` (our templates, embedded)
    /// or the user's path relative to the repository root (the workspace root outside git),
    /// with `/`.
    pub path: String,
    /// sha256 of the bytes BuildKit read (templates: after rendering).
    pub digest: Digest,
}

/// What the build stage produced: the input of the attest, sign and publish stages.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    /// `--output-dir`.
    pub output_dir: PathBuf,
    /// `<output-dir>/oci`: the OCI layout.
    pub layout_path: PathBuf,
    /// `--image` as given (NAME[:TAG]).
    pub image_name: Option<String>,
    /// The tag in the layout (`--image`'s tag, else `latest`).
    pub tag: String,
    /// The image index's descriptor.
    pub index: Descriptor,
    /// Per platform: manifest and binaries.
    pub platforms: Vec<PlatformImage>,
    /// Every binary of every platform (sorted by platform, then name).
    pub binaries: Vec<BuiltBinary>,
    /// Every unit cargo compiled for any platform, sorted, deduplicated.
    pub compiled_units: Vec<CompiledUnit>,
    /// BuildKit's in-toto statements (role `buildkit-attestation` for the referrers stage).
    pub buildkit_statements: Vec<BuildKitStatement>,
    /// Base images BuildKit resolved (its statements' materials): (purl, digest).
    pub buildkit_materials: Vec<(String, Digest)>,
    /// The base image, unless `scratch`.
    pub base_image: Option<BaseImageInfo>,
    /// The Dockerfile (BuildKit builds only).
    pub dockerfile: Option<DockerfileInfo>,
    /// The builder.
    pub builder: BuilderInfo,
    /// SOURCE_DATE_EPOCH used.
    pub source_date_epoch: i64,
    /// Where it came from: `SOURCE_DATE_EPOCH` (env), `git commit time`, `default (0)`.
    pub source_date_epoch_source: String,
    /// HEAD's commit and the source URL, when in git.
    pub git: Option<git::GitFacts>,
    /// The user's rustflags kept in the build (for the first platform's target), and where
    /// they came from.
    pub user_rustflags: (Vec<String>, String),
    /// True when every binary carries cargo-auditable data (`.dep-v0`).
    pub auditable: bool,
    /// How the image's layers (ours; all of them with BuildKit) are compressed.
    pub compression: compress::LayerCompression,
}

/// The tag of `--image NAME[:TAG]` (`latest` without one).
pub fn image_tag(image: Option<&str>) -> Result<String> {
    let Some(image) = image else {
        return Ok("latest".to_owned());
    };
    if image.contains('@') {
        return Err(Error::msg(format!(
            "--image `{image}`: give NAME[:TAG]; the digest is computed by the build"
        )));
    }
    Ok(match crate::formats::reference::split_name(image).tag {
        Some(tag) if !tag.is_empty() => tag.to_owned(),
        _ => "latest".to_owned(),
    })
}

/// SOURCE_DATE_EPOCH: the environment's (empty counts as unset,
/// [`crate::util::time::source_date_epoch_env`]), else HEAD's commit time, else 0 (with a
/// warning).
pub fn source_date_epoch(git: Option<&git::GitFacts>, ui: &Ui) -> Result<(i64, String)> {
    if let Some(epoch) = crate::util::time::source_date_epoch_env()? {
        return Ok((epoch, "SOURCE_DATE_EPOCH".into()));
    }
    match git {
        Some(g) => Ok((g.commit_time, "git commit time".into())),
        None => {
            ui.warn("not in a git repository with commits: SOURCE_DATE_EPOCH is 0 (1970-01-01); set SOURCE_DATE_EPOCH to choose");
            Ok((0, "default (0)".into()))
        }
    }
}

/// Runs the build stage: cargo, then the image, then `summary.json`.
pub fn build(opts: &BuildOptions, ui: &Ui) -> Result<BuildOutput> {
    build_gated(opts, ui, &mut |_| Ok(())).map(|(out, _)| out)
}

/// [`build`], calling `before_writing` after the project and toolchain are read and before
/// anything is written (an error from it stops the build). It gets the toolchain's answers,
/// for `inspect` to reuse. Also hands back the project as the cargo-auditable resolution
/// read it (none with `--no-auditable`), for the SBOM.
pub fn build_gated(
    opts: &BuildOptions,
    ui: &Ui,
    before_writing: &mut dyn FnMut(&crate::inspect::Known) -> Result<()>,
) -> Result<(BuildOutput, Option<crate::sbom::Prepared>)> {
    // cargo runs in the workspace root, so a relative --manifest-path is made absolute.
    let mut selection = opts.selection.clone();
    if let Some(m) = &selection.manifest_path {
        if !m.is_file() {
            return Err(Error::msg(format!(
                "manifest {} not found: give --manifest-path to a Cargo.toml",
                m.display()
            )));
        }
        selection.manifest_path =
            Some(std::path::absolute(m).map_err(|e| Error::io("resolving", m, e))?);
    }
    let sel = &selection;
    // `auto` probes BuildKit in a thread from the start, while cargo runs; an explicit
    // BuildKit client is probed beside its build (see `Probe`).
    let probe = Probe::start(opts);
    // cargo metadata and the rustc queries run at once (rustc in the manifest's directory,
    // where rust-toolchain files apply as they do in the workspace root above it, with the
    // programs cargo's configuration names, as `inspect` runs them).
    let manifest_dir = crate::inspect::locate_manifest(sel)?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let metadata = cargo::Metadata::spawn(sel.manifest_path.as_deref())?;
    // The cargo-auditable data: the project is read from now on, resolved beside cargo and
    // linked in by our rustc wrapper.
    let mut resolver = (!opts.no_auditable).then(|| auditable::Resolver::start(sel.clone()));
    let config = CargoConfig::load(&manifest_dir, cargo::cargo_home().as_deref())?;
    let programs = Programs::find(&config);
    let rustc = cargo::rustc_info(&programs, &manifest_dir);
    let metadata = metadata.wait();
    let known = crate::inspect::Known {
        rustc_vv: rustc.as_ref().ok().map(|r| crate::inspect::KnownRustcVv {
            programs: programs.clone(),
            dir: manifest_dir.clone(),
            text: r.verbose_version.clone(),
        }),
    };
    before_writing(&known)?;
    let (workspace_root, target_dir) = metadata?;
    let rustc = rustc?;

    let git = git::facts(&workspace_root, sel.source_url.as_deref())?;
    let (sde, sde_source) = source_date_epoch(git.as_ref(), ui)?;
    // `--target`, else `build.target` of the cargo configuration (as inspect records it).
    let (target, explicit) =
        crate::inspect::rustflags::target(sel.target.as_deref(), &config, &rustc.host);
    let platforms =
        platform::parse_list(&opts.platforms, explicit.then_some(&*target), &rustc.host)?;
    for p in &platforms {
        platform::check_installed(&p.rust_target, &rustc.host, &rustc.sysroot)?;
    }
    let tag = image_tag(opts.image.as_deref())?;
    let base_ref = match opts.base.as_deref() {
        Some(b) => base::parse(b)?,
        None => base::BaseRef::Scratch,
    };

    let output_dir = opts
        .output_dir
        .clone()
        .unwrap_or_else(|| target_dir.join("provenance"));
    // Registry bases pulled by the native builder are kept here (blobs are fetched once).
    let base_cache = output_dir.join("base-cache");
    // A base in an OCI layout is opened before compiling, so that a missing one fails fast;
    // so is a registry base the native builder cannot read.
    let given_base = opts.base.as_deref().unwrap_or("");
    let layout_base = match &base_ref {
        base::BaseRef::Layout { .. } => Some(base::BaseImage::open(given_base, &base_ref)?),
        base::BaseRef::Registry(r) if opts.builder == BuilderChoice::Native => {
            ui.status("Pulling", format!("base image {r}"));
            Some(base::pull(r, &base_cache)?)
        }
        _ => None,
    };
    let static_crt = opts.static_crt
        || (opts.dockerfile.is_none() && matches!(base_ref, base::BaseRef::Scratch));

    std::fs::create_dir_all(&output_dir).map_err(|e| Error::io("creating", &output_dir, e))?;
    let user_rustflags =
        cargo::user_rustflags(&config, &programs, &manifest_dir, &platforms[0].rust_target)?;

    // The cargo step, once per platform.
    let bin_root = output_dir.join("bin");
    let mut steps = Vec::new();
    for p in &platforms {
        let tdir = if p.rustflags.is_empty() {
            target_dir.clone()
        } else {
            target_dir
                .join("provenance-builds")
                .join(p.dir().replace('/', "-"))
        };
        let platform_flags = if p.rust_target == platforms[0].rust_target {
            user_rustflags.clone()
        } else {
            cargo::user_rustflags(&config, &programs, &manifest_dir, &p.rust_target)?
        };
        steps.push((p, tdir, platform_flags.0));
    }
    let wrapper_envs = match &mut resolver {
        None => vec![Vec::new(); steps.len()],
        Some(resolver) => {
            let plans = steps
                .iter()
                .map(|(p, tdir, flags)| auditable::Plan {
                    built_for: crate::sbom::BuiltFor {
                        target: p.rust_target.clone(),
                        rustflags: cargo::CargoBuild::new(
                            sel,
                            p,
                            static_crt,
                            sde,
                            &workspace_root,
                            tdir,
                            &rustc,
                            flags,
                        )
                        .rustflags(),
                    },
                    drop_parent: tdir.join("provenance-auditable"),
                })
                .collect();
            resolver.setup(&config, plans)?
        }
    };
    let mut images = Vec::new();
    let mut units = Vec::new();
    for ((p, tdir, flags), wrapper_env) in steps.iter().zip(&wrapper_envs) {
        let p = *p;
        let step = cargo::CargoBuild {
            wrapper_env,
            ..cargo::CargoBuild::new(
                sel,
                p,
                static_crt,
                sde,
                &workspace_root,
                tdir,
                &rustc,
                flags,
            )
        };
        ui.status(
            "Compiling",
            format!(
                "binaries for {} ({}{})",
                p.name(),
                p.rust_target,
                if static_crt { ", static" } else { "" }
            ),
        );
        let out = step.run(ui)?;
        let dir = bin_root.join(p.dir());
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io("removing", &dir, e))?;
        }
        let mut binaries = Vec::new();
        for raw in &out.binaries {
            // A plain copy: the directory was emptied above and is rebuilt on every run.
            std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
            let local = dir.join(&raw.name);
            std::fs::copy(&raw.path, &local).map_err(|e| Error::io("copying", &raw.path, e))?;
            set_executable(&local)?;
            let bytes = crate::util::fs::read(&local)?;
            binaries.push(BuiltBinary {
                package: raw.package.clone(),
                name: raw.name.clone(),
                path_in_image: format!("/usr/local/bin/{}", raw.name),
                digest: Digest::of(&bytes),
                size: bytes.len() as u64,
                local_path: local,
            });
        }
        units.extend(out.units);
        images.push((p.clone(), step.rustflags(), binaries));
    }
    units.sort();
    units.dedup();
    let mut project = None;
    if let Some(r) = resolver {
        let (data, read) = r.finish()?;
        for ((_, _, bins), embedded) in images.iter().zip(data) {
            for b in bins {
                auditable::check_binary(&b.local_path, &b.package, &embedded)?;
            }
        }
        project = read;
    }

    let (client, pending_builder) = probe.join()?;
    if let PendingInfo::Known(b) = &pending_builder {
        show_builder(ui, b);
    }
    if client.is_none() && opts.dockerfile.is_some() {
        return Err(Error::msg(
            "--dockerfile needs BuildKit (--builder buildx or buildctl); the native builder takes --base",
        ));
    }
    let native_base = match (&client, &base_ref, layout_base) {
        (None, base::BaseRef::Registry(r), None) => {
            ui.status("Pulling", format!("base image {r}"));
            Some(base::pull(r, &base_cache)?)
        }
        (_, _, b) => b,
    };

    // The image, in a fresh layout that replaces `<output-dir>/oci` at the end.
    let staging = tempfile::Builder::new()
        .prefix(".oci-staging-")
        .tempdir_in(&output_dir)
        .map_err(|e| Error::io("creating a directory in", &output_dir, e))?;
    let layout = Layout::create_staging(staging.path())?;
    let created = crate::util::time::rfc3339(sde)?;
    let mut labels = BTreeMap::from([(
        "org.opencontainers.image.created".to_owned(),
        created.clone(),
    )]);
    if let Some(g) = &git {
        labels.insert("org.opencontainers.image.revision".into(), g.commit.clone());
        if let Some(u) = &g.remote_url {
            labels.insert("org.opencontainers.image.source".into(), u.clone());
        }
    }
    let all_binaries: Vec<BuiltBinary> = images.iter().flat_map(|i| i.2.clone()).collect();
    let mut names: Vec<&str> = all_binaries.iter().map(|b| b.name.as_str()).collect();
    names.sort();
    names.dedup();

    let mut manifests = Vec::new();
    let mut statements = Vec::new();
    let mut materials = Vec::new();
    let mut dockerfile = None;
    let base_image;
    let builder;
    match &client {
        None => {
            ui.status(
                "Building",
                format!(
                    "image with the native builder ({} platform(s))",
                    images.len()
                ),
            );
            let settings = native::ImageSettings {
                labels,
                user: IMAGE_USER.to_owned(),
                source_date_epoch: sde,
                created,
                compression: opts.compression,
            };
            for (p, _, bins) in &images {
                let m = native::build_platform(
                    &layout,
                    &p.platform,
                    bins,
                    native_base.as_ref(),
                    &settings,
                )?;
                let (tar, blob, took, cpu) = m.layer_stats;
                ui.verbose(
                    "Layer",
                    format!(
                        "{}: {tar} bytes of tar, {blob} bytes {} in {:.3} s, {} CPU s (tar, \
                         compression, hashes)",
                        p.name(),
                        opts.compression.as_str(),
                        took.as_secs_f64(),
                        cpu.map_or("?".to_owned(), |c| format!("{c:.2}"))
                    ),
                );
                manifests.push(m.descriptor);
            }
            base_image = native_base.as_ref().map(|b| BaseImageInfo {
                reference: b.reference.clone(),
                digest: Some(b.root.digest),
            });
            builder = pending_builder.wait()?;
        }
        Some(c) => {
            ui.status("Building", format!("image with {}", c.describe()));
            let job = buildkit_stage::Job {
                client: c,
                opts,
                git: git.as_ref(),
                workspace_root: &workspace_root,
                names: &names,
                base_ref: &base_ref,
                native_base: native_base.as_ref(),
                source_date_epoch: sde,
                bin_root: &bin_root,
                platforms: &platforms,
                labels,
                output_dir: &output_dir,
            };
            let image = buildkit_stage::run(job, &layout, pending_builder, ui)?;
            manifests = image.manifests;
            statements = image.statements;
            materials = image.materials;
            dockerfile = Some(image.dockerfile);
            base_image = image.base_image;
            builder = image.builder;
        }
    }

    // Order the index by the requested platform order; pair manifests with binaries.
    let mut platform_images = Vec::new();
    for (p, flags, bins) in images {
        let m = manifests
            .iter()
            .find(|d| d.platform.as_ref() == Some(&p.platform))
            .cloned()
            .ok_or_else(|| {
                Error::msg(format!("the builder produced no manifest for {}", p.name()))
            })?;
        platform_images.push(PlatformImage {
            platform: p.platform.clone(),
            rust_target: p.rust_target.clone(),
            rustflags: flags,
            manifest: m,
            binaries: bins,
        });
    }
    let ordered: Vec<Descriptor> = platform_images.iter().map(|p| p.manifest.clone()).collect();
    let index = native::write_index(&layout, &ordered)?;
    debug_assert_eq!(index.media_type, MEDIA_TYPE_INDEX);
    layout.tag(&tag, &index)?;

    let layout_path = output_dir.join("oci");
    if layout_path.exists() {
        std::fs::remove_dir_all(&layout_path)
            .map_err(|e| Error::io("removing", &layout_path, e))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, &layout_path)
        .map_err(|e| Error::io("moving the layout to", &layout_path, e))?;

    let output = BuildOutput {
        output_dir: output_dir.clone(),
        layout_path,
        image_name: opts.image.clone(),
        tag,
        index,
        platforms: platform_images,
        binaries: all_binaries,
        compiled_units: units,
        buildkit_statements: statements,
        buildkit_materials: materials,
        base_image,
        dockerfile,
        builder,
        source_date_epoch: sde,
        source_date_epoch_source: sde_source,
        git,
        user_rustflags,
        auditable: !opts.no_auditable,
        compression: opts.compression,
    };
    Summary::from_output(&output).write(&output_dir.join("summary.json"))?;
    Ok((output, project))
}

/// The `Builder` status line.
fn show_builder(ui: &Ui, b: &BuilderInfo) {
    match (&b.reason, &b.probe_messages) {
        (Some(r), Some(m)) => ui.status("Builder", format!("{} ({r}: {m})", b.id)),
        (Some(r), None) => ui.status("Builder", format!("{} ({r})", b.id)),
        _ => ui.status("Builder", &b.id),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_come_from_the_image_name() {
        assert_eq!(image_tag(None).unwrap(), "latest");
        assert_eq!(image_tag(Some("app")).unwrap(), "latest");
        assert_eq!(image_tag(Some("127.0.0.1:5000/app:v1")).unwrap(), "v1");
        assert_eq!(image_tag(Some("127.0.0.1:5000/app")).unwrap(), "latest");
        assert!(image_tag(Some("app@sha256:00")).is_err());
    }

    #[test]
    fn templates_render_an_entrypoint() {
        let dir = tempfile::tempdir().unwrap();
        let ep = vec!["/usr/local/bin/x".to_owned()];
        let p = buildkit::render_template(TEMPLATE_SCRATCH, Some(&ep), dir.path()).unwrap();
        let text = std::fs::read_to_string(p).unwrap();
        assert!(text.contains(r#"ENTRYPOINT ["/usr/local/bin/x"]"#));
        assert!(text.contains("FROM scratch"));
        assert!(!text.contains("{{"));
    }
}
