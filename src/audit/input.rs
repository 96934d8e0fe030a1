//! The crates to audit, from an SBOM: ours in memory ([`from_components`]) or a CycloneDX
//! document read from an image's SBOM referrer ([`from_cyclonedx`]).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::sbom::{ComponentScope, ComponentSpec, Kind};

/// Where a crate is used (the SBOM's `scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrateScope {
    /// `required`: compiled into a shipped binary.
    Shipped,
    /// `excluded`: runs only at build time (build scripts, proc macros and their
    /// dependencies).
    BuildOnly,
}

impl CrateScope {
    /// The word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            CrateScope::Shipped => "shipped",
            CrateScope::BuildOnly => "build-only",
        }
    }
}

/// One crate of the SBOM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditedCrate {
    /// The crate's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its purl (`pkg:cargo/NAME@VERSION[?qualifiers]`).
    pub purl: String,
    /// Shipped or build-only.
    pub scope: CrateScope,
    /// True for crates.io crates (a purl without `repository_url`, `vcs_url` or
    /// `download_url`): only those are matched against RustSec.
    pub from_crates_io: bool,
}

/// The library components of an SBOM we generated.
pub fn from_components<'a>(
    components: impl IntoIterator<Item = &'a ComponentSpec>,
) -> Vec<AuditedCrate> {
    components
        .into_iter()
        .filter(|c| c.kind == Kind::Library)
        .filter_map(|c| {
            let scope = match c.scope? {
                ComponentScope::Required => CrateScope::Shipped,
                ComponentScope::Excluded => CrateScope::BuildOnly,
            };
            let purl = c.purl.clone()?;
            Some(AuditedCrate {
                name: c.name.clone(),
                version: c.version.clone()?,
                from_crates_io: !purl.contains('?'),
                purl,
                scope,
            })
        })
        .collect()
}

/// The `pkg:cargo` library components of a CycloneDX JSON document (`origin` names it in
/// errors). A component without `scope` counts as `required`, as CycloneDX says.
pub fn from_cyclonedx(doc: &serde_json::Value, origin: &str) -> Result<Vec<AuditedCrate>> {
    let comps = doc["components"].as_array().ok_or_else(|| {
        Error::msg(format!(
            "{origin}: not a CycloneDX document with `components`"
        ))
    })?;
    let mut out = Vec::new();
    for c in comps {
        let Some(purl) = c["purl"].as_str().filter(|p| p.starts_with("pkg:cargo/")) else {
            continue;
        };
        if c["type"].as_str() != Some("library") {
            continue;
        }
        let scope = match c["scope"].as_str() {
            None | Some("required") => CrateScope::Shipped,
            Some("excluded") => CrateScope::BuildOnly,
            // `optional`: not described by our SBOMs; treat as shipped (fail closed).
            Some(_) => CrateScope::Shipped,
        };
        let (name, version) = parse_cargo_purl(purl).ok_or_else(|| {
            Error::msg(format!(
                "{origin}: component purl `{purl}` is not pkg:cargo/NAME@VERSION"
            ))
        })?;
        out.push(AuditedCrate {
            name,
            version,
            from_crates_io: !purl.contains('?'),
            purl: purl.to_owned(),
            scope,
        });
    }
    Ok(out)
}

/// `pkg:cargo/NAME@VERSION[?...][#...]` → (name, version), percent-decoded.
pub fn parse_cargo_purl(purl: &str) -> Option<(String, String)> {
    let rest = purl.strip_prefix("pkg:cargo/")?;
    let rest = rest.split(['?', '#']).next()?;
    let (name, version) = rest.split_once('@')?;
    Some((decode(name), decode(version)))
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_purls_parse() {
        assert_eq!(
            parse_cargo_purl("pkg:cargo/itoa@1.0.18").unwrap(),
            ("itoa".into(), "1.0.18".into())
        );
        assert_eq!(
            parse_cargo_purl("pkg:cargo/x@1.0.0%2Bbuild?vcs_url=git").unwrap(),
            ("x".into(), "1.0.0+build".into())
        );
        assert!(parse_cargo_purl("pkg:oci/x@sha256").is_none());
    }

    #[test]
    fn cyclonedx_components_keep_their_scope() {
        let doc = serde_json::json!({"components": [
            {"type": "library", "name": "a", "purl": "pkg:cargo/a@1.0.0", "scope": "required"},
            {"type": "library", "name": "b", "purl": "pkg:cargo/b@2.0.0", "scope": "excluded"},
            {"type": "library", "name": "c", "purl": "pkg:cargo/c@3.0.0?download_url=file:c"},
            {"type": "application", "name": "bin", "purl": "pkg:cargo/bin@1.0.0"},
        ]});
        let c = from_cyclonedx(&doc, "sbom").unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[1].scope, CrateScope::BuildOnly);
        assert!(c[0].from_crates_io && !c[2].from_crates_io);
    }
}
