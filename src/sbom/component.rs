//! The crate components of the SBOM: each package's key, purl, source, license, features
//! and scope (docs/sbom.md, "Crate components").

use std::collections::BTreeSet;

use cargo_metadata::Package;

use super::load::{self, Loaded};
use super::resolve::{self, Resolution, Use};
use super::{ComponentScope, ComponentSpec, Kind, cyclonedx, license};
use crate::inspect::toolchain::relative_to as relative_path;
use crate::util::url::strip_userinfo;

/// A stable id free of absolute paths, the one `inspect` uses (`name@version` for crates.io,
/// `+registry:<index>`, `+git:<url>#<rev>`, or `+path:<path relative to the workspace root>`).
pub fn package_key(loaded: &Loaded, p: &Package) -> String {
    let source = match &p.source {
        Some(s) => crate::inspect::deps::parse_source(&s.repr),
        None => crate::inspect::Source::Path {
            path: relative_path(&load::package_dir(p), loaded.workspace_root()),
        },
    };
    crate::inspect::deps::package_id(&p.name, &p.version.to_string(), &source)
}

/// Where a package comes from.
enum Source {
    CratesIo,
    Registry(String),
    Git { url: String, rev: String },
    Path(String),
}

fn source_of(loaded: &Loaded, p: &Package) -> Source {
    let Some(src) = p.source.as_ref().map(|s| s.repr.as_str()) else {
        return Source::Path(relative_path(
            &load::package_dir(p),
            loaded.workspace_root(),
        ));
    };
    match crate::inspect::deps::parse_source(src) {
        crate::inspect::Source::Registry { url } if url == crate::inspect::deps::CRATES_IO => {
            Source::CratesIo
        }
        crate::inspect::Source::Git { url, rev } => Source::Git { url, rev },
        crate::inspect::Source::Registry { url } => Source::Registry(url),
        crate::inspect::Source::Path { path } => Source::Path(path),
    }
}

/// The component of a package the shipped binaries use.
pub fn library(
    loaded: &Loaded,
    res: &Resolution,
    units: &BTreeSet<resolve::Unit>,
    p: usize,
    used: Use,
) -> ComponentSpec {
    let pkg = &loaded.metadata.packages[p];
    let (name, version) = (pkg.name.as_str(), pkg.version.to_string());
    let mut props = Vec::new();
    let purl = match source_of(loaded, pkg) {
        Source::CratesIo => {
            props.push(("cargo-provenance:source".to_owned(), "registry".to_owned()));
            cyclonedx::cargo_purl(name, &version, &[])
        }
        Source::Registry(url) => {
            props.push(("cargo-provenance:source".to_owned(), "registry".to_owned()));
            cyclonedx::cargo_purl(name, &version, &[("repository_url", url)])
        }
        Source::Git { url, rev } => {
            props.push(("cargo-provenance:source".to_owned(), "git".to_owned()));
            cyclonedx::cargo_purl(name, &version, &[("vcs_url", format!("git+{url}@{rev}"))])
        }
        Source::Path(rel) => {
            props.push(("cargo-provenance:source".to_owned(), "path".to_owned()));
            props.push(("cargo-provenance:path".to_owned(), rel.clone()));
            cyclonedx::cargo_purl(name, &version, &[("download_url", format!("file:{rel}"))])
        }
    };
    // The features of the unit that ships: the target unit when the crate is linked (a crate
    // compiled for a build script or proc-macro too has other features there), else the host's.
    let shipped = [(p, false), (p, true)]
        .into_iter()
        .find(|u| units.contains(u));
    let features: BTreeSet<&str> = shipped
        .and_then(|u| res.features.get(&u))
        .into_iter()
        .flatten()
        .filter(|f| pkg.features.contains_key(*f))
        .map(String::as_str)
        .collect();
    if !features.is_empty() {
        props.push((
            "cargo-provenance:features".to_owned(),
            features.into_iter().collect::<Vec<_>>().join(","),
        ));
    }
    if res.proc_macro[p] {
        props.push(("cargo-provenance:proc-macro".to_owned(), "true".to_owned()));
    }
    ComponentSpec {
        bom_ref: package_key(loaded, pkg),
        kind: Kind::Library,
        name: name.to_owned(),
        version: Some(version),
        scope: Some(match used {
            Use::Required => ComponentScope::Required,
            Use::BuildOnly => ComponentScope::Excluded,
        }),
        sha256: loaded.checksum(pkg).map(str::to_owned),
        license: license::normalize(
            pkg.license.as_deref(),
            pkg.license_file.as_ref().map(|f| f.as_str()),
        ),
        purl: Some(purl),
        vcs: pkg.repository.as_deref().map(strip_userinfo),
        properties: props,
    }
}
