//! cosign 2.x's image signature (the legacy form, `cosign sign` before 3.0): a simple-signing
//! payload naming the image digest, signed with ECDSA over its SHA-256, stored as the only
//! layer of an image manifest tagged `sha256-<hex>.sig` in the image's repository.
//!
//! The bytes are what cosign 2.5 writes (checked against `cosign sign --key ...
//! --tlog-upload=false` on the local registry): the payload without a trailing newline, the
//! signature in the layer's `dev.cosignproject.cosign/signature` annotation (base64 DER), and
//! go-containerregistry's config for an image made of these layers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::util::digest::Digest;

/// Media type of the simple-signing payload layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 DER signature over the payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// `critical.type` of a cosign image signature.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";
/// Media type of the signature manifest (OCI, as cosign 2.5 writes it).
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of its config.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// The legacy tag cosign uses for `suffix` (`sig`, `att`) of `digest`: `sha256-<hex>.<suffix>`.
pub fn legacy_tag(digest: &Digest, suffix: &str) -> String {
    format!("sha256-{}.{suffix}", digest.hex())
}

/// True for cosign's legacy companion tags (`sha256-<64 hex>.sig|.att|.sbom`): they name
/// signatures about an image, never an image.
pub fn is_legacy_tag(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("sha256-") else {
        return false;
    };
    let Some((hex, suffix)) = rest.split_once('.') else {
        return false;
    };
    hex.len() == 64
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && matches!(suffix, "sig" | "att" | "sbom")
}

/// The simple-signing payload (`critical` + `optional`), field order as cosign's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimpleSigning {
    /// What the signature is about.
    pub critical: Critical,
    /// Free-form claims; cosign writes `null`.
    pub optional: Option<BTreeMap<String, serde_json::Value>>,
}

/// `critical` of a simple-signing payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Critical {
    /// The repository the image was signed in.
    pub identity: Identity,
    /// The signed digest.
    pub image: Image,
    /// Always [`SIMPLE_SIGNING_TYPE`].
    #[serde(rename = "type")]
    pub type_: String,
}

/// `critical.identity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The repository, without tag or digest (`registry/repo`).
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

/// `critical.image`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// `sha256:<hex>` of the signed manifest or index.
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

/// The payload bytes cosign 2.x signs for `digest` in `docker_reference`.
pub fn simple_signing_payload(docker_reference: &str, digest: &Digest) -> Vec<u8> {
    let p = SimpleSigning {
        critical: Critical {
            identity: Identity {
                docker_reference: docker_reference.to_owned(),
            },
            image: Image {
                docker_manifest_digest: digest.to_string(),
            },
            type_: SIMPLE_SIGNING_TYPE.to_owned(),
        },
        optional: None,
    };
    serde_json::to_vec(&p).expect("the payload serialises")
}

/// A descriptor with go-containerregistry's field order (mediaType, size, digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GcrDescriptor {
    /// Media type.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// Digest.
    pub digest: Digest,
    /// Annotations (the signature, for a signature layer).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The signature manifest behind a `.sig` tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureManifest {
    /// 2.
    pub schema_version: u32,
    /// [`MANIFEST_MEDIA_TYPE`].
    pub media_type: String,
    /// The config ([`signature_config`]).
    pub config: GcrDescriptor,
    /// One layer per signature (cosign appends when an image is signed again).
    pub layers: Vec<GcrDescriptor>,
}

/// go-containerregistry's config for an image of `layers` (uncompressed, so the diff ids
/// are the layer digests), as cosign writes it.
pub fn signature_config(layers: &[GcrDescriptor]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| l.digest.to_string()).collect();
    let history: Vec<serde_json::Value> = layers
        .iter()
        .map(|_| serde_json::json!({"created": "0001-01-01T00:00:00Z"}))
        .collect();
    let config = serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": history,
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    });
    serde_json::to_vec(&config).expect("the config serialises")
}

/// The signature manifest over `layers` and its config bytes.
pub fn signature_manifest(layers: Vec<GcrDescriptor>) -> (Vec<u8>, Vec<u8>) {
    let config = signature_config(&layers);
    let m = SignatureManifest {
        schema_version: 2,
        media_type: MANIFEST_MEDIA_TYPE.to_owned(),
        config: GcrDescriptor {
            media_type: CONFIG_MEDIA_TYPE.to_owned(),
            size: config.len() as u64,
            digest: Digest::of(&config),
            annotations: BTreeMap::new(),
        },
        layers,
    };
    (
        serde_json::to_vec(&m).expect("the manifest serialises"),
        config,
    )
}

/// The layer for one signature: the payload's descriptor with the signature annotation.
pub fn signature_layer(payload: &[u8], signature_b64: &str) -> GcrDescriptor {
    GcrDescriptor {
        media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_owned(),
        size: payload.len() as u64,
        digest: Digest::of(payload),
        annotations: [(SIGNATURE_ANNOTATION.to_owned(), signature_b64.to_owned())].into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes cosign 2.5 wrote for `127.0.0.1:5000/sig17-probe@sha256:9c0a…`.
    #[test]
    fn payload_and_config_are_cosigns_bytes() {
        let d: Digest = "sha256:9c0af57d902de551c13dc8ca0c458bce4f5780c9dcae2dde8fb62e66ff05bf15"
            .parse()
            .unwrap();
        let payload = simple_signing_payload("127.0.0.1:5000/sig17-probe", &d);
        assert_eq!(
            std::str::from_utf8(&payload).unwrap(),
            r#"{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/sig17-probe"},"image":{"docker-manifest-digest":"sha256:9c0af57d902de551c13dc8ca0c458bce4f5780c9dcae2dde8fb62e66ff05bf15"},"type":"cosign container image signature"},"optional":null}"#
        );
        assert_eq!(
            Digest::of(&payload).to_string(),
            "sha256:eef6da521c9268c724f55c4be0a14626422faff8f2aac5c76fcf3046ebc0b018"
        );
        let (manifest, config) = signature_manifest(vec![signature_layer(&payload, "c2ln")]);
        assert_eq!(
            Digest::of(&config).to_string(),
            "sha256:3121a7535783653f5275c3f98966471f2b6de036be26e12e791b2687daad72e2"
        );
        let text = String::from_utf8(manifest).unwrap();
        assert!(text.starts_with(
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":233,"digest":"sha256:3121a7535783653f5275c3f98966471f2b6de036be26e12e791b2687daad72e2"},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":242,"#
        ), "{text}");
    }

    #[test]
    fn legacy_tags_are_recognised() {
        let d = Digest::of(b"x");
        assert!(is_legacy_tag(&legacy_tag(&d, "sig")));
        assert!(is_legacy_tag(&legacy_tag(&d, "att")));
        assert!(!is_legacy_tag("latest"));
        assert!(!is_legacy_tag(&format!("sha256-{}.exe", d.hex())));
        assert!(!is_legacy_tag("sha256-abc.sig"));
    }
}
