//! The image signature in cosign 2.x's legacy form (`build --legacy-signature-tag`): each
//! image digest (the index and every platform manifest) signed as a simple-signing payload
//! ([`crate::formats::cosign_legacy`]) and stored under the tag `sha256-<hex>.sig`, where
//! cosign 2.x `verify` (and verifiers built on its library) look for it.
//!
//! Pushing carries these tags along ([`crate::oci::copy`], [`crate::oci::legacy_tags`]); when the destination already
//! has the tag (another signer's signature), the layers are merged as `cosign sign` appends
//! them, so nobody's signature is dropped.

use base64::Engine as _;

use super::ImageSubject;
use crate::error::Result;
use crate::formats::cosign_legacy::{legacy_tag, signature_layer, simple_signing_payload};
use crate::formats::oci::Descriptor;
use crate::oci::legacy_tags::put_signature_manifest;
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
    crate::formats::reference::split_name(image_name)
        .name
        .to_owned()
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
