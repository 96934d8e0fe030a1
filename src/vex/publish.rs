//! Signing a VEX document and attaching it beside the image.
//!
//! The document is the predicate of an in-toto Statement v1 (predicateType
//! `https://openvex.dev/ns/v0.2.0`) whose subjects are the image's digests: the index and
//! each platform manifest, as for the provenance and SBOM. The statement is signed into a
//! Sigstore bundle v0.3 ([`crate::sign`]) and attached with role `vex` to every one of those
//! digests ([`crate::publish::attach_to_image`]): the image, its tag and every earlier
//! referrer stay as they were.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::formats::intoto::{ResourceDescriptor, Statement};
use crate::formats::oci::{Descriptor, ImageIndex, Platform};
use crate::formats::openvex::{Document, PREDICATE_TYPE};
use crate::keys::PublicKey;
use crate::oci::reference::Reference;
use crate::oci::store::{Store, is_index};
use crate::publish::{self, BundleInfo, Role};
use crate::sign::{SignedBundle, Signer, sign_statement};
use crate::util::digest::Digest;

use super::sbom_check::{check_products, signed_sbom_purls};
use super::{ImageProduct, VexInput, document};

/// What `vex` made and where it went.
#[derive(Debug, Clone)]
pub struct VexOutcome {
    /// The image (index or manifest) the reference resolved to.
    pub image: Descriptor,
    /// The OpenVEX document.
    pub document: Document,
    /// The signed statement.
    pub bundle: SignedBundle,
    /// The referrer manifests, one per subject (the image first).
    pub referrers: Vec<Descriptor>,
    /// Number of SBOM components the `--product` purls were checked against; `None` when no
    /// SBOM signed by the same key was found (nothing to check against).
    pub sbom_components: Option<usize>,
}

/// The name recorded for the image: `registry/repository` for a registry reference (the
/// statement is about digests, so no tag), the layout directory's name for a layout.
pub fn default_image_name(reference: &Reference) -> String {
    match reference {
        Reference::Registry(r) => format!("{}/{}", r.registry, r.repository),
        Reference::Layout(l) => l
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".to_owned()),
    }
}

/// The platform of every manifest an index lists, by digest.
fn platforms(store: &Store, image: &Descriptor) -> Result<BTreeMap<Digest, Platform>> {
    if !is_index(&image.media_type) {
        return Ok(BTreeMap::new());
    }
    let (bytes, _) = store.get_manifest(&image.digest)?;
    let index: ImageIndex = serde_json::from_slice(&bytes)
        .map_err(|e| Error::msg(format!("image index {} is not valid: {e}", image.digest)))?;
    Ok(index
        .manifests
        .into_iter()
        .filter_map(|m| m.platform.map(|p| (m.digest, p)))
        .collect())
}

/// Resolves `reference` in `store`, builds the VEX document about the image it names, signs
/// it with `signer` and attaches it to the image and each platform manifest. `created` is the
/// document's timestamp and the referrers' `org.opencontainers.image.created` (RFC 3339).
/// With `public_key` (the signer's), the `--product` purls are checked against the image's
/// SBOM signed by that key, when there is one.
pub fn publish_vex(
    store: &Store,
    reference: &Reference,
    image_name: &str,
    input: &VexInput,
    signer: &dyn Signer,
    public_key: Option<&PublicKey>,
    created: &str,
) -> Result<VexOutcome> {
    input.validate()?;
    let image = store.resolve(reference).map_err(|e| {
        e.context(format!(
            "{reference} does not resolve to an image (check the name, tag and that it was pushed)"
        ))
    })?;
    let sbom_components = match public_key {
        Some(key) => match signed_sbom_purls(store, &image.digest, key)? {
            Some(purls) => {
                check_products(&input.subcomponents, &purls)?;
                Some(purls.len())
            }
            None => None,
        },
        None => None,
    };
    let subjects = publish::image_subjects(store, &image, image_name)?;
    let platforms = platforms(store, &image)?;
    let products: Vec<ImageProduct> = subjects
        .iter()
        .map(|s| ImageProduct {
            repository: image_name.to_owned(),
            digest: s.descriptor.digest,
            platform: platforms.get(&s.descriptor.digest).cloned(),
        })
        .collect();
    let doc = document(input, &products, created)?;
    let statement = Statement::new(
        subjects
            .iter()
            .map(|s| ResourceDescriptor::named_sha256(s.name.clone(), &s.descriptor.digest))
            .collect(),
        PREDICATE_TYPE,
        &doc,
    );
    let bundle = sign_statement(&statement.to_payload()?, signer)?;
    let info = BundleInfo {
        bundle_json: &bundle.bytes,
        predicate_type: PREDICATE_TYPE,
        role: Role::Vex,
        created,
    };
    let referrers = publish::attach_to_image(store, &image, image_name, &info)?;
    Ok(VexOutcome {
        image,
        document: doc,
        bundle,
        referrers,
        sbom_components,
    })
}
