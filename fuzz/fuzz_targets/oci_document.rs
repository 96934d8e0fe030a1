//! OCI indexes, manifests and referrers listings as a registry or a layout may send them:
//! the media-type rule of verify, index entries, referrer descriptors.
#![no_main]

use cargo_provenance::formats::oci::{ImageIndex, ImageManifest, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST};
use cargo_provenance::oci::referrers;
use cargo_provenance::verify::document::{self, Document};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for fetched_as in [None, Some(MEDIA_TYPE_INDEX), Some(MEDIA_TYPE_MANIFEST)] {
        if let Ok(Document::Index(index)) = document::classify(data, fetched_as) {
            for entry in &index.manifests {
                let _ = document::child(entry);
                let _ = document::refused(entry);
            }
        }
    }
    let _ = serde_json::from_slice::<ImageIndex>(data);
    let _ = serde_json::from_slice::<ImageManifest>(data);
    let _ = referrers::referrer_descriptor(data, MEDIA_TYPE_MANIFEST);
    let _ = referrers::subject_of(data);
});
