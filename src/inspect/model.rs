//! The build inputs as typed data: what `inspect` reports and what the SBOM and provenance
//! stages consume. Serialised as-is for `inspect --format json` (field names in snake_case,
//! absent values omitted, lists sorted so output is deterministic).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything a build comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BuildInputs {
    /// The Rust toolchain cargo would use.
    pub toolchain: Toolchain,
    /// The git state of the repository holding the package; `None` outside git or before
    /// the first commit (a warning says which).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git: Option<GitState>,
    /// Cargo settings in effect: target, profile, rustflags, features.
    pub cargo: CargoSettings,
    /// The resolved dependency graph for the selected packages.
    pub dependencies: DepGraph,
    /// Warnings collected while inspecting (not a git repository, no commits, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The toolchain: `rustc -vV`, `cargo -V`, and which rustup toolchain was picked and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Toolchain {
    /// `release:` of `rustc -vV` (e.g. `1.95.0`).
    pub rustc_release: String,
    /// `commit-hash:` of `rustc -vV`.
    pub rustc_commit_hash: String,
    /// `commit-date:` of `rustc -vV`.
    pub rustc_commit_date: String,
    /// `host:` of `rustc -vV`.
    pub host: String,
    /// `LLVM version:` of `rustc -vV`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llvm_version: Option<String>,
    /// The first line of `rustc -vV` (`rustc 1.95.0 (59807616e 2026-04-14)`).
    pub rustc_version_line: String,
    /// The output of `cargo -V`.
    pub cargo_version: String,
    /// The rustc program used (the basename only, never an absolute path of this machine).
    pub rustc: String,
    /// `RUSTC_WRAPPER` program basename, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rustc_wrapper: Option<String>,
    /// The rustup toolchain in effect (`stable-x86_64-unknown-linux-gnu`), when rustup is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rustup_toolchain: Option<String>,
    /// Where the rustup toolchain choice came from: `rust-toolchain file (<relative path>)`,
    /// `override (rustup override set)`, `environment (RUSTUP_TOOLCHAIN)`,
    /// `command line (+toolchain)`, `default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rustup_toolchain_source: Option<String>,
}

/// The git state at build time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct GitState {
    /// HEAD's commit id (40 hex).
    pub commit: String,
    /// The branch checked out (`main`), `None` with a detached HEAD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// True when HEAD is detached.
    pub detached: bool,
    /// The full ref HEAD points to (`refs/heads/main`), `None` when detached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_ref: Option<String>,
    /// Tags pointing at HEAD, sorted.
    #[serde(default)]
    pub tags: Vec<String>,
    /// True when tracked files changed or untracked, non-ignored files exist.
    pub dirty: bool,
    /// The dirty paths, relative to the repository root, sorted.
    #[serde(default)]
    pub dirty_paths: Vec<String>,
    /// The repository's source URL in canonical form (`--source-url`, else the CI platform's
    /// repository URL, else the remote's; see [`super::source_url`]); `None` for a
    /// local-path remote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_url: Option<String>,
    /// The remote's name (`origin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_name: Option<String>,
    /// HEAD's committer time, seconds since the epoch: the default SOURCE_DATE_EPOCH.
    pub commit_time: i64,
    /// The package's directory relative to the repository root (`""` at the root), with `/`.
    pub package_path: String,
}

/// Cargo settings in effect for the build.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CargoSettings {
    /// The target triple built for (the host when `--target` is not given).
    pub target: String,
    /// True when `--target` (or `build.target`) asked for it explicitly.
    pub target_explicit: bool,
    /// Effective rustflags for the target, in order, with where they came from.
    pub rustflags: Vec<String>,
    /// Where `rustflags` came from: `CARGO_ENCODED_RUSTFLAGS`, `RUSTFLAGS`,
    /// `target.<triple>.rustflags (<files>)` and/or `target.'cfg(..)'.rustflags (<files>)`
    /// (joined with `; `), `build.rustflags (<files>)`, or `none`. `<files>` are the cargo
    /// config files that contributed, relative to the manifest's directory
    /// (`.cargo/config.toml`) or `$CARGO_HOME/config.toml`, or `environment (VAR)`.
    pub rustflags_source: String,
    /// The profile in effect and its settings.
    pub profile: Profile,
    /// Features requested on the command line (as given).
    #[serde(default)]
    pub features: Vec<String>,
    /// `--all-features`.
    pub all_features: bool,
    /// `--no-default-features`.
    pub no_default_features: bool,
    /// The selected packages' names, sorted.
    pub packages: Vec<String>,
    /// The selected binaries: (package name, binary name), sorted.
    pub binaries: Vec<BinaryTarget>,
    /// The workspace root relative to the repository root (`""` at the root); never absolute.
    pub workspace_path: String,
}

/// A binary target of a selected package.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct BinaryTarget {
    /// The package that defines it.
    pub package: String,
    /// The binary's name.
    pub name: String,
    /// Features the binary requires (`required-features`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_features: Vec<String>,
}

/// A cargo profile's settings after defaults, `[profile.*]` in Cargo.toml and cargo config,
/// and `CARGO_PROFILE_*` environment variables.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    /// The profile name (`release`).
    pub name: String,
    /// `opt-level` (`"3"`, `"s"`, ...).
    pub opt_level: String,
    /// `lto` (`"false"`, `"thin"`, `"fat"`, `"off"`, `"true"`).
    pub lto: String,
    /// `codegen-units`, when set (cargo's default otherwise: 16, 256 incremental).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codegen_units: Option<u32>,
    /// `debug` (`"0"`/`"none"`, `"line-tables-only"`, `"2"`/`"full"`, ...).
    pub debug: String,
    /// `strip` (`"none"`, `"debuginfo"`, `"symbols"`).
    pub strip: String,
    /// `panic` (`"unwind"`, `"abort"`).
    pub panic: String,
    /// `incremental`.
    pub incremental: bool,
    /// Where settings came from, by key: `default (release)`/`default (dev)`, `Cargo.toml`,
    /// a cargo config file (`.cargo/config.toml`), `environment (CARGO_PROFILE_..)`.
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
}

/// The resolved graph: every package cargo resolved for the selection, and its edges.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DepGraph {
    /// The selected root packages' ids, sorted.
    pub roots: Vec<String>,
    /// Every resolved package, sorted by id.
    pub packages: Vec<Package>,
}

/// One resolved package.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Package {
    /// A stable id free of absolute paths: `name@version` for registry crates,
    /// `name@version+git:<url>#<rev>`, `name@version+path:<relative path>`.
    pub id: String,
    /// The crate name.
    pub name: String,
    /// The version.
    pub version: String,
    /// Where the package comes from.
    pub source: Source,
    /// The `checksum` from Cargo.lock (sha256 hex), for registry crates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// `license` as written in the manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// `license-file` (a name, never the text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_file: Option<String>,
    /// `repository` URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Features enabled by the resolve, sorted.
    #[serde(default)]
    pub features: Vec<String>,
    /// What the package builds: `lib`, `proc-macro`, `bin`, `custom-build`, ..., sorted.
    #[serde(default)]
    pub target_kinds: Vec<String>,
    /// Outgoing edges, sorted by target id.
    #[serde(default)]
    pub dependencies: Vec<Edge>,
}

/// Where a package comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A registry (crates.io or another).
    Registry {
        /// The registry's index URL (`https://github.com/rust-lang/crates.io-index`).
        url: String,
    },
    /// A git repository at a locked revision.
    Git {
        /// The repository URL without userinfo and without the `?rev=`/`#rev` suffix.
        url: String,
        /// The locked commit.
        rev: String,
    },
    /// A local path (workspace members, path dependencies).
    Path {
        /// Path relative to the workspace root, with `/`.
        path: String,
    },
}

/// An edge from a package to one of its dependencies.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Edge {
    /// The dependency's package id.
    pub id: String,
    /// The name it is known by in the depending crate (renames included).
    pub name: String,
    /// How it is depended on: one entry per (kind, platform) pair.
    pub kinds: Vec<EdgeKind>,
}

/// One kind of dependency edge.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct EdgeKind {
    /// `normal`, `build` or `dev`.
    pub kind: String,
    /// The platform condition (`cfg(windows)`, a triple), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// A unit cargo compiled, as reported by a `compiler-artifact` JSON message during `build`.
/// The build stage records these so that the SBOM lists exactly what was compiled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct CompiledUnit {
    /// Cargo's package id spec as printed in the message (`registry+https://...#name@1.0.0`,
    /// `path+file:///...#name@0.1.0`); never written to outputs as-is (it may hold paths).
    pub package_id: String,
    /// The crate name.
    pub name: String,
    /// The version.
    pub version: String,
    /// The target's name (`serde_derive`, `build-script-build`, `hello-service`).
    pub target_name: String,
    /// The target's kinds (`lib`, `proc-macro`, `custom-build`, `bin`, ...).
    pub target_kinds: Vec<String>,
}

/// A binary the build produced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct BuiltBinary {
    /// The package that defines it.
    pub package: String,
    /// The binary's name.
    pub name: String,
    /// Where it is inside the image (`/usr/local/bin/<name>`).
    pub path_in_image: String,
    /// The sha256 of the file.
    pub digest: crate::util::digest::Digest,
    /// Size in bytes.
    pub size: u64,
    /// Where the file is on this machine (never serialised into outputs).
    #[serde(skip)]
    pub local_path: std::path::PathBuf,
}
