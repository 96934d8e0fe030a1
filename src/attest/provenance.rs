//! The SLSA v1 provenance statement: [`ProvenanceInput`] (filled by the build stage) →
//! in-toto Statement v1 with our `buildType` ([`super::params::BUILD_TYPE`]).
//!
//! Nothing secret goes in: URLs are sanitised again ([`super::sanitize`]), no environment
//! variable is copied (only the CI variables [`super::environment`] reads to name the
//! builder and the run), and no absolute path of this machine is written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::environment::RunEnvironment;
use super::params::{
    BUILD_TYPE, DockerfileParameters, ExternalParameters, InternalParameters, ProfileSettings,
    SourceParameters, ToolchainParameters,
};
use super::sanitize;
use crate::build::{BaseImageInfo, BuilderKind, DockerfileInfo, PlatformImage};
use crate::error::Result;
use crate::formats::intoto::{ResourceDescriptor, Statement};
use crate::formats::oci::{MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST};
use crate::formats::slsa::{self, BuildDefinition, BuildMetadata, Builder, Provenance, RunDetails};
use crate::inspect::model::{BuildInputs, BuiltBinary};
use crate::util::digest::Digest;
use crate::util::time::rfc3339;

/// A crate compiled into a shipped binary (from the SBOM stage / compiled units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippedCrate {
    /// Crate name.
    pub name: String,
    /// Version.
    pub version: String,
    /// `pkg:cargo/NAME@VERSION` (with qualifiers for git sources).
    pub purl: String,
    /// The Cargo.lock checksum (sha256 hex), for registry crates.
    pub sha256: Option<String>,
}

/// Everything the provenance says, as the build stage knows it.
#[derive(Debug, Clone)]
pub struct ProvenanceInput {
    /// What `inspect` found: toolchain, git, cargo settings.
    pub inputs: BuildInputs,
    /// Every crate compiled into the shipped binaries.
    pub crates: Vec<ShippedCrate>,
    /// The image builder.
    pub builder: BuilderKind,
    /// Facts about the builder instance (`name` of the buildx builder, `buildkit` version).
    pub builder_details: BTreeMap<String, String>,
    /// The Dockerfile (BuildKit builds).
    pub dockerfile: Option<DockerfileInfo>,
    /// The base image; `None` for `scratch`. Recorded only when pinned (its digest known).
    pub base_image: Option<BaseImageInfo>,
    /// Other images the build pulled (BuildKit's materials), pinned.
    pub other_images: Vec<BaseImageInfo>,
    /// `--image NAME[:TAG]`.
    pub image_name: Option<String>,
    /// The image index digest.
    pub index_digest: Digest,
    /// The platforms of the image (their manifests).
    pub manifests: Vec<PlatformImage>,
    /// The binaries in the image (`name` in the statement = path in the image).
    pub binaries: Vec<BuiltBinary>,
    /// Whether the binaries carry cargo-auditable's dependency data.
    pub auditable: bool,
    /// The SBOM file's digest, recorded as a byproduct.
    pub sbom_digest: Option<Digest>,
    /// `SOURCE_DATE_EPOCH` of the build.
    pub source_date_epoch: i64,
    /// Start of the build (seconds since the epoch).
    pub started_on: i64,
    /// End of the build (seconds since the epoch).
    pub finished_on: i64,
    /// `--reproducible`: times from `source_date_epoch`, no invocation id.
    pub reproducible: bool,
    /// Where the build ran ([`RunEnvironment::detect`]).
    pub environment: RunEnvironment,
    /// `--compression` of the image's layers.
    pub layer_compression: crate::build::compress::LayerCompression,
}

/// The subjects every statement of a build names: the image index, each platform manifest,
/// each binary (name = its path in the image). Sorted as listed, platforms and binaries
/// in order of name.
pub fn subjects(input: &ProvenanceInput) -> Vec<ResourceDescriptor> {
    let image = input.image_name.clone().unwrap_or_else(|| "image".into());
    let mut out = vec![ResourceDescriptor {
        media_type: Some(MEDIA_TYPE_INDEX.into()),
        ..ResourceDescriptor::named_sha256(image, &input.index_digest)
    }];
    let mut manifests = input.manifests.clone();
    manifests.sort_by_cached_key(|m| (m.platform.to_string(), m.manifest.digest));
    out.extend(manifests.iter().map(|m| ResourceDescriptor {
        media_type: Some(MEDIA_TYPE_MANIFEST.into()),
        annotations: BTreeMap::from([("platform".into(), m.platform.to_string().into())]),
        ..ResourceDescriptor::named_sha256(m.platform.to_string(), &m.manifest.digest)
    }));
    let mut bins: Vec<_> = input.binaries.iter().collect();
    bins.sort_by(|a, b| a.path_in_image.cmp(&b.path_in_image));
    out.extend(
        bins.iter()
            .map(|b| ResourceDescriptor::named_sha256(b.path_in_image.clone(), &b.digest)),
    );
    out
}

/// An image with the digest it is pinned to; `None` when there is no image or its digest is
/// unknown (BuildKit reported none): such an image is not recorded.
fn pinned(image: Option<&BaseImageInfo>) -> Option<(&BaseImageInfo, Digest)> {
    let image = image?;
    Some((image, image.digest?))
}

fn sha256_map(d: &Digest) -> BTreeMap<String, String> {
    BTreeMap::from([("sha256".to_string(), d.hex())])
}

fn image_uri(reference: &str) -> String {
    // Never a URL with credentials: references have none, but a `user:pw@` would be cut.
    let r = reference
        .rsplit_once('@')
        .filter(|(_, h)| !h.starts_with("sha256:"))
        .map_or(reference, |(_, h)| h);
    format!("docker-image://{r}")
}

fn external(input: &ProvenanceInput) -> ExternalParameters {
    let c = &input.inputs.cargo;
    let source = input.inputs.git.as_ref().map(|g| SourceParameters {
        uri: g.remote_url.as_deref().and_then(crate::util::url::git_uri),
        git_ref: git_ref(g),
        commit: g.commit.clone(),
        path: g.package_path.clone(),
        dirty: g.dirty,
    });
    let mut binaries: Vec<String> = c.binaries.iter().map(|b| b.name.clone()).collect();
    binaries.sort();
    binaries.dedup();
    let mut platforms: Vec<String> = input
        .manifests
        .iter()
        .map(|m| m.platform.to_string())
        .collect();
    platforms.sort();
    platforms.dedup();
    ExternalParameters {
        source,
        packages: c.packages.clone(),
        binaries,
        profile: c.profile.name.clone(),
        features: c.features.clone(),
        all_features: c.all_features,
        no_default_features: c.no_default_features,
        target: c.target.clone(),
        builder: input.builder.as_str().into(),
        dockerfile: input.dockerfile.as_ref().map(|d| DockerfileParameters {
            path: d.path.clone(),
            digest: sha256_map(&d.digest),
        }),
        base_image: match pinned(input.base_image.as_ref()) {
            Some((b, digest)) => format!("{}@{}", strip_digest(&b.reference), digest),
            None => "scratch".into(),
        },
        image: input.image_name.clone(),
        platforms,
        auditable: input.auditable,
        layer_compression: Some(input.layer_compression.as_str().to_owned()),
    }
}

/// The ref built: the branch HEAD points to, else (detached, as CI checkouts of a tag are) the
/// first tag pointing at HEAD.
fn git_ref(g: &crate::inspect::model::GitState) -> Option<String> {
    g.head_ref
        .clone()
        .or_else(|| g.tags.first().map(|t| format!("refs/tags/{t}")))
}

fn strip_digest(reference: &str) -> &str {
    crate::formats::reference::split_name(reference).without_digest()
}

fn internal(input: &ProvenanceInput) -> InternalParameters {
    let t = &input.inputs.toolchain;
    let c = &input.inputs.cargo;
    let p = &c.profile;
    InternalParameters {
        toolchain: ToolchainParameters {
            rustc_release: t.rustc_release.clone(),
            rustc_commit_hash: t.rustc_commit_hash.clone(),
            rustc_commit_date: t.rustc_commit_date.clone(),
            host: t.host.clone(),
            llvm_version: t.llvm_version.clone(),
            cargo_version: t.cargo_version.clone(),
            rustup_toolchain: t.rustup_toolchain.clone(),
        },
        rustflags: sanitize::rustflags(&c.rustflags),
        rustflags_source: c.rustflags_source.clone(),
        profile_settings: ProfileSettings {
            opt_level: p.opt_level.clone(),
            lto: p.lto.clone(),
            codegen_units: p.codegen_units,
            debug: p.debug.clone(),
            strip: p.strip.clone(),
            panic: p.panic.clone(),
        },
        source_date_epoch: input.source_date_epoch,
        reproducible: input.reproducible,
        image_builder: input
            .builder_details
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), clean_value(v)?)))
            .collect(),
    }
}

/// Builder details are free text: drop anything that looks like a URL with credentials.
fn clean_value(v: &str) -> Option<String> {
    if v.contains("://") {
        crate::util::url::sanitize(v)
    } else {
        Some(v.to_string())
    }
}

fn resolved_dependencies(input: &ProvenanceInput) -> Vec<ResourceDescriptor> {
    let mut out = Vec::new();
    if let Some(g) = &input.inputs.git {
        let base = g.remote_url.as_deref().and_then(crate::util::url::git_uri);
        out.push(ResourceDescriptor {
            name: Some("source".into()),
            uri: base.map(|u| match git_ref(g) {
                Some(r) => format!("{u}@{r}"),
                None => u,
            }),
            digest: BTreeMap::from([("gitCommit".into(), g.commit.clone())]),
            ..Default::default()
        });
    }
    let t = &input.inputs.toolchain;
    let mut toolchain = ResourceDescriptor {
        name: Some("rustc".into()),
        uri: Some(format!(
            "pkg:generic/rust-lang/rustc@{}?host={}",
            t.rustc_release, t.host
        )),
        annotations: BTreeMap::from([
            ("rustcVersion".into(), t.rustc_version_line.clone().into()),
            ("cargoVersion".into(), t.cargo_version.clone().into()),
        ]),
        ..Default::default()
    };
    if t.rustc_commit_hash.len() == 40 && t.rustc_commit_hash.bytes().all(|b| b.is_ascii_hexdigit())
    {
        toolchain
            .digest
            .insert("gitCommit".into(), t.rustc_commit_hash.clone());
    }
    out.push(toolchain);
    let base = pinned(input.base_image.as_ref());
    let mut images: Vec<(&BaseImageInfo, Digest)> = base
        .into_iter()
        .chain(input.other_images.iter().filter_map(|i| pinned(Some(i))))
        .collect();
    images.sort_by(|a, b| a.0.reference.cmp(&b.0.reference).then(a.1.cmp(&b.1)));
    images.dedup();
    out.extend(images.into_iter().map(|(b, digest)| {
        ResourceDescriptor {
            name: Some(
                if Some((b, digest)) == base {
                    "base-image"
                } else {
                    "image"
                }
                .into(),
            ),
            uri: Some(image_uri(strip_digest(&b.reference))),
            digest: sha256_map(&digest),
            ..Default::default()
        }
    }));
    let mut crates: Vec<ResourceDescriptor> = input
        .crates
        .iter()
        .map(|c| ResourceDescriptor {
            name: Some(c.name.clone()),
            uri: Some(c.purl.clone()),
            digest: c
                .sha256
                .iter()
                .map(|h| ("sha256".to_string(), h.to_ascii_lowercase()))
                .collect(),
            ..Default::default()
        })
        .collect();
    crates.sort_by(|a, b| a.uri.cmp(&b.uri));
    crates.dedup_by(|a, b| a.uri == b.uri);
    out.extend(crates);
    out
}

/// Builds the SLSA v1 provenance predicate.
pub fn provenance(input: &ProvenanceInput) -> Result<Provenance> {
    let external = serde_json::to_value(external(input))
        .map_err(|e| crate::Error::with_source("serialising externalParameters", e))?;
    let internal = serde_json::to_value(internal(input))
        .map_err(|e| crate::Error::with_source("serialising internalParameters", e))?;
    let (started, finished, invocation_id) = if input.reproducible {
        (input.source_date_epoch, input.source_date_epoch, None)
    } else {
        let id = input
            .environment
            .invocation_id
            .clone()
            .unwrap_or_else(random_invocation_id);
        (input.started_on, input.finished_on, Some(id))
    };
    let byproducts = input
        .sbom_digest
        .iter()
        .map(|d| ResourceDescriptor {
            media_type: Some("application/vnd.cyclonedx+json".into()),
            ..ResourceDescriptor::named_sha256("sbom.cdx.json", d)
        })
        .collect();
    Ok(Provenance {
        build_definition: BuildDefinition {
            build_type: BUILD_TYPE.into(),
            external_parameters: external,
            internal_parameters: Some(internal),
            resolved_dependencies: resolved_dependencies(input),
        },
        run_details: RunDetails {
            builder: Builder {
                id: input.environment.builder_id.clone(),
                version: BTreeMap::from([(
                    "cargo-provenance".into(),
                    env!("CARGO_PKG_VERSION").into(),
                )]),
                builder_dependencies: Vec::new(),
            },
            metadata: Some(BuildMetadata {
                invocation_id,
                started_on: Some(rfc3339(started)?),
                finished_on: Some(rfc3339(finished)?),
            }),
            byproducts,
        },
    })
}

fn random_invocation_id() -> String {
    let mut bytes = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    format!(
        "urn:uuid:{}",
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    )
}

/// The provenance statement: [`subjects`] + [`provenance`].
pub fn statement(input: &ProvenanceInput) -> Result<Statement<Provenance>> {
    Ok(Statement::new(
        subjects(input),
        slsa::PREDICATE_TYPE,
        provenance(input)?,
    ))
}
