//! OCI image-spec 1.1 types: descriptors, image manifests, image indexes, image configs and
//! the image layout's `oci-layout` file. Field order follows the spec's examples; absent
//! optional fields are omitted so that our bytes match what other tools expect.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::util::digest::Digest;

mod entries;
pub use entries::{IndexEntries, shortened};

/// `application/vnd.oci.image.manifest.v1+json`.
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// `application/vnd.oci.image.index.v1+json`.
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// `application/vnd.oci.image.config.v1+json`.
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// `application/vnd.oci.image.layer.v1.tar+gzip`.
pub const MEDIA_TYPE_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// `application/vnd.oci.image.layer.v1.tar+zstd`.
pub const MEDIA_TYPE_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// `application/vnd.oci.image.layer.v1.tar` (uncompressed).
pub const MEDIA_TYPE_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// `application/vnd.oci.empty.v1+json`: the empty descriptor's media type.
pub const MEDIA_TYPE_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// Docker's manifest list media type (read only).
pub const MEDIA_TYPE_DOCKER_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker's image manifest media type (read only).
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The bytes of the empty JSON blob `{}`.
pub const EMPTY_JSON: &[u8] = b"{}";
/// Annotation naming a manifest's tag in an OCI layout's `index.json`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation: creation time (RFC 3339).
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// The largest content we write inline in a descriptor's `data`
/// ([`Descriptor::with_data`]): a signed bundle in its referrer manifest, a referrer manifest
/// in a referrers fallback index. 64 KiB: a provenance or a small project's SBOM bundle fits,
/// and the manifests stay far below the registries' 4 MiB.
pub const EMBED_MAX: usize = 64 << 10;

/// A content descriptor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type of the referenced content.
    pub media_type: String,
    /// The digest of the referenced content.
    pub digest: Digest,
    /// The size in bytes of the referenced content.
    pub size: u64,
    /// For index entries: the platform of the manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type (for referrers: the manifest's `artifactType`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Embedded data (base64), as the empty descriptor may carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl Descriptor {
    /// A descriptor of `bytes` with `media_type`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Self {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            platform: None,
            artifact_type: None,
            annotations: BTreeMap::new(),
            data: None,
        }
    }

    /// Only the media type, digest and size of this descriptor (as a `subject` names a
    /// manifest), without platform, artifact type, annotations or data.
    pub fn bare(&self) -> Self {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest,
            size: self.size,
            platform: None,
            artifact_type: None,
            annotations: BTreeMap::new(),
            data: None,
        }
    }

    /// This descriptor with `bytes`, the content it names, inline as `data` when they are at
    /// most [`EMBED_MAX`] bytes (a reader then needs no request for them); unchanged otherwise.
    pub fn with_data(mut self, bytes: &[u8]) -> Self {
        use base64::Engine;
        if bytes.len() <= EMBED_MAX {
            self.data = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
        }
        self
    }

    /// The content carried inline (`data`), when it is exactly what the descriptor names (its
    /// size and digest) and at most `max` bytes; `None` otherwise, and the reader fetches it.
    /// The digest is checked here, as for a fetch by digest.
    pub fn embedded(&self, max: u64) -> Option<Vec<u8>> {
        use base64::Engine;
        let data = self.data.as_deref()?;
        // Checked before decoding: base64 of `size` bytes is at most this long.
        if self.size > max || data.len() as u64 > self.size.div_ceil(3).saturating_mul(4) {
            return None;
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .ok()?;
        (bytes.len() as u64 == self.size && Digest::of(&bytes) == self.digest).then_some(bytes)
    }

    /// The empty descriptor (`application/vnd.oci.empty.v1+json`, `{}`), used as the config
    /// of artifact manifests.
    pub fn empty() -> Self {
        Descriptor {
            data: Some("e30=".to_owned()),
            ..Descriptor::of(MEDIA_TYPE_EMPTY, EMPTY_JSON)
        }
    }
}

/// A platform, as in an index entry or an image config.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    /// CPU architecture (`amd64`).
    pub architecture: String,
    /// Operating system (`linux`).
    pub os: String,
    /// OS version.
    #[serde(rename = "os.version", skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// CPU variant (`v3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl std::str::FromStr for Platform {
    type Err = crate::error::Error;
    /// `os/arch[/variant]` (`linux/amd64`, `linux/arm/v7`), as `--platform` and docker spell it.
    fn from_str(s: &str) -> crate::error::Result<Platform> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [os, arch] => (*os, *arch, None),
            [os, arch, v] => (*os, *arch, Some(*v)),
            _ => ("", "", None),
        };
        if os.is_empty() || arch.is_empty() || variant == Some("") {
            return Err(crate::error::Error::msg(format!(
                "platform `{s}` is not OS/ARCH[/VARIANT] (e.g. linux/amd64, linux/amd64/v3)"
            )));
        }
        Ok(Platform {
            architecture: arch.to_owned(),
            os: os.to_owned(),
            os_version: None,
            variant: variant.map(str::to_owned),
        })
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An image manifest (also used for artifacts such as referrers).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// `application/vnd.oci.image.manifest.v1+json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type, for artifact manifests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers.
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (referrers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index (also the referrers API's response and the fallback tag's content).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// `application/vnd.oci.image.index.v1+json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifests.
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ImageIndex {
    /// An empty index with the OCI media type.
    pub fn new() -> Self {
        ImageIndex {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_INDEX.to_owned()),
            artifact_type: None,
            manifests: Vec::new(),
            subject: None,
            annotations: BTreeMap::new(),
        }
    }
}

impl Default for ImageIndex {
    fn default() -> Self {
        Self::new()
    }
}

/// An image configuration (the parts we write and read).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageConfig {
    /// Creation time (RFC 3339), from SOURCE_DATE_EPOCH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// CPU architecture.
    pub architecture: String,
    /// Operating system.
    pub os: String,
    /// CPU variant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Execution parameters.
    #[serde(default)]
    pub config: RuntimeConfig,
    /// Layer diff ids.
    pub rootfs: RootFs,
    /// History entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<serde_json::Value>,
}

/// The `config` member of an image config.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeConfig {
    /// User to run as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Environment, `KEY=value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Entrypoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Default arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// The `rootfs` member of an image config.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Digests of the uncompressed layer tars.
    pub diff_ids: Vec<Digest>,
}

/// The `oci-layout` file of an image layout.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LayoutMarker {
    /// `1.0.0`.
    pub image_layout_version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_descriptor_matches_the_spec() {
        let d = Descriptor::empty();
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="}"#
        );
    }

    /// Inline content is taken only when it is exactly what the descriptor names: the right
    /// bytes, size and digest, within the bound; anything else is left to a fetch.
    #[test]
    fn inline_data_is_taken_only_when_it_is_the_named_content() {
        let d = Descriptor::of("a/b", b"hello").with_data(b"hello");
        assert_eq!(d.data.as_deref(), Some("aGVsbG8="));
        assert_eq!(d.embedded(5).as_deref(), Some(&b"hello"[..]));
        assert_eq!(d.embedded(4), None, "over the bound");
        let other = Descriptor::of("a/b", b"hello").with_data(b"hellO");
        assert_eq!(other.embedded(5), None, "other bytes of the same size");
        let short = Descriptor::of("a/b", b"hello").with_data(b"hell");
        assert_eq!(short.embedded(5), None, "other size");
        let mut bad = d.clone();
        bad.data = Some("not base64!".into());
        assert_eq!(bad.embedded(5), None);
        let mut padded = d.clone();
        padded.data = Some(format!("{}{}", "A".repeat(8), "aGVsbG8="));
        assert_eq!(
            padded.embedded(5),
            None,
            "longer than base64 of `size` bytes"
        );
        assert_eq!(Descriptor::of("a/b", b"hello").embedded(5), None);
        // A hostile size near u64::MAX is refused, not an overflow.
        let mut huge = d.clone();
        huge.size = u64::MAX;
        assert_eq!(huge.embedded(u64::MAX), None);
        let big = vec![0u8; EMBED_MAX + 1];
        assert_eq!(Descriptor::of("a/b", &big).with_data(&big).data, None);
    }
}
