//! The CycloneDX document: plain component descriptions turned into a `cyclonedx_bom::Bom`,
//! checked with the crate's own validation, and serialised deterministically (components
//! and dependencies sorted by `bom-ref`, the serial number a UUID v5 of the content).

use std::collections::{BTreeMap, BTreeSet};

use cyclonedx_bom::external_models::uri::Uri as Url;
use cyclonedx_bom::models::component::{Classification, Scope};
use cyclonedx_bom::models::dependency::{Dependencies, Dependency};
use cyclonedx_bom::models::external_reference::{
    ExternalReference, ExternalReferenceType, ExternalReferences,
};
use cyclonedx_bom::models::hash::{Hash, HashAlgorithm, HashValue, Hashes};
use cyclonedx_bom::models::property::{Properties, Property};
use cyclonedx_bom::models::tool::{Tool, Tools};
use cyclonedx_bom::prelude::{Bom, Component, Components, DateTime, Metadata, Purl, Validate};

use super::SpecVersion;
use super::license::{NormalizedLicense, to_cyclonedx};
use crate::error::{Error, Result};
use crate::formats::purl;

/// The kind of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A binary, or the application as a whole.
    Application,
    /// A crate.
    Library,
    /// A container image.
    Container,
}

/// A component's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentScope {
    /// Linked into a shipped binary.
    Required,
    /// Used only to build (build scripts, proc-macros and their dependencies).
    Excluded,
}

/// One component, as the document will describe it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ComponentSpec {
    /// The `bom-ref` (stable, no absolute path).
    pub bom_ref: String,
    /// The kind.
    pub kind: Kind,
    /// The name.
    pub name: String,
    /// The version, when there is one.
    pub version: Option<String>,
    /// `scope`, for crates.
    pub scope: Option<ComponentScope>,
    /// SHA-256 hex (Cargo.lock checksum, or the built file's digest).
    pub sha256: Option<String>,
    /// The license.
    #[serde(skip)]
    pub license: Option<NormalizedLicense>,
    /// The package URL.
    pub purl: Option<String>,
    /// A repository URL (`externalReferences` of type `vcs`).
    pub vcs: Option<String>,
    /// `properties` (`cargo-provenance:*` names), in order.
    pub properties: Vec<(String, String)>,
}

/// Everything the document holds.
#[derive(Debug, Clone)]
pub struct Document {
    /// Which schema to write.
    pub spec_version: SpecVersion,
    /// `metadata.timestamp` (RFC 3339), when known.
    pub timestamp: Option<String>,
    /// `metadata.component`.
    pub subject: ComponentSpec,
    /// Every other component (binaries and crates).
    pub components: Vec<ComponentSpec>,
    /// `dependencies`: bom-ref -> bom-refs it depends on.
    pub dependencies: BTreeMap<String, BTreeSet<String>>,
}

/// The name and version `metadata.tools` reports.
pub const TOOL_NAME: &str = "cargo-provenance";

/// Renders the document: JSON bytes (pretty, trailing newline) and the serial number.
///
/// The serial number is a UUID v5 of the document as written without it. The document is
/// written once, without it, and the serial number's line is put in where cyclonedx-bom
/// writes it (after `"version"`): the same bytes as a second serialisation with it (a test
/// holds the two equal), which cost ~6 ms for corpus/rerun's 1 MB document.
pub fn render(doc: &Document) -> Result<(Vec<u8>, String)> {
    let (bom, version) = bom(doc)?;
    let result = bom.validate_version(version);
    if result.has_errors() {
        return Err(Error::msg(format!(
            "the SBOM failed the cyclonedx-bom validation (a bug in cargo-provenance): {:?}",
            result
        )));
    }
    let unsigned = output(bom, version)?;
    let serial = serial_number(&unsigned);
    let json = with_serial_number(&unsigned, &serial)?;
    Ok((json, serial))
}

/// `urn:uuid:` and the UUID v5 of the document written without a serial number.
fn serial_number(unsigned: &[u8]) -> String {
    let ns = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        b"https://github.com/cargo-provenance/sbom",
    );
    format!("urn:uuid:{}", uuid::Uuid::new_v5(&ns, unsigned))
}

/// The top-level `version` line, which `serialNumber` follows (top-level keys are indented
/// by two spaces; nested ones by more).
const VERSION_LINE: &[u8] = b"\n  \"version\": 1,\n";

/// `unsigned` with the `serialNumber` line after the top-level `version` line.
fn with_serial_number(unsigned: &[u8], serial: &str) -> Result<Vec<u8>> {
    let at = unsigned
        .windows(VERSION_LINE.len())
        .position(|w| w == VERSION_LINE)
        .ok_or_else(|| Error::msg("internal error: the SBOM has no top-level `version` line"))?
        + VERSION_LINE.len();
    let line = format!("  \"serialNumber\": {},\n", serde_json::Value::from(serial));
    let mut out = Vec::with_capacity(unsigned.len() + line.len());
    out.extend_from_slice(&unsigned[..at]);
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(&unsigned[at..]);
    Ok(out)
}

/// The document as JSON, with a final newline.
fn output(bom: Bom, version: cyclonedx_bom::models::bom::SpecVersion) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    bom.output_as_json(&mut out, version)
        .map_err(|e| Error::msg(format!("serialising the SBOM: {e}")))?;
    out.push(b'\n');
    Ok(out)
}

/// The document without its serial number.
fn bom(doc: &Document) -> Result<(Bom, cyclonedx_bom::models::bom::SpecVersion)> {
    let mut components: Vec<Component> = doc
        .components
        .iter()
        .map(component)
        .collect::<Result<_>>()?;
    components.sort_by(|a, b| a.bom_ref.cmp(&b.bom_ref));
    let version = match doc.spec_version {
        SpecVersion::V1_4 => cyclonedx_bom::models::bom::SpecVersion::V1_4,
        SpecVersion::V1_5 => cyclonedx_bom::models::bom::SpecVersion::V1_5,
    };
    let pkg_version = env!("CARGO_PKG_VERSION");
    let tools = match doc.spec_version {
        SpecVersion::V1_4 => Tools::List(vec![Tool {
            name: Some(cyclonedx_bom::prelude::NormalizedString::new(TOOL_NAME)),
            version: Some(cyclonedx_bom::prelude::NormalizedString::new(pkg_version)),
            ..Tool::default()
        }]),
        SpecVersion::V1_5 => {
            let mut c = Component::new(Classification::Application, TOOL_NAME, pkg_version, None);
            c.purl = Some(
                Purl::new("cargo", TOOL_NAME, pkg_version)
                    .map_err(|e| Error::msg(e.to_string()))?,
            );
            Tools::Object {
                services: None,
                components: Some(Components(vec![c])),
            }
        }
    };
    let timestamp = match &doc.timestamp {
        Some(t) => Some(
            DateTime::try_from(t.clone())
                .map_err(|e| Error::msg(format!("SBOM timestamp `{t}`: {e}")))?,
        ),
        None => None,
    };
    let metadata = Metadata {
        timestamp,
        tools: Some(tools),
        component: Some(component(&doc.subject)?),
        ..Metadata::default()
    };
    let dependencies = doc
        .dependencies
        .iter()
        .map(|(r, deps)| Dependency {
            dependency_ref: r.clone(),
            dependencies: deps.iter().cloned().collect(),
        })
        .collect();
    let bom = Bom {
        version: 1,
        serial_number: None,
        metadata: Some(metadata),
        components: Some(Components(components)),
        dependencies: Some(Dependencies(dependencies)),
        spec_version: version,
        ..Bom::default()
    };
    Ok((bom, version))
}

fn component(spec: &ComponentSpec) -> Result<Component> {
    let class = match spec.kind {
        Kind::Application => Classification::Application,
        Kind::Library => Classification::Library,
        Kind::Container => Classification::Container,
    };
    let mut c = Component::new(
        class,
        &spec.name,
        spec.version.as_deref().unwrap_or(""),
        Some(spec.bom_ref.clone()),
    );
    if spec.version.is_none() {
        c.version = None;
    }
    c.scope = spec.scope.map(|s| match s {
        ComponentScope::Required => Scope::Required,
        ComponentScope::Excluded => Scope::Excluded,
    });
    c.hashes = spec.sha256.as_ref().map(|h| {
        Hashes(vec![Hash {
            alg: HashAlgorithm::SHA_256,
            content: HashValue(h.clone()),
        }])
    });
    c.licenses = spec.license.as_ref().map(to_cyclonedx);
    c.purl = spec
        .purl
        .as_ref()
        .map(|p| p.parse::<Purl>().expect("infallible"));
    c.external_references = spec.vcs.as_ref().filter(|u| is_url(u)).map(|u| {
        ExternalReferences(vec![ExternalReference::new(
            ExternalReferenceType::Vcs,
            Url::new(u),
        )])
    });
    if !spec.properties.is_empty() {
        c.properties = Some(Properties(
            spec.properties
                .iter()
                .map(|(k, v)| Property::new(k, v))
                .collect(),
        ));
    }
    Ok(c)
}

/// True for URLs the schema's `iri-reference` and the crate's RFC 3986 check accept.
fn is_url(u: &str) -> bool {
    Url::try_from(u.to_owned()).is_ok() && !u.chars().any(char::is_whitespace)
}

/// `pkg:cargo/NAME@VERSION` with qualifiers sorted by key.
pub fn cargo_purl(name: &str, version: &str, qualifiers: &[(&str, String)]) -> String {
    purl::cargo(name, version, qualifiers)
}

/// `pkg:oci/NAME@sha256%3AHEX?repository_url=REPO&tag=TAG` for an image reference
/// `[registry/]path[:tag]` and its digest.
pub fn oci_purl(image: &str, digest_hex: &str) -> String {
    let parts = crate::formats::reference::split_name(image);
    purl::oci(parts.name, digest_hex, parts.tag, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serial_number_goes_where_cyclonedx_bom_writes_it() {
        let spec = |r: &str| ComponentSpec {
            bom_ref: r.to_owned(),
            kind: Kind::Library,
            name: r.to_owned(),
            version: Some("1.0.0".into()),
            scope: Some(ComponentScope::Required),
            sha256: None,
            license: None,
            purl: Some(cargo_purl(r, "1.0.0", &[])),
            vcs: None,
            properties: vec![("cargo-provenance:version".into(), "1".into())],
        };
        for spec_version in [SpecVersion::V1_4, SpecVersion::V1_5] {
            let doc = Document {
                spec_version,
                timestamp: Some("2026-01-01T00:00:00Z".into()),
                subject: spec("app"),
                components: vec![spec("a"), spec("b")],
                dependencies: BTreeMap::from([("a".into(), BTreeSet::from(["b".into()]))]),
            };
            let (json, serial) = render(&doc).unwrap();
            // What cyclonedx-bom writes with the serial number set.
            let (mut bom, version) = bom(&doc).unwrap();
            bom.serial_number = Some(cyclonedx_bom::prelude::UrnUuid(serial.clone()));
            assert_eq!(
                String::from_utf8(json).unwrap(),
                String::from_utf8(output(bom, version).unwrap()).unwrap()
            );
        }
        assert!(with_serial_number(b"{}", "urn:uuid:x").is_err());
    }

    #[test]
    fn purls() {
        assert_eq!(cargo_purl("itoa", "1.0.0", &[]), "pkg:cargo/itoa@1.0.0");
        assert_eq!(
            cargo_purl(
                "x",
                "0.1.0",
                &[("vcs_url", "git+https://github.com/a/b@0123".into())]
            ),
            "pkg:cargo/x@0.1.0?vcs_url=git%2Bhttps://github.com/a/b%400123"
        );
        assert_eq!(
            oci_purl("127.0.0.1:5000/team/App:v1", "ab"),
            "pkg:oci/app@sha256%3Aab?repository_url=127.0.0.1:5000/team/App&tag=v1"
        );
        assert_eq!(oci_purl("app", "ab"), "pkg:oci/app@sha256%3Aab");
        for p in [
            cargo_purl("x", "0.1.0", &[("vcs_url", "git+https://h/a@1".into())]),
            oci_purl("r:5/a:b", "00"),
        ] {
            assert!(
                cyclonedx_bom::external_models::uri::validate_purl(&p.parse().unwrap()).is_ok(),
                "{p}"
            );
        }
    }
}
