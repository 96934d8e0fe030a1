//! Our SLSA `buildType` (`https://cargo-provenance.dev/build/v1`): the typed content of
//! `externalParameters` and `internalParameters`, documented field by field in
//! `docs/provenance.md`.
//!
//! Both structs reject unknown fields when read, so a verifier parsing a statement with them
//! notices any parameter it does not know (SLSA: "verifiers SHOULD reject unrecognized
//! external parameters").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Our build type URI.
pub const BUILD_TYPE: &str = "https://cargo-provenance.dev/build/v1";

/// `externalParameters`: what the person or workflow that started the build chose.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalParameters {
    /// The source: repository, ref, commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceParameters>,
    /// The selected packages, sorted.
    pub packages: Vec<String>,
    /// The selected binaries' names, sorted.
    pub binaries: Vec<String>,
    /// The cargo profile (`release`).
    pub profile: String,
    /// Features requested (`--features`), as given.
    #[serde(default)]
    pub features: Vec<String>,
    /// `--all-features`.
    #[serde(default)]
    pub all_features: bool,
    /// `--no-default-features`.
    #[serde(default)]
    pub no_default_features: bool,
    /// The Rust target triple.
    pub target: String,
    /// The image builder: `native`, `buildx` or `buildctl`.
    pub builder: String,
    /// The Dockerfile (BuildKit builders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<DockerfileParameters>,
    /// The base image: `scratch` or `REF@sha256:HEX`.
    pub base_image: String,
    /// The image name (`--image`), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The image's platforms (`linux/amd64`, ...), sorted.
    pub platforms: Vec<String>,
    /// True when every binary carries cargo-auditable's dependency data (`.dep-v0`); false
    /// with `--no-auditable` (and in statements written before it existed).
    #[serde(default)]
    pub auditable: bool,
    /// `--compression` of the image's layers: `gzip`, `zstd` or `none` (absent in
    /// statements written before the flag existed: gzip).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_compression: Option<String>,
}

/// `externalParameters.source`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceParameters {
    /// The repository (`git+https://github.com/o/r`), without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The ref checked out (`refs/heads/main`, `refs/tags/v1.0.0`); absent when detached.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "ref")]
    pub git_ref: Option<String>,
    /// HEAD's commit (40 hex).
    pub commit: String,
    /// The package's directory in the repository (`""` at the root).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// True when the working tree had changes that are not in `commit`.
    #[serde(default)]
    pub dirty: bool,
}

/// `externalParameters.dockerfile`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DockerfileParameters {
    /// Path relative to the repository root (or `<builtin>/NAME` for our templates).
    pub path: String,
    /// `{"sha256": HEX}` of the file.
    pub digest: BTreeMap<String, String>,
}

/// `internalParameters`: what the builder set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InternalParameters {
    /// The Rust toolchain.
    pub toolchain: ToolchainParameters,
    /// Effective rustflags (local path prefixes hidden).
    #[serde(default)]
    pub rustflags: Vec<String>,
    /// Where the rustflags came from.
    pub rustflags_source: String,
    /// The profile's effective settings.
    pub profile_settings: ProfileSettings,
    /// `SOURCE_DATE_EPOCH` used for the build (seconds).
    pub source_date_epoch: i64,
    /// True with `--reproducible`: times derived from `sourceDateEpoch`, no invocation id.
    pub reproducible: bool,
    /// The image builder instance (buildx builder name, BuildKit version), when known.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub image_builder: BTreeMap<String, String>,
}

/// `internalParameters.toolchain`: `rustc -vV` and `cargo -V`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolchainParameters {
    /// `release:` (`1.95.0`).
    pub rustc_release: String,
    /// `commit-hash:`.
    pub rustc_commit_hash: String,
    /// `commit-date:`.
    pub rustc_commit_date: String,
    /// `host:`.
    pub host: String,
    /// `LLVM version:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llvm_version: Option<String>,
    /// `cargo -V`.
    pub cargo_version: String,
    /// The rustup toolchain name, when rustup picked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rustup_toolchain: Option<String>,
}

/// `internalParameters.profileSettings`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileSettings {
    /// `opt-level`.
    pub opt_level: String,
    /// `lto`.
    pub lto: String,
    /// `codegen-units`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codegen_units: Option<u32>,
    /// `debug`.
    pub debug: String,
    /// `strip`.
    pub strip: String,
    /// `panic`.
    pub panic: String,
}
