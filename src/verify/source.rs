//! Where the verifier reads an image and its referrers from: the publish stage's
//! [`Store`] (an OCI image layout or a registry repository), with every digest checked here.
//!
//! Fetches return `Ok(Err(reason))` when the bytes do not match their digest (a truncated or
//! swapped blob): the verifier reports that as a failed check naming the blob, not as a
//! transport error. A registry that cannot be reached is an error (exit 2).

use crate::error::Result;
use crate::formats::oci::{ANNOTATION_REF_NAME, Descriptor};
use crate::oci::limits::{MANIFEST_MAX, read_file_at_most};
use crate::oci::reference::Reference;
use crate::oci::registry::Options;
use crate::oci::store::Store;
use crate::util::digest::Digest;

/// Bytes whose digest was checked, or why they do not match it.
pub type Fetched = std::result::Result<Vec<u8>, String>;

/// An image document (index or manifest) as fetched: its bytes, digest checked, and the media
/// type the transport gave it.
#[derive(Debug, Clone)]
pub struct Doc {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The registry's `Content-Type` when it names an image document; `None` from a layout
    /// (a layout's blobs carry no type; the parent descriptor's type is the caller's).
    pub media_type: Option<String>,
}

/// Read access to an image and its referrers.
#[derive(Debug)]
pub struct Source {
    store: Store,
    reference: Reference,
}

/// The registry client's wording for content whose digest is not the one asked for.
const REGISTRY_MISMATCH: &str = "the registry sent content with digest";

fn checked(digest: &Digest, bytes: Vec<u8>) -> Fetched {
    let actual = Digest::of(&bytes);
    if actual == *digest {
        Ok(bytes)
    } else {
        Err(format!(
            "the bytes stored for {digest} ({} bytes) have digest {actual}: truncated or swapped",
            bytes.len()
        ))
    }
}

fn mismatch_as_check<T>(r: Result<T>, digest: &Digest) -> Result<std::result::Result<T, String>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e) if e.to_string().contains(REGISTRY_MISMATCH) => Ok(Err(format!(
            "the registry sent bytes that do not match {digest}: truncated or swapped ({e})"
        ))),
        Err(e) => Err(e),
    }
}

impl Source {
    /// Opens `reference` (`oci:PATH...` or `host/repo...`).
    pub fn open(reference: &str, plain_http: bool) -> Result<Source> {
        let reference = Reference::parse(reference)?;
        let opts = Options {
            plain_http,
            ..Options::default()
        };
        let store = Store::open(&reference, &opts, false)?;
        Ok(Source { store, reference })
    }

    /// The store, for callers that need more (rebuild, benches).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The digest the reference names (its digest, or what its tag points at), and, from a
    /// layout's `index.json` entry, the media type it is listed under (a registry's
    /// `Content-Type` comes with [`Source::document`]).
    pub fn resolve(&self) -> Result<(Digest, Option<String>)> {
        if let (Store::Layout(_), Some(d)) = (&self.store, self.reference.digest()) {
            // Resolved without reading the blob: a swapped blob is then a failed check.
            return Ok((d, None));
        }
        let d = self.store.resolve(&self.reference)?;
        let listed = matches!(self.store, Store::Layout(_)).then_some(d.media_type);
        Ok((d.digest, listed))
    }

    /// An image document by digest, digest checked; `Ok(None)` when the store does not have
    /// it (an index naming a manifest that is not there is a failed check, not an outage).
    pub fn document(&self, digest: &Digest) -> Result<Option<std::result::Result<Doc, String>>> {
        match &self.store {
            Store::Layout(l) => {
                if !l.has_blob(digest) {
                    return Ok(None);
                }
                let bytes = checked(
                    digest,
                    read_file_at_most(&l.blob_path(digest), MANIFEST_MAX)?,
                );
                Ok(Some(bytes.map(|bytes| Doc {
                    bytes,
                    media_type: None,
                })))
            }
            Store::Registry(c) => {
                let fetched = mismatch_as_check(c.get_manifest(&digest.to_string()), digest)?;
                Ok(match fetched {
                    Ok(None) => None,
                    Ok(Some(m)) => Some(Ok(Doc {
                        bytes: m.bytes,
                        media_type: m
                            .content_type
                            .filter(|t| super::document::Kind::of(t).is_some()),
                    })),
                    Err(why) => Some(Err(why)),
                })
            }
        }
    }

    /// A manifest or index, digest checked, at most [`MANIFEST_MAX`] bytes.
    pub fn manifest(&self, digest: &Digest) -> Result<Fetched> {
        match &self.store {
            Store::Layout(l) => Ok(checked(
                digest,
                read_file_at_most(&l.blob_path(digest), MANIFEST_MAX)?,
            )),
            Store::Registry(_) => {
                mismatch_as_check(self.store.get_manifest(digest).map(|(b, _)| b), digest)
            }
        }
    }

    /// A blob of `size` bytes (its descriptor's), digest checked; never read past `size`.
    pub fn blob(&self, digest: &Digest, size: u64) -> Result<Fetched> {
        match &self.store {
            Store::Layout(l) => {
                let path = l.blob_path(digest);
                let len = std::fs::metadata(&path)
                    .map_err(|e| crate::error::Error::io("reading blob", &path, e))?
                    .len();
                if len != size {
                    return Ok(Err(format!(
                        "the bytes stored for {digest} are {len} bytes, its descriptor says \
                         {size}: truncated or swapped"
                    )));
                }
                Ok(checked(digest, read_file_at_most(&path, size)?))
            }
            Store::Registry(_) => mismatch_as_check(self.store.get_blob(digest, size), digest),
        }
    }

    /// The referrers of `digest`, each with its `artifactType` and annotations.
    pub fn referrers(&self, digest: &Digest) -> Result<Vec<Descriptor>> {
        self.store.referrers(digest)
    }

    /// What a tag points at, if it exists (cosign's legacy `sha256-HEX.att` tags).
    pub fn tag(&self, tag: &str) -> Result<Option<Digest>> {
        match &self.store {
            Store::Layout(l) => Ok(l
                .index()?
                .manifests
                .into_iter()
                .find(|d| d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) == Some(tag))
                .map(|d| d.digest)),
            Store::Registry(c) => Ok(c.get_manifest(tag)?.map(|m| m.digest)),
        }
    }
}
