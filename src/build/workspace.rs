//! The workspace root and target directory of the build: guessed from the files, so that
//! cargo can start compiling at once, and confirmed by `cargo metadata` once cargo is done:
//! the one the cargo-auditable resolution runs anyway, or `--no-deps` started beside the
//! build ([`Answer`]).
//!
//! The two paths go into the rustflags (`--remap-path-prefix`) and cargo's `--target-dir`,
//! so they must be known before cargo starts. Asking cargo first costs one cargo start
//! (~15 ms on 2 cores) before every build; guessing costs nothing when the guess is right,
//! and a build run again when it is wrong (the caller's part: see `build_gated`).
//!
//! Cargo builds in the guessed root, so a guess never names a directory other than the
//! manifest's own: a root found further up could be another project (a directory above
//! holding its own `Cargo.lock`), whose build scripts must not run. A member of a workspace
//! built from its own directory therefore waits for cargo, as before.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Result;
use crate::inspect::cargo_config::CargoConfig;

/// Where cargo builds: the workspace root and the target directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The workspace root (the directory of the root `Cargo.toml`).
    pub root: PathBuf,
    /// The target directory.
    pub target_dir: PathBuf,
}

/// The directory cargo starts from, spelled as cargo spells it: `--manifest-path` joined to
/// the current directory with `.` and `..` resolved by name (cargo's `normalize_path`;
/// symbolic links are kept, so the guess names the paths rustc will see), else the current
/// directory's nearest `Cargo.toml`'s directory (found as `locate_manifest` finds it).
pub fn start_dir(manifest_path: Option<&Path>, located_dir: &Path) -> PathBuf {
    let Some(given) = manifest_path else {
        return located_dir.to_path_buf();
    };
    let Ok(cwd) = std::env::current_dir() else {
        return located_dir.to_path_buf();
    };
    let mut normal = PathBuf::new();
    for part in cwd.join(given).components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal.pop();
    normal
}

/// The layout as the files say, or `None` when they do not say it plainly.
///
/// The root is `manifest_dir` when it holds a `Cargo.lock` (the build runs with `--locked`,
/// which needs the lockfile at the workspace root); without one there, no guess. The target
/// directory is `CARGO_TARGET_DIR` (relative to the current directory, as cargo reads it)
/// or `<root>/target`; a `build.target-dir` from the configuration or `CARGO_BUILD_TARGET_DIR`
/// is left to cargo (no guess).
pub fn guess(manifest_dir: &Path, config: &CargoConfig) -> Option<Layout> {
    let root = manifest_dir.to_path_buf();
    if !root.join("Cargo.lock").is_file() {
        return None;
    }
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => std::env::current_dir().ok()?.join(dir),
        None if config
            .get_string(&["build", "target-dir"], "CARGO_BUILD_TARGET_DIR")
            .is_some() =>
        {
            return None;
        }
        None => root.join("target"),
    };
    Some(Layout { root, target_dir })
}

/// `cargo metadata --no-deps` running in the background (through the one runner,
/// [`crate::inspect::metadata`]): the workspace root and target directory.
pub struct Metadata {
    running: crate::inspect::metadata::Running,
}

impl Metadata {
    /// Starts `cargo metadata --no-deps --format-version 1 [--manifest-path PATH]` in the
    /// current directory, as `cargo build` would find the project.
    pub fn spawn(manifest_path: Option<&Path>) -> Result<Metadata> {
        let mut args: Vec<std::ffi::OsString> = ["metadata", "--no-deps", "--format-version", "1"]
            .map(Into::into)
            .into();
        if let Some(m) = manifest_path {
            args.push("--manifest-path".into());
            args.push(m.into());
        }
        let shown = manifest_path.unwrap_or(Path::new("Cargo.toml"));
        let running = crate::inspect::metadata::spawn(
            &crate::inspect::toolchain::cargo_program(),
            &args,
            Path::new("."),
            shown,
        )?;
        Ok(Metadata { running })
    }

    /// Waits for it: the workspace root and target directory.
    pub fn wait(self) -> Result<Layout> {
        #[derive(Deserialize)]
        struct Meta {
            workspace_root: PathBuf,
            target_directory: PathBuf,
        }
        let m: Meta = self.running.finish()?;
        Ok(Layout {
            root: m.workspace_root,
            target_dir: m.target_directory,
        })
    }
}

/// Where cargo's answer comes from.
pub enum Answer {
    /// `cargo metadata --no-deps`, started for it ([`Metadata::spawn`]).
    NoDeps(Metadata),
    /// The full `cargo metadata` the cargo-auditable resolution asks for this selection
    /// ([`crate::sbom::load::layout`]): one cargo run for both. Used only when cargo runs
    /// where `--no-deps` would have run (see [`shares_the_resolution`]): started beside
    /// `cargo build`, a third cargo took ~9 ms from the build on 2 cores (docs/image.md).
    Shared(crate::select::Selection),
}

impl Answer {
    /// Waits for cargo's answer: the workspace root and target directory.
    pub fn wait(self) -> Result<Layout> {
        match self {
            Answer::NoDeps(m) => m.wait(),
            Answer::Shared(selection) => {
                let (root, target_dir) = crate::sbom::load::layout(&selection)?;
                Ok(Layout { root, target_dir })
            }
        }
    }
}

/// Whether the layout may be confirmed by the cargo-auditable resolution's `cargo
/// metadata` (which runs in `manifest_dir`, naming the manifest) instead of `--no-deps` (run
/// in the current directory, as cargo finds the project from there): only when the two are
/// the same directory, so that cargo reads the same configuration and resolves a relative
/// `CARGO_TARGET_DIR` the same way. (The caller also asks that the guessed root be spelled
/// as `manifest_dir`: a `--manifest-path` through a symbolic link keeps the link in the
/// guess, as cargo does, while the resolution names the manifest without it.)
pub fn shares_the_resolution(manifest_dir: &Path) -> bool {
    std::env::current_dir().is_ok_and(|cwd| cwd == manifest_dir)
}

/// The layout the build uses: cargo's answer, or a guess still to be confirmed by it.
pub enum Pending {
    /// Cargo named it (no guess was made).
    Known,
    /// Guessed; cargo's answer is still coming.
    Guessed(Answer),
}

impl Pending {
    /// The layout to build in: `guessed` ([`guess`]), with `answer` kept to confirm it
    /// later, else `answer` now.
    pub fn start(guessed: Option<Layout>, answer: Answer) -> Result<(Layout, Pending)> {
        match guessed {
            Some(layout) => Ok((layout, Pending::Guessed(answer))),
            None => Ok((answer.wait()?, Pending::Known)),
        }
    }

    /// Whether the layout is still to be confirmed.
    pub fn is_guessed(&self) -> bool {
        matches!(self, Pending::Guessed(_))
    }

    /// Whether `used` is cargo's layout: waits for cargo's answer when the layout was
    /// guessed (an error of `cargo metadata` is returned as is).
    pub fn confirm(&mut self, used: &Layout) -> Result<Confirmed> {
        match std::mem::replace(self, Pending::Known) {
            Pending::Known => Ok(Confirmed::Same),
            Pending::Guessed(answer) => {
                let actual = answer.wait()?;
                Ok(match &actual == used {
                    true => Confirmed::Same,
                    false => Confirmed::Other(actual),
                })
            }
        }
    }
}

/// What cargo said of a guessed layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// The layout used is cargo's.
    Same,
    /// Cargo names another: the build must run again with it.
    Other(Layout),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_guessed_only_where_the_manifest_is() {
        let dir = tempfile::tempdir().unwrap();
        let member = dir.path().join("crates/app");
        std::fs::create_dir_all(&member).unwrap();
        std::fs::write(dir.path().join("Cargo.lock"), "version = 4\n").unwrap();
        // A lockfile above may be another project's: cargo is asked.
        assert_eq!(guess(&member, &CargoConfig::default()), None);
        let g = guess(dir.path(), &CargoConfig::default()).unwrap();
        assert_eq!(g.root, dir.path());
        match std::env::var_os("CARGO_TARGET_DIR") {
            None => assert_eq!(g.target_dir, dir.path().join("target")),
            Some(t) => assert_eq!(g.target_dir, std::env::current_dir().unwrap().join(t)),
        }
    }

    #[test]
    fn the_start_dir_is_spelled_as_cargo_spells_it() {
        let located = Path::new("/located");
        assert_eq!(start_dir(None, located), located);
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            start_dir(Some(Path::new("/w/./a/../b/Cargo.toml")), located),
            Path::new("/w/b")
        );
        assert_eq!(
            start_dir(Some(Path::new("x/Cargo.toml")), located),
            cwd.join("x")
        );
    }

    #[test]
    fn a_configured_target_dir_is_left_to_cargo() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.lock"), "version = 4\n").unwrap();
        std::fs::create_dir_all(dir.path().join(".cargo")).unwrap();
        std::fs::write(
            dir.path().join(".cargo/config.toml"),
            "[build]\ntarget-dir = \"out\"\n",
        )
        .unwrap();
        let config = CargoConfig::load(dir.path(), None).unwrap();
        // `CARGO_TARGET_DIR` (set by some test runners) comes before the configuration, as
        // in cargo: then the guess is it.
        match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
            None => assert_eq!(guess(dir.path(), &config), None),
            Some(t) => assert_eq!(
                guess(dir.path(), &config).map(|g| g.target_dir),
                Some(std::env::current_dir().unwrap().join(t))
            ),
        }
    }
}
