//! An OCI image layout on disk (`oci-layout`, `index.json`, `blobs/sha256/...`).
//!
//! Blobs are written atomically and verified on read; `index.json` is replaced atomically,
//! so a crash leaves the previous valid layout. Tags are `org.opencontainers.image.ref.name`
//! annotations on `index.json` entries; untagged entries (referrers) are kept there too, which
//! is where `oras discover --oci-layout` finds them.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::formats::oci::{ANNOTATION_REF_NAME, Descriptor, ImageIndex, LayoutMarker};
use crate::util::digest::Digest;
use crate::util::fs::write_atomic;

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    /// Files are synced to disk (false in a build's staging layout, see
    /// [`Layout::create_staging`]).
    durable: bool,
}

impl Layout {
    /// Opens the layout at `root`, creating an empty one (marker, empty index, blob
    /// directory) where none exists.
    pub fn create(root: &Path) -> Result<Layout> {
        Self::create_with(root, true)
    }

    /// [`Layout::create`] for a staging directory that is renamed into place once complete
    /// (the build's): files are written atomically but not synced one by one
    /// ([`crate::util::fs::write_atomic_unsynced`]).
    pub fn create_staging(root: &Path) -> Result<Layout> {
        Self::create_with(root, false)
    }

    fn create_with(root: &Path, durable: bool) -> Result<Layout> {
        let layout = Layout {
            root: root.to_owned(),
            durable,
        };
        let marker = root.join("oci-layout");
        if !marker.exists() {
            let mut bytes = serde_json::to_vec_pretty(&LayoutMarker {
                image_layout_version: "1.0.0".into(),
            })
            .expect("JSON serialises");
            bytes.push(b'\n');
            layout.write_file(&marker, &bytes)?;
        }
        let blobs = root.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).map_err(|e| Error::io("creating", &blobs, e))?;
        if !root.join("index.json").exists() {
            layout.write_index(&ImageIndex::new())?;
        }
        Ok(layout)
    }

    /// Opens an existing layout; an error names the directory when it is not one.
    pub fn open(root: &Path) -> Result<Layout> {
        let marker = root.join("oci-layout");
        if !marker.is_file() {
            return Err(Error::msg(format!(
                "{} is not an OCI image layout (no oci-layout file)",
                root.display()
            )));
        }
        Ok(Layout {
            root: root.to_owned(),
            durable: true,
        })
    }

    fn write_file(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        if self.durable {
            write_atomic(path, bytes)
        } else {
            crate::util::fs::write_atomic_unsynced(path, bytes)
        }
    }

    /// The layout's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with `digest` lives.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// True when the blob is present.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Stores `bytes` (atomically, once) and returns their digest.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        if !self.has_blob(&digest) {
            self.write_file(&self.blob_path(&digest), bytes)?;
        }
        Ok(digest)
    }

    /// Stores `bytes` whose sha256 the caller computed while producing them (a layer hashed
    /// as it was compressed), atomically, once.
    pub fn put_blob_hashed(&self, digest: &Digest, bytes: &[u8]) -> Result<()> {
        debug_assert_eq!(*digest, Digest::of(bytes));
        if !self.has_blob(digest) {
            self.write_file(&self.blob_path(digest), bytes)?;
        }
        Ok(())
    }

    /// Reads a blob and checks its bytes against the digest: a truncated or swapped blob is
    /// an error that names it.
    pub fn get_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = std::fs::read(&path).map_err(|e| Error::io("reading blob", &path, e))?;
        self.checked(digest, bytes)
    }

    /// Reads a blob that its descriptor says has `size` bytes: a file of another length is
    /// refused before it is read ([`super::limits`]).
    pub fn get_blob_sized(&self, digest: &Digest, size: u64) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = super::limits::read_file_at_most(&path, size)?;
        if bytes.len() as u64 != size {
            return Err(Error::msg(format!(
                "blob {digest} in {} has {} bytes, its descriptor says {size}: the layout is \
                 corrupt",
                self.root.display(),
                bytes.len()
            )));
        }
        self.checked(digest, bytes)
    }

    /// Reads a manifest or index blob: at most [`super::limits::MANIFEST_MAX`] bytes.
    pub fn get_manifest_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = super::limits::read_file_at_most(&path, super::limits::MANIFEST_MAX)?;
        self.checked(digest, bytes)
    }

    fn checked(&self, digest: &Digest, bytes: Vec<u8>) -> Result<Vec<u8>> {
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(Error::msg(format!(
                "blob {} in {} has digest {actual}: the layout is corrupt",
                digest,
                self.root.display()
            )));
        }
        Ok(bytes)
    }

    /// Reads `index.json`: a regular file of at most [`super::limits::MANIFEST_MAX`] (a link,
    /// FIFO or device is refused, as for every file of a layout read).
    pub fn index(&self) -> Result<ImageIndex> {
        let path = self.root.join("index.json");
        let bytes = super::limits::read_file_at_most(&path, super::limits::MANIFEST_MAX)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::msg(format!(
                "{} is not a valid image index: {e}",
                path.display()
            ))
        })
    }

    /// Replaces `index.json` atomically.
    pub fn write_index(&self, index: &ImageIndex) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(index)
            .map_err(|e| Error::with_source(format!("serialising {}", self.root.display()), e))?;
        bytes.push(b'\n');
        self.write_file(&self.root.join("index.json"), &bytes)
    }

    /// Points tag `name` at `descriptor` (replacing an entry with the same tag). Tagged
    /// entries come first in `index.json`, in the order they were tagged.
    pub fn tag(&self, name: &str, descriptor: &Descriptor) -> Result<()> {
        let _lock = self.lock()?;
        let mut index = self.index()?;
        index
            .manifests
            .retain(|d| d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) != Some(name));
        let mut d = descriptor.clone();
        d.annotations
            .insert(ANNOTATION_REF_NAME.to_owned(), name.to_owned());
        index.manifests.push(d);
        canonical_order(&mut index.manifests);
        self.write_index(&index)
    }

    /// Takes the layout's lock (`.index.json.lock`, an OS file lock) for a read-modify-write
    /// of `index.json`; released when the guard drops. Concurrent writers in other threads
    /// or processes wait for it.
    pub fn lock(&self) -> Result<std::fs::File> {
        let path = self.root.join(".index.json.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("opening lock file", &path, e))?;
        file.lock().map_err(|e| Error::io("locking", &path, e))?;
        Ok(file)
    }

    /// Adds an untagged `index.json` entry for a manifest already stored as a blob (a
    /// referrer, so that `oras discover --oci-layout` and our own discovery find it). An
    /// entry with the same digest is replaced, never duplicated. Untagged entries are kept
    /// sorted by digest, so the file does not depend on the order of attaching.
    pub fn add_untagged(&self, descriptor: &Descriptor) -> Result<()> {
        let _lock = self.lock()?;
        let mut index = self.index()?;
        let mut d = descriptor.clone();
        d.annotations.remove(ANNOTATION_REF_NAME);
        let present = index.manifests.iter().any(|e| {
            e.digest == d.digest && !e.annotations.contains_key(ANNOTATION_REF_NAME) && *e == d
        });
        if present {
            return Ok(());
        }
        index
            .manifests
            .retain(|e| e.digest != d.digest || e.annotations.contains_key(ANNOTATION_REF_NAME));
        index.manifests.push(d);
        canonical_order(&mut index.manifests);
        self.write_index(&index)
    }

    /// Finds the `index.json` entry for a tag.
    ///
    /// A tag that names more than one image is refused: tools disagree on which entry wins
    /// (skopeo and we would take the first, containerd's import the last, and it also reads
    /// `io.containerd.image.name`), so verifying one and running another must not be possible.
    pub fn resolve_tag(&self, name: &str) -> Result<Descriptor> {
        self.find_tag(name)?.ok_or_else(|| {
            Error::msg(format!(
                "tag `{name}` not found in OCI layout {}",
                self.root.display()
            ))
        })
    }

    /// The descriptor tag `name` points at (see [`Layout::resolve_tag`]), `None` when no
    /// entry has it; a tag on entries of different digests is an error (ambiguous).
    pub fn find_tag(&self, name: &str) -> Result<Option<Descriptor>> {
        self.find_tag_in(&self.index()?.manifests, name)
    }

    /// [`Layout::find_tag`] among `entries`, this layout's `index.json` entries as read
    /// before (a caller that looks up many tags reads the index once).
    pub fn find_tag_in(&self, entries: &[Descriptor], name: &str) -> Result<Option<Descriptor>> {
        let named = |d: &Descriptor| {
            d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) == Some(name)
                || d.annotations
                    .get(ANNOTATION_CONTAINERD_NAME)
                    .is_some_and(|n| n.rsplit_once(':').is_some_and(|(_, t)| t == name))
        };
        let mut found: Vec<&Descriptor> = entries.iter().filter(|d| named(d)).collect();
        found.sort_by_key(|d| d.digest);
        found.dedup_by_key(|d| d.digest);
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some((*one).clone())),
            many => Err(Error::msg(format!(
                "tag `{name}` names {} different images in OCI layout {} ({}): ambiguous, \
                 refused; name the image by digest (oci:PATH@sha256:HEX)",
                many.len(),
                self.root.display(),
                many.iter()
                    .map(|d| d.digest.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// containerd's image-name annotation in an OCI layout's `index.json` (read by its import).
const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";

/// Tagged entries first (in their order), then untagged ones sorted by digest.
fn canonical_order(entries: &mut [Descriptor]) {
    entries.sort_by(|a, b| {
        let ta = a.annotations.contains_key(ANNOTATION_REF_NAME);
        let tb = b.annotations.contains_key(ANNOTATION_REF_NAME);
        match (ta, tb) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            (false, false) => a.digest.cmp(&b.digest),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::oci::MEDIA_TYPE_MANIFEST;

    #[test]
    fn blobs_round_trip_and_corruption_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path()).unwrap();
        let d = l.put_blob(b"hello").unwrap();
        assert_eq!(l.get_blob(&d).unwrap(), b"hello");
        std::fs::write(l.blob_path(&d), b"hellO").unwrap();
        assert!(l.get_blob(&d).unwrap_err().to_string().contains("corrupt"));
    }

    #[test]
    fn tags_replace_previous_entries() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path()).unwrap();
        let a = Descriptor::of(MEDIA_TYPE_MANIFEST, b"a");
        let b = Descriptor::of(MEDIA_TYPE_MANIFEST, b"b");
        l.tag("latest", &a).unwrap();
        l.tag("latest", &b).unwrap();
        assert_eq!(l.index().unwrap().manifests.len(), 1);
        assert_eq!(l.resolve_tag("latest").unwrap().digest, b.digest);
        assert!(Layout::open(&dir.path().join("nope")).is_err());
    }

    #[test]
    fn untagged_entries_are_deduplicated_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path()).unwrap();
        let a = Descriptor::of(MEDIA_TYPE_MANIFEST, b"a");
        let b = Descriptor::of(MEDIA_TYPE_MANIFEST, b"b");
        let img = Descriptor::of(MEDIA_TYPE_MANIFEST, b"img");
        l.add_untagged(&b).unwrap();
        l.add_untagged(&a).unwrap();
        l.add_untagged(&b).unwrap();
        l.tag("v1", &img).unwrap();
        let m = l.index().unwrap().manifests;
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].digest, img.digest, "tags first");
        assert!(m[1].digest < m[2].digest);
    }
}
