//! The build stage's output in the attest stage's terms: what the lead's wiring of
//! `build` → provenance needs from a [`BuildOutput`] besides the inspect results.

use std::collections::BTreeMap;

use crate::attest::provenance::{
    BaseImageInput, DockerfileInput, ImageBuilderKind, PlatformManifest,
};

use super::{BuildOutput, BuilderKind};

impl BuildOutput {
    /// The builder as the provenance records it.
    pub fn image_builder_kind(&self) -> ImageBuilderKind {
        match self.builder.kind {
            BuilderKind::Native => ImageBuilderKind::Native,
            BuilderKind::Buildx => ImageBuilderKind::Buildx,
            BuilderKind::Buildctl => ImageBuilderKind::Buildctl,
        }
    }

    /// Facts about the builder instance (`name`, `driver`, `buildkit` version; `id`).
    pub fn builder_details(&self) -> BTreeMap<String, String> {
        let mut d = self.builder.details.clone();
        d.insert("id".to_owned(), self.builder.id.clone());
        d
    }

    /// The Dockerfile (BuildKit builds).
    pub fn dockerfile_input(&self) -> Option<DockerfileInput> {
        self.dockerfile.as_ref().map(|d| DockerfileInput {
            path: d.path.clone(),
            digest: d.digest,
        })
    }

    /// The base image pinned by digest (`None` for scratch, or when BuildKit reported no
    /// digest for it).
    pub fn base_image_input(&self) -> Option<BaseImageInput> {
        let b = self.base_image.as_ref()?;
        Some(BaseImageInput {
            reference: b.reference.clone(),
            digest: b.digest?,
        })
    }

    /// Images BuildKit resolved besides the base (its statements' materials).
    pub fn other_images(&self) -> Vec<BaseImageInput> {
        let base = self.base_image.as_ref().and_then(|b| b.digest);
        let mut out: Vec<BaseImageInput> = self
            .buildkit_materials
            .iter()
            .filter(|(_, d)| Some(*d) != base)
            .map(|(uri, d)| BaseImageInput {
                reference: uri.clone(),
                digest: *d,
            })
            .collect();
        out.dedup();
        out
    }

    /// The platform manifests, as `os/arch[/variant]` and digest.
    pub fn platform_manifests(&self) -> Vec<PlatformManifest> {
        self.platforms
            .iter()
            .map(|p| PlatformManifest {
                platform: p.platform.clone(),
                digest: p.manifest.digest,
            })
            .collect()
    }
}
