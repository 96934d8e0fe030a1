//! The toolchain cargo would use: `rustc -vV` (through `RUSTC_WRAPPER` and `RUSTC` or
//! `build.rustc`, else the `rustc` on PATH, i.e. the rustup proxy), `cargo -V`, and the
//! rustup toolchain in effect with where it came from. Every program runs in the project
//! directory, so rustup's directory overrides and `rust-toolchain` files apply. The three
//! programs run at the same time.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::answers::{self, Answer};
use super::cargo_config::CargoConfig;
use super::model::Toolchain;
use crate::error::{Error, Result};

/// The programs cargo would run, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Programs {
    /// cargo (`$CARGO` when cargo runs us, else `cargo` on PATH).
    pub cargo: OsString,
    /// rustc (`RUSTC`, `build.rustc`, else `rustc`).
    pub rustc: OsString,
    /// `RUSTC_WRAPPER` / `build.rustc-wrapper`, when set and not empty.
    pub wrapper: Option<OsString>,
}

/// The `cargo` to run: `CARGO` when cargo runs us as a subcommand, else `cargo` on PATH.
/// The one place that decides it (the build, `inspect` and the SBOM all ask here).
pub fn cargo_program() -> OsString {
    std::env::var_os("CARGO")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "cargo".into())
}

impl Programs {
    /// Finds the programs from the environment and the cargo configuration.
    pub fn find(config: &CargoConfig) -> Programs {
        let cargo = cargo_program();
        let rustc = std::env::var_os("RUSTC")
            .filter(|v| !v.is_empty())
            .or_else(|| {
                config
                    .get_string(&["build", "rustc"], "CARGO_BUILD_RUSTC")
                    .map(|(v, _)| v.into())
            })
            .or_else(rustup_sibling_rustc)
            .unwrap_or_else(|| "rustc".into());
        let wrapper = match std::env::var_os("RUSTC_WRAPPER") {
            Some(v) => Some(v),
            None => config
                .get_string(&["build", "rustc-wrapper"], "CARGO_BUILD_RUSTC_WRAPPER")
                .map(|(v, _)| v.into()),
        }
        .filter(|v| !v.is_empty());
        Programs {
            cargo,
            rustc,
            wrapper,
        }
    }

    /// The sysroot of rustc when it is a rustup toolchain's own executable
    /// (`$RUSTUP_HOME/toolchains/<name>/bin/rustc`, see [`rustup_sibling_rustc`]): the
    /// toolchain's directory, which is where rustc finds its sysroot (beside its `bin`), so
    /// `rustc --print sysroot` need not run.
    pub fn rustup_sysroot(&self) -> Option<PathBuf> {
        let home = PathBuf::from(std::env::var_os("RUSTUP_HOME")?);
        // Canonical, as rustc reports it (it finds the sysroot from its resolved executable).
        toolchain_of(&home, Path::new(&self.rustc))?
            .canonicalize()
            .ok()
    }

    /// A command running rustc as cargo would (through the wrapper when there is one).
    pub fn rustc_command(&self, dir: &Path) -> Command {
        let mut cmd = match &self.wrapper {
            Some(w) => {
                let mut c = Command::new(w);
                c.arg(&self.rustc);
                c
            }
            None => Command::new(&self.rustc),
        };
        cmd.current_dir(dir);
        cmd
    }
}

/// The running probes of the toolchain; [`ToolchainProbe::finish`] collects them.
pub struct ToolchainProbe {
    programs: Programs,
    dir: PathBuf,
    rustc: Answer,
    cargo: Answer,
    rustup: Option<Child>,
}

impl ToolchainProbe {
    /// Starts `rustc -vV` (unless `known_vv`, its output, is given), `cargo -V` and (when
    /// needed) `rustup show active-toolchain` in `dir`.
    pub fn start(
        programs: Programs,
        dir: &Path,
        known_vv: Option<String>,
    ) -> Result<ToolchainProbe> {
        let rustc = match known_vv {
            Some(text) => Answer::Known(text),
            None => answers::ask(programs.rustc_command(dir).arg("-vV"), &programs.rustc)?,
        };
        let mut cargo_cmd = Command::new(&programs.cargo);
        cargo_cmd.arg("-V").current_dir(dir);
        let cargo = answers::ask(&mut cargo_cmd, &programs.cargo)?;
        // Under rustup's cargo proxy the choice is already made and described in the
        // environment; otherwise ask rustup (absent rustup is fine).
        let rustup = if std::env::var_os("RUSTUP_TOOLCHAIN_SOURCE").is_none()
            && std::env::var_os("RUSTUP_TOOLCHAIN").is_none()
        {
            Command::new("rustup")
                .args(["show", "active-toolchain"])
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .ok()
        } else {
            None
        };
        Ok(ToolchainProbe {
            programs,
            dir: dir.to_path_buf(),
            rustc,
            cargo,
            rustup,
        })
    }

    /// Waits for the probes and puts their answers together.
    pub fn finish(self) -> Result<Toolchain> {
        let rustc_out = self.rustc.finish(&self.programs.rustc, "-vV")?;
        let cargo_out = self.cargo.finish(&self.programs.cargo, "-V")?;
        let mut tc = parse_rustc_vv(&rustc_out)?;
        tc.cargo_version = cargo_out.trim().to_owned();
        tc.rustc = basename(&self.programs.rustc);
        tc.rustc_wrapper = self.programs.wrapper.as_ref().map(basename);
        let (toolchain, source) = match self.rustup {
            Some(child) => match child.wait_with_output() {
                Ok(o) if o.status.success() => {
                    parse_active_toolchain(&String::from_utf8_lossy(&o.stdout), &self.dir)
                }
                _ => (None, None),
            },
            None => from_rustup_env(&self.dir),
        };
        tc.rustup_toolchain = toolchain;
        tc.rustup_toolchain_source = source;
        Ok(tc)
    }
}

/// Under rustup's cargo proxy (`cargo provenance ...`: `RUSTUP_TOOLCHAIN` set, `CARGO` the
/// toolchain's own cargo), the `rustc` beside that cargo: the very program rustup's `rustc`
/// proxy would start, without the proxy's own start (cargo itself skips the proxy the same
/// way). `None` outside rustup or when the toolchain has no such file.
fn rustup_sibling_rustc() -> Option<OsString> {
    std::env::var_os("RUSTUP_TOOLCHAIN")?;
    let home = PathBuf::from(std::env::var_os("RUSTUP_HOME")?);
    let cargo = PathBuf::from(std::env::var_os("CARGO")?);
    let bin = cargo.parent()?;
    let rustc = bin.join(format!("rustc{}", std::env::consts::EXE_SUFFIX));
    (bin.starts_with(home.join("toolchains")) && rustc.is_file()).then(|| rustc.into())
}

/// The toolchain directory of `rustc` when it is `<rustup_home>/toolchains/<name>/bin/rustc`.
fn toolchain_of(rustup_home: &Path, rustc: &Path) -> Option<PathBuf> {
    let bin = rustc.parent()?;
    let toolchain = bin.parent()?;
    (rustc.is_absolute()
        && bin.file_name()? == "bin"
        && toolchain.parent()? == rustup_home.join("toolchains"))
    .then(|| toolchain.to_path_buf())
}

/// The file name of a program (`/opt/bin/rustc` → `rustc`): no paths of this machine.
pub fn basename(program: &OsString) -> String {
    Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| program.to_string_lossy().into_owned())
}

/// Parses `rustc -vV`.
pub fn parse_rustc_vv(text: &str) -> Result<Toolchain> {
    let mut lines = text.lines();
    let version_line = lines.next().unwrap_or_default().trim().to_owned();
    let mut get = std::collections::BTreeMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            get.insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    let field = |k: &str| -> Result<String> {
        get.get(k).cloned().ok_or_else(|| {
            Error::msg(format!(
                "`rustc -vV` printed no `{k}:` line (got `{version_line}`); is RUSTC a rustc?"
            ))
        })
    };
    Ok(Toolchain {
        rustc_release: field("release")?,
        rustc_commit_hash: get.get("commit-hash").cloned().unwrap_or_default(),
        rustc_commit_date: get.get("commit-date").cloned().unwrap_or_default(),
        host: field("host")?,
        llvm_version: get.get("LLVM version").cloned(),
        rustc_version_line: version_line,
        cargo_version: String::new(),
        rustc: String::new(),
        rustc_wrapper: None,
        rustup_toolchain: None,
        rustup_toolchain_source: None,
    })
}

/// The toolchain and its source when rustup's cargo proxy runs us (it sets
/// `RUSTUP_TOOLCHAIN` and, since rustup 1.28, `RUSTUP_TOOLCHAIN_SOURCE`).
fn from_rustup_env(dir: &Path) -> (Option<String>, Option<String>) {
    let name = std::env::var("RUSTUP_TOOLCHAIN").ok();
    let source = match std::env::var("RUSTUP_TOOLCHAIN_SOURCE").ok().as_deref() {
        Some("default") => "default".to_owned(),
        Some("toolchain-file") => {
            let start = std::env::current_dir().unwrap_or_else(|_| dir.to_path_buf());
            toolchain_file_source(find_toolchain_file(&start).as_deref(), dir)
        }
        Some("env") | None => "environment (RUSTUP_TOOLCHAIN)".to_owned(),
        Some("cli") => "command line (+toolchain)".to_owned(),
        Some("path-override") | Some("override") => "override (rustup override set)".to_owned(),
        Some(other) => other.to_owned(),
    };
    (name, Some(source))
}

/// Parses `rustup show active-toolchain` (`NAME (reason)`).
pub fn parse_active_toolchain(text: &str, dir: &Path) -> (Option<String>, Option<String>) {
    let line = text.lines().next().unwrap_or_default().trim();
    if line.is_empty() {
        return (None, None);
    }
    let (name, reason) = match line.split_once(" (") {
        Some((n, r)) => (n.trim(), r.trim_end_matches(')')),
        None => (line, ""),
    };
    let source = if reason.contains("environment") {
        "environment (RUSTUP_TOOLCHAIN)".to_owned()
    } else if reason.contains("directory override") {
        "override (rustup override set)".to_owned()
    } else if let Some(path) = reason
        .split_once("overridden by '")
        .and_then(|(_, p)| p.split_once('\''))
        .map(|(p, _)| p)
    {
        toolchain_file_source(Some(Path::new(path)), dir)
    } else if reason.contains("command line") || reason.contains('+') {
        "command line (+toolchain)".to_owned()
    } else if reason.contains("default") {
        "default".to_owned()
    } else {
        reason.to_owned()
    };
    (Some(name.to_owned()), Some(source))
}

/// `rust-toolchain file (<path relative to dir>)`.
fn toolchain_file_source(file: Option<&Path>, dir: &Path) -> String {
    match file {
        Some(f) => format!("rust-toolchain file ({})", relative_to(f, dir)),
        None => "rust-toolchain file".to_owned(),
    }
}

/// The `rust-toolchain.toml` or `rust-toolchain` file rustup finds from `start` upwards.
pub fn find_toolchain_file(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|d| {
        ["rust-toolchain", "rust-toolchain.toml"]
            .iter()
            .map(|n| d.join(n))
            .find(|p| p.is_file())
    })
}

/// `path` relative to `base` with `/` (`../rust-toolchain.toml`), never absolute: a path
/// that shares nothing with `base` is reduced to its file name.
pub fn relative_to(path: &Path, base: &Path) -> String {
    let base = base.canonicalize().unwrap_or_else(|_| base.to_path_buf());
    relative_to_canonical(path, &base)
}

/// [`relative_to`] a `base` that is canonical already: a caller with many paths under one
/// base resolves the base once (each resolution is a system call per component).
pub fn relative_to_canonical(path: &Path, base: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let p: Vec<_> = path.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common <= 1 {
        return path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    let mut parts: Vec<String> = vec!["..".to_owned(); b.len() - common];
    parts.extend(
        p[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VV: &str = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\n\
        commit-hash: 59807616e1fa2540724bfbac14d7976d7e4a3860\ncommit-date: 2026-04-14\n\
        host: x86_64-unknown-linux-gnu\nrelease: 1.95.0\nLLVM version: 22.1.2\n";

    #[test]
    fn parses_rustc_vv() {
        let t = parse_rustc_vv(VV).unwrap();
        assert_eq!(t.rustc_release, "1.95.0");
        assert_eq!(
            t.rustc_commit_hash,
            "59807616e1fa2540724bfbac14d7976d7e4a3860"
        );
        assert_eq!(t.rustc_commit_date, "2026-04-14");
        assert_eq!(t.host, "x86_64-unknown-linux-gnu");
        assert_eq!(t.llvm_version.as_deref(), Some("22.1.2"));
        assert_eq!(t.rustc_version_line, "rustc 1.95.0 (59807616e 2026-04-14)");
        assert!(parse_rustc_vv("garbage").is_err());
    }

    #[test]
    fn parses_active_toolchain_reasons() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("proj");
        std::fs::create_dir_all(&dir).unwrap();
        let file = tmp.path().join("rust-toolchain.toml");
        std::fs::write(&file, "").unwrap();
        let d = |s: &str| parse_active_toolchain(s, &dir).1.unwrap();
        assert_eq!(d("stable-x86_64-unknown-linux-gnu (default)\n"), "default");
        assert_eq!(d("stable (active, default)"), "default");
        assert_eq!(
            d(&format!("stable (overridden by '{}')", file.display())),
            "rust-toolchain file (../rust-toolchain.toml)"
        );
        assert_eq!(
            d("stable (overridden by environment variable RUSTUP_TOOLCHAIN)"),
            "environment (RUSTUP_TOOLCHAIN)"
        );
        assert_eq!(
            d("nightly (directory override for '/x')"),
            "override (rustup override set)"
        );
        assert_eq!(parse_active_toolchain("", &dir), (None, None));
        assert_eq!(
            parse_active_toolchain("stable (default)", &dir)
                .0
                .as_deref(),
            Some("stable")
        );
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative_to(Path::new("/a/b/c"), Path::new("/a/b")), "c");
        assert_eq!(relative_to(Path::new("/a/x"), Path::new("/a/b")), "../x");
        assert_eq!(relative_to(Path::new("/a/b"), Path::new("/a/b")), ".");
        assert_eq!(
            relative_to(Path::new("/z/f.toml"), Path::new("/a/b")),
            "f.toml"
        );
    }

    #[test]
    fn rustup_toolchain_rustc_knows_its_sysroot() {
        let home = Path::new("/h/.rustup");
        assert_eq!(
            toolchain_of(home, Path::new("/h/.rustup/toolchains/stable-x/bin/rustc")),
            Some(PathBuf::from("/h/.rustup/toolchains/stable-x"))
        );
        for other in [
            "rustc",
            "/usr/bin/rustc",
            "/h/.rustup/toolchains/stable-x/lib/rustc",
            "/h/.rustup/other/stable-x/bin/rustc",
        ] {
            assert_eq!(toolchain_of(home, Path::new(other)), None, "{other}");
        }
    }

    #[test]
    fn basenames_only() {
        assert_eq!(basename(&"/opt/x/rustc".into()), "rustc");
        assert_eq!(basename(&"sccache".into()), "sccache");
    }
}
