//! What a verified provenance of our build type records, and the `build` arguments that
//! repeat it.

use std::path::Path;

use serde_json::Value;

use crate::formats::build_type::{ExternalParameters, InternalParameters, SourceParameters};
use crate::formats::intoto::Statement;
use crate::formats::slsa::Provenance;
use crate::util::digest::Digest;
use crate::verify::checks::{KNOWN_BUILD_TYPES, SLSA_PROVENANCE_V1};

/// What the provenance says was built, and from what.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `externalParameters`.
    pub external: ExternalParameters,
    /// `internalParameters`.
    pub internal: InternalParameters,
    /// The subjects with a sha256 digest.
    pub subjects: Vec<Subject>,
}

/// One subject of the provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `name` (the image name, a platform, a binary's path in the image).
    pub name: String,
    /// The sha256 digest.
    pub digest: Digest,
    /// True for the image index (its `mediaType` says so).
    pub is_index: bool,
}

impl Recorded {
    /// The first statement of `statements` that is a provenance of our build type.
    pub fn first(statements: &[Value]) -> Option<Recorded> {
        statements
            .iter()
            .find_map(|s| Recorded::from_statement(s).ok())
    }

    /// Reads a verified provenance statement of our build type.
    pub fn from_statement(st: &Value) -> std::result::Result<Recorded, String> {
        if st["predicateType"] != SLSA_PROVENANCE_V1 {
            return Err("not an SLSA v1 provenance".into());
        }
        let st: Statement<Provenance> = serde_json::from_value(st.clone())
            .map_err(|e| format!("not an SLSA v1 provenance: {e}"))?;
        let def = &st.predicate.build_definition;
        let bt = def.build_type.as_str();
        if !KNOWN_BUILD_TYPES.contains(&bt) {
            return Err(format!("buildType `{bt}` is not ours: cannot rebuild"));
        }
        let external = serde_json::from_value(def.external_parameters.clone())
            .map_err(|e| format!("externalParameters: {e}"))?;
        let internal = serde_json::from_value(def.internal_parameters.clone().unwrap_or_default())
            .map_err(|e| format!("internalParameters: {e}"))?;
        let subjects = st
            .subject
            .iter()
            .filter_map(|s| {
                Some(Subject {
                    name: s.name.clone().unwrap_or_default(),
                    digest: s.sha256()?,
                    is_index: s
                        .media_type
                        .as_deref()
                        .is_some_and(|m| m.contains("image.index")),
                })
            })
            .collect();
        Ok(Recorded {
            external,
            internal,
            subjects,
        })
    }

    /// The recorded source (`externalParameters.source`), when there is one.
    pub fn source(&self) -> Option<&SourceParameters> {
        self.external.source.as_ref()
    }

    /// The name of the index subject (empty when there is none).
    pub fn index_name(&self) -> &str {
        self.subjects
            .iter()
            .find(|s| s.is_index)
            .map_or("", |s| s.name.as_str())
    }

    /// The `build` arguments that repeat the recorded build in `src` (the clone), writing to
    /// `out`.
    pub fn build_args(&self, src: &Path, out: &Path) -> Vec<String> {
        let e = &self.external;
        let dir = match e.source.as_ref().map(|s| s.path.as_str()) {
            Some(p) if !p.is_empty() => src.join(p),
            _ => src.to_owned(),
        };
        let mut a = vec![
            "build".to_owned(),
            "-q".to_owned(),
            "--manifest-path".to_owned(),
            dir.join("Cargo.toml").display().to_string(),
            "--locked".to_owned(),
            "--no-sign".to_owned(),
            "--output-dir".to_owned(),
            out.display().to_string(),
            "--builder".to_owned(),
            e.builder.clone(),
            "--profile".to_owned(),
            e.profile.clone(),
        ];
        for p in &e.packages {
            a.extend(["-p".to_owned(), p.clone()]);
        }
        for b in &e.binaries {
            a.extend(["--bin".to_owned(), b.clone()]);
        }
        if !e.features.is_empty() {
            a.extend(["--features".to_owned(), e.features.join(",")]);
        }
        if e.all_features {
            a.push("--all-features".to_owned());
        }
        if e.no_default_features {
            a.push("--no-default-features".to_owned());
        }
        if e.platforms.is_empty() {
            a.extend(["--target".to_owned(), e.target.clone()]);
        } else {
            a.extend(["--platform".to_owned(), e.platforms.join(",")]);
        }
        if let Some(c) = &e.layer_compression {
            a.extend(["--compression".to_owned(), c.clone()]);
        }
        if e.base_image != "scratch" {
            a.extend(["--base".to_owned(), e.base_image.clone()]);
        }
        if let Some(d) = &e.dockerfile
            && !d.path.starts_with('<')
            && !d.path.starts_with("templates/")
        {
            a.extend([
                "--dockerfile".to_owned(),
                src.join(&d.path).display().to_string(),
            ]);
        }
        if !e.auditable {
            a.push("--no-auditable".to_owned());
        }
        if let Some(i) = &e.image {
            a.extend(["--image".to_owned(), i.clone()]);
        }
        a
    }
}
