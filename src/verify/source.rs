//! Where the verifier reads an image and its referrers from: an OCI image layout
//! (`oci:PATH[:TAG][@sha256:HEX]`) or a registry.
//!
//! A [`Source`] hands out raw bytes; the verifier checks every digest itself so that a blob
//! whose bytes do not match its digest (truncated or swapped) is a failed check that names
//! it, not a transport error.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::formats::oci::{ANNOTATION_REF_NAME, Descriptor, ImageIndex, ImageManifest};
use crate::oci::layout::Layout;
use crate::util::digest::Digest;

/// Read access to an image and its referrers.
pub trait Source {
    /// The digest the reference names (its digest, or what its tag points at).
    fn resolve(&self) -> Result<Digest>;
    /// The raw bytes of a manifest or index, unverified.
    fn manifest(&self, digest: &Digest) -> Result<Vec<u8>>;
    /// The raw bytes of a blob, unverified.
    fn blob(&self, digest: &Digest) -> Result<Vec<u8>>;
    /// The referrers of `digest` (OCI 1.1: API or fallback tag), each with its
    /// `artifactType` and annotations.
    fn referrers(&self, digest: &Digest) -> Result<Vec<Descriptor>>;
    /// What a tag points at, if the tag exists (cosign's legacy `sha256-HEX.att` tags).
    fn tag(&self, tag: &str) -> Result<Option<Digest>>;
}

/// An image in an OCI layout.
#[derive(Debug)]
pub struct LayoutSource {
    layout: Layout,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// A parsed layout reference: directory, tag, digest.
pub type LayoutRef = (PathBuf, Option<String>, Option<Digest>);

/// Parses `oci:PATH[:TAG][@sha256:HEX]` into path, tag and digest. `None` when `reference`
/// is not a layout reference.
pub fn parse_layout_ref(reference: &str) -> Option<Result<LayoutRef>> {
    let rest = reference.strip_prefix("oci:")?;
    Some((|| {
        let (rest, digest) = match rest.rsplit_once('@') {
            Some((p, d)) if d.starts_with("sha256:") => (p, Some(d.parse::<Digest>()?)),
            _ => (rest, None),
        };
        // A tag is what follows the last `:` after the last `/`.
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (path, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_owned())),
            None => (rest, None),
        };
        if path.is_empty() {
            return Err(Error::msg(format!(
                "`{reference}` names no layout directory: write oci:PATH[:TAG][@sha256:HEX]"
            )));
        }
        Ok((PathBuf::from(path), tag.filter(|t| !t.is_empty()), digest))
    })())
}

impl LayoutSource {
    /// Opens the layout named by an `oci:` reference.
    pub fn open(reference: &str) -> Result<LayoutSource> {
        let (path, tag, digest) = parse_layout_ref(reference)
            .ok_or_else(|| Error::msg(format!("`{reference}` is not an oci:PATH reference")))??;
        Ok(LayoutSource {
            layout: Layout::open(&path)?,
            tag,
            digest,
        })
    }

    fn read_raw(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.layout.blob_path(digest);
        std::fs::read(&path).map_err(|e| Error::io("reading blob", &path, e))
    }

    fn tags(&self) -> Result<Vec<(String, Digest)>> {
        Ok(self
            .layout
            .index()?
            .manifests
            .iter()
            .filter_map(|d| Some((d.annotations.get(ANNOTATION_REF_NAME)?.clone(), d.digest)))
            .collect())
    }
}

impl Source for LayoutSource {
    fn resolve(&self) -> Result<Digest> {
        if let Some(d) = self.digest {
            if !self.layout.has_blob(&d) {
                return Err(Error::msg(format!(
                    "{d} is not in OCI layout {}",
                    self.layout.root().display()
                )));
            }
            return Ok(d);
        }
        let tags = self.tags()?;
        let wanted = match &self.tag {
            Some(t) => t.clone(),
            None => {
                let images: Vec<_> = tags
                    .iter()
                    .filter(|(t, _)| !t.starts_with("sha256-"))
                    .collect();
                match images.as_slice() {
                    [(t, _)] => t.clone(),
                    _ => "latest".to_owned(),
                }
            }
        };
        tags.iter().find(|(t, _)| *t == wanted).map(|(_, d)| *d).ok_or_else(|| {
            let names: Vec<_> = tags.iter().map(|(t, _)| t.as_str()).collect();
            Error::msg(format!(
                "tag `{wanted}` not found in OCI layout {} (tags: {}); name one as oci:PATH:TAG",
                self.layout.root().display(),
                if names.is_empty() { "none".to_owned() } else { names.join(", ") }
            ))
        })
    }

    fn manifest(&self, digest: &Digest) -> Result<Vec<u8>> {
        self.read_raw(digest)
    }

    fn blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        self.read_raw(digest)
    }

    fn referrers(&self, digest: &Digest) -> Result<Vec<Descriptor>> {
        let mut out: Vec<Descriptor> = Vec::new();
        let mut entries = self.layout.index()?.manifests;
        // The fallback tag index (`sha256-HEX`), when a tool wrote one into the layout.
        if let Some(fallback) = self.tag(&format!("sha256-{}", digest.hex()))?
            && let Ok(index) = serde_json::from_slice::<ImageIndex>(&self.read_raw(&fallback)?)
        {
            entries.extend(index.manifests);
        }
        for entry in entries {
            if out.iter().any(|d| d.digest == entry.digest) {
                continue;
            }
            let Ok(bytes) = self.read_raw(&entry.digest) else {
                continue;
            };
            let Ok(m) = serde_json::from_slice::<ImageManifest>(&bytes) else {
                continue;
            };
            if m.subject.as_ref().map(|s| s.digest) != Some(*digest) {
                continue;
            }
            let mut d = entry.clone();
            d.annotations.remove(ANNOTATION_REF_NAME);
            d.artifact_type = m
                .artifact_type
                .clone()
                .or(Some(m.config.media_type.clone()));
            d.annotations.extend(m.annotations.clone());
            out.push(d);
        }
        out.sort_by_key(|d| d.digest);
        Ok(out)
    }

    fn tag(&self, tag: &str) -> Result<Option<Digest>> {
        Ok(self
            .tags()?
            .into_iter()
            .find(|(t, _)| t == tag)
            .map(|(_, d)| d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_references_parse() {
        let d = format!("sha256:{}", "a".repeat(64));
        let p = |s: &str| parse_layout_ref(s).unwrap().unwrap();
        assert_eq!(p("oci:out/oci"), ("out/oci".into(), None, None));
        assert_eq!(
            p("oci:out/oci:v1"),
            ("out/oci".into(), Some("v1".into()), None)
        );
        assert_eq!(
            p(&format!("oci:/a:b/oci:v1@{d}")),
            (
                "/a:b/oci".into(),
                Some("v1".into()),
                Some(d.parse().unwrap())
            )
        );
        assert_eq!(
            p(&format!("oci:dir@{d}")),
            ("dir".into(), None, Some(d.parse().unwrap()))
        );
        assert!(parse_layout_ref("127.0.0.1:5000/x").is_none());
        assert!(parse_layout_ref("oci:").unwrap().is_err());
        assert!(parse_layout_ref("oci:x@sha256:zz").unwrap().is_err());
    }
}
