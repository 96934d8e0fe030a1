//! Base images: `scratch`, an OCI image layout (`oci:PATH[:tag][@sha256:HEX]`), or a registry
//! reference (BuildKit resolves those; the native builder reads layouts).

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::formats::index::is_index;
use crate::formats::oci::{
    ANNOTATION_REF_NAME, Descriptor, ImageIndex, ImageManifest, MEDIA_TYPE_LAYER,
    MEDIA_TYPE_LAYER_GZIP, Platform,
};
use crate::formats::reference::Reference;
use crate::oci::layout::Layout;
use crate::util::digest::Digest;

/// What `--base` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseRef {
    /// `scratch`: no base.
    Scratch,
    /// An OCI image layout.
    Layout {
        /// The layout directory.
        path: PathBuf,
        /// The tag (`org.opencontainers.image.ref.name`).
        tag: Option<String>,
        /// The digest pinned.
        digest: Option<Digest>,
    },
    /// A registry reference (`host/repo[:tag][@sha256:HEX]`) or a name the builder resolves.
    Registry(String),
}

/// Parses a `--base` value.
pub fn parse(value: &str) -> Result<BaseRef> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::msg(
            "--base is empty: give scratch, oci:PATH[:tag] or an image reference",
        ));
    }
    if value == "scratch" {
        return Ok(BaseRef::Scratch);
    }
    if !value.starts_with("oci:") {
        return Ok(BaseRef::Registry(value.to_owned()));
    }
    match Reference::parse(value).map_err(|e| Error::msg(format!("--base: {e}")))? {
        Reference::Layout(l) => Ok(BaseRef::Layout {
            path: l.path,
            tag: l.tag,
            digest: l.digest,
        }),
        Reference::Registry(_) => unreachable!("an `oci:` reference is a layout"),
    }
}

/// `oci:<last path component>[:tag][@digest]`.
fn portable_reference(
    path: &std::path::Path,
    tag: Option<&str>,
    digest: Option<&Digest>,
) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".to_owned());
    let mut s = format!("oci:{name}");
    if let Some(t) = tag {
        s.push(':');
        s.push_str(t);
    }
    if let Some(d) = digest {
        s.push('@');
        s.push_str(&d.to_string());
    }
    s
}

/// A base image opened from an OCI layout.
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// The reference without the machine's directories: `oci:<directory name>[:tag][@digest]`
    /// (the image's identity is its digest; the path is only where it was read).
    pub reference: String,
    /// The layout holding it.
    pub layout: Layout,
    /// The descriptor it resolved to (an index or a manifest).
    pub root: Descriptor,
}

/// One platform's manifest and config of a base image.
#[derive(Debug, Clone)]
pub struct BaseManifest {
    /// The manifest's digest.
    pub digest: Digest,
    /// The manifest (layer media types normalised to OCI's).
    pub manifest: ImageManifest,
    /// The config, as JSON (unknown fields kept).
    pub config: serde_json::Value,
}

impl BaseImage {
    /// Opens `oci:PATH[:tag][@digest]`; a missing layout, tag or digest is an error naming it.
    pub fn open(reference: &str, base: &BaseRef) -> Result<BaseImage> {
        let BaseRef::Layout { path, tag, digest } = base else {
            return Err(Error::msg(format!(
                "`{reference}` is not an OCI layout reference (oci:PATH[:tag])"
            )));
        };
        let layout = Layout::open(path)
            .map_err(|e| e.context(format!("base image {reference} not found")))?;
        let index = layout.index()?;
        let candidates: Vec<&Descriptor> = index
            .manifests
            .iter()
            .filter(|d| {
                tag.as_ref()
                    .is_none_or(|t| d.annotations.get(ANNOTATION_REF_NAME) == Some(t))
                    && digest.as_ref().is_none_or(|g| d.digest == *g)
            })
            .collect();
        let root = match candidates.as_slice() {
            [one] => (*one).clone(),
            [] => {
                return Err(Error::msg(format!(
                    "base image {reference} not found: {} has no such {}",
                    path.display(),
                    if tag.is_some() { "tag" } else { "digest" }
                )));
            }
            _ => {
                return Err(Error::msg(format!(
                    "base image {reference} is ambiguous: {} holds several images; add :TAG or @sha256:DIGEST",
                    path.display()
                )));
            }
        };
        Ok(BaseImage {
            reference: portable_reference(path, tag.as_deref(), digest.as_ref()),
            layout,
            root,
        })
    }

    /// The manifest for `platform` (an exact variant match first, then the variant-less one
    /// of the same architecture).
    pub fn for_platform(&self, platform: &Platform) -> Result<BaseManifest> {
        let desc = if is_index(&self.root.media_type) {
            let bytes = self.layout.get_blob(&self.root.digest)?;
            let index: ImageIndex = serde_json::from_slice(&bytes).map_err(|e| {
                Error::msg(format!(
                    "base image {}: bad image index: {e}",
                    self.reference
                ))
            })?;
            let same_arch = |d: &&Descriptor| {
                d.platform
                    .as_ref()
                    .is_some_and(|p| p.os == platform.os && p.architecture == platform.architecture)
            };
            let pick = index
                .manifests
                .iter()
                .filter(same_arch)
                .find(|d| d.platform.as_ref().unwrap().variant == platform.variant)
                .or_else(|| {
                    index
                        .manifests
                        .iter()
                        .filter(same_arch)
                        .find(|d| d.platform.as_ref().unwrap().variant.is_none())
                });
            pick.cloned().ok_or_else(|| {
                Error::msg(format!(
                    "base image {} has no manifest for {platform}",
                    self.reference
                ))
            })?
        } else {
            self.root.clone()
        };
        let bytes = self.layout.get_blob(&desc.digest)?;
        let mut manifest: ImageManifest = serde_json::from_slice(&bytes).map_err(|e| {
            Error::msg(format!(
                "base image {}: bad image manifest: {e}",
                self.reference
            ))
        })?;
        let config_bytes = self.layout.get_blob(&manifest.config.digest)?;
        let config: serde_json::Value = serde_json::from_slice(&config_bytes).map_err(|e| {
            Error::msg(format!(
                "base image {}: bad image config: {e}",
                self.reference
            ))
        })?;
        let arch = config
            .get("architecture")
            .and_then(|a| a.as_str())
            .unwrap_or("");
        if arch != platform.architecture {
            return Err(Error::msg(format!(
                "base image {} is for {arch}, not {platform}",
                self.reference
            )));
        }
        for l in &mut manifest.layers {
            if l.media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip" {
                l.media_type = MEDIA_TYPE_LAYER_GZIP.to_owned();
            } else if l.media_type == "application/vnd.docker.image.rootfs.diff.tar" {
                l.media_type = MEDIA_TYPE_LAYER.to_owned();
            }
        }
        Ok(BaseManifest {
            digest: desc.digest,
            manifest,
            config,
        })
    }
}

/// Pulls a registry base image (with everything it references) into the OCI layout `cache`
/// through the registry client, and opens it pinned by the digest it resolved to. Blobs
/// already in the cache are not fetched again.
pub fn pull(reference: &str, cache: &std::path::Path) -> Result<BaseImage> {
    use crate::oci::reference::{LayoutRef, Reference};
    use crate::oci::registry::Options;
    use crate::oci::store::Store;
    let r = Reference::parse(reference)?;
    if !matches!(r, Reference::Registry(_)) {
        return Err(Error::msg(format!(
            "`{reference}` is not a registry reference"
        )));
    }
    let src = Store::open(&r, &Options::default(), false)?;
    let desc = src
        .resolve(&r)
        .map_err(|e| e.context(format!("base image {reference} not found")))?;
    let dst = Store::open(
        &Reference::Layout(LayoutRef {
            path: cache.to_owned(),
            tag: None,
            digest: None,
        }),
        &Options::default(),
        true,
    )?;
    let tag = desc.digest.hex();
    crate::oci::copy::copy_image(&src, &desc, &dst, Some(&tag), &|_| {})
        .map_err(|e| e.context(format!("pulling base image {reference}")))?;
    let layout = Layout::open(cache)?;
    let root = layout.resolve_tag(&tag)?;
    Ok(BaseImage {
        reference: reference.to_owned(),
        layout,
        root,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        assert_eq!(parse("scratch").unwrap(), BaseRef::Scratch);
        assert_eq!(
            parse("oci:/x/y:bookworm").unwrap(),
            BaseRef::Layout {
                path: "/x/y".into(),
                tag: Some("bookworm".into()),
                digest: None
            }
        );
        assert_eq!(
            parse("oci:rel/dir").unwrap(),
            BaseRef::Layout {
                path: "rel/dir".into(),
                tag: None,
                digest: None
            }
        );
        let d = format!("sha256:{}", "a".repeat(64));
        assert!(matches!(
            parse(&format!("oci:/l@{d}")).unwrap(),
            BaseRef::Layout {
                digest: Some(_),
                tag: None,
                ..
            }
        ));
        assert_eq!(
            parse("local/cc:bookworm").unwrap(),
            BaseRef::Registry("local/cc:bookworm".into())
        );
        assert!(parse("oci:/l@sha256:zz").is_err());
    }

    #[test]
    fn missing_layout_names_the_image() {
        let r = parse("oci:/nonexistent/base:1").unwrap();
        let e = BaseImage::open("oci:/nonexistent/base:1", &r).unwrap_err();
        assert!(
            e.to_string()
                .contains("base image oci:/nonexistent/base:1 not found"),
            "{e}"
        );
        assert_eq!(e.exit_code(), 2);
    }
}
