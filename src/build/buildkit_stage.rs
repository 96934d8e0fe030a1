//! The BuildKit image stage of `build`: renders the Dockerfile (or takes the user's), runs
//! BuildKit on the prebuilt binaries, moves the platform manifests into our layout, and keeps
//! BuildKit's statements and base-image materials.
//!
//! An explicit `--builder buildx|buildctl` is probed here, beside BuildKit's build: the probe
//! (three Go processes for `docker buildx inspect`) then costs the compiler nothing. When the
//! build fails and the probe says BuildKit is unreachable, the error is the one naming
//! DOCKER_HOST/BUILDKIT_HOST.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::formats::oci::Descriptor;
use crate::oci::layout::Layout;
use crate::ui::Ui;
use crate::util::digest::Digest;

use super::builder::{BuilderInfo, PendingInfo};
use super::platform::TargetPlatform;
use super::{
    BaseImageInfo, BuildKitStatement, BuildOptions, DockerfileInfo, TEMPLATE_BASE,
    TEMPLATE_SCRATCH, base, buildkit, git,
};

/// What the BuildKit stage needs from `build`.
pub(super) struct Job<'a> {
    /// The BuildKit client.
    pub client: &'a buildkit::Client,
    /// `build`'s options (`--dockerfile`).
    pub opts: &'a BuildOptions,
    /// The git facts (to show a user Dockerfile's path relative to the repository).
    pub git: Option<&'a git::GitFacts>,
    /// The workspace root (the same, outside git).
    pub workspace_root: &'a Path,
    /// The binaries' names, sorted (one: it is the entrypoint).
    pub names: &'a [&'a str],
    /// `--base`.
    pub base_ref: &'a base::BaseRef,
    /// A base image opened from an OCI layout.
    pub native_base: Option<&'a base::BaseImage>,
    /// SOURCE_DATE_EPOCH.
    pub source_date_epoch: i64,
    /// `<output-dir>/bin`: the `bins` named context.
    pub bin_root: &'a Path,
    /// The platforms.
    pub platforms: &'a [TargetPlatform],
    /// The image labels.
    pub labels: BTreeMap<String, String>,
    /// `--output-dir` (BuildKit's scratch directory goes there).
    pub output_dir: &'a Path,
}

/// What the BuildKit stage produced.
pub(super) struct Image {
    /// The platform manifests, now in our layout.
    pub manifests: Vec<Descriptor>,
    /// BuildKit's statements.
    pub statements: Vec<BuildKitStatement>,
    /// Base images named in them.
    pub materials: Vec<(String, Digest)>,
    /// The Dockerfile BuildKit ran.
    pub dockerfile: DockerfileInfo,
    /// The base image.
    pub base_image: Option<BaseImageInfo>,
    /// The builder's record.
    pub builder: BuilderInfo,
}

/// Runs BuildKit for `job`, moving the platform manifests into `layout`; `pending` is the
/// builder's record or its probe, awaited after the build.
pub(super) fn run(job: Job<'_>, layout: &Layout, pending: PendingInfo, ui: &Ui) -> Result<Image> {
    let work = tempfile::Builder::new()
        .prefix(".buildkit-")
        .tempdir_in(job.output_dir)
        .map_err(|e| Error::io("creating a directory in", job.output_dir, e))?;
    let ctx = work.path().join("context");
    std::fs::create_dir_all(&ctx).map_err(|e| Error::io("creating", &ctx, e))?;
    let (dockerfile_path, context, info) = dockerfile(&job, &ctx)?;
    let (build_args, contexts) = base_arguments(&job)?;
    let out_dir = work.path().join("oci");
    let request = buildkit::Request {
        client: job.client,
        dockerfile: &dockerfile_path,
        context: &context,
        bins: job.bin_root,
        platforms: job.platforms,
        build_args,
        labels: job.labels,
        out_dir: &out_dir,
        metadata_file: &work.path().join("metadata.json"),
        layout_contexts: contexts,
        compression: job.opts.compression,
    };
    let built = request.run(ui.is_verbose() || ui.shows_progress());
    let probed_here = matches!(pending, PendingInfo::Probing(_));
    let probed = pending.wait();
    let (outcome, builder) = match (built, probed) {
        // BuildKit unreachable: the error that names the variables, whatever the build said.
        (_, Err(unreachable)) => return Err(unreachable),
        (Err(e), Ok(_)) => return Err(e),
        (Ok(o), Ok(b)) => (o, b),
    };
    if probed_here {
        super::show_builder(ui, &builder);
    }
    for d in &outcome.index.manifests {
        buildkit::move_manifest(&outcome.layout, layout, d)?;
    }
    for why in &outcome.refused {
        ui.warn(why);
    }
    let base_image = match (job.base_ref, job.native_base) {
        (base::BaseRef::Registry(r), _) => Some(BaseImageInfo {
            reference: r.clone(),
            digest: outcome.materials.first().map(|m| m.1),
        }),
        (_, Some(b)) => Some(BaseImageInfo {
            reference: b.reference.clone(),
            digest: Some(b.root.digest),
        }),
        _ => None,
    };
    Ok(Image {
        manifests: outcome.index.manifests.clone(),
        statements: outcome.statements,
        materials: outcome.materials,
        dockerfile: info,
        base_image,
        builder,
    })
}

/// BuildKit's `--build-arg`s.
type BuildArgs = BTreeMap<String, String>;
/// BuildKit's named contexts: an OCI layout and the digest it is pinned to.
type NamedContexts = BTreeMap<String, (PathBuf, Digest)>;

/// The Dockerfile BuildKit runs, the build context, and their record: the user's
/// (`--dockerfile`, shown relative to the repository) or our template for the base,
/// rendered into `ctx`.
fn dockerfile(job: &Job<'_>, ctx: &Path) -> Result<(PathBuf, PathBuf, DockerfileInfo)> {
    let ep = if job.names.len() == 1 {
        Some(vec![format!("/usr/local/bin/{}", job.names[0])])
    } else {
        None
    };
    let chosen = match &job.opts.dockerfile {
        Some(user) => {
            let bytes = crate::util::fs::read(user)?;
            let context = user.parent().unwrap_or(Path::new(".")).to_path_buf();
            let shown = user
                .canonicalize()
                .ok()
                .and_then(|abs| {
                    let root = job
                        .git
                        .and_then(|g| g.workdir.clone())
                        .unwrap_or_else(|| job.workspace_root.to_path_buf());
                    abs.strip_prefix(root.canonicalize().ok()?).ok().map(|r| {
                        r.components()
                            .map(|c| c.as_os_str().to_string_lossy().into_owned())
                            .collect::<Vec<_>>()
                            .join("/")
                    })
                })
                .unwrap_or_else(|| {
                    user.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned()
                });
            (
                user.clone(),
                context,
                DockerfileInfo {
                    path: shown,
                    digest: Digest::of(&bytes),
                },
            )
        }
        None => {
            let (template, name) = match job.base_ref {
                base::BaseRef::Scratch => (TEMPLATE_SCRATCH, "<builtin>/Dockerfile.scratch"),
                _ => (TEMPLATE_BASE, "<builtin>/Dockerfile.base"),
            };
            let path = buildkit::render_template(template, ep.as_deref(), ctx)?;
            let bytes = crate::util::fs::read(&path)?;
            (
                path,
                ctx.to_path_buf(),
                DockerfileInfo {
                    path: name.to_owned(),
                    digest: Digest::of(&bytes),
                },
            )
        }
    };
    Ok(chosen)
}

/// BuildKit's build arguments (SOURCE_DATE_EPOCH, the base) and named contexts (a base in
/// an OCI layout, pinned by digest).
fn base_arguments(job: &Job<'_>) -> Result<(BuildArgs, NamedContexts)> {
    let mut build_args = BTreeMap::from([(
        "SOURCE_DATE_EPOCH".to_owned(),
        job.source_date_epoch.to_string(),
    )]);
    let mut contexts = BTreeMap::new();
    match (job.base_ref, job.native_base) {
        (base::BaseRef::Registry(r), _) => {
            build_args.insert("BASE".into(), r.clone());
        }
        (base::BaseRef::Layout { path, .. }, Some(b)) => {
            // BuildKit reads the layout as a named context pinned by digest.
            let abs = std::path::absolute(path).map_err(|e| Error::io("resolving", path, e))?;
            contexts.insert(buildkit::BASE_CONTEXT.to_owned(), (abs, b.root.digest));
            build_args.insert("BASE".into(), buildkit::BASE_CONTEXT.to_owned());
        }
        _ => {}
    }
    Ok((build_args, contexts))
}
