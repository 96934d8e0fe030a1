//! What the SBOM is computed from, read in one pass and without changing anything:
//! `cargo metadata --locked` (`--all-features` when features are asked for: the superset
//! graph the selection is a part of), `rustc --print host-tuple --print cfg` for the host
//! and `rustc --print cfg --target` for the target (to evaluate
//! `[target.'cfg(..)'.dependencies]`), the Cargo.lock checksums and HEAD's commit time.
//!
//! The child processes run in parallel; the lockfile is parsed while cargo works. A stale
//! lockfile makes cargo fail (`--locked`): that is an exit-2 error and the file is untouched.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;

use cargo_metadata::cargo_platform::Cfg;
use cargo_metadata::{Metadata, Package};

use crate::error::{Error, Result};
use crate::inspect::deps::{LockChecksums, finish_metadata};
pub use crate::inspect::urls::strip_userinfo;
use crate::select::Selection;

/// Everything read from the project and the toolchain.
#[derive(Debug)]
pub struct Loaded {
    /// `cargo metadata` (all features, all platforms).
    pub metadata: Metadata,
    /// The host triple (`rustc -vV`).
    pub host: String,
    /// `rustc --print cfg` for the host.
    pub host_cfg: Vec<Cfg>,
    /// The target triple (the host without `--target`).
    pub target: String,
    /// `rustc --print cfg --target <target>`.
    pub target_cfg: Vec<Cfg>,
    /// Cargo.lock checksums by `(name, version, source)`.
    pub checksums: LockChecksums,
    /// The manifest the selection starts from (absolute; never written to outputs).
    pub manifest: PathBuf,
    /// HEAD's committer time, when the workspace is in a git repository with commits.
    pub commit_time: Option<i64>,
    /// The `origin` (else first) remote URL without userinfo, when there is one.
    pub remote_url: Option<String>,
    /// `[workspace.package] version` of the root manifest, when set.
    pub workspace_version: Option<String>,
    /// The feature resolver the workspace asks for (`"1"`, `"2"`, `"3"`).
    pub resolver: String,
    /// Whether `cargo metadata` ran with `--all-features`.
    pub all_features: bool,
}

impl Loaded {
    /// The Cargo.lock checksum of a registry package.
    pub fn checksum(&self, p: &Package) -> Option<&str> {
        let source = &p.source.as_ref()?.repr;
        self.checksums
            .get(&p.name, &p.version.to_string(), source)
            .map(String::as_str)
    }

    /// The workspace root directory.
    pub fn workspace_root(&self) -> &Path {
        self.metadata.workspace_root.as_std_path()
    }
}

/// `cargo metadata` output read already (by `inspect`), with the arguments it ran with: used
/// instead of running cargo when the SBOM would ask with the same arguments.
pub type Reuse = (Vec<OsString>, Metadata);

/// Runs cargo and rustc and reads the lockfile and git state for `selection`;
/// `all_features` forces `cargo metadata --all-features`.
pub fn load(selection: &Selection, all_features: bool, reuse: Option<Reuse>) -> Result<Loaded> {
    let all_features =
        all_features || selection.all_features || !selection.feature_list().is_empty();
    let manifest = crate::inspect::locate_manifest(selection)?;
    let args = metadata_args(selection, &manifest, all_features);
    let meta = match reuse {
        Some((a, metadata)) if a == args => MetadataAnswer::Read(Box::new(metadata)),
        _ => MetadataAnswer::Running(metadata_command(&args, &manifest).spawn().map_err(|e| {
            Error::msg(format!(
                "running `cargo metadata`: {e}; is cargo installed?"
            ))
        })?),
    };
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    // One rustc for the host triple and its cfg (`--print host-tuple`, rustc 1.84+), with
    // `rustc -vV` + `--print cfg` as the fallback for older toolchains.
    let host_child = spawn_rustc(
        &rustc,
        &["--print", "host-tuple", "--print", "cfg"],
        selection.target.is_none(),
    )?;
    let target_cfg_child = match &selection.target {
        Some(t) => Some(spawn_rustc(
            &rustc,
            &["--print", "cfg", "--target", t],
            true,
        )?),
        None => None,
    };
    let (host, host_cfg) = match wait_rustc(host_child, "rustc --print host-tuple --print cfg") {
        Ok(out) => {
            let (first, rest) = out.split_once('\n').unwrap_or((&out, ""));
            (first.trim().to_owned(), parse_cfg(rest)?)
        }
        Err(_) => {
            let vv = spawn_rustc(&rustc, &["-vV"], false)?;
            let vv = wait_rustc(vv, "rustc -vV")?;
            let host = vv
                .lines()
                .find_map(|l| l.strip_prefix("host: "))
                .ok_or_else(|| Error::msg("`rustc -vV` printed no `host:` line"))?
                .trim()
                .to_owned();
            let cfg = spawn_rustc(&rustc, &["--print", "cfg"], selection.target.is_none())?;
            (host, parse_cfg(&wait_rustc(cfg, "rustc --print cfg")?)?)
        }
    };
    let (target, target_cfg) = match (&selection.target, target_cfg_child) {
        (Some(t), Some(child)) => (
            t.clone(),
            parse_cfg(&wait_rustc(child, "rustc --print cfg --target")?)?,
        ),
        _ => (host.clone(), host_cfg.clone()),
    };
    let metadata = match meta {
        MetadataAnswer::Read(metadata) => *metadata,
        MetadataAnswer::Running(child) => finish_metadata(child, &manifest)?,
    };
    let root = metadata.workspace_root.as_std_path().to_path_buf();
    let checksums = LockChecksums::read(&root.join("Cargo.lock"))?;
    let (workspace_version, resolver) = read_root_manifest(&root, &metadata);
    let (commit_time, remote_url) = git_info(&root);
    Ok(Loaded {
        metadata,
        host,
        host_cfg,
        target,
        target_cfg,
        checksums,
        manifest,
        commit_time,
        remote_url,
        workspace_version,
        resolver,
        all_features,
    })
}

/// `cargo metadata`: read already, or running.
enum MetadataAnswer {
    Read(Box<Metadata>),
    Running(Child),
}

/// The arguments of `cargo metadata` (after the program), in the order `inspect` puts them,
/// so that equal questions compare equal.
fn metadata_args(selection: &Selection, manifest: &Path, all_features: bool) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["metadata", "--format-version", "1", "--locked"]
        .map(OsString::from)
        .into();
    args.push("--manifest-path".into());
    args.push(manifest.as_os_str().to_owned());
    // The graph must hold every optional dependency the selection can turn on. Without
    // feature flags, cargo's graph for every member's default features is such a superset
    // (fewer packages or `--no-default-features` only take away); with them, all features.
    // When the resolution still meets an optional dependency the graph lacks (a non-member
    // selected with -p), it is loaded again with all features.
    if all_features {
        args.push("--all-features".into());
    }
    if selection.offline {
        args.push("--offline".into());
    }
    args
}

/// `cargo metadata` run from the manifest's directory, as `inspect` runs it (so cargo
/// config and rustup overrides apply as for a build there).
fn metadata_command(args: &[OsString], manifest: &Path) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut c = Command::new(cargo);
    c.args(args);
    if let Some(dir) = manifest.parent() {
        c.current_dir(dir);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn spawn_rustc(rustc: &str, args: &[&str], with_rustflags: bool) -> Result<Child> {
    let mut c = Command::new(rustc);
    c.args(args);
    if with_rustflags {
        c.args(env_rustflags());
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.spawn()
        .map_err(|e| Error::msg(format!("running `{rustc} {}`: {e}", args.join(" "))))
}

/// Rustflags from the environment, as cargo would pass them to `rustc --print cfg`
/// (`CARGO_ENCODED_RUSTFLAGS` first, else `RUSTFLAGS`). Config-file rustflags are not read.
fn env_rustflags() -> Vec<String> {
    if let Ok(v) = std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        return v
            .split('\x1f')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
    }
    std::env::var("RUSTFLAGS")
        .map(|v| v.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn wait_rustc(child: Child, what: &str) -> Result<String> {
    let out = child
        .wait_with_output()
        .map_err(|e| Error::msg(format!("running `{what}`: {e}")))?;
    if !out.status.success() {
        return Err(Error::msg(format!(
            "`{what}` failed: {}; check the target triple and the toolchain",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn parse_cfg(text: &str) -> Result<Vec<Cfg>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            Cfg::from_str(l.trim())
                .map_err(|e| Error::msg(format!("`rustc --print cfg` printed `{l}`: {e}")))
        })
        .collect()
}

/// `[workspace.package] version` and the resolver version of the root manifest.
fn read_root_manifest(root: &Path, metadata: &Metadata) -> (Option<String>, String) {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let value: toml::Value =
        toml::from_str(&text).unwrap_or(toml::Value::Table(Default::default()));
    let ws = value.get("workspace");
    let version = ws
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let explicit = ws
        .and_then(|w| w.get("resolver"))
        .or_else(|| value.get("package").and_then(|p| p.get("resolver")))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let resolver = explicit.unwrap_or_else(|| {
        // Without `resolver`, the root package's edition decides (2021+ => "2").
        let root_manifest = root.join("Cargo.toml");
        let edition = metadata
            .packages
            .iter()
            .find(|p| p.manifest_path.as_std_path() == root_manifest)
            .map(|p| p.edition.as_str().to_owned());
        match edition.as_deref() {
            Some("2015") | Some("2018") => "1".to_owned(),
            Some(_) => "2".to_owned(),
            None => "1".to_owned(),
        }
    });
    (version, resolver)
}

/// HEAD's committer time and the remote URL (userinfo removed), when in a git repository.
fn git_info(root: &Path) -> (Option<i64>, Option<String>) {
    let Ok(repo) = crate::inspect::git::open(root) else {
        return (None, None);
    };
    let time = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .map(|c| c.committer().when().seconds());
    (time, crate::inspect::git::remote(&repo).1)
}

/// The directory of a package (its manifest's parent).
pub fn package_dir(p: &Package) -> PathBuf {
    p.manifest_path
        .as_std_path()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustc_cfg_lines() {
        let cfg = parse_cfg("unix\ntarget_os=\"linux\"\n\n").unwrap();
        assert_eq!(cfg.len(), 2);
        assert!(parse_cfg("target_os=\"unterminated").is_err());
    }
}
