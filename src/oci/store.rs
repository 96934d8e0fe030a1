//! One interface over the two places images live: an OCI image layout on disk and a registry
//! repository. The publish stage (attaching referrers, copying images) is written once
//! against [`Store`].

use super::layout::Layout;
use super::reference::Reference;
use super::referrers;
use super::registry::{FetchedManifest, Options, RegistryClient};
use crate::error::{Error, Result};
use crate::formats::oci::{ANNOTATION_REF_NAME, Descriptor, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST};
use crate::util::digest::Digest;

/// Where images and referrers are read from and written to.
#[derive(Debug)]
pub enum Store {
    /// An OCI image layout directory.
    Layout(Layout),
    /// One repository of a registry.
    Registry(Box<RegistryClient>),
}

impl Store {
    /// Opens the store a reference points into. `create` makes a missing layout (for a push
    /// destination); registries are reached lazily.
    pub fn open(reference: &Reference, opts: &Options, create: bool) -> Result<Store> {
        match reference {
            Reference::Layout(l) => {
                let layout = if create {
                    Layout::create(&l.path)?
                } else {
                    Layout::open(&l.path)?
                };
                Ok(Store::Layout(layout))
            }
            Reference::Registry(r) => Ok(Store::Registry(Box::new(RegistryClient::new(r, opts)?))),
        }
    }

    /// A short name for messages (the layout directory or `registry/repository`).
    pub fn describe(&self) -> String {
        match self {
            Store::Layout(l) => format!("OCI layout {}", l.root().display()),
            Store::Registry(c) => {
                format!("{}/{}", c.reference().registry, c.reference().repository)
            }
        }
    }

    /// Resolves a reference's tag or digest to the descriptor of its manifest. A layout
    /// reference with neither picks the layout's only tag.
    pub fn resolve(&self, reference: &Reference) -> Result<Descriptor> {
        match self {
            Store::Layout(layout) => {
                if let Some(d) = reference.digest() {
                    let bytes = layout
                        .get_manifest_blob(&d)
                        .map_err(|e| e.context(format!("{reference}: digest not in the layout")))?;
                    return Ok(Descriptor::of(&media_type_of(&bytes), &bytes));
                }
                let tag = match reference.tag() {
                    Some(t) => t.to_owned(),
                    None => {
                        let tags: Vec<String> = layout
                            .index()?
                            .manifests
                            .iter()
                            .filter_map(|d| d.annotations.get(ANNOTATION_REF_NAME).cloned())
                            // cosign's `.sig`/`.att` tags name signatures, not images.
                            .filter(|t| !crate::formats::cosign_legacy::is_legacy_tag(t))
                            .collect();
                        match tags.as_slice() {
                            [one] => one.clone(),
                            [] => {
                                return Err(Error::msg(format!(
                                    "{reference}: the layout has no tagged image; name one as \
                                     oci:PATH:TAG or oci:PATH@sha256:HEX"
                                )));
                            }
                            many => {
                                return Err(Error::msg(format!(
                                    "{reference}: the layout has several tags ({}); name one \
                                     as oci:PATH:TAG",
                                    many.join(", ")
                                )));
                            }
                        }
                    }
                };
                let mut d = layout.resolve_tag(&tag)?;
                d.annotations.remove(ANNOTATION_REF_NAME);
                Ok(d)
            }
            Store::Registry(_) => {
                let m = self.fetch_reference(reference)?;
                Ok(Descriptor::of(&m.media_type, &m.bytes))
            }
        }
    }

    /// A registry's manifest for `reference` (its digest, else its tag, else `latest`);
    /// an error when it has none. From a layout: an error (use [`Store::resolve`]).
    pub fn fetch_reference(&self, reference: &Reference) -> Result<FetchedManifest> {
        let Store::Registry(client) = self else {
            return Err(Error::msg(format!("{reference}: not a registry reference")));
        };
        let what = reference
            .digest()
            .map(|d| d.to_string())
            .or_else(|| reference.tag().map(str::to_owned))
            .unwrap_or_else(|| "latest".to_owned());
        client
            .get_manifest(&what)?
            .ok_or_else(|| Error::msg(format!("{reference}: no such image in the registry")))
    }

    /// The exact bytes of the manifest with `digest`, and its media type.
    pub fn get_manifest(&self, digest: &Digest) -> Result<(Vec<u8>, String)> {
        match self {
            Store::Layout(l) => {
                let b = l.get_manifest_blob(digest)?;
                let mt = media_type_of(&b);
                Ok((b, mt))
            }
            Store::Registry(c) => {
                let m = c.get_manifest(&digest.to_string())?.ok_or_else(|| {
                    Error::msg(format!(
                        "manifest {digest} not found in {}",
                        self.describe()
                    ))
                })?;
                Ok((m.bytes, m.media_type))
            }
        }
    }

    /// Like [`Store::get_manifest`], but `None` when the store does not have it (other
    /// errors stay errors).
    pub fn find_manifest(&self, digest: &Digest) -> Result<Option<(Vec<u8>, String)>> {
        match self {
            Store::Layout(l) => {
                if !l.has_blob(digest) {
                    return Ok(None);
                }
                self.get_manifest(digest).map(Some)
            }
            Store::Registry(c) => Ok(c
                .get_manifest(&digest.to_string())?
                .map(|m| (m.bytes, m.media_type))),
        }
    }

    /// The manifest a tag points at (exact bytes and media type), if the tag exists: cosign's
    /// legacy `sha256-<hex>.sig` / `.att` tags, which travel with the image they name.
    pub fn find_tag(&self, tag: &str) -> Result<Option<(Vec<u8>, String)>> {
        match self {
            Store::Layout(l) => {
                let entry = l.index()?.manifests.into_iter().find(|d| {
                    d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) == Some(tag)
                });
                match entry {
                    Some(d) => self.get_manifest(&d.digest).map(Some),
                    None => Ok(None),
                }
            }
            Store::Registry(c) => Ok(c.get_manifest(tag)?.map(|m| (m.bytes, m.media_type))),
        }
    }

    /// Stores manifest bytes unchanged (by digest), tagging them with `tag` when given.
    pub fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<Descriptor> {
        let desc = Descriptor::of(media_type, bytes);
        match self {
            Store::Layout(l) => {
                l.put_blob(bytes)?;
                if let Some(t) = tag {
                    l.tag(t, &desc)?;
                }
            }
            Store::Registry(c) => {
                c.put_manifest(&desc.digest.to_string(), bytes, media_type, None, true)?;
                if let Some(t) = tag {
                    c.put_manifest(t, bytes, media_type, None, true)?;
                }
            }
        }
        Ok(desc)
    }

    /// True when the blob is present.
    pub fn has_blob(&self, digest: &Digest) -> Result<bool> {
        match self {
            Store::Layout(l) => Ok(l.has_blob(digest)),
            Store::Registry(c) => c.blob_exists(digest),
        }
    }

    /// Reads a blob of `size` bytes (its descriptor's), digest checked; never past `size`.
    pub fn get_blob(&self, digest: &Digest, size: u64) -> Result<Vec<u8>> {
        match self {
            Store::Layout(l) => l.get_blob_sized(digest, size),
            Store::Registry(c) => c.get_blob(digest, size),
        }
    }

    /// Stores a blob (skipped when present) and returns its digest.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        match self {
            Store::Layout(l) => l.put_blob(bytes),
            Store::Registry(c) => c.push_blob(bytes),
        }
    }

    /// The referrers of `subject`: descriptors with `artifactType` and annotations, sorted by
    /// digest, no duplicates.
    pub fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>> {
        match self {
            Store::Layout(l) => referrers::layout_referrers(l, subject),
            Store::Registry(c) => referrers::registry_referrers(c, subject),
        }
    }

    /// Stores a referrer manifest (its config and layers must be stored already) and records
    /// it for `subject`. Never changes the subject; never duplicates an entry.
    pub fn attach(&self, subject: &Digest, manifest_bytes: &[u8]) -> Result<Descriptor> {
        let desc = referrers::referrer_descriptor(manifest_bytes, MEDIA_TYPE_MANIFEST)?;
        match referrers::subject_of(manifest_bytes) {
            Some(s) if s == *subject => {}
            _ => {
                return Err(Error::msg(format!(
                    "referrer manifest {} does not name {subject} as its subject",
                    desc.digest
                )));
            }
        }
        match self {
            Store::Layout(l) => {
                l.put_blob(manifest_bytes)?;
                l.add_untagged(&desc)?;
            }
            Store::Registry(c) => {
                referrers::registry_attach(c, subject, manifest_bytes)?;
            }
        }
        Ok(desc)
    }
}

/// The media type a manifest declares (`mediaType`), else a guess from its shape.
pub fn media_type_of(bytes: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    if let Some(mt) = v.get("mediaType").and_then(|m| m.as_str()) {
        return mt.to_owned();
    }
    if v.get("manifests").is_some() {
        MEDIA_TYPE_INDEX.to_owned()
    } else {
        MEDIA_TYPE_MANIFEST.to_owned()
    }
}

pub use crate::formats::index::{is_index, is_manifest};
