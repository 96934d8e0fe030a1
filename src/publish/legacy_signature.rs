//! The image signature in cosign 2.x's legacy form (`build --legacy-signature-tag`): each
//! image digest (the index and every platform manifest) signed as a simple-signing payload
//! ([`crate::formats::cosign_legacy`]) and stored under the tag `sha256-<hex>.sig`, where
//! cosign 2.x `verify` (and verifiers built on its library) look for it.
//!
//! Pushing carries these tags along ([`crate::publish::copy`]); when the destination already
//! has the tag (another signer's signature), the layers are merged as `cosign sign` appends
//! them, so nobody's signature is dropped.

use base64::Engine as _;

use super::ImageSubject;
use crate::error::{Error, Result};
use crate::formats::cosign_legacy::{
    GcrDescriptor, SignatureManifest, legacy_tag, signature_layer, signature_manifest,
    simple_signing_payload,
};
use crate::formats::oci::Descriptor;
use crate::oci::store::Store;
use crate::sign::KeySigner;

/// One digest signed in the legacy form.
#[derive(Debug, Clone)]
pub struct LegacySigned {
    /// The index or platform manifest signed.
    pub subject: ImageSubject,
    /// The tag, `sha256-<hex>.sig`.
    pub tag: String,
    /// The signature manifest the tag points at.
    pub manifest: Descriptor,
}

/// The repository part of an image name (`registry/repo`, without `:tag` or `@digest`):
/// cosign's `docker-reference`.
pub fn docker_reference(image_name: &str) -> String {
    let name = image_name.split('@').next().unwrap_or(image_name);
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo.to_owned(),
        _ => name.to_owned(),
    }
}

/// Signs every subject on its own, as `cosign sign` 2.x does, and tags each signature
/// manifest `sha256-<hex>.sig` in `store`. A tag left by an earlier run in the same layout is
/// replaced: the output directory holds this build's signatures only.
pub fn sign_image_legacy(
    store: &Store,
    subjects: &[ImageSubject],
    signer: &KeySigner,
    image_name: &str,
) -> Result<Vec<LegacySigned>> {
    let reference = docker_reference(image_name);
    subjects
        .iter()
        .map(|s| {
            let payload = simple_signing_payload(&reference, &s.descriptor.digest);
            let sig = signer.sign(&payload)?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(sig);
            store.put_blob(&payload)?;
            let tag = legacy_tag(&s.descriptor.digest, "sig");
            let manifest =
                put_signature_manifest(store, &tag, vec![signature_layer(&payload, &b64)])?;
            Ok(LegacySigned {
                subject: s.clone(),
                tag,
                manifest,
            })
        })
        .collect()
}

/// The `summary.json` `attestations[]` entry for the legacy signatures: no referrers, a
/// `tags[]` list instead.
pub fn summary_entry(signed: &[LegacySigned]) -> serde_json::Value {
    serde_json::json!({
        "predicate_type": crate::formats::cosign_legacy::SIMPLE_SIGNING_MEDIA_TYPE,
        "role": "legacy-image-signature",
        "signed": true,
        "referrers": [],
        "tags": signed.iter().map(|x| serde_json::json!({
            "subject": x.subject.descriptor.digest,
            "subject_name": x.subject.name,
            "tag": x.tag,
            "manifest_digest": x.manifest.digest,
        })).collect::<Vec<_>>(),
    })
}

/// Stores the config and manifest over `layers` (whose blobs are stored already) under `tag`.
fn put_signature_manifest(
    store: &Store,
    tag: &str,
    layers: Vec<GcrDescriptor>,
) -> Result<Descriptor> {
    let (manifest, config) = signature_manifest(layers);
    store.put_blob(&config)?;
    store.put_manifest(
        &manifest,
        crate::formats::cosign_legacy::MANIFEST_MEDIA_TYPE,
        Some(tag),
    )
}

/// Puts the legacy-tag manifest `incoming` (its layers stored in `dst` already) under `tag`
/// in `dst`. When `dst` has the tag already, the result holds its layers and then every
/// incoming layer it lacks (cosign's append); unchanged when it lacks none. Returns whether
/// anything was written.
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
    put_signature_manifest(dst, tag, merged)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_reference_drops_tag_and_digest() {
        assert_eq!(
            docker_reference("127.0.0.1:5000/a/b:v1"),
            "127.0.0.1:5000/a/b"
        );
        assert_eq!(
            docker_reference("127.0.0.1:5000/a/b@sha256:00"),
            "127.0.0.1:5000/a/b"
        );
        assert_eq!(docker_reference("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b");
        assert_eq!(docker_reference("hello-service"), "hello-service");
    }
}
