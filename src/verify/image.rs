//! Verifying an image: resolve, collect its attestations (OCI referrers, cosign's legacy
//! `.att`/`.sig` tags, BuildKit's attestation manifests), verify each one's signature, run
//! the content checks on the verified ones, and check that the required kinds are present.

use crate::verify::CheckId;

use serde_json::Value;

use super::checks::{self, Typed};
use super::collect::{
    Candidate, Evidence, collect_buildkit, collect_cosign_tags, collect_referrers,
};
use super::document::{self, Child, Document, Kind, Part, Target};
use super::policy::Expectations;
use super::report::{AttestationOutcome, Report};
use super::signed::{Content, ParsedBundle, verify_dsse};
use super::source::Source;
use super::tally::Tally;
use super::tlog::{self, TrustedRoot};
use crate::error::{Error, Result};
use crate::formats::dsse::Envelope;
use crate::formats::oci::Descriptor;
use crate::keys::PublicKey;
use crate::oci::limits::INDEX_ENTRIES_MAX;
use crate::util::digest::Digest;

pub use crate::formats::annotations::{
    PREDICATE_TYPE as ANNOTATION_PREDICATE_TYPE, ROLE as ANNOTATION_ROLE,
};

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
    /// How much evidence is read.
    pub reading: Reading,
}

/// How much evidence [`verify_image`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Stop once the image verifies: cosign's legacy tags are read only when the referrers
    /// leave it unverified. For a caller that needs the verdict.
    UntilVerified,
    /// Every attestation, cosign's legacy tags included. For a caller that reads every
    /// verified statement of a kind (the vulnerability gate reads every scan, `audit` every
    /// SBOM): one more statement can change its answer.
    All,
}

/// Verifies the image `src` resolves to. `Err` only for input errors (exit 2).
///
/// The rule (docs/verify.md, "What counts as evidence"): the top document and, for an
/// index, every platform manifest it lists are the image's parts ([`document::Target`]); an
/// attestation is evidence only for the parts its verified statement names as subjects, and
/// every required kind must have evidence for every part.
pub fn verify_image(src: &Source, reference: &str, trust: &Trust) -> Result<Report> {
    let mut report = Report::new(reference);
    let (top, listed) = src.resolve()?;
    report.digest = Some(top);
    let mut candidates = Vec::new();
    let read = read_target(src, (top, listed), &mut candidates, &mut report)?;
    let Some(target) = read else {
        return Ok(report);
    };
    let subjects: Vec<Digest> = target.parts.iter().map(|p| p.digest).collect();
    // From a registry, what the steps below read is fetched ahead, concurrently (for an
    // index, read_target started it; what arrived is not asked again).
    src.prefetch(&[], &subjects, false);
    collect_referrers(src, &subjects, &mut candidates, &mut report)?;
    let mut tally = Tally::new(target.parts.len());
    check_all(&candidates, (trust, &target, src), &mut tally, &mut report);
    // cosign's legacy tags, read only when what was read so far leaves the image unverified
    // (docs/verify.md, "Where attestations are found"): two requests per part that, on an
    // image attested the OCI 1.1 way, find nothing.
    let settled =
        trust.reading == Reading::UntilVerified && tally.settled(&report, &trust.expectations);
    if let Some(key) = trust.key.as_ref().filter(|_| !settled) {
        src.prefetch(&[], &subjects, true);
        let mut tagged = Vec::new();
        collect_cosign_tags(src, &subjects, key, &mut tagged, &mut report)?;
        check_all(&tagged, (trust, &target, src), &mut tally, &mut report);
    }
    tally.check_required(&mut report, &trust.expectations, &target);
    report.target = target;
    Ok(report)
}

/// Checks each of `candidates` ([`check_candidate`]) and counts it in `tally`.
fn check_all(
    candidates: &[Candidate],
    (trust, target, src): (&Trust, &Target, &Source),
    tally: &mut Tally,
    report: &mut Report,
) {
    for c in candidates {
        let checked = check_candidate(c, trust, target, src, report);
        tally.count(&c.id, checked, report);
    }
}

/// Reads the top document and, for an index, each entry, into the parts that need evidence
/// ([`document`]'s rule). Every refusal fails the `image` check. `None`: the top document
/// itself is refused, nothing more to read.
fn read_target(
    src: &Source,
    (top, listed): (Digest, Option<Descriptor>),
    candidates: &mut Vec<Candidate>,
    report: &mut Report,
) -> Result<Option<Target>> {
    let doc = match src.document(&top)? {
        None => {
            return Err(Error::msg(format!(
                "{top}: not found in {}",
                src.store().describe()
            )));
        }
        Some(Err(why)) => {
            report.fail(CheckId::Image, None, why);
            return Ok(None);
        }
        Some(Ok(doc)) => doc,
    };
    if let Some(entry) = listed.as_ref().filter(|e| e.size != doc.bytes.len() as u64) {
        report.fail(
            CheckId::Image,
            None,
            format!(
                "{top} is refused: the layout lists it with {} bytes, it has {}",
                entry.size,
                doc.bytes.len()
            ),
        );
        return Ok(None);
    }
    let fetched_as = doc.media_type.or(listed.map(|e| e.media_type));
    let index = match document::classify(&doc.bytes, fetched_as.as_deref()) {
        Err(why) => {
            report.fail(CheckId::Image, None, format!("{top} is refused: {why}"));
            return Ok(None);
        }
        Ok(Document::Manifest(_)) => {
            report.pass(CheckId::Image, None, format!("image manifest {top}"));
            let part = Part {
                digest: top,
                kind: Kind::Manifest,
                label: Kind::Manifest.word().into(),
            };
            return Ok(Some(Target { parts: vec![part] }));
        }
        Ok(Document::Index(index)) => index,
    };
    if index.manifests.len() > INDEX_ENTRIES_MAX {
        let n = index.manifests.len();
        report.fail(
            CheckId::Image,
            None,
            format!(
                "index {top} lists {n} manifests, more than the {INDEX_ENTRIES_MAX} this \
                 verifier reads: refused, none was read"
            ),
        );
        return Ok(None);
    }
    // The entries, and the evidence about the parts they will be (their digests are known
    // now), are read ahead together.
    let children: Vec<_> = index.manifests.iter().map(document::child).collect();
    let entries: Vec<Digest> = index.manifests.iter().map(|m| m.digest).collect();
    let platforms = index
        .manifests
        .iter()
        .zip(&children)
        .filter(|(_, c)| matches!(c, Ok(Child::Platform(_))))
        .map(|(m, _)| m.digest);
    let subjects: Vec<Digest> = std::iter::once(top).chain(platforms).collect();
    src.prefetch(&entries, &subjects, false);
    let mut parts = vec![Part {
        digest: top,
        kind: Kind::Index,
        label: Kind::Index.word().into(),
    }];
    let mut problems = Vec::new();
    for (m, child) in index.manifests.iter().zip(children) {
        match child {
            Err(why) => {
                problems.push(why);
                parts.push(document::refused(m));
            }
            Ok(Child::BuildkitAttestation) => collect_buildkit(src, m, candidates, report)?,
            Ok(Child::Platform(part)) => {
                if let Err(why) = read_child(src, m)? {
                    problems.push(format!("{part}: {why}"));
                }
                parts.push(part);
            }
        }
    }
    if parts.len() == 1 && problems.is_empty() {
        problems.push(format!("index {top} lists no platform manifest"));
    }
    if problems.is_empty() {
        report.pass(
            CheckId::Image,
            None,
            format!("index {top} with {} platform manifest(s)", parts.len() - 1),
        );
    }
    for why in problems {
        report.fail(CheckId::Image, None, why);
    }
    Ok(Some(Target { parts }))
}

/// Reads one platform manifest an index lists: it must be there, match the entry's digest,
/// size and media type, and be an image manifest.
fn read_child(src: &Source, entry: &Descriptor) -> Result<std::result::Result<(), String>> {
    let doc = match src.document(&entry.digest)? {
        None => {
            return Ok(Err(
                "not in the store: the index names a missing manifest".into()
            ));
        }
        Some(Err(why)) => return Ok(Err(why)),
        Some(Ok(doc)) => doc,
    };
    if doc.bytes.len() as u64 != entry.size {
        return Ok(Err(format!(
            "the entry says {} bytes, the manifest has {}",
            entry.size,
            doc.bytes.len()
        )));
    }
    if let Some(sent) = doc.media_type.as_deref().filter(|t| *t != entry.media_type) {
        return Ok(Err(format!(
            "the registry sends it as `{sent}`, the index lists it as `{}`",
            entry.media_type
        )));
    }
    Ok(
        match document::classify(&doc.bytes, Some(&entry.media_type)) {
            Ok(Document::Manifest(_)) => Ok(()),
            Ok(Document::Index(_)) => Err("it is an index, not an image manifest".into()),
            Err(why) => Err(why),
        },
    )
}

/// True when `index` is an index in `src` that lists `manifest` (for `sbom-subject`).
fn index_lists(src: &Source, index: &Digest, manifest: &Digest) -> bool {
    let Ok(Some(Ok(doc))) = src.document(index) else {
        return false;
    };
    match document::classify(&doc.bytes, doc.media_type.as_deref()) {
        Ok(Document::Index(i)) => i.manifests.iter().any(|m| m.digest == *manifest),
        _ => false,
    }
}

/// Verifies one attestation and runs the content checks on it. Returns its outcome and, when
/// its signature verified and its statement names parts of the image, the statement and the
/// indexes of those parts in `target`.
fn check_candidate(
    c: &Candidate,
    trust: &Trust,
    target: &Target,
    src: &Source,
    report: &mut Report,
) -> (AttestationOutcome, Option<(Value, Vec<usize>)>) {
    let mut outcome = AttestationOutcome {
        id: c.id.clone(),
        found_as: c.found_as.to_owned(),
        predicate_type: c.announced.clone(),
        role: c.role.clone(),
        verified: false,
    };
    let att = Some(c.id.as_str());
    let Some(Opened {
        envelope,
        tlog_bundle,
        keyless_payload,
    }) = open_evidence(c, trust, target, report)
    else {
        return (outcome, None);
    };
    let Some((payload, verified_sig, key)) =
        key_or_keyless(&envelope, keyless_payload, trust, att, report)
    else {
        return (outcome, None);
    };
    outcome.verified = true;
    if let (Some(b), Some(key)) = (tlog_bundle, key) {
        // The log entries, checked as in single-bundle mode, about this attestation; a
        // key-signed bundle without any is said so (a skip), so a stripped entry is visible.
        let before = report.checks.len();
        let logged = tlog::check_entries(
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
        if logged {
            report.logged.push(att.map(str::to_owned));
        }
    }
    if trust.require_tlog && key.is_some() {
        super::keyless::tlog_required(report, att);
    }
    let statement = match checks::parse_statement(&payload) {
        Ok(s) => s,
        Err(reason) => {
            report.fail(CheckId::Statement, att, reason);
            return (outcome, None);
        }
    };
    outcome.predicate_type = Some(statement.predicate_type().to_owned());
    let named = checks::check_subject(report, att, statement.subject(), target);
    if named.is_empty() {
        return (outcome, None);
    }
    checks::check_predicate_type(
        report,
        &c.id,
        statement.predicate_type(),
        c.announced.as_deref(),
    );
    match &statement.typed {
        Typed::Provenance(st) => checks::check_provenance(report, &c.id, st, &trust.expectations),
        Typed::Bom(st) => {
            let top = target.top().map(|p| p.digest);
            let lists_top = |i: &Digest| top.is_some_and(|t| index_lists(src, i, &t));
            checks::check_sbom(report, &c.id, st, target, &lists_top);
        }
        Typed::Other(_) => {}
    }
    (outcome, Some((statement.json, named)))
}

/// An attestation's envelope, opened: the key-signed bundle it came in (for its log
/// entries), or the payload the keyless path verified.
struct Opened {
    envelope: Envelope,
    tlog_bundle: Option<ParsedBundle>,
    keyless_payload: Option<Vec<u8>>,
}

/// Opens an attestation's evidence: a DSSE envelope from cosign's tag, or a Sigstore bundle
/// (keyless ones verified here, against the identity policy). `None`, with the reason in
/// `report`, for unsigned BuildKit attestations and whatever cannot be read.
fn open_evidence(
    c: &Candidate,
    trust: &Trust,
    target: &Target,
    report: &mut Report,
) -> Option<Opened> {
    let att = Some(c.id.as_str());
    let mut tlog_bundle = None;
    let mut keyless_payload = None;
    let envelope = match &c.evidence {
        Evidence::Unsigned => {
            report.ignore(
                CheckId::Signature,
                att,
                format!(
                    "BuildKit attestation{} is unsigned: not counted",
                    c.announced
                        .as_deref()
                        .map(|p| format!(" ({p})"))
                        .unwrap_or_default()
                ),
            );
            return None;
        }
        Evidence::Envelope(bytes) => match serde_json::from_slice::<Envelope>(bytes) {
            Ok(e) => e,
            Err(e) => {
                report.ignore(CheckId::Bundle, att, format!("not a DSSE envelope: {e}"));
                return None;
            }
        },
        Evidence::Bundle(bytes) => match ParsedBundle::parse(bytes) {
            Err(reason) => {
                report.ignore(CheckId::Bundle, att, reason);
                return None;
            }
            Ok(b) if b.has_certificate => {
                let keyless = trust.keyless.as_ref();
                let image: Vec<Digest> = target.parts.iter().map(|p| p.digest).collect();
                match super::keyless::attestation::verify_attestation(
                    report, att, bytes, &image, keyless,
                ) {
                    Some(payload) => keyless_payload = Some(payload),
                    None => return None,
                }
                let Content::Dsse(e) = b.content else {
                    return None;
                };
                e
            }
            Ok(b) => {
                let Content::Dsse(e) = &b.content else {
                    report.ignore(
                        CheckId::Bundle,
                        att,
                        "a message signature, not an attestation",
                    );
                    return None;
                };
                let e = e.clone();
                tlog_bundle = Some(b);
                e
            }
        },
    };
    Some(Opened {
        envelope,
        tlog_bundle,
        keyless_payload,
    })
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
            CheckId::Signature,
            att,
            "signed with a key: pass --key PUB to verify it",
        );
        return None;
    };
    match verify_dsse(envelope, key) {
        Ok(v) => {
            report.pass(
                CheckId::Signature,
                att,
                format!(
                    "DSSE signature verifies against the key (hint {})",
                    key.hint()
                ),
            );
            Some((v.payload, v.signature, Some(key)))
        }
        Err(reason) => {
            report.ignore(CheckId::Signature, att, reason);
            None
        }
    }
}
