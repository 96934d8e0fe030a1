//! Stage 2, build: the cargo build with reproducibility settings, then the image (BuildKit
//! or the native builder) in an OCI layout, and `summary.json`.
//!
//! [`build`] runs the whole stage and returns a [`BuiltImage`], which the attest, sign and
//! publish stages consume. See `docs/image.md` for every setting and file.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::formats::oci::{Descriptor, Platform};
use crate::inspect::model::{BuiltBinary, CompiledUnit};
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
mod compile;
pub mod compress;
pub mod early_read;
pub mod git;
pub mod handoff;
mod image;
pub mod job_summary;
pub mod layer_ahead;
pub mod native;
pub mod platform;
pub mod summary;
pub mod tar;
pub mod workspace;

use builder::Probe;
pub use builder::{BuilderChoice, BuilderInfo, BuilderKind, choose_builder};
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseImageInfo {
    /// As given with `--base`.
    pub reference: String,
    /// The digest it resolved to (index or manifest), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
}

/// The Dockerfile BuildKit ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct BuiltImage {
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
pub fn build(opts: &BuildOptions, ui: &Ui) -> Result<BuiltImage> {
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
) -> Result<(BuiltImage, Option<crate::sbom::Prepared>)> {
    let selection = checked_selection(&opts.selection)?;
    // `auto` probes BuildKit in a thread from the start, while cargo runs; an explicit
    // BuildKit client is probed beside its build (see `Probe`).
    let native = layer_ahead::Wanted::default();
    let probe = Probe::start(opts, &native);
    // The first attempt guesses the workspace root and target directory; when cargo names
    // others, the build runs again with cargo's (see `workspace`).
    let mut guess = may_guess(opts);
    let (toolchain, plan, mut compiled) = loop {
        let (toolchain, resolver, mut pending) =
            compile::read_toolchain(&selection, opts.no_auditable, guess, before_writing)?;
        let attempt = compile::plan(opts, &selection, &toolchain, &native, ui).and_then(|plan| {
            compile::compile(&selection, &toolchain, &plan, resolver, &mut pending, ui)
                .map(|a| (a, plan))
        });
        let layout = match attempt {
            Ok((compile::Attempt::Done(compiled), plan)) => break (toolchain, plan, *compiled),
            Ok((compile::Attempt::Again(layout), _)) => layout,
            Err(e) => compile::again_or(&mut pending, &toolchain, e)?,
        };
        warn_again(ui, &toolchain, &layout);
        guess = false;
    };
    let project = compiled.project.take();
    let image = image::assemble(opts, &toolchain, plan, compiled, probe, ui)?;
    Summary::from_output(&image).write(&image.output_dir.join("summary.json"))?;
    Ok((image, project))
}

/// Says why the build runs again: cargo named another workspace root or target directory
/// than the guess.
fn warn_again(ui: &Ui, guessed: &compile::Toolchain, actual: &workspace::Layout) {
    let hint = match guessed.workspace_root == actual.root {
        true => String::new(),
        false => format!(
            "; cargo does not use the Cargo.lock in {}: remove it",
            guessed.workspace_root.display()
        ),
    };
    ui.warn(format!(
        "cargo builds this project in {} with target directory {}, not in {} with {} as \
         guessed: building again{hint}",
        actual.root.display(),
        actual.target_dir.display(),
        guessed.workspace_root.display(),
        guessed.target_dir.display(),
    ));
}

/// Whether the first attempt may guess the workspace root and target directory: not when
/// the native builder pulls a registry base into the default output directory before
/// compiling (it would land under the guessed target directory).
fn may_guess(opts: &BuildOptions) -> bool {
    let registry_base = opts
        .base
        .as_deref()
        .is_some_and(|b| matches!(base::parse(b), Ok(base::BaseRef::Registry(_))));
    opts.output_dir.is_some() || !registry_base
}

/// The selection, its `--manifest-path` checked and made absolute (cargo runs in the
/// workspace root).
fn checked_selection(selection: &Selection) -> Result<Selection> {
    let mut selection = selection.clone();
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
    Ok(selection)
}

/// The `Builder` status line.
fn show_builder(ui: &Ui, b: &BuilderInfo) {
    match (&b.reason, &b.probe_messages) {
        (Some(r), Some(m)) => ui.status("Builder", format!("{} ({r}: {m})", b.id)),
        (Some(r), None) => ui.status("Builder", format!("{} ({r})", b.id)),
        _ => ui.status("Builder", &b.id),
    }
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
    fn no_guess_when_a_registry_base_is_pulled_into_the_default_output_directory() {
        let mut opts = BuildOptions::default();
        assert!(may_guess(&opts));
        opts.base = Some("scratch".into());
        assert!(may_guess(&opts));
        opts.base = Some("127.0.0.1:5000/base:v1".into());
        assert!(!may_guess(&opts));
        opts.output_dir = Some("out".into());
        assert!(may_guess(&opts));
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
