//! `sbom-subject`: a CycloneDX SBOM describes the image being verified.

use super::{Statement, subjects};
use crate::formats::cyclonedx::Bom;
use crate::util::digest::Digest;
use crate::verify::CheckId;
use crate::verify::document::{Kind, Target};
use crate::verify::report::Report;

/// Extracts the digest of a `pkg:oci/NAME@sha256%3AHEX?...` purl.
pub fn purl_digest(purl: &str) -> Option<Digest> {
    let rest = purl.strip_prefix("pkg:oci/")?;
    let (_, version) = rest.split_once('@')?;
    let version = version.split(['?', '#']).next()?;
    let decoded = version.replace("%3A", ":").replace("%3a", ":");
    decoded.parse().ok()
}

/// `sbom-subject`: the CycloneDX BOM's `metadata.component` (its `pkg:oci` purl) names the
/// digest being verified, or, when that is an image manifest, an index that the signed
/// statement also names and that lists it (`lists_top(index)` reads the index). Naming any
/// other subject of the statement is not enough.
pub fn check_sbom(
    report: &mut Report,
    att: &str,
    statement: &Statement<Bom>,
    target: &Target,
    lists_top: &dyn Fn(&Digest) -> bool,
) {
    match sbom_describes_target(statement, target, lists_top) {
        Ok(why) => report.pass(CheckId::SbomSubject, Some(att), why),
        Err(why) => report.fail(CheckId::SbomSubject, Some(att), why),
    }
}

/// What the SBOM describes, when that is the target (see [`check_sbom`]); else why not.
fn sbom_describes_target(
    statement: &Statement<Bom>,
    target: &Target,
    lists_top: &dyn Fn(&Digest) -> bool,
) -> Result<String, String> {
    let bom = &statement.predicate;
    if bom.bom_format != "CycloneDX" {
        return Err("the predicate is not a CycloneDX BOM (bomFormat)".into());
    }
    let Some(top) = target.top() else {
        return Err("no image to compare with".into());
    };
    let Some(purl) = bom.component_purl() else {
        return Err("the SBOM has no metadata.component.purl naming the image".into());
    };
    let Some(d) = purl_digest(purl) else {
        return Err(format!(
            "metadata.component.purl `{purl}` is not a pkg:oci purl with a sha256 digest"
        ));
    };
    if d == top.digest {
        return Ok(format!(
            "the SBOM describes {d}, the {} being verified",
            top.kind.word()
        ));
    }
    let signed_index_listing_top = top.kind == Kind::Manifest
        && subjects(&statement.subject).iter().any(|(s, _)| *s == d)
        && lists_top(&d);
    if signed_index_listing_top {
        Ok(format!("the SBOM describes index {d}, which lists {top}"))
    } else {
        Err(format!(
            "the SBOM describes another image, {d}, not {top} (nor a signed subject index \
             that lists it)"
        ))
    }
}
