//! Where the verifier reads an image and its referrers from: the publish stage's
//! [`Store`] (an OCI image layout or a registry repository), with every digest checked here.
//!
//! Fetches return `Ok(Err(reason))` when the bytes do not match their digest (a truncated or
//! swapped blob): the verifier reports that as a failed check naming the blob, not as a
//! transport error. A registry that cannot be reached is an error (exit 2).

use std::time::Duration;

use super::document::Kind;

use crate::error::{Error, Result};
use crate::formats::oci::Descriptor;
use crate::oci::layout::Layout;
use crate::oci::limits::{
    ATTESTATION_MAX, MANIFEST_MAX, VERIFY_READ_MAX, read_file_at_most, regular_file_len, size_words,
};
use crate::oci::reference::Reference;
use crate::oci::referrers::{Listing, registry_referrers_async};
use crate::oci::registry::{Options, RegistryError};
use crate::oci::store::Store;
use crate::util::digest::Digest;

/// How long verify talks to a registry unless told (`--timeout`): cosign's default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

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
    /// Registry answers read ahead ([`super::prefetch`]).
    cache: std::sync::Mutex<super::prefetch::Cache>,
    /// A layout's referrers of every subject, read once (not once per part).
    layout_referrers: std::sync::OnceLock<std::collections::BTreeMap<Digest, Vec<Digest>>>,
    /// A layout's `index.json`, read once (cosign's tags are looked up in it per part).
    layout_index: std::sync::OnceLock<Vec<Descriptor>>,
    /// Reads that failed their digest check, and why: counted once and never read again
    /// (an index may name one bad blob many times).
    failed: std::sync::Mutex<std::collections::HashMap<Asked, String>>,
}

/// What a read asks for: how a failed one is remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Asked {
    /// A manifest or index, at most [`MANIFEST_MAX`] bytes.
    Doc(Digest),
    /// A blob of exactly this size.
    Blob(Digest, u64),
}

impl Asked {
    fn digest(&self) -> &Digest {
        match self {
            Asked::Doc(d) | Asked::Blob(d, _) => d,
        }
    }
}

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

/// A registry answer whose digest does not match is a reason (a failed check naming the
/// blob); every other error stays an error.
fn mismatch_as_check<T>(r: Result<T>, digest: &Digest) -> Result<std::result::Result<T, String>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e)
            if matches!(
                RegistryError::of(&e),
                Some(RegistryError::DigestMismatch { .. })
            ) =>
        {
            Ok(Err(format!(
                "the registry sent bytes that do not match {digest}: truncated or swapped ({e})"
            )))
        }
        Err(e) => Err(e),
    }
}

/// Reads a layout blob of what `asked` names: `None` when it is missing, a reason when it is
/// not a regular file, has another size or does not match its digest; and the bytes read.
/// Nothing that is not a regular file is opened.
fn layout_read(l: &Layout, asked: Asked) -> Result<(Option<Fetched>, u64)> {
    let (digest, max, exact) = match asked {
        Asked::Doc(d) => (d, MANIFEST_MAX, false),
        Asked::Blob(d, size) => (d, size, true),
    };
    let path = l.blob_path(&digest);
    let len = match regular_file_len(&path) {
        Ok(None) => return Ok((None, 0)),
        Ok(Some(len)) => len,
        Err(e) => return Ok((Some(Err(e.to_string())), 0)),
    };
    if (exact && len != max) || len > max {
        return Ok((
            Some(Err(format!(
                "the bytes stored for {digest} are {len} bytes, {} {}: truncated or swapped",
                if exact {
                    "its descriptor says"
                } else {
                    "more than the"
                },
                if exact {
                    max.to_string()
                } else {
                    format!("{} allowed", size_words(max))
                }
            ))),
            0,
        ));
    }
    let bytes = read_file_at_most(&path, max)?;
    let n = bytes.len() as u64;
    Ok((Some(checked(&digest, bytes)), n))
}

impl Source {
    /// Opens `reference` (`oci:PATH...` or `host/repo...`); a registry is talked to for at
    /// most `timeout` from now ([`crate::oci::registry::RegistryClient::limit_time`]), a layout read at any pace.
    pub fn open(reference: &str, plain_http: bool, timeout: Duration) -> Result<Source> {
        let reference = Reference::parse(reference)?;
        let opts = Options {
            plain_http,
            ..Options::default()
        };
        let store = Store::open(&reference, &opts, false)?;
        let cache = match &store {
            Store::Registry(c) => {
                c.limit_reads(VERIFY_READ_MAX);
                if let Some(at) = std::time::Instant::now().checked_add(timeout) {
                    c.limit_time(at);
                }
                super::prefetch::Cache::counting(c)
            }
            Store::Layout(_) => Default::default(),
        };
        Ok(Source {
            store,
            reference,
            cache: std::sync::Mutex::new(cache),
            layout_referrers: Default::default(),
            layout_index: Default::default(),
            failed: Default::default(),
        })
    }

    /// Counts `n` bytes read now beside what the registry client counts itself (every body
    /// byte it receives): a layout's files, what a listing holds parsed beyond its bytes.
    /// Past [`VERIFY_READ_MAX`] in all, an error (exit 2). Every read calls it, with 0 for a
    /// registry answer, so a bound passed by reading ahead stops the verifier at its next
    /// read.
    fn charge(&self, n: u64) -> Result<()> {
        if !self.cache.lock().unwrap().charge(n) {
            return Err(Error::msg(format!(
                "{}: verify read more than {} of manifests and attestations for this image: \
                 refused (genuine evidence is far smaller; the store may be hostile)",
                self.reference,
                size_words(VERIFY_READ_MAX)
            )));
        }
        Ok(())
    }

    /// Why `asked` failed its digest check before, if it did: it is not read again.
    fn failed_before(&self, asked: &Asked) -> Option<String> {
        self.failed.lock().unwrap().get(asked).cloned()
    }

    /// Remembers that `asked` failed (`why`), and counts the `n` bytes that arrived for it.
    fn remember(&self, asked: Asked, why: &str, n: u64) -> Result<()> {
        self.failed.lock().unwrap().insert(asked, why.to_owned());
        self.charge(n)
    }

    /// Reads what `asked` names from a layout, counted; a failure is remembered (the
    /// callers ask [`Source::failed_before`] first).
    fn layout_fetch(&self, l: &Layout, asked: Asked) -> Result<Option<Fetched>> {
        let (read, n) = layout_read(l, asked)?;
        match &read {
            Some(Err(why)) => self.remember(asked, why, n)?,
            _ => self.charge(n)?,
        }
        Ok(read)
    }

    /// A registry read of `asked`: a digest mismatch becomes a reason, remembered (its bytes
    /// were counted by the client as they arrived); every other error stays an error.
    fn registry_checked<T>(
        &self,
        asked: Asked,
        read: Result<T>,
    ) -> Result<std::result::Result<T, String>> {
        let checked = mismatch_as_check(read, asked.digest())?;
        if let Err(why) = &checked {
            self.remember(asked, why, 0)?;
        }
        Ok(checked)
    }

    /// Reads ahead, from a registry, the image documents `documents` (an index's entries)
    /// and what verify will need about the parts `subjects`, in one pipeline: the listings
    /// do not wait for the documents, whose digests the index already names (a layout is
    /// read as needed). [`super::prefetch::evidence`].
    pub fn prefetch(&self, documents: &[Digest], subjects: &[Digest], tags: bool) {
        if let Store::Registry(c) = &self.store {
            let ahead = super::prefetch::Ahead {
                documents,
                subjects,
                tags,
            };
            super::prefetch::evidence(c, &self.cache, ahead);
        }
    }

    /// A registry manifest, from what was read ahead or fetched now (then counted, and kept
    /// under its digest too: a tag's answer is read again by digest).
    fn registry_manifest(
        &self,
        c: &crate::oci::registry::RegistryClient,
        reference: &str,
    ) -> Result<Option<crate::oci::registry::FetchedManifest>> {
        if let Some(m) = self.cache.lock().unwrap().manifest(reference) {
            return Ok(m);
        }
        let m = c.get_manifest(reference)?;
        self.charge(0)?;
        self.cache
            .lock()
            .unwrap()
            .put_manifest(reference, m.clone());
        Ok(m)
    }

    /// The store, for callers that need more (rebuild, benches).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The digest the reference names (its digest, or what its tag points at), and, from a
    /// layout's `index.json`, the entry it is listed under (media type and size; a registry's
    /// `Content-Type` comes with [`Source::document`]).
    pub fn resolve(&self) -> Result<(Digest, Option<Descriptor>)> {
        if let (Store::Layout(_), Some(d)) = (&self.store, self.reference.digest()) {
            // Resolved without reading the blob: a swapped blob is then a failed check.
            return Ok((d, None));
        }
        if let Store::Registry(_) = &self.store {
            // The top document is kept: verify reads it next, by digest.
            let m = self.store.fetch_reference(&self.reference)?;
            self.charge(0)?;
            let digest = m.digest;
            self.cache
                .lock()
                .unwrap()
                .put_manifest(&digest.to_string(), Some(m));
            return Ok((digest, None));
        }
        let d = self.store.resolve(&self.reference)?;
        let listed = matches!(self.store, Store::Layout(_)).then(|| d.clone());
        Ok((d.digest, listed))
    }

    /// An image document by digest, digest checked; `Ok(None)` when the store does not have
    /// it (an index naming a manifest that is not there is a failed check, not an outage).
    pub fn document(&self, digest: &Digest) -> Result<Option<std::result::Result<Doc, String>>> {
        self.charge(0)?;
        let asked = Asked::Doc(*digest);
        if let Some(why) = self.failed_before(&asked) {
            return Ok(Some(Err(why)));
        }
        let fetched = match &self.store {
            Store::Layout(l) => self
                .layout_fetch(l, asked)?
                .transpose()
                .map(|b| b.map(|bytes| (bytes, None))),
            Store::Registry(c) => {
                let read = self.registry_manifest(c, &digest.to_string());
                self.registry_checked(asked, read)?.map(|m| {
                    m.map(|m| {
                        let media_type = m.content_type.filter(|t| Kind::of(t).is_some());
                        (m.bytes, media_type)
                    })
                })
            }
        };
        Ok(fetched
            .transpose()
            .map(|f| f.map(|(bytes, media_type)| Doc { bytes, media_type })))
    }

    /// A manifest or index, digest checked, at most [`MANIFEST_MAX`] bytes. One that is
    /// missing is a reason, like one that does not match: whoever can write a referrer
    /// listing can name a manifest that is not there.
    pub fn manifest(&self, digest: &Digest) -> Result<Fetched> {
        Ok(match self.document(digest)? {
            Some(doc) => doc.map(|d| d.bytes),
            None => Err(format!("{digest} is not in the store")),
        })
    }

    /// A blob of `size` bytes (its descriptor's), digest checked; never read past `size`.
    /// A missing blob is a reason, as in [`Source::manifest`].
    pub fn blob(&self, digest: &Digest, size: u64) -> Result<Fetched> {
        self.charge(0)?;
        let asked = Asked::Blob(*digest, size);
        if let Some(why) = self.failed_before(&asked) {
            return Ok(Err(why));
        }
        let found = match &self.store {
            Store::Layout(l) => self.layout_fetch(l, asked)?,
            Store::Registry(c) => {
                let kept = self.cache.lock().unwrap().blob(digest, size);
                let fetched = match kept {
                    Some(b) => Ok(b),
                    None => c
                        .find_blob(digest, size)
                        .and_then(|b| self.charge(0).map(|()| b)),
                };
                self.registry_checked(asked, fetched)?.transpose()
            }
        };
        Ok(found.unwrap_or_else(|| Err(format!("{digest} is not in the store"))))
    }

    /// An attestation layer (bundle, envelope, statement): a blob whose descriptor claims
    /// more than [`ATTESTATION_MAX`] is a reason, and nothing is fetched.
    pub fn attestation(&self, digest: &Digest, size: u64) -> Result<Fetched> {
        if size > ATTESTATION_MAX {
            return Ok(Err(format!(
                "the layer {digest} claims {size} bytes, more than the {} an attestation may \
                 have: not read",
                size_words(ATTESTATION_MAX)
            )));
        }
        self.blob(digest, size)
    }

    /// The digests of the referrers of `digest` (all verify reads of a listing: the
    /// manifest it names is authoritative; besides the digests, only the content a listing
    /// carries inline for them, digest checked, is kept: [`super::prefetch`]).
    /// What the listing skipped (an entry that does not parse) comes with them.
    pub fn referrers(&self, digest: &Digest) -> Result<Listing<Digest>> {
        self.charge(0)?;
        if let Some(l) = self.cache.lock().unwrap().referrers(digest) {
            return Ok(l);
        }
        let l = match &self.store {
            Store::Layout(l) => l,
            Store::Registry(c) => {
                let listing = c.block_on(registry_referrers_async(c, digest))?;
                self.charge(super::prefetch::listing_bytes(&listing.entries))?;
                return Ok(listing.digests());
            }
        };
        if self.layout_referrers.get().is_none() {
            let map = crate::oci::referrers::layout_referrer_map(l, |n| self.charge(n))?;
            let _ = self.layout_referrers.set(map);
        }
        let map = self.layout_referrers.get();
        Ok(Listing {
            entries: map.and_then(|m| m.get(digest)).cloned().unwrap_or_default(),
            skipped: Vec::new(),
        })
    }

    /// What a tag points at, if it exists (cosign's legacy `sha256-HEX.att` tags).
    pub fn tag(&self, tag: &str) -> Result<Option<Digest>> {
        match &self.store {
            Store::Layout(l) => {
                if self.layout_index.get().is_none() {
                    let _ = self.layout_index.set(l.index()?.manifests);
                }
                let entries = self.layout_index.get().map_or(&[][..], Vec::as_slice);
                Ok(l.find_tag_in(entries, tag)?.map(|d| d.digest))
            }
            Store::Registry(c) => Ok(self.registry_manifest(c, tag)?.map(|m| m.digest)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    /// A layout with `blob` stored under another digest (`wrong`), opened for verify.
    fn layout_with_a_bad_blob(dir: &std::path::Path, blob: &[u8]) -> (Source, Digest) {
        let layout = Layout::create(dir).unwrap();
        let wrong = Digest::of(b"what the descriptor names");
        std::fs::write(layout.blob_path(&wrong), blob).unwrap();
        let source =
            Source::open(&format!("oci:{}", dir.display()), false, DEFAULT_TIMEOUT).unwrap();
        (source, wrong)
    }

    /// An index may name one bad blob many times (64 layers, each attestation manifest
    /// listed again): it is read and hashed once, counted once, and the same reason given
    /// each time, from memory.
    #[test]
    fn a_read_that_fails_its_digest_is_counted_once_and_not_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let blob = vec![7u8; 4096];
        let (source, wrong) = layout_with_a_bad_blob(dir.path(), &blob);
        let first = source.blob(&wrong, 4096).unwrap().unwrap_err();
        assert!(first.contains("truncated or swapped"), "{first}");
        assert_eq!(source.cache.lock().unwrap().total(), 4096);
        std::fs::remove_file(Layout::open(dir.path()).unwrap().blob_path(&wrong)).unwrap();
        for _ in 0..3 {
            assert_eq!(source.blob(&wrong, 4096).unwrap().unwrap_err(), first);
        }
        assert_eq!(source.cache.lock().unwrap().total(), 4096);
        // As a manifest it is another read (another bound), remembered as such.
        let doc = source.manifest(&wrong).unwrap().unwrap_err();
        assert!(doc.contains("is not in the store"), "{doc}");
    }

    /// A digest mismatch is recognised by its variant, not its words: the same words in a
    /// plain message stay an error (exit 2), the variant becomes a failed check's reason.
    #[test]
    fn a_registry_digest_mismatch_is_a_reason_by_its_variant() {
        let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
        let typed = Error::with_source(
            "GET blob",
            RegistryError::DigestMismatch {
                expected: a,
                actual: b,
                detail: String::new(),
            },
        );
        let why = mismatch_as_check::<()>(Err(typed), &a)
            .unwrap()
            .unwrap_err();
        assert!(why.contains("truncated or swapped"), "{why}");
        assert!(
            why.contains(&format!("the registry sent content with digest {b}")),
            "{why}"
        );
        let words = Error::msg(format!(
            "GET blob: the registry sent content with digest {b}"
        ));
        assert!(mismatch_as_check::<()>(Err(words), &a).is_err());
        assert_eq!(mismatch_as_check(Ok(1), &a).unwrap(), Ok(1));
    }
}
