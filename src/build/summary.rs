//! `summary.json`: what was built, with digests (docs/image.md, docs/build.md). The attest stage appends
//! one entry per attestation to `attestations`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::util::digest::Digest;

use super::{BaseImageInfo, BuilderInfo, BuiltImage, DockerfileInfo};

/// The document written to `<output-dir>/summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// `--image` as given, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The tag of the image in the layout.
    pub tag: String,
    /// The OCI layout, relative to the output directory (`oci`).
    pub layout: String,
    /// The image index's digest.
    pub index_digest: Digest,
    /// Per platform: its manifest digest and binaries.
    pub platforms: Vec<SummaryPlatform>,
    /// The builder: `kind` (native, buildx, buildctl), `id`, and why `auto` chose it.
    pub builder: BuilderInfo,
    /// SOURCE_DATE_EPOCH.
    pub source_date_epoch: i64,
    /// Where SOURCE_DATE_EPOCH came from.
    pub source_date_epoch_source: String,
    /// The base image, unless scratch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_image: Option<BaseImageInfo>,
    /// The Dockerfile (BuildKit builds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<DockerfileInfo>,
    /// BuildKit's own attestations, taken out of its index (signed and attached later).
    #[serde(default)]
    pub buildkit_attestations: Vec<SummaryBuildKitStatement>,
    /// Attestations: predicate type, file, referrer manifest digest (filled by the
    /// attest/sign/publish stages).
    #[serde(default)]
    pub attestations: Vec<Attestation>,
}

/// One platform in the summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SummaryPlatform {
    /// `linux/amd64/v3`.
    pub platform: String,
    /// The platform manifest's digest.
    pub manifest_digest: Digest,
    /// The Rust target triple.
    pub rust_target: String,
    /// The binaries.
    pub binaries: Vec<SummaryBinary>,
}

/// One binary in the summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SummaryBinary {
    /// Binary name.
    pub name: String,
    /// Package.
    pub package: String,
    /// Path in the image.
    pub path: String,
    /// sha256.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// The copy in the output directory (`bin/<platform>/<name>`).
    pub file: String,
}

/// One entry of `attestations[]` (docs/build.md, "`summary.json` `attestations[]`"). Written
/// as its variant's fields (the `role` field names the variant when read back).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Attestation {
    /// Role `image-attestation`: our provenance, SBOM or scan statement.
    Image(ImageAttestation),
    /// Role `image-signature`: cosign's image signature on every digest of the image.
    ImageSignature(ImageSignature),
    /// Role `legacy-image-signature`: cosign 2.x's `.sig` tags.
    LegacyImageSignature(LegacyImageSignature),
    /// Role `buildkit-attestation`: one of BuildKit's own statements.
    BuildKit(BuildKitAttestation),
}

/// The `role` of a summary entry.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SummaryRole {
    /// Our statements.
    ImageAttestation,
    /// The image signature.
    ImageSignature,
    /// The legacy `.sig` tag signature.
    LegacyImageSignature,
    /// BuildKit's statements.
    BuildkitAttestation,
}

impl SummaryRole {
    /// The role as written (`image-attestation`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SummaryRole::ImageAttestation => "image-attestation",
            SummaryRole::ImageSignature => "image-signature",
            SummaryRole::LegacyImageSignature => "legacy-image-signature",
            SummaryRole::BuildkitAttestation => "buildkit-attestation",
        }
    }
}

/// Our provenance, SBOM or scan statement in the summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageAttestation {
    /// The statement's predicate type.
    pub predicate_type: String,
    /// Always [`SummaryRole::ImageAttestation`].
    pub role: SummaryRole,
    /// Whether a bundle was written and attached.
    pub signed: bool,
    /// The statement file, relative to the output directory (`null` for the SBOM statement).
    pub statement_file: Option<String>,
    /// sha256 of the statement bytes (the DSSE payload).
    pub statement_digest: Digest,
    /// `sbom.cdx.json` for the SBOM statement, else `null`.
    pub predicate_file: Option<String>,
    /// The bundle file, relative to the output directory, when signed.
    pub bundle_file: Option<String>,
    /// The bundle's sha256 (the referrer's layer), when signed.
    pub bundle_digest: Option<Digest>,
    /// The referrer manifests, one per subject.
    pub referrers: Vec<Referrer>,
}

/// One of BuildKit's statements in the summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BuildKitAttestation {
    /// The statement's predicate type.
    pub predicate_type: String,
    /// Always [`SummaryRole::BuildkitAttestation`].
    pub role: SummaryRole,
    /// Whether a bundle was written and attached.
    pub signed: bool,
    /// The statement file (`buildkit/<i>-<os>-<arch>.intoto.json`).
    pub statement_file: String,
    /// sha256 of the statement bytes.
    pub statement_digest: Digest,
    /// The bundle file, when signed.
    pub bundle_file: Option<String>,
    /// The bundle's sha256, when signed.
    pub bundle_digest: Option<Digest>,
    /// The referrer manifest (on its platform manifest), when signed.
    pub referrers: Vec<Referrer>,
}

/// The image signature in the summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageSignature {
    /// cosign's sign predicate type.
    pub predicate_type: String,
    /// Always [`SummaryRole::ImageSignature`].
    pub role: SummaryRole,
    /// Always true.
    pub signed: bool,
    /// Each signature bundle's sha256, in the order of `referrers`.
    pub bundle_digests: Vec<Digest>,
    /// One referrer per image digest.
    pub referrers: Vec<Referrer>,
}

/// The legacy `.sig` tag signature in the summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LegacyImageSignature {
    /// cosign's simple-signing media type.
    pub predicate_type: String,
    /// Always [`SummaryRole::LegacyImageSignature`].
    pub role: SummaryRole,
    /// Always true.
    pub signed: bool,
    /// Always empty: the signatures are tags, not referrers.
    pub referrers: Vec<Referrer>,
    /// One `.sig` tag per image digest.
    pub tags: Vec<LegacyTag>,
}

/// A `sha256-<hex>.sig` tag.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LegacyTag {
    /// The signed digest.
    pub subject: Digest,
    /// `NAME` or `NAME [os/arch]`.
    pub subject_name: String,
    /// The tag.
    pub tag: String,
    /// The signature manifest.
    pub manifest_digest: Digest,
}

/// A referrer manifest attached to a subject.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Referrer {
    /// The index or platform manifest digest.
    pub subject: Digest,
    /// `NAME` or `NAME [os/arch]`.
    pub subject_name: String,
    /// The referrer manifest's digest.
    pub manifest_digest: Digest,
}

impl Attestation {
    /// The statement's predicate type.
    pub fn predicate_type(&self) -> &str {
        match self {
            Attestation::Image(a) => &a.predicate_type,
            Attestation::ImageSignature(a) => &a.predicate_type,
            Attestation::LegacyImageSignature(a) => &a.predicate_type,
            Attestation::BuildKit(a) => &a.predicate_type,
        }
    }

    /// Its role.
    pub fn role(&self) -> SummaryRole {
        match self {
            Attestation::Image(a) => a.role,
            Attestation::ImageSignature(a) => a.role,
            Attestation::LegacyImageSignature(a) => a.role,
            Attestation::BuildKit(a) => a.role,
        }
    }

    /// Whether it was signed.
    pub fn signed(&self) -> bool {
        match self {
            Attestation::Image(a) => a.signed,
            Attestation::ImageSignature(a) => a.signed,
            Attestation::LegacyImageSignature(a) => a.signed,
            Attestation::BuildKit(a) => a.signed,
        }
    }

    /// Its referrer manifests.
    pub fn referrers(&self) -> &[Referrer] {
        match self {
            Attestation::Image(a) => &a.referrers,
            Attestation::ImageSignature(a) => &a.referrers,
            Attestation::LegacyImageSignature(a) => &a.referrers,
            Attestation::BuildKit(a) => &a.referrers,
        }
    }
}

impl<'de> Deserialize<'de> for Attestation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let v = serde_json::Value::deserialize(d)?;
        let role = SummaryRole::deserialize(v.get("role").cloned().unwrap_or_default())
            .map_err(D::Error::custom)?;
        match role {
            SummaryRole::ImageAttestation => serde_json::from_value(v).map(Attestation::Image),
            SummaryRole::ImageSignature => {
                serde_json::from_value(v).map(Attestation::ImageSignature)
            }
            SummaryRole::LegacyImageSignature => {
                serde_json::from_value(v).map(Attestation::LegacyImageSignature)
            }
            SummaryRole::BuildkitAttestation => {
                serde_json::from_value(v).map(Attestation::BuildKit)
            }
        }
        .map_err(D::Error::custom)
    }
}

/// A BuildKit statement in the summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SummaryBuildKitStatement {
    /// The platform manifest it is about.
    pub subject: Digest,
    /// Its predicate type.
    pub predicate_type: String,
    /// sha256 of the statement's bytes.
    pub digest: Digest,
}

impl Summary {
    /// The summary of a build.
    pub fn from_output(o: &BuiltImage) -> Summary {
        Summary {
            image: o.image_name.clone(),
            tag: o.tag.clone(),
            layout: "oci".to_owned(),
            index_digest: o.index.digest,
            platforms: o
                .platforms
                .iter()
                .map(|p| SummaryPlatform {
                    platform: p.platform.to_string(),
                    manifest_digest: p.manifest.digest,
                    rust_target: p.rust_target.clone(),
                    binaries: p
                        .binaries
                        .iter()
                        .map(|b| SummaryBinary {
                            name: b.name.clone(),
                            package: b.package.clone(),
                            path: b.path_in_image.clone(),
                            digest: b.digest,
                            size: b.size,
                            file: format!("bin/{}/{}", p.platform, b.name),
                        })
                        .collect(),
                })
                .collect(),
            builder: o.builder.clone(),
            source_date_epoch: o.source_date_epoch,
            source_date_epoch_source: o.source_date_epoch_source.clone(),
            base_image: o.base_image.clone(),
            dockerfile: o.dockerfile.clone(),
            buildkit_attestations: o
                .buildkit_statements
                .iter()
                .map(|s| SummaryBuildKitStatement {
                    subject: s.subject,
                    predicate_type: s.predicate_type.clone(),
                    digest: Digest::of(&s.bytes),
                })
                .collect(),
            attestations: Vec::new(),
        }
    }

    /// Writes it atomically as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::util::fs::write_json_atomic(path, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .unwrap()
    }

    /// The typed entries write the bytes the `json!` entries wrote before them (same keys,
    /// same order, `null` where absent), and read back as the same variant.
    #[test]
    fn entries_keep_their_json_bytes_and_read_back() {
        let r = Referrer {
            subject: d('a'),
            subject_name: "app".into(),
            manifest_digest: d('b'),
        };
        let old_referrer =
            json!({"subject": d('a'), "subject_name": "app", "manifest_digest": d('b')});
        let image = Attestation::Image(ImageAttestation {
            predicate_type: "https://cyclonedx.org/bom".into(),
            role: SummaryRole::ImageAttestation,
            signed: true,
            statement_file: None,
            statement_digest: d('c'),
            predicate_file: Some("sbom.cdx.json".into()),
            bundle_file: Some("sbom.sigstore.json".into()),
            bundle_digest: Some(d('e')),
            referrers: vec![r.clone()],
        });
        let old_image = json!({"predicate_type": "https://cyclonedx.org/bom",
            "role": "image-attestation", "signed": true, "statement_file": null,
            "statement_digest": d('c'), "predicate_file": "sbom.cdx.json",
            "bundle_file": "sbom.sigstore.json", "bundle_digest": d('e'),
            "referrers": [old_referrer.clone()]});
        let buildkit = Attestation::BuildKit(BuildKitAttestation {
            predicate_type: "https://spdx.dev/Document".into(),
            role: SummaryRole::BuildkitAttestation,
            signed: false,
            statement_file: "buildkit/0-linux-amd64.intoto.json".into(),
            statement_digest: d('c'),
            bundle_file: None,
            bundle_digest: None,
            referrers: vec![],
        });
        let old_buildkit = json!({"predicate_type": "https://spdx.dev/Document",
            "role": "buildkit-attestation", "signed": false,
            "statement_file": "buildkit/0-linux-amd64.intoto.json", "statement_digest": d('c'),
            "bundle_file": null, "bundle_digest": null, "referrers": []});
        let signature = Attestation::ImageSignature(ImageSignature {
            predicate_type: "https://sigstore.dev/cosign/sign/v1".into(),
            role: SummaryRole::ImageSignature,
            signed: true,
            bundle_digests: vec![d('f')],
            referrers: vec![r],
        });
        let old_signature = json!({"predicate_type": "https://sigstore.dev/cosign/sign/v1",
            "role": "image-signature", "signed": true, "bundle_digests": [d('f')],
            "referrers": [old_referrer]});
        let legacy = Attestation::LegacyImageSignature(LegacyImageSignature {
            predicate_type: "application/vnd.dev.cosign.simplesigning.v1+json".into(),
            role: SummaryRole::LegacyImageSignature,
            signed: true,
            referrers: vec![],
            tags: vec![LegacyTag {
                subject: d('a'),
                subject_name: "app".into(),
                tag: "sha256-aa.sig".into(),
                manifest_digest: d('b'),
            }],
        });
        let old_legacy = json!({"predicate_type": "application/vnd.dev.cosign.simplesigning.v1+json",
            "role": "legacy-image-signature", "signed": true, "referrers": [],
            "tags": [{"subject": d('a'), "subject_name": "app", "tag": "sha256-aa.sig",
                "manifest_digest": d('b')}]});
        for (typed, old) in [
            (image, old_image),
            (buildkit, old_buildkit),
            (signature, old_signature),
            (legacy, old_legacy),
        ] {
            let bytes = serde_json::to_vec_pretty(&typed).unwrap();
            assert_eq!(bytes, serde_json::to_vec_pretty(&old).unwrap());
            let back: Attestation = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(back, typed);
        }
    }

    #[test]
    fn an_entry_without_a_known_role_is_an_error() {
        let e = serde_json::from_value::<Attestation>(json!({"role": "other"})).unwrap_err();
        assert!(e.to_string().contains("other"), "{e}");
    }
}
