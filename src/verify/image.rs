//! Verifying an image: resolve, collect its attestations (OCI referrers, cosign's legacy
//! `.att`/`.sig` tags, BuildKit's attestation manifests), verify each one's signature, run
//! the content checks on the verified ones, and check that the required kinds are present.

use std::collections::BTreeSet;

use serde_json::Value;

use super::bundle::{Bundle, Content, b64, verify_der, verify_dsse};
use super::checks::{self, CYCLONEDX_BOM, SLSA_PROVENANCE_V1, Target};
use super::policy::Expectations;
use super::report::{AttestationOutcome, Report, short};
use super::source::{Fetched, Source};
use super::tlog::{self, TrustedRoot};
use crate::error::Result;
use crate::formats::bundle::MEDIA_TYPES_READ;
use crate::formats::dsse::Envelope;
use crate::formats::oci::{Descriptor, ImageIndex, ImageManifest};
use crate::keys::PublicKey;
use crate::util::digest::Digest;

pub use crate::publish::{ANNOTATION_PREDICATE_TYPE, ANNOTATION_ROLE};
/// BuildKit's marker of attestation manifests inside an image index.
const BUILDKIT_REFERENCE_TYPE: &str = crate::build::buildkit::REFERENCE_TYPE;
/// cosign's legacy attestation layer media type.
const DSSE_LAYER: &str = "application/vnd.dsse.envelope.v1+json";
/// cosign's legacy signature layer media type and annotation.
const SIMPLESIGNING_LAYER: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const COSIGN_SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// Everything the checks need besides the image.
#[derive(Debug, Clone)]
pub struct Trust {
    /// The key attestations must be signed with (`--key`), if any.
    pub key: Option<PublicKey>,
    /// The identity policy and trusted root for keyless attestations, if any.
    pub keyless: Option<super::keyless::KeylessTrust>,
    /// What they must say.
    pub expectations: Expectations,
    /// `--require-tlog`: key-signed attestations must carry a verified log entry.
    pub require_tlog: bool,
    /// Transparency-log keys (`--trusted-root`), for bundles that carry log entries.
    pub trusted_root: Option<TrustedRoot>,
}

/// Fetches a manifest or blob, digest checked. Outer error: it could not be fetched (exit
/// 2); inner error: the bytes do not match the digest (a failed check).
fn fetch(src: &Source, digest: &Digest, manifest: bool) -> Result<Fetched> {
    if manifest {
        src.manifest(digest)
    } else {
        src.blob(digest)
    }
}

/// One attestation found, before verification.
struct Candidate {
    id: String,
    found_as: &'static str,
    role: Option<String>,
    announced: Option<String>,
    evidence: Evidence,
}

enum Evidence {
    Bundle(Vec<u8>),
    Envelope(Vec<u8>),
    Unsigned,
}

/// Verifies the image `src` resolves to. `Err` only for input errors (exit 2).
pub fn verify_image(src: &Source, reference: &str, trust: &Trust) -> Result<Report> {
    let mut report = Report::new(reference);
    let top = src.resolve()?;
    report.digest = Some(top);
    let bytes = match fetch(src, &top, true)? {
        Ok(b) => b,
        Err(why) => {
            report.fail("image", None, why);
            return Ok(report);
        }
    };
    let mut target = Target {
        top: Some(top),
        platforms: Vec::new(),
    };
    let mut candidates = Vec::new();
    let doc: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if doc.get("manifests").is_some() {
        let index: ImageIndex = match serde_json::from_value(doc) {
            Ok(i) => i,
            Err(e) => {
                report.fail(
                    "image",
                    None,
                    format!("{top} is not a valid image index: {e}"),
                );
                return Ok(report);
            }
        };
        let mut broken = false;
        for m in &index.manifests {
            if m.annotations
                .get(BUILDKIT_REFERENCE_TYPE)
                .map(String::as_str)
                == Some("attestation-manifest")
            {
                collect_buildkit(src, m, &mut candidates, &mut report)?;
            } else {
                if let Err(why) = fetch(src, &m.digest, true)? {
                    report.fail("image", None, format!("platform manifest: {why}"));
                    broken = true;
                }
                target.platforms.push(m.digest);
            }
        }
        if !broken {
            report.pass(
                "image",
                None,
                format!(
                    "index {top} with {} platform manifest(s)",
                    target.platforms.len()
                ),
            );
        }
    } else if doc.get("layers").is_some() || doc.get("config").is_some() {
        report.pass("image", None, format!("image manifest {top}"));
    } else {
        report.fail(
            "image",
            None,
            format!("{top} is neither an image index nor an image manifest"),
        );
        return Ok(report);
    }
    let subjects: Vec<Digest> = std::iter::once(top)
        .chain(target.platforms.iter().copied())
        .collect();
    collect_referrers(src, &subjects, &mut candidates, &mut report)?;
    if let Some(key) = &trust.key {
        collect_cosign_tags(src, &subjects, key, &mut candidates, &mut report)?;
    }
    let mut verified: Vec<String> = Vec::new();
    let mut set_aside: Vec<String> = Vec::new();
    for c in &candidates {
        let (outcome, statement) = check_candidate(c, trust, &target, &mut report);
        let failed = report
            .checks_of(&c.id)
            .any(|k| k.status == super::report::Status::Fail);
        let counted = outcome.verified && !failed;
        let mut outcome = outcome;
        outcome.verified = counted;
        if counted {
            verified.extend(outcome.predicate_type.clone());
            report.statements.extend(statement);
        } else if let Some(why) = report
            .checks_of(&c.id)
            .find(|k| k.status != super::report::Status::Pass)
        {
            set_aside.push(format!("{} {}: {}", short(&c.id), why.check, why.reason));
        }
        report.attestations.push(outcome);
    }
    for req in trust.expectations.required() {
        let Some(predicate_type) = req.predicate_type() else {
            // `--require` and policy files refuse these; fail closed all the same.
            report.fail(
                "require",
                None,
                format!("{}: not an attestation kind verify can check", req.name()),
            );
            continue;
        };
        let n = verified.iter().filter(|p| *p == predicate_type).count();
        if n > 0 {
            report.pass(
                "require",
                None,
                format!(
                    "{}: {n} verified attestation(s) of `{}`",
                    req.name(),
                    predicate_type
                ),
            );
        } else {
            let also = if set_aside.is_empty() {
                " (none found)".to_owned()
            } else {
                format!("; not counted: {}", set_aside.join("; "))
            };
            report.fail(
                "require",
                None,
                format!(
                    "{}: no verified attestation of `{}` for this image{also}",
                    req.name(),
                    predicate_type
                ),
            );
        }
    }
    Ok(report)
}

fn collect_buildkit(
    src: &Source,
    m: &Descriptor,
    out: &mut Vec<Candidate>,
    report: &mut Report,
) -> Result<()> {
    let id = format!("{}", m.digest);
    let manifest = match fetch(src, &m.digest, true)? {
        Ok(b) => b,
        Err(why) => {
            report.fail(
                "image",
                Some(&id),
                format!("BuildKit attestation manifest: {why}"),
            );
            return Ok(());
        }
    };
    let Ok(manifest) = serde_json::from_slice::<ImageManifest>(&manifest) else {
        return Ok(());
    };
    for (i, layer) in manifest.layers.iter().enumerate() {
        let bytes = fetch(src, &layer.digest, false)?.unwrap_or_default();
        let announced = layer
            .annotations
            .get("in-toto.io/predicate-type")
            .cloned()
            .or_else(|| {
                let v: Value = serde_json::from_slice(&bytes).ok()?;
                v["predicateType"].as_str().map(str::to_owned)
            });
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

fn collect_referrers(
    src: &Source,
    subjects: &[Digest],
    out: &mut Vec<Candidate>,
    report: &mut Report,
) -> Result<()> {
    let mut seen_layers = BTreeSet::new();
    let mut seen_manifests = BTreeSet::new();
    for subject in subjects {
        for r in src.referrers(subject)? {
            if !seen_manifests.insert(r.digest) {
                continue;
            }
            let id = r.digest.to_string();
            // The manifest, not the listing, is authoritative: fallback indexes written by
            // other tools lose artifactType and annotations (cosign writes the config's).
            let manifest = match fetch(src, &r.digest, true)? {
                Ok(b) => b,
                Err(why) => {
                    report.ignore(
                        "blob-digest",
                        Some(&id),
                        format!("referrer manifest: {why}"),
                    );
                    continue;
                }
            };
            let Ok(m) = serde_json::from_slice::<ImageManifest>(&manifest) else {
                report.ignore(
                    "referrer",
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
                    "referrer",
                    Some(&id),
                    format!(
                        "artifact type `{artifact_type}` holds no Sigstore bundle layer: not read"
                    ),
                );
                continue;
            };
            if !seen_layers.insert(layer.digest) {
                continue; // the same bundle attached to the index and a platform manifest
            }
            let bytes = match fetch(src, &layer.digest, false)? {
                Ok(b) => b,
                Err(why) => {
                    report.ignore("blob-digest", Some(&id), format!("bundle layer: {why}"));
                    continue;
                }
            };
            out.push(Candidate {
                id,
                found_as: "referrer",
                role: m.annotations.get(ANNOTATION_ROLE).cloned(),
                announced: m.annotations.get(ANNOTATION_PREDICATE_TYPE).cloned(),
                evidence: Evidence::Bundle(bytes),
            });
        }
    }
    Ok(())
}

fn collect_cosign_tags(
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
            let bytes = match fetch(src, &d, true)? {
                Ok(b) => b,
                Err(why) => {
                    report.ignore("blob-digest", Some(&tag), why);
                    continue;
                }
            };
            let Ok(m) = serde_json::from_slice::<ImageManifest>(&bytes) else {
                report.ignore("bundle", Some(&tag), "not an image manifest");
                continue;
            };
            for (i, layer) in m.layers.iter().enumerate() {
                let id = format!("{tag}#{i}");
                let bytes = match fetch(src, &layer.digest, false)? {
                    Ok(b) => b,
                    Err(why) => {
                        report.ignore("blob-digest", Some(&id), why);
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
            "cosign-signature",
            Some(id),
            "cosign image signature does not verify against the key",
        );
        return;
    }
    let v: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let named = v["critical"]["image"]["docker-manifest-digest"].as_str();
    if named == Some(subject.to_string().as_str()) {
        report.pass(
            "cosign-signature",
            Some(id),
            format!("cosign image signature over {subject} verifies"),
        );
    } else {
        report.fail(
            "cosign-signature",
            Some(id),
            format!("cosign signature names {named:?}, not {subject}"),
        );
    }
}

fn check_candidate(
    c: &Candidate,
    trust: &Trust,
    target: &Target,
    report: &mut Report,
) -> (AttestationOutcome, Option<Value>) {
    let mut outcome = AttestationOutcome {
        id: c.id.clone(),
        found_as: c.found_as.to_owned(),
        predicate_type: c.announced.clone(),
        role: c.role.clone(),
        verified: false,
    };
    let att = Some(c.id.as_str());
    let mut tlog_bundle = None;
    let mut keyless_payload = None;
    let envelope = match &c.evidence {
        Evidence::Unsigned => {
            report.ignore(
                "signature",
                att,
                format!(
                    "BuildKit attestation{} is unsigned: not counted",
                    c.announced
                        .as_deref()
                        .map(|p| format!(" ({p})"))
                        .unwrap_or_default()
                ),
            );
            return (outcome, None);
        }
        Evidence::Envelope(bytes) => match serde_json::from_slice::<Envelope>(bytes) {
            Ok(e) => e,
            Err(e) => {
                report.ignore("bundle", att, format!("not a DSSE envelope: {e}"));
                return (outcome, None);
            }
        },
        Evidence::Bundle(bytes) => match Bundle::parse(bytes) {
            Err(reason) => {
                report.ignore("bundle", att, reason);
                return (outcome, None);
            }
            Ok(b) if b.has_certificate => {
                let keyless = trust.keyless.as_ref();
                let image: Vec<Digest> = target
                    .top
                    .iter()
                    .chain(&target.platforms)
                    .copied()
                    .collect();
                match super::keyless::attestation::verify_attestation(
                    report, att, bytes, &image, keyless,
                ) {
                    Some(payload) => keyless_payload = Some(payload),
                    None => return (outcome, None),
                }
                let Content::Dsse(e) = b.content else {
                    return (outcome, None);
                };
                e
            }
            Ok(b) => {
                let Content::Dsse(e) = &b.content else {
                    report.ignore("bundle", att, "a message signature, not an attestation");
                    return (outcome, None);
                };
                let e = e.clone();
                tlog_bundle = Some(b);
                e
            }
        },
    };
    let Some((payload, verified_sig, key)) =
        key_or_keyless(&envelope, keyless_payload, trust, att, report)
    else {
        return (outcome, None);
    };
    outcome.verified = true;
    if let (Some(b), Some(key)) = (tlog_bundle.filter(|b| !b.tlog_entries.is_empty()), key) {
        // The log entries, checked as in single-bundle mode, about this attestation.
        let before = report.checks.len();
        tlog::check_entries(
            report,
            &b,
            &Digest::of(&payload),
            &verified_sig,
            key,
            trust.trusted_root.as_ref(),
        );
        for c in &mut report.checks[before..] {
            c.attestation = att.map(str::to_owned);
        }
    }
    if trust.require_tlog && key.is_some() {
        super::keyless::tlog_required(report, att);
    }
    let statement = match checks::parse_statement(&payload) {
        Ok(s) => s,
        Err(reason) => {
            report.fail("statement", att, reason);
            return (outcome, None);
        }
    };
    let predicate_type = statement["predicateType"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    outcome.predicate_type = Some(predicate_type.clone());
    if !checks::check_subject(report, att, &statement, target) {
        return (outcome, None);
    }
    checks::check_predicate_type(report, &c.id, &statement, c.announced.as_deref());
    match predicate_type.as_str() {
        SLSA_PROVENANCE_V1 => {
            checks::check_provenance(report, &c.id, &statement, &trust.expectations)
        }
        CYCLONEDX_BOM => {
            // The signed statement binds the SBOM to its subjects; one of them is this image.
            let mut t = target.clone();
            t.platforms.extend(checks::subject_digests(&statement));
            checks::check_sbom(report, &c.id, &statement, &t);
        }
        _ => {}
    }
    (outcome, Some(statement))
}

/// The verified payload, the signature the log entries must be about, and the key: from the
/// keyless path when it verified there, else the DSSE signature against `--key`.
fn key_or_keyless<'t>(
    envelope: &Envelope,
    keyless_payload: Option<Vec<u8>>,
    trust: &'t Trust,
    att: Option<&str>,
    report: &mut Report,
) -> Option<(Vec<u8>, Vec<u8>, Option<&'t PublicKey>)> {
    if let Some(payload) = keyless_payload {
        return Some((payload, Vec::new(), None));
    }
    let Some(key) = &trust.key else {
        report.ignore(
            "signature",
            att,
            "signed with a key: pass --key PUB to verify it",
        );
        return None;
    };
    match verify_dsse(envelope, key) {
        Ok(v) => {
            report.pass(
                "signature",
                att,
                format!(
                    "DSSE signature verifies against the key (hint {})",
                    key.hint()
                ),
            );
            Some((v.payload, v.signature, Some(key)))
        }
        Err(reason) => {
            report.ignore("signature", att, reason);
            None
        }
    }
}
