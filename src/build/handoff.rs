//! What the provenance needs from a [`BuiltImage`] besides its fields: the builder's facts
//! with its id, and the images BuildKit resolved besides the base.

use std::collections::BTreeMap;

use super::{BaseImageInfo, BuiltImage};

impl BuiltImage {
    /// Facts about the builder instance (`name`, `driver`, `buildkit` version; `id`).
    pub fn builder_details(&self) -> BTreeMap<String, String> {
        let mut d = self.builder.details.clone();
        d.insert("id".to_owned(), self.builder.id.clone());
        d
    }

    /// Images BuildKit resolved besides the base (its statements' materials), pinned.
    pub fn other_images(&self) -> Vec<BaseImageInfo> {
        let base = self.base_image.as_ref().and_then(|b| b.digest);
        let mut out: Vec<BaseImageInfo> = self
            .buildkit_materials
            .iter()
            .filter(|(_, d)| Some(*d) != base)
            .map(|(uri, d)| BaseImageInfo {
                reference: uri.clone(),
                digest: Some(*d),
            })
            .collect();
        out.dedup();
        out
    }
}
