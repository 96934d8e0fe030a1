//! Collecting an image's attestations before they are verified: OCI referrers (a Sigstore
//! bundle layer each), cosign's legacy `.att`/`.sig` tags, and BuildKit's attestation
//! manifests inside the index. Nothing here decides what counts; [`super::image`] does.

use std::collections::BTreeSet;

use serde_json::Value;

use super::report::Report;
use super::signed::{b64, verify_der};
use super::source::Source;
use crate::error::Result;
use crate::formats::bundle::MEDIA_TYPES_READ;
use crate::formats::oci::{Descriptor, ImageManifest};
use crate::keys::PublicKey;
use crate::oci::limits::{ATTESTATION_LAYERS_MAX, REFERRERS_MAX};
use crate::util::digest::Digest;
use crate::verify::CheckId;

use crate::formats::annotations::{
    PREDICATE_TYPE as ANNOTATION_PREDICATE_TYPE, ROLE as ANNOTATION_ROLE,
};

/// cosign's legacy attestation layer media type.
const DSSE_LAYER: &str = "application/vnd.dsse.envelope.v1+json";
/// cosign's legacy signature layer media type and annotation.
const SIMPLESIGNING_LAYER: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const COSIGN_SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// One attestation found, before verification.
pub(super) struct Candidate {
    /// Referrer manifest digest, or `TAG#N` / `MANIFEST#N`.
    pub(super) id: String,
    /// `referrer`, `cosign-tag` or `buildkit`.
    pub(super) found_as: &'static str,
    /// Our role annotation, when present.
    pub(super) role: Option<String>,
    /// The predicate type its referrer or layer announces.
    pub(super) announced: Option<String>,
    /// What is to be verified.
    pub(super) evidence: Evidence,
}

/// The signed (or unsigned) evidence of a candidate.
pub(super) enum Evidence {
    /// A Sigstore bundle.
    Bundle(Vec<u8>),
    /// A bare DSSE envelope (cosign's `.att` tag).
    Envelope(Vec<u8>),
    /// BuildKit's in-index statement.
    Unsigned,
}

/// BuildKit's attestation manifest `m` inside the index: one unsigned candidate per layer.
pub(super) fn collect_buildkit(
    src: &Source,
    m: &Descriptor,
    out: &mut Vec<Candidate>,
    report: &mut Report,
) -> Result<()> {
    let id = format!("{}", m.digest);
    let manifest = match src.manifest(&m.digest)? {
        Ok(b) => b,
        Err(why) => {
            report.fail(
                CheckId::Image,
                Some(&id),
                format!("BuildKit attestation manifest: {why}"),
            );
            return Ok(());
        }
    };
    let Ok(manifest) = serde_json::from_slice::<ImageManifest>(&manifest) else {
        return Ok(());
    };
    if too_many_layers(&manifest, &id, report) {
        return Ok(());
    }
    for (i, layer) in manifest.layers.iter().enumerate() {
        // Unsigned: only its announced type is shown, so the layer is read only when its
        // annotation does not say it.
        let announced = match layer.annotations.get("in-toto.io/predicate-type") {
            Some(t) => Some(t.clone()),
            None => {
                let bytes = src
                    .attestation(&layer.digest, layer.size)?
                    .unwrap_or_default();
                serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|v| v["predicateType"].as_str().map(str::to_owned))
            }
        };
        out.push(Candidate {
            id: format!("{id}#{i}"),
            found_as: "buildkit",
            role: None,
            announced,
            evidence: Evidence::Unsigned,
        });
    }
    Ok(())
}

/// The OCI referrers of every subject holding a Sigstore bundle layer, each bundle once.
pub(super) fn collect_referrers(
    src: &Source,
    subjects: &[Digest],
    out: &mut Vec<Candidate>,
    report: &mut Report,
) -> Result<()> {
    let mut seen_layers = BTreeSet::new();
    let mut seen_manifests = BTreeSet::new();
    for subject in subjects {
        let listing = src.referrers(subject)?;
        for why in listing.skipped {
            report.ignore(CheckId::Referrer, Some(&subject.to_string()), why);
        }
        let listed = listing.entries;
        if listed.len() > REFERRERS_MAX {
            report.fail(
                CheckId::Referrer,
                Some(&subject.to_string()),
                format!(
                    "the registry lists {} referrers of {subject}; verify reads at most \
                     {REFERRERS_MAX} per subject, so it cannot check them all (our tools \
                     attach a handful per image: a listing this long is padding)",
                    listed.len()
                ),
            );
            continue;
        }
        for r in listed {
            if !seen_manifests.insert(r) {
                continue;
            }
            let id = r.to_string();
            // The manifest, not the listing, is authoritative: fallback indexes written by
            // other tools lose artifactType and annotations (cosign writes the config's).
            let manifest = match src.manifest(&r)? {
                Ok(b) => b,
                Err(why) => {
                    report.ignore(
                        CheckId::BlobDigest,
                        Some(&id),
                        format!("referrer manifest: {why}"),
                    );
                    continue;
                }
            };
            let Ok(m) = serde_json::from_slice::<ImageManifest>(&manifest) else {
                report.ignore(
                    CheckId::Referrer,
                    Some(&id),
                    "the referrer is not an image manifest",
                );
                continue;
            };
            let artifact_type = m
                .artifact_type
                .clone()
                .unwrap_or_else(|| m.config.media_type.clone());
            let layer = m.layers.first().cloned();
            let Some(layer) = layer.filter(|l| MEDIA_TYPES_READ.contains(&l.media_type.as_str()))
            else {
                report.skip(
                    CheckId::Referrer,
                    Some(&id),
                    format!(
                        "artifact type `{artifact_type}` holds no Sigstore bundle layer: not read"
                    ),
                );
                continue;
            };
            // The same bundle attached to the index and each platform manifest is verified
            // once; a copy announced differently (a decoy) is a candidate of its own, so it
            // cannot hide the genuine one.
            let announced = m.annotations.get(ANNOTATION_PREDICATE_TYPE).cloned();
            if !seen_layers.insert((layer.digest, announced.clone())) {
                continue;
            }
            let bytes = match src.attestation(&layer.digest, layer.size)? {
                Ok(b) => b,
                Err(why) => {
                    report.ignore(
                        CheckId::BlobDigest,
                        Some(&id),
                        format!("bundle layer: {why}"),
                    );
                    continue;
                }
            };
            out.push(Candidate {
                id,
                found_as: "referrer",
                role: m.annotations.get(ANNOTATION_ROLE).cloned(),
                announced,
                evidence: Evidence::Bundle(bytes),
            });
        }
    }
    Ok(())
}

/// cosign's legacy `sha256-HEX.att` (envelopes) and `.sig` (image signatures) tags.
pub(super) fn collect_cosign_tags(
    src: &Source,
    subjects: &[Digest],
    key: &PublicKey,
    out: &mut Vec<Candidate>,
    report: &mut Report,
) -> Result<()> {
    for subject in subjects {
        for suffix in ["att", "sig"] {
            let tag = format!("sha256-{}.{suffix}", subject.hex());
            let Some(d) = src.tag(&tag)? else { continue };
            let bytes = match src.manifest(&d)? {
                Ok(b) => b,
                Err(why) => {
                    report.ignore(CheckId::BlobDigest, Some(&tag), why);
                    continue;
                }
            };
            let Ok(m) = serde_json::from_slice::<ImageManifest>(&bytes) else {
                report.ignore(CheckId::Bundle, Some(&tag), "not an image manifest");
                continue;
            };
            if too_many_layers(&m, &tag, report) {
                continue;
            }
            for (i, layer) in m.layers.iter().enumerate() {
                let id = format!("{tag}#{i}");
                let bytes = match src.attestation(&layer.digest, layer.size)? {
                    Ok(b) => b,
                    Err(why) => {
                        report.ignore(CheckId::BlobDigest, Some(&id), why);
                        continue;
                    }
                };
                if suffix == "att" && layer.media_type == DSSE_LAYER {
                    out.push(Candidate {
                        id,
                        found_as: "cosign-tag",
                        role: None,
                        announced: layer.annotations.get("predicateType").cloned(),
                        evidence: Evidence::Envelope(bytes),
                    });
                } else if suffix == "sig" && layer.media_type == SIMPLESIGNING_LAYER {
                    check_simple_signing(report, &id, &bytes, layer, subject, key);
                }
            }
        }
    }
    Ok(())
}

/// Fails `referrer` for an attestation manifest with more layers than verify reads
/// ([`ATTESTATION_LAYERS_MAX`]); true when it did.
fn too_many_layers(m: &ImageManifest, id: &str, report: &mut Report) -> bool {
    if m.layers.len() <= ATTESTATION_LAYERS_MAX {
        return false;
    }
    report.fail(
        CheckId::Referrer,
        Some(id),
        format!(
            "the attestation manifest has {} layers; verify reads at most \
             {ATTESTATION_LAYERS_MAX}, so it cannot check them all",
            m.layers.len()
        ),
    );
    true
}

/// cosign's image signature (`.sig` tag): reported, not counted as an attestation.
fn check_simple_signing(
    report: &mut Report,
    id: &str,
    payload: &[u8],
    layer: &Descriptor,
    subject: &Digest,
    key: &PublicKey,
) {
    let sig = layer
        .annotations
        .get(COSIGN_SIGNATURE_ANNOTATION)
        .and_then(|s| b64(s));
    if !sig.is_some_and(|s| verify_der(key, payload, &s)) {
        report.ignore(
            CheckId::CosignSignature,
            Some(id),
            "cosign image signature does not verify against the key",
        );
        return;
    }
    let v: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let named = v["critical"]["image"]["docker-manifest-digest"].as_str();
    if named == Some(subject.to_string().as_str()) {
        report.pass(
            CheckId::CosignSignature,
            Some(id),
            format!("cosign image signature over {subject} verifies"),
        );
    } else {
        report.fail(
            CheckId::CosignSignature,
            Some(id),
            format!("cosign signature names {named:?}, not {subject}"),
        );
    }
}
