//! Checking `--product` purls against the image's own SBOM.
//!
//! A VEX statement about a crate the image does not ship (a typo in the name or the version)
//! would never match anything a scanner reports. When the image carries a CycloneDX SBOM
//! signed by the same key that signs the VEX, every `--product` must be one of its
//! components; SBOMs signed by other keys, and SBOMs whose signed statement does not name
//! the image, are ignored (we cannot vouch for them).

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::formats::oci::ImageManifest;
use crate::keys::PublicKey;
use crate::keys::dsse::verify_statement_bundle;
use crate::oci::store::Store;
use crate::policy::SBOM_PREDICATE_TYPE;
use crate::publish::ANNOTATION_PREDICATE_TYPE;
use crate::util::digest::Digest;

/// The component purls of every CycloneDX SBOM attached to `image` and signed by `key`;
/// `None` when there is no such SBOM.
pub fn signed_sbom_purls(
    store: &Store,
    image: &Digest,
    key: &PublicKey,
) -> Result<Option<BTreeSet<String>>> {
    let mut found = false;
    let mut purls = BTreeSet::new();
    for r in store.referrers(image)? {
        // The manifest's own annotation, not the listing's: a listing is anyone's to write
        // (and other tools' fallback indexes drop annotations), as verify reads it too.
        let (bytes, _) = store.get_manifest(&r.digest)?;
        let Ok(manifest) = serde_json::from_slice::<ImageManifest>(&bytes) else {
            continue;
        };
        let announced = manifest.annotations.get(ANNOTATION_PREDICATE_TYPE);
        if announced.map(String::as_str) != Some(SBOM_PREDICATE_TYPE) {
            continue;
        }
        let Some(layer) = manifest.layers.first() else {
            continue;
        };
        if layer.size > crate::oci::limits::ATTESTATION_MAX {
            continue; // not an SBOM bundle we read: set aside, as verify does
        }
        let blob = store.get_blob(&layer.digest, layer.size)?;
        let origin = format!("SBOM referrer {}", r.digest);
        let Ok((_, statement)) = verify_statement_bundle(&blob, &origin, key) else {
            continue;
        };
        // Bound to this image: an SBOM of another image, re-attached here, says nothing
        // about what this one ships.
        let names_image = statement
            .subject
            .iter()
            .any(|s| s.digest.get("sha256").map(String::as_str) == Some(image.hex().as_str()));
        if statement.predicate_type != SBOM_PREDICATE_TYPE || !names_image {
            continue;
        }
        found = true;
        collect_purls(&statement.predicate, &mut purls);
    }
    Ok(found.then_some(purls))
}

/// Every `purl` of `components` (nested too) and of `metadata.component`.
fn collect_purls(bom: &serde_json::Value, out: &mut BTreeSet<String>) {
    fn walk(components: &serde_json::Value, out: &mut BTreeSet<String>) {
        for c in components.as_array().into_iter().flatten() {
            if let Some(p) = c.get("purl").and_then(|p| p.as_str()) {
                out.insert(p.to_owned());
            }
            if let Some(nested) = c.get("components") {
                walk(nested, out);
            }
        }
    }
    if let Some(p) = bom
        .pointer("/metadata/component/purl")
        .and_then(|p| p.as_str())
    {
        out.insert(p.to_owned());
    }
    if let Some(c) = bom.get("components") {
        walk(c, out);
    }
}

/// A purl without qualifiers and subpath.
fn base(purl: &str) -> &str {
    purl.split(['?', '#']).next().unwrap_or(purl)
}

/// Checks that every product is in `sbom` (exactly, or equal once qualifiers are dropped on
/// both sides). Errors (exit 2) name the product and suggest the SBOM's versions of the same
/// package.
pub fn check_products(products: &[String], sbom: &BTreeSet<String>) -> Result<()> {
    for p in products {
        let found = sbom.contains(p) || sbom.iter().any(|s| base(s) == base(p));
        if found {
            continue;
        }
        let package = base(p).split('@').next().unwrap_or(p);
        let similar: Vec<&str> = sbom
            .iter()
            .map(|s| base(s))
            .filter(|s| s.split('@').next() == Some(package))
            .collect();
        let hint = if similar.is_empty() {
            "no version of that package is in it".to_owned()
        } else {
            format!("it has {}", similar.join(", "))
        };
        return Err(Error::msg(format!(
            "--product {p} is not a component of the image's SBOM ({hint}); name a crate the \
             image ships, as the SBOM spells its purl"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_must_be_sbom_components() {
        let bom = serde_json::json!({
            "metadata": {"component": {"purl": "pkg:oci/app@sha256%3Aab"}},
            "components": [
                {"purl": "pkg:cargo/time@0.1.45"},
                {"purl": "pkg:cargo/serde@1.0.0?vcs_url=x", "components": [{"purl": "pkg:cargo/inner@2.0.0"}]}
            ]
        });
        let mut set = BTreeSet::new();
        collect_purls(&bom, &mut set);
        assert_eq!(set.len(), 4);
        let ok = |p: &str| check_products(&[p.to_owned()], &set);
        ok("pkg:cargo/time@0.1.45").unwrap();
        ok("pkg:cargo/serde@1.0.0").unwrap();
        ok("pkg:cargo/inner@2.0.0").unwrap();
        let e = ok("pkg:cargo/time@0.1.44").unwrap_err().to_string();
        assert!(e.contains("it has pkg:cargo/time@0.1.45"), "{e}");
        let e = ok("pkg:cargo/tokio@1.0.0").unwrap_err().to_string();
        assert!(e.contains("no version of that package"), "{e}");
    }
}
