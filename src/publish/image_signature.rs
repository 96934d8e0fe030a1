//! The image signature: each image digest (the index and every platform manifest) signed the
//! way cosign 3 signs an image ([`crate::formats::cosign`]), and attached to that digest as a
//! referrer, so that `cosign verify` and admission policies that check image signatures
//! accept what `build` publishes.

use super::{BundleInfo, ImageSubject, Role, attach_bundle};
use crate::error::Result;
use crate::formats::cosign::{SIGN_PREDICATE_TYPE, sign_statement};
use crate::formats::oci::Descriptor;
use crate::oci::store::Store;
use crate::sign::{Signer, sign_statement as sign};
use crate::util::digest::Digest;

/// One signed digest: the subject, its referrer manifest and the bundle's digest.
#[derive(Debug, Clone)]
pub struct SignedImage {
    /// The index or platform manifest signed.
    pub subject: ImageSubject,
    /// The referrer manifest that carries the signature.
    pub referrer: Descriptor,
    /// The digest of the bundle.
    pub bundle_digest: Digest,
}

/// Signs every subject on its own (one statement per digest, as `cosign sign` does) and
/// attaches each signature to its subject in `store`, created at `created` (RFC 3339).
pub fn sign_image(
    store: &Store,
    subjects: &[ImageSubject],
    signer: &dyn Signer,
    created: &str,
) -> Result<Vec<SignedImage>> {
    subjects
        .iter()
        .map(|s| {
            let payload = sign_statement(&s.descriptor.digest).to_payload()?;
            let bundle = sign(&payload, signer)?;
            let info = BundleInfo {
                bundle_json: &bundle.bytes,
                predicate_type: SIGN_PREDICATE_TYPE,
                role: Role::ImageSignature,
                created,
            };
            let referrer = attach_bundle(store, &s.descriptor, &s.name, &info)?;
            Ok(SignedImage {
                subject: s.clone(),
                referrer,
                bundle_digest: bundle.digest,
            })
        })
        .collect()
}
