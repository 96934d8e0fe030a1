//! Stage 5, publish: signed bundles become OCI 1.1 referrers of the image, in a layout or a
//! registry, and images travel between the two with all their referrers.
//!
//! A referrer manifest (docs/referrers.md, the layout cosign 2.5 writes and finds with
//! `--new-bundle-format`):
//!
//! ```json
//! {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
//!  "artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json",
//!  "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:4413…","size":2},
//!  "layers":[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","digest":…,"size":…}],
//!  "subject":{"mediaType":…,"digest":…,"size":…},
//!  "annotations":{"dev.cargo-provenance.role":…,"dev.cargo-provenance.subject.name":…,
//!    "dev.sigstore.bundle.content":"dsse-envelope","dev.sigstore.bundle.predicateType":…,
//!    "org.opencontainers.image.created":…}}
//! ```
//!
//! Each statement is attached to the image index and to every platform manifest, because
//! consumers differ in which digest they resolve. Adding a referrer never changes the image.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::formats::index::platform_manifests;
use crate::formats::oci::{
    ANNOTATION_CREATED, Descriptor, EMPTY_JSON, ImageIndex, ImageManifest, MEDIA_TYPE_EMPTY,
    MEDIA_TYPE_MANIFEST,
};
use crate::oci::store::{Store, is_index};

pub use crate::oci::copy;
pub mod discover;
pub mod image_signature;
pub mod legacy_signature;

/// Media type (and artifact type) of a Sigstore bundle v0.3.
pub const MEDIA_TYPE_BUNDLE: &str = crate::formats::bundle::MEDIA_TYPE_V03;
pub use crate::formats::annotations::{
    BUNDLE_CONTENT as ANNOTATION_BUNDLE_CONTENT,
    DOCKER_REFERENCE_TYPE as ANNOTATION_DOCKER_REFERENCE_TYPE,
    PREDICATE_TYPE as ANNOTATION_PREDICATE_TYPE, ROLE as ANNOTATION_ROLE, Role,
    SUBJECT_NAME as ANNOTATION_SUBJECT_NAME,
};

/// What goes into one referrer besides the bundle.
#[derive(Debug, Clone)]
pub struct BundleInfo<'a> {
    /// Sigstore bundle v0.3 JSON bytes (a DSSE envelope of an in-toto statement).
    pub bundle_json: &'a [u8],
    /// The statement's predicate type.
    pub predicate_type: &'a str,
    /// Our role for it.
    pub role: Role,
    /// `org.opencontainers.image.created` (RFC 3339, from SOURCE_DATE_EPOCH for reproducible
    /// output).
    pub created: &'a str,
}

/// The referrer manifest for `bundle` about `subject`: its exact bytes.
pub fn referrer_manifest(subject: &Descriptor, subject_name: &str, info: &BundleInfo) -> Vec<u8> {
    let config = Descriptor::of(MEDIA_TYPE_EMPTY, EMPTY_JSON);
    // Inline as well (up to `EMBED_MAX`): a verifier that read the manifest has the bundle.
    let layer = Descriptor::of(MEDIA_TYPE_BUNDLE, info.bundle_json).with_data(info.bundle_json);
    let subject = subject.bare();
    let mut annotations = BTreeMap::new();
    annotations.insert(ANNOTATION_CREATED.to_owned(), info.created.to_owned());
    annotations.insert(
        ANNOTATION_BUNDLE_CONTENT.to_owned(),
        "dsse-envelope".to_owned(),
    );
    annotations.insert(
        ANNOTATION_PREDICATE_TYPE.to_owned(),
        info.predicate_type.to_owned(),
    );
    annotations.insert(ANNOTATION_ROLE.to_owned(), info.role.as_str().to_owned());
    annotations.insert(ANNOTATION_SUBJECT_NAME.to_owned(), subject_name.to_owned());
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.to_owned()),
        artifact_type: Some(MEDIA_TYPE_BUNDLE.to_owned()),
        config,
        layers: vec![layer],
        subject: Some(subject),
        annotations,
    };
    serde_json::to_vec(&manifest).expect("manifests serialise")
}

/// Attaches one signed bundle to `subject` in `store`: stores the empty config and the
/// bundle blob, then the referrer manifest, recorded for the subject. Returns the referrer
/// manifest's descriptor (with artifactType and annotations). Re-running is harmless.
pub fn attach_bundle(
    store: &Store,
    subject: &Descriptor,
    subject_name: &str,
    info: &BundleInfo,
) -> Result<Descriptor> {
    check_bundle(info)?;
    store.put_blob(EMPTY_JSON)?;
    store.put_blob(info.bundle_json)?;
    let bytes = referrer_manifest(subject, subject_name, info);
    store.attach(&subject.digest, &bytes)
}

fn check_bundle(info: &BundleInfo) -> Result<()> {
    let v: serde_json::Value = serde_json::from_slice(info.bundle_json)
        .map_err(|e| Error::msg(format!("the bundle to attach is not JSON: {e}")))?;
    if v.get("dsseEnvelope").is_none() {
        return Err(Error::msg(
            "the bundle to attach holds no DSSE envelope (dsseEnvelope); only signed in-toto \
             statements are attached as referrers",
        ));
    }
    if info.predicate_type.is_empty() {
        return Err(Error::msg(
            "the bundle to attach has an empty predicate type",
        ));
    }
    Ok(())
}

/// One subject of an image: a descriptor and the name recorded for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSubject {
    /// The index or platform manifest.
    pub descriptor: Descriptor,
    /// `NAME` for the index, `NAME [os/arch[/variant]]` for a platform manifest.
    pub name: String,
}

/// The subjects of an image: the index itself and each platform manifest it lists (BuildKit
/// attestation manifests and `unknown/unknown` entries left out). A single-manifest image
/// has one subject.
pub fn image_subjects(store: &Store, image: &Descriptor, name: &str) -> Result<Vec<ImageSubject>> {
    let mut out = vec![ImageSubject {
        descriptor: image.bare(),
        name: name.to_owned(),
    }];
    if !is_index(&image.media_type) {
        return Ok(out);
    }
    let (bytes, _) = store.get_manifest(&image.digest)?;
    let index: ImageIndex = serde_json::from_slice(&bytes)
        .map_err(|e| Error::msg(format!("image index {} is not valid: {e}", image.digest)))?;
    for m in platform_manifests(&index) {
        let platform = m.platform.as_ref().map(|p| p.to_string());
        out.push(ImageSubject {
            name: match &platform {
                Some(p) => format!("{name} [{p}]"),
                None => name.to_owned(),
            },
            descriptor: m.bare(),
        });
    }
    Ok(out)
}

/// The platform manifest of `image` (an index) for `platform` (`os/arch[/variant]`).
pub fn select_platform(store: &Store, image: &Descriptor, platform: &str) -> Result<Descriptor> {
    if !is_index(&image.media_type) {
        return Err(Error::msg(format!(
            "--platform {platform}: {} is a single manifest, not an index",
            image.digest
        )));
    }
    let (bytes, _) = store.get_manifest(&image.digest)?;
    let index: ImageIndex = serde_json::from_slice(&bytes)
        .map_err(|e| Error::msg(format!("image index {} is not valid: {e}", image.digest)))?;
    let found: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|m| {
            m.platform
                .as_ref()
                .is_some_and(|p| p.to_string() == platform)
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(one.bare()),
        _ => {
            let have: Vec<String> = index
                .manifests
                .iter()
                .filter_map(|m| m.platform.as_ref().map(|p| p.to_string()))
                .collect();
            Err(Error::msg(format!(
                "no single manifest for platform {platform} in index {} (it has: {})",
                image.digest,
                have.join(", ")
            )))
        }
    }
}

/// Attaches one bundle to the image index **and** every platform manifest it names. Returns
/// the referrer descriptors, index first.
pub fn attach_to_image(
    store: &Store,
    image: &Descriptor,
    image_name: &str,
    info: &BundleInfo,
) -> Result<Vec<Descriptor>> {
    image_subjects(store, image, image_name)?
        .iter()
        .map(|s| attach_bundle(store, &s.descriptor, &s.name, info))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::oci::MEDIA_TYPE_INDEX;
    use crate::util::digest::Digest;

    #[test]
    fn referrer_manifest_has_the_spec_shape() {
        let subject = Descriptor::of(MEDIA_TYPE_INDEX, b"index");
        let bundle =
            br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{}}"#;
        let info = BundleInfo {
            bundle_json: bundle,
            predicate_type: "https://slsa.dev/provenance/v1",
            role: Role::ImageAttestation,
            created: "2024-01-02T03:04:05Z",
        };
        let bytes = referrer_manifest(&subject, "img", &info);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["artifactType"], MEDIA_TYPE_BUNDLE);
        assert_eq!(v["config"]["mediaType"], MEDIA_TYPE_EMPTY);
        assert!(v["config"].get("data").is_none());
        assert_eq!(v["layers"][0]["mediaType"], MEDIA_TYPE_BUNDLE);
        assert_eq!(v["layers"][0]["digest"], Digest::of(bundle).to_string());
        let layer: Descriptor = serde_json::from_value(v["layers"][0].clone()).unwrap();
        assert_eq!(layer.embedded(u64::MAX).as_deref(), Some(&bundle[..]));
        assert_eq!(v["subject"]["digest"], subject.digest.to_string());
        assert_eq!(v["annotations"][ANNOTATION_BUNDLE_CONTENT], "dsse-envelope");
        assert_eq!(v["annotations"][ANNOTATION_ROLE], "image-attestation");
        assert_eq!(v["annotations"][ANNOTATION_SUBJECT_NAME], "img");
        assert_eq!(
            v["annotations"][ANNOTATION_PREDICATE_TYPE],
            "https://slsa.dev/provenance/v1"
        );
        assert_eq!(v["annotations"][ANNOTATION_CREATED], "2024-01-02T03:04:05Z");
        // Deterministic bytes.
        assert_eq!(bytes, referrer_manifest(&subject, "img", &info));
    }

    #[test]
    fn bundles_without_an_envelope_are_refused() {
        let info = BundleInfo {
            bundle_json: b"{}",
            predicate_type: "x",
            role: Role::Vex,
            created: "2024-01-02T03:04:05Z",
        };
        let e = check_bundle(&info).unwrap_err().to_string();
        assert!(e.contains("dsseEnvelope"), "{e}");
    }
}
