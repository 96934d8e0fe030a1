//! `summary.json`: what was built, with digests (docs/image.md, docs/build.md). The attest stage appends
//! one entry per attestation to `attestations`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::util::digest::Digest;

use super::BuildOutput;

/// The document written to `<output-dir>/summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// `--image` as given, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The tag of the image in the layout.
    pub tag: String,
    /// The OCI layout, relative to the output directory (`oci`).
    pub layout: String,
    /// The image index's digest.
    pub index_digest: Digest,
    /// Per platform: its manifest digest and binaries.
    pub platforms: Vec<SummaryPlatform>,
    /// The builder: `kind` (native, buildx, buildctl), `id`, and why `auto` chose it.
    pub builder: serde_json::Value,
    /// SOURCE_DATE_EPOCH.
    pub source_date_epoch: i64,
    /// Where SOURCE_DATE_EPOCH came from.
    pub source_date_epoch_source: String,
    /// The base image, unless scratch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_image: Option<serde_json::Value>,
    /// The Dockerfile (BuildKit builds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<serde_json::Value>,
    /// BuildKit's own attestations, taken out of its index (signed and attached later).
    #[serde(default)]
    pub buildkit_attestations: Vec<SummaryBuildKitStatement>,
    /// Attestations: predicate type, file, referrer manifest digest (filled by the
    /// attest/sign/publish stages).
    #[serde(default)]
    pub attestations: Vec<serde_json::Value>,
}

/// One platform in the summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SummaryPlatform {
    /// `linux/amd64/v3`.
    pub platform: String,
    /// The platform manifest's digest.
    pub manifest_digest: Digest,
    /// The Rust target triple.
    pub rust_target: String,
    /// The binaries.
    pub binaries: Vec<SummaryBinary>,
}

/// One binary in the summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SummaryBinary {
    /// Binary name.
    pub name: String,
    /// Package.
    pub package: String,
    /// Path in the image.
    pub path: String,
    /// sha256.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// The copy in the output directory (`bin/<platform>/<name>`).
    pub file: String,
}

/// A BuildKit statement in the summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SummaryBuildKitStatement {
    /// The platform manifest it is about.
    pub subject: Digest,
    /// Its predicate type.
    pub predicate_type: String,
    /// sha256 of the statement's bytes.
    pub digest: Digest,
}

impl Summary {
    /// The summary of a build.
    pub fn from_output(o: &BuildOutput) -> Summary {
        Summary {
            image: o.image_name.clone(),
            tag: o.tag.clone(),
            layout: "oci".to_owned(),
            index_digest: o.index.digest,
            platforms: o
                .platforms
                .iter()
                .map(|p| SummaryPlatform {
                    platform: p.platform.to_string(),
                    manifest_digest: p.manifest.digest,
                    rust_target: p.rust_target.clone(),
                    binaries: p
                        .binaries
                        .iter()
                        .map(|b| SummaryBinary {
                            name: b.name.clone(),
                            package: b.package.clone(),
                            path: b.path_in_image.clone(),
                            digest: b.digest,
                            size: b.size,
                            file: format!("bin/{}/{}", p.platform, b.name),
                        })
                        .collect(),
                })
                .collect(),
            builder: serde_json::to_value(&o.builder).unwrap_or_default(),
            source_date_epoch: o.source_date_epoch,
            source_date_epoch_source: o.source_date_epoch_source.clone(),
            base_image: o
                .base_image
                .as_ref()
                .and_then(|b| serde_json::to_value(b).ok()),
            dockerfile: o
                .dockerfile
                .as_ref()
                .and_then(|d| serde_json::to_value(d).ok()),
            buildkit_attestations: o
                .buildkit_statements
                .iter()
                .map(|s| SummaryBuildKitStatement {
                    subject: s.subject,
                    predicate_type: s.predicate_type.clone(),
                    digest: Digest::of(&s.bytes),
                })
                .collect(),
            attestations: Vec::new(),
        }
    }

    /// Writes it atomically as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::util::fs::write_json_atomic(path, self)
    }
}
