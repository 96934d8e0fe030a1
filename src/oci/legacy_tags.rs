//! cosign 2.x's legacy tags (`sha256-<hex>.sig`, `.att`) in a store: writing a signature
//! manifest under its tag, and merging one into a tag that already holds another signer's
//! layers (as `cosign sign` appends them), so copying an image never drops a signature.

use crate::error::{Error, Result};
use crate::formats::cosign_legacy::{GcrDescriptor, SignatureManifest, signature_manifest};
use crate::formats::oci::Descriptor;
use crate::oci::limits::{MANIFEST_MAX, size_words};
use crate::oci::store::Store;

/// Stores the config and manifest over `layers` (whose blobs are stored already) under `tag`.
pub fn put_signature_manifest(
    store: &Store,
    tag: &str,
    layers: Vec<GcrDescriptor>,
) -> Result<Descriptor> {
    let (manifest, config) = signature_manifest(layers);
    write_signature_manifest(store, tag, &manifest, &config)
}

/// Stores `config` and `manifest` (a signature manifest) under `tag`.
fn write_signature_manifest(
    store: &Store,
    tag: &str,
    manifest: &[u8],
    config: &[u8],
) -> Result<Descriptor> {
    store.put_blob(config)?;
    store.put_manifest(
        manifest,
        crate::formats::cosign_legacy::MANIFEST_MEDIA_TYPE,
        Some(tag),
    )
}

/// Puts the legacy-tag manifest `incoming` (its layers stored in `dst` already) under `tag`
/// in `dst`. When `dst` has the tag already, the result holds its layers and then every
/// incoming layer it lacks (cosign's append); unchanged when it lacks none. A merge past
/// [`MANIFEST_MAX`] (the destination decides how many layers its tag holds) is refused and
/// the tag left as it was. Returns whether anything was written.
pub fn put_merged(dst: &Store, tag: &str, incoming: &[u8], media_type: &str) -> Result<bool> {
    let Some((existing, _)) = dst.find_tag(tag)? else {
        dst.put_manifest(incoming, media_type, Some(tag))?;
        return Ok(true);
    };
    if existing == incoming {
        return Ok(false);
    }
    let parse = |bytes: &[u8], which: &str| {
        serde_json::from_slice::<SignatureManifest>(bytes).map_err(|e| {
            Error::msg(format!(
                "{which} manifest of tag {tag} is not a cosign signature manifest: {e}"
            ))
        })
    };
    let mut merged = parse(&existing, "the destination's")?.layers;
    let new: Vec<GcrDescriptor> = parse(incoming, "the source's")?
        .layers
        .into_iter()
        .filter(|l| !merged.contains(l))
        .collect();
    if new.is_empty() {
        return Ok(false);
    }
    merged.extend(new);
    let count = merged.len();
    let (manifest, config) = signature_manifest(merged);
    if manifest.len() as u64 > MANIFEST_MAX {
        return Err(Error::msg(format!(
            "tag {tag}: merged with the destination's signatures, its manifest ({count} layers, \
             {} bytes) would pass the {} a manifest may have: not written; remove the \
             destination's tag or push to another repository",
            manifest.len(),
            size_words(MANIFEST_MAX)
        )));
    }
    write_signature_manifest(dst, tag, &manifest, &config)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::cosign_legacy::{legacy_tag, signature_layer};

    fn layer(n: usize) -> GcrDescriptor {
        let payload = format!("payload {n:020}");
        signature_layer(payload.as_bytes(), "c2ln")
    }

    /// A destination whose `.sig` tag already holds a manifest near the 4 MiB cap: merging
    /// one more layer would write a manifest no registry takes and no reader reads back; it
    /// is refused naming the tag, and the destination's tag is left as it was.
    #[test]
    fn a_merge_past_the_manifest_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dst = Store::Layout(crate::oci::layout::Layout::create(dir.path()).unwrap());
        let tag = legacy_tag(&crate::util::digest::Digest::of(b"image"), "sig");
        // Sized in one step: each layer adds the same number of bytes (fixed-width payloads).
        let one = signature_manifest(vec![layer(0)]).0.len();
        let per = signature_manifest(vec![layer(0), layer(1)]).0.len() - one;
        // One short of what fits (the config's size field grows by a few digits).
        let fit = (crate::oci::limits::MANIFEST_MAX as usize - one) / per - 1;
        let layers: Vec<GcrDescriptor> = (0..fit).map(layer).collect();
        assert!(
            signature_manifest(layers.clone()).0.len() as u64 <= crate::oci::limits::MANIFEST_MAX
        );
        let before = put_signature_manifest(&dst, &tag, layers.clone()).unwrap();
        // Four more layers than the destination holds: past the cap.
        let (incoming, _) = signature_manifest((0..4).map(|n| layer(usize::MAX - n)).collect());
        let e = put_merged(
            &dst,
            &tag,
            &incoming,
            crate::formats::cosign_legacy::MANIFEST_MEDIA_TYPE,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(&tag) && e.contains("4 MiB"), "{e}");
        let (now, _) = dst.find_tag(&tag).unwrap().unwrap();
        assert_eq!(crate::util::digest::Digest::of(&now), before.digest);
        // Within the cap, the merge appends.
        let (small, _) = signature_manifest(vec![layer(0)]);
        let dst2 =
            Store::Layout(crate::oci::layout::Layout::create(&dir.path().join("b")).unwrap());
        put_signature_manifest(&dst2, &tag, vec![layer(1)]).unwrap();
        assert!(
            put_merged(
                &dst2,
                &tag,
                &small,
                crate::formats::cosign_legacy::MANIFEST_MEDIA_TYPE
            )
            .unwrap()
        );
    }
}
