//! The image half of the build stage: the builder chosen (native, or BuildKit through buildx
//! or buildctl), the image written into a fresh OCI layout, the index ordered as the
//! platforms were asked, and the layout moved to `<output-dir>/oci`.

use std::collections::BTreeMap;

use super::builder::{PendingInfo, Probe};
use super::compile::{Compiled, CompiledPlatform, Plan, Toolchain};
use super::{
    BaseImageInfo, BuildKitStatement, BuildOptions, BuilderInfo, BuiltImage, DockerfileInfo,
    IMAGE_USER, PlatformImage, base, buildkit_stage, native, show_builder,
};
use crate::error::{Error, Result};
use crate::formats::oci::{Descriptor, MEDIA_TYPE_INDEX};
use crate::oci::layout::Layout;
use crate::ui::Ui;
use crate::util::digest::Digest;

/// What a builder put in the layout.
struct Parts {
    manifests: Vec<Descriptor>,
    statements: Vec<BuildKitStatement>,
    materials: Vec<(String, Digest)>,
    dockerfile: Option<DockerfileInfo>,
    base_image: Option<BaseImageInfo>,
    builder: BuilderInfo,
}

/// Builds the image of `compiled` with the builder `probe` found, into `<output-dir>/oci`.
pub(super) fn assemble(
    opts: &BuildOptions,
    tc: &Toolchain,
    mut plan: Plan,
    mut compiled: Compiled,
    probe: Probe,
    ui: &Ui,
) -> Result<BuiltImage> {
    let (client, pending_builder) = probe.join()?;
    if let PendingInfo::Known(b) = &pending_builder {
        show_builder(ui, b);
    }
    if client.is_none() && opts.dockerfile.is_some() {
        return Err(Error::msg(
            "--dockerfile needs BuildKit (--builder buildx or buildctl); the native builder takes --base",
        ));
    }
    let native_base = match (&client, &plan.base_ref, plan.early_base.take()) {
        (None, base::BaseRef::Registry(r), None) => {
            ui.status("Pulling", format!("base image {r}"));
            Some(base::pull(r, &plan.base_cache)?)
        }
        (_, _, b) => b,
    };
    // The image, in a fresh layout that replaces `<output-dir>/oci` at the end.
    let staging = tempfile::Builder::new()
        .prefix(".oci-staging-")
        .tempdir_in(&plan.output_dir)
        .map_err(|e| Error::io("creating a directory in", &plan.output_dir, e))?;
    let layout = Layout::create_staging(staging.path())?;
    let parts = match &client {
        None => native_image(
            opts,
            &plan,
            &mut compiled.platforms,
            native_base.as_ref(),
            &layout,
            ui,
        )?
        .with_builder(pending_builder.wait()?),
        Some(c) => {
            ui.status("Building", format!("image with {}", c.describe()));
            let names = binary_names(&compiled.platforms);
            let job = buildkit_stage::Job {
                client: c,
                opts,
                git: plan.git.as_ref(),
                workspace_root: &tc.workspace_root,
                names: &names.iter().map(String::as_str).collect::<Vec<_>>(),
                base_ref: &plan.base_ref,
                native_base: native_base.as_ref(),
                source_date_epoch: plan.sde.0,
                bin_root: &plan.output_dir.join("bin"),
                platforms: &plan.platforms,
                labels: labels(&plan)?,
                output_dir: &plan.output_dir,
            };
            let image = buildkit_stage::run(job, &layout, pending_builder, ui)?;
            Parts {
                manifests: image.manifests,
                statements: image.statements,
                materials: image.materials,
                dockerfile: Some(image.dockerfile),
                base_image: image.base_image,
                builder: image.builder,
            }
        }
    };
    finish(opts, plan, compiled, parts, layout, staging)
}

/// The image config labels: created, and (in git) revision and source.
fn labels(plan: &Plan) -> Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::from([(
        "org.opencontainers.image.created".to_owned(),
        crate::util::time::rfc3339(plan.sde.0)?,
    )]);
    if let Some(g) = &plan.git {
        labels.insert("org.opencontainers.image.revision".into(), g.commit.clone());
        if let Some(u) = &g.remote_url {
            labels.insert("org.opencontainers.image.source".into(), u.clone());
        }
    }
    Ok(labels)
}

/// The binaries' names over every platform, sorted, once each.
fn binary_names(platforms: &[CompiledPlatform]) -> Vec<String> {
    let mut names: Vec<String> = platforms
        .iter()
        .flat_map(|p| p.binaries.iter().map(|b| b.name.clone()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A native builder's parts, before its builder record is known.
struct NativeParts {
    manifests: Vec<Descriptor>,
    base_image: Option<BaseImageInfo>,
}

impl NativeParts {
    fn with_builder(self, builder: BuilderInfo) -> Parts {
        Parts {
            manifests: self.manifests,
            statements: Vec::new(),
            materials: Vec::new(),
            dockerfile: None,
            base_image: self.base_image,
            builder,
        }
    }
}

/// The native builder: one manifest per platform over `base`.
fn native_image(
    opts: &BuildOptions,
    plan: &Plan,
    platforms: &mut [CompiledPlatform],
    base: Option<&base::BaseImage>,
    layout: &Layout,
    ui: &Ui,
) -> Result<NativeParts> {
    ui.status(
        "Building",
        format!(
            "image with the native builder ({} platform(s))",
            platforms.len()
        ),
    );
    let settings = native::ImageSettings {
        labels: labels(plan)?,
        user: IMAGE_USER.to_owned(),
        source_date_epoch: plan.sde.0,
        created: crate::util::time::rfc3339(plan.sde.0)?,
        compression: opts.compression,
    };
    let mut manifests = Vec::new();
    for p in platforms {
        let ahead = p
            .layer_ahead
            .take()
            .and_then(super::layer_ahead::Runner::finish);
        let m = native::build_platform(
            layout,
            &p.platform.platform,
            &p.binaries,
            base,
            &settings,
            ahead,
        )?;
        let (tar, blob, took, cpu, made_ahead) = m.layer_stats;
        ui.verbose(
            "Layer",
            format!(
                "{}: {tar} bytes of tar, {blob} bytes {} in {:.3} s, {} CPU s (tar, \
                 compression, hashes{})",
                p.platform.name(),
                opts.compression.as_str(),
                took.as_secs_f64(),
                cpu.map_or("?".to_owned(), |c| format!("{c:.2}")),
                if made_ahead {
                    "; made while cargo finished"
                } else {
                    ""
                }
            ),
        );
        manifests.push(m.descriptor);
    }
    Ok(NativeParts {
        manifests,
        base_image: base.map(|b| BaseImageInfo {
            reference: b.reference.clone(),
            digest: Some(b.root.digest),
        }),
    })
}

/// Orders the index by the requested platform order (pairing manifests with binaries), tags
/// it, and moves the staged layout to `<output-dir>/oci`.
fn finish(
    opts: &BuildOptions,
    plan: Plan,
    compiled: Compiled,
    parts: Parts,
    layout: Layout,
    staging: tempfile::TempDir,
) -> Result<BuiltImage> {
    let all_binaries: Vec<_> = compiled
        .platforms
        .iter()
        .flat_map(|p| p.binaries.clone())
        .collect();
    let mut platform_images = Vec::new();
    for c in compiled.platforms {
        let p = c.platform;
        let manifest = parts
            .manifests
            .iter()
            .find(|d| d.platform.as_ref() == Some(&p.platform))
            .cloned()
            .ok_or_else(|| {
                Error::msg(format!("the builder produced no manifest for {}", p.name()))
            })?;
        platform_images.push(PlatformImage {
            platform: p.platform.clone(),
            rust_target: p.rust_target.clone(),
            rustflags: c.rustflags,
            manifest,
            binaries: c.binaries,
        });
    }
    let ordered: Vec<Descriptor> = platform_images.iter().map(|p| p.manifest.clone()).collect();
    let index = native::write_index(&layout, &ordered)?;
    debug_assert_eq!(index.media_type, MEDIA_TYPE_INDEX);
    layout.tag(&plan.tag, &index)?;
    let layout_path = plan.output_dir.join("oci");
    if layout_path.exists() {
        std::fs::remove_dir_all(&layout_path)
            .map_err(|e| Error::io("removing", &layout_path, e))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, &layout_path)
        .map_err(|e| Error::io("moving the layout to", &layout_path, e))?;
    Ok(BuiltImage {
        output_dir: plan.output_dir,
        layout_path,
        image_name: opts.image.clone(),
        tag: plan.tag,
        index,
        platforms: platform_images,
        binaries: all_binaries,
        compiled_units: compiled.units,
        buildkit_statements: parts.statements,
        buildkit_materials: parts.materials,
        base_image: parts.base_image,
        dockerfile: parts.dockerfile,
        builder: parts.builder,
        source_date_epoch: plan.sde.0,
        source_date_epoch_source: plan.sde.1,
        git: plan.git,
        user_rustflags: plan.user_rustflags,
        auditable: !opts.no_auditable,
        compression: opts.compression,
    })
}
