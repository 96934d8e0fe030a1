//! Copying an image with every referrer (recursively: referrers of referrers, of the index
//! and of each platform manifest) between layouts and registries. Manifests and blobs travel
//! as their exact bytes, so every digest is unchanged. Blobs already at the destination are
//! skipped.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::formats::cosign_legacy::legacy_tag;
use crate::formats::oci::{Descriptor, ImageIndex, ImageManifest};
use crate::oci::legacy_tags::put_merged;
use crate::oci::reference::Reference;
use crate::oci::registry::Options;
use crate::oci::store::{Store, is_index};
use crate::util::digest::Digest;

/// What a copy did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CopyReport {
    /// The image's descriptor (same digest at both ends).
    pub image: Option<Descriptor>,
    /// Manifests written (image manifests, indexes, referrers).
    pub manifests: usize,
    /// Referrer manifests among them.
    pub referrers: usize,
    /// Blobs uploaded.
    pub blobs_copied: usize,
    /// Blobs the destination already had.
    pub blobs_skipped: usize,
    /// Referrers listed for a subject but missing from the source (skipped).
    pub dangling: usize,
    /// cosign's legacy `sha256-<hex>.sig`/`.att` tags written (merged with the
    /// destination's when it had them).
    pub legacy_tags: usize,
}

/// How deep a copy follows indexes in indexes and referrers of referrers.
const MAX_DEPTH: usize = 16;

struct Copier<'a> {
    src: &'a Store,
    dst: &'a Store,
    done: BTreeSet<Digest>,
    /// How deep `node` is: indexes in indexes, referrers of referrers.
    depth: usize,
    report: CopyReport,
    progress: &'a dyn Fn(&str),
}

/// `cargo provenance push SRC DEST` as a library call (also what `build --push` uses):
/// resolves `src`, copies the image with every referrer to `dest` (a destination without a
/// tag takes the source's tag; `oci:` destinations are created when missing). Returns the
/// destination reference pinned to the image's digest, and the report.
pub fn push(
    src: &str,
    dest: &str,
    opts: &Options,
    progress: &dyn Fn(&str),
) -> Result<(Reference, CopyReport)> {
    let src_ref = Reference::parse(src)?;
    let mut dst_ref = Reference::parse(dest)?;
    let src_store = Store::open(&src_ref, opts, false)?;
    let image = src_store.resolve(&src_ref)?;
    // Registry references default to `latest` when parsed, so look at the text.
    let dest_names_tag = match &dst_ref {
        Reference::Layout(l) => l.tag.is_some() || l.digest.is_some(),
        Reference::Registry(_) => {
            let last = dest.rsplit('/').next().unwrap_or("");
            last.contains(':') || last.contains('@')
        }
    };
    if !dest_names_tag && let Some(t) = src_ref.tag() {
        dst_ref = dst_ref.with_tag(Some(t));
    }
    if let Some(d) = dst_ref.digest()
        && d != image.digest
    {
        return Err(Error::msg(format!(
            "{dest}: the destination names digest {d} but the source image is {}",
            image.digest
        )));
    }
    let dst_store = Store::open(&dst_ref, opts, true)?;
    let tag = dst_ref.tag().map(str::to_owned);
    let report = copy_image(&src_store, &image, &dst_store, tag.as_deref(), progress)?;
    let pinned = match dst_ref.tag() {
        Some(t) => {
            let mut r = dst_ref.with_digest(image.digest);
            if let Reference::Registry(x) = &mut r {
                x.tag = Some(t.to_owned());
            }
            if let Reference::Layout(x) = &mut r {
                x.tag = Some(t.to_owned());
            }
            r
        }
        None => dst_ref.with_digest(image.digest),
    };
    Ok((pinned, report))
}

/// Copies `image` (a descriptor resolved in `src`) to `dst`, tagging it `tag` there, with all
/// its referrers. `progress` receives a line per referrer.
pub fn copy_image(
    src: &Store,
    image: &Descriptor,
    dst: &Store,
    tag: Option<&str>,
    progress: &dyn Fn(&str),
) -> Result<CopyReport> {
    let mut c = Copier {
        src,
        dst,
        done: BTreeSet::new(),
        depth: 0,
        report: CopyReport::default(),
        progress,
    };
    let (bytes, media_type) = c.node(&image.digest, None)?;
    // The tag last, after every child, blob and referrer: an interrupted copy never leaves
    // the tag on an incomplete image, and a rerun completes it.
    if let Some(t) = tag {
        dst.put_manifest(&bytes, &media_type, Some(t))?;
    }
    c.report.image = Some(image.bare());
    Ok(c.report)
}

impl Copier<'_> {
    /// Copies one manifest (children first), then its referrers; returns its bytes and media
    /// type. `referrer_of` is set when this manifest is itself a referrer.
    fn node(&mut self, digest: &Digest, referrer_of: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        if !self.done.insert(*digest) {
            return Ok((Vec::new(), String::new()));
        }
        if self.depth >= MAX_DEPTH {
            return Err(Error::msg(format!(
                "{digest} is more than {MAX_DEPTH} levels deep (indexes in indexes, referrers \
                 of referrers): refused"
            )));
        }
        self.depth += 1;
        let done = self.node_at_depth(digest, referrer_of);
        self.depth -= 1;
        done
    }

    fn node_at_depth(
        &mut self,
        digest: &Digest,
        referrer_of: Option<&Digest>,
    ) -> Result<(Vec<u8>, String)> {
        let (bytes, reported_type) = match referrer_of {
            // A referrer listed for a subject but gone from the source (deleted, or a stale
            // fallback index written by another tool): nothing to copy.
            Some(subject) => match self.src.find_manifest(digest)? {
                Some(found) => found,
                None => {
                    self.report.dangling += 1;
                    (self.progress)(&format!(
                        "skipped referrer {digest} of {subject}: listed but not in the source"
                    ));
                    return Ok((Vec::new(), String::new()));
                }
            },
            None => self.src.get_manifest(digest)?,
        };
        let media_type = declared_media_type(&bytes).unwrap_or(reported_type);
        if is_index(&media_type) {
            let index: ImageIndex = serde_json::from_slice(&bytes)
                .map_err(|e| Error::msg(format!("index {digest} is not valid: {e}")))?;
            for child in &index.manifests {
                self.node(&child.digest, None)?;
            }
        } else {
            let m: ImageManifest = serde_json::from_slice(&bytes)
                .map_err(|e| Error::msg(format!("manifest {digest} is not valid: {e}")))?;
            for blob in std::iter::once(&m.config).chain(m.layers.iter()) {
                self.blob(blob)?;
            }
        }
        match referrer_of {
            Some(subject) => {
                self.dst.attach(subject, &bytes)?;
                self.report.referrers += 1;
                (self.progress)(&format!("referrer {digest} of {subject}"));
            }
            None => {
                self.dst.put_manifest(&bytes, &media_type, None)?;
            }
        }
        self.report.manifests += 1;
        for r in self.src.referrers(digest)? {
            self.node(&r.digest, Some(digest))?;
        }
        if referrer_of.is_none() {
            self.legacy_tags(digest)?;
        }
        Ok((bytes, media_type))
    }

    /// cosign's legacy signature and attestation tags about `subject`, when the source has
    /// them: their blobs, then the tag (merged with the destination's, as cosign appends).
    fn legacy_tags(&mut self, subject: &Digest) -> Result<()> {
        for suffix in ["sig", "att"] {
            let tag = legacy_tag(subject, suffix);
            let Some((bytes, media_type)) = self.src.find_tag(&tag)? else {
                continue;
            };
            let m: ImageManifest = serde_json::from_slice(&bytes)
                .map_err(|e| Error::msg(format!("tag {tag}: not a valid manifest: {e}")))?;
            for blob in std::iter::once(&m.config).chain(m.layers.iter()) {
                self.blob(blob)?;
            }
            if put_merged(self.dst, &tag, &bytes, &media_type)? {
                self.report.legacy_tags += 1;
                (self.progress)(&format!("tag {tag}"));
            }
        }
        Ok(())
    }

    fn blob(&mut self, blob: &Descriptor) -> Result<()> {
        if self.dst.has_blob(&blob.digest)? {
            self.report.blobs_skipped += 1;
            return Ok(());
        }
        let bytes = self.src.get_blob(&blob.digest, blob.size)?;
        self.dst.put_blob(&bytes)?;
        self.report.blobs_copied += 1;
        Ok(())
    }
}

fn declared_media_type(bytes: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    v.get("mediaType")?.as_str().map(str::to_owned)
}
