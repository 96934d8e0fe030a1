//! Cargo's `license` / `license-file` fields as CycloneDX licenses.
//!
//! - A `license` that is an SPDX expression, possibly in the legacy forms crates.io still
//!   holds (`MIT/Apache-2.0`, lower-case operators, the imprecise names the `spdx` crate
//!   knows), becomes
//!   one canonical SPDX `expression` (`MIT OR Apache-2.0`).
//! - A `license` no SPDX parser understands is kept verbatim as a named license: never
//!   dropped.
//! - A `license-file` is referenced by its file name as a named license
//!   (`LicenseRef-file:<name>` style text); the file's text is never embedded.

use cyclonedx_bom::models::license::{License, LicenseChoice, Licenses};
use cyclonedx_bom::prelude::SpdxExpression;

/// The license of a package, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NormalizedLicense {
    /// A canonical SPDX expression.
    Expression(String),
    /// A value kept as written (not SPDX), or a reference to a license file.
    Named(String),
}

/// Normalises `license` / `license-file` of a manifest; `None` when both are absent.
pub fn normalize(license: Option<&str>, license_file: Option<&str>) -> Option<NormalizedLicense> {
    if let Some(l) = license.map(str::trim).filter(|l| !l.is_empty()) {
        return Some(match canonical_expression(l) {
            Some(e) => NormalizedLicense::Expression(e),
            None => NormalizedLicense::Named(l.to_owned()),
        });
    }
    let file = license_file.map(str::trim).filter(|f| !f.is_empty())?;
    // Only the file name: the path as written may be absolute or reach outside the package.
    let name = std::path::Path::new(file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.to_owned());
    Some(NormalizedLicense::Named(format!("license-file: {name}")))
}

/// The canonical SPDX form of a (possibly lax) expression, or `None` when it is not SPDX.
pub fn canonical_expression(text: &str) -> Option<String> {
    let canonical = match spdx::Expression::canonicalize(text) {
        Ok(Some(c)) => c,
        Ok(None) => text.to_owned(),
        Err(_) => return None,
    };
    spdx::Expression::parse(&canonical).ok()?;
    // The cyclonedx crate checks expressions with its own SPDX list: agree with it.
    SpdxExpression::try_from(canonical.clone()).ok()?;
    Some(canonical)
}

/// The CycloneDX `licenses` array for a normalised license.
pub fn to_cyclonedx(l: &NormalizedLicense) -> Licenses {
    Licenses(vec![match l {
        NormalizedLicense::Expression(e) => LicenseChoice::Expression(SpdxExpression::new(e)),
        NormalizedLicense::Named(n) => LicenseChoice::License(License::named_license(n)),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_slash_is_normalised() {
        assert_eq!(
            normalize(Some("MIT/Apache-2.0"), None),
            Some(NormalizedLicense::Expression("MIT OR Apache-2.0".into()))
        );
        assert_eq!(
            normalize(Some("MIT or Apache-2.0"), None),
            Some(NormalizedLicense::Expression("MIT OR Apache-2.0".into()))
        );
        assert_eq!(
            normalize(Some("(MIT OR Apache-2.0) AND Unicode-3.0"), None),
            Some(NormalizedLicense::Expression(
                "(MIT OR Apache-2.0) AND Unicode-3.0".into()
            ))
        );
    }

    #[test]
    fn unparseable_is_kept_named() {
        assert_eq!(
            normalize(Some("Some Custom License v2"), None),
            Some(NormalizedLicense::Named("Some Custom License v2".into()))
        );
    }

    #[test]
    fn license_file_by_name_only() {
        assert_eq!(
            normalize(None, Some("/home/me/x/LICENSE.txt")),
            Some(NormalizedLicense::Named("license-file: LICENSE.txt".into()))
        );
        assert_eq!(normalize(Some(" "), None), None);
        assert_eq!(normalize(None, None), None);
    }
}
