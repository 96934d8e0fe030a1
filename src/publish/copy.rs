//! Copying an image with every referrer (recursively: referrers of referrers, of the index
//! and of each platform manifest) between layouts and registries. Manifests and blobs travel
//! as their exact bytes, so every digest is unchanged. Blobs already at the destination are
//! skipped.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::formats::oci::{Descriptor, ImageIndex, ImageManifest};
use crate::oci::referrers::subject_of;
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
}

struct Copier<'a> {
    src: &'a Store,
    dst: &'a Store,
    done: BTreeSet<Digest>,
    report: CopyReport,
    progress: &'a dyn Fn(&str),
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
        report: CopyReport::default(),
        progress,
    };
    c.node(&image.digest, None, tag)?;
    c.report.image = Some(image.bare());
    Ok(c.report)
}

impl Copier<'_> {
    /// Copies one manifest (children first), then its referrers. `referrer_of` is set when
    /// this manifest is itself a referrer.
    fn node(
        &mut self,
        digest: &Digest,
        referrer_of: Option<&Digest>,
        tag: Option<&str>,
    ) -> Result<()> {
        if !self.done.insert(*digest) {
            return Ok(());
        }
        let (bytes, reported_type) = self.src.get_manifest(digest)?;
        let media_type = declared_media_type(&bytes).unwrap_or(reported_type);
        if is_index(&media_type) {
            let index: ImageIndex = serde_json::from_slice(&bytes)
                .map_err(|e| Error::msg(format!("index {digest} is not valid: {e}")))?;
            for child in &index.manifests {
                self.node(&child.digest, None, None)?;
            }
        } else {
            let m: ImageManifest = serde_json::from_slice(&bytes)
                .map_err(|e| Error::msg(format!("manifest {digest} is not valid: {e}")))?;
            for blob in std::iter::once(&m.config).chain(m.layers.iter()) {
                self.blob(&blob.digest)?;
            }
        }
        match referrer_of {
            Some(subject) => {
                self.dst.attach(subject, &bytes)?;
                self.report.referrers += 1;
                (self.progress)(&format!("referrer {digest} of {subject}"));
            }
            None => {
                self.dst.put_manifest(&bytes, &media_type, tag)?;
            }
        }
        self.report.manifests += 1;
        for r in self.src.referrers(digest)? {
            self.node(&r.digest, Some(digest), None)?;
        }
        Ok(())
    }

    fn blob(&mut self, digest: &Digest) -> Result<()> {
        if self.dst.has_blob(digest)? {
            self.report.blobs_skipped += 1;
            return Ok(());
        }
        let bytes = self.src.get_blob(digest)?;
        self.dst.put_blob(&bytes)?;
        self.report.blobs_copied += 1;
        Ok(())
    }
}

fn declared_media_type(bytes: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    v.get("mediaType")?.as_str().map(str::to_owned)
}

/// True when `bytes` is a manifest whose subject is `subject`.
pub fn refers_to(bytes: &[u8], subject: &Digest) -> bool {
    subject_of(bytes) == Some(*subject)
}
