//! The cargo step: `cargo build --release --locked` for the selected binaries with the
//! reproducibility settings, and the units it compiled (cargo's JSON messages).
//!
//! Settings (docs/image.md explains each one):
//! - `SOURCE_DATE_EPOCH` exported to build scripts; `CARGO_INCREMENTAL=0`;
//! - `--target TRIPLE` always explicit, so rustflags reach only the shipped code (build
//!   scripts and proc-macros are compiled without them; `+crt-static` needs this);
//! - `CARGO_ENCODED_RUSTFLAGS` = the user's own rustflags (from the environment or cargo
//!   config, which setting the variable would otherwise silently drop) followed by
//!   `--remap-path-prefix` for CARGO_HOME, the sysroot, the workspace root and the target
//!   directory, `-Ctarget-feature=+crt-static` with `--static`, and the platform's
//!   `-Ctarget-cpu`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::inspect::cargo_config::CargoConfig;
pub use crate::inspect::cargo_home;
use crate::inspect::model::CompiledUnit;
use crate::inspect::rustflags;
use crate::inspect::toolchain::{Programs, cargo_program};
use crate::select::Selection;
use crate::ui::Ui;

use super::platform::TargetPlatform;

/// What the toolchain says about itself, as far as the cargo step needs it.
#[derive(Debug, Clone)]
pub struct RustcInfo {
    /// `host:` of `rustc -vV`.
    pub host: String,
    /// `commit-hash:` of `rustc -vV`.
    pub commit_hash: String,
    /// `rustc --print sysroot`.
    pub sysroot: PathBuf,
    /// `rustc -vV` as printed (handed to `inspect`, which would otherwise ask again).
    pub verbose_version: String,
}

fn capture(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.output().map_err(|e| {
        Error::msg(format!(
            "running {what}: {e}; is the Rust toolchain installed?"
        ))
    })?;
    if !out.status.success() {
        return Err(Error::msg(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Asks rustc (in `dir`, so rust-toolchain files apply) for host, commit and sysroot. `-vV`
/// runs exactly as `inspect` runs it (through the wrapper), so its answer can be reused.
pub fn rustc_info(programs: &Programs, dir: &Path) -> Result<RustcInfo> {
    // Both questions at once: each rustc start costs tens of milliseconds. A rustup
    // toolchain's own rustc needs no asking for its sysroot.
    let (vv, sysroot) = std::thread::scope(|s| {
        let sysroot = s.spawn(|| match programs.rustup_sysroot() {
            Some(known) => Ok(known.display().to_string()),
            None => capture(
                Command::new(&programs.rustc)
                    .args(["--print", "sysroot"])
                    .current_dir(dir),
                "`rustc --print sysroot`",
            ),
        });
        let vv =
            crate::inspect::answers::ask(programs.rustc_command(dir).arg("-vV"), &programs.rustc)
                .and_then(|a| a.finish(&programs.rustc, "-vV"));
        let sysroot = sysroot
            .join()
            .unwrap_or_else(|_| Err(Error::msg("`rustc --print sysroot` failed")));
        (vv, sysroot)
    });
    let (vv, sysroot) = (vv?, sysroot?);
    // inspect's strict parser: a `rustc -vV` without host or commit is an error here too.
    let tc = crate::inspect::toolchain::parse_rustc_vv(&vv)?;
    Ok(RustcInfo {
        host: tc.host,
        commit_hash: tc.rustc_commit_hash,
        sysroot: PathBuf::from(sysroot.trim()),
        verbose_version: vv,
    })
}

/// The rustflags the user configured for `triple` and where they came from, with cargo's
/// precedence: `config` is the cargo configuration of `dir`, the manifest's directory, read
/// as `inspect` reads and records it ([`rustflags::effective`]). Cargo gets them in
/// `CARGO_ENCODED_RUSTFLAGS`, so these are exactly the flags it uses.
pub fn user_rustflags(
    config: &CargoConfig,
    programs: &Programs,
    dir: &Path,
    triple: &str,
) -> Result<(Vec<String>, String)> {
    rustflags::effective(config, triple, || {
        rustflags::target_cfgs(programs, dir, triple)
    })
}

/// Everything one `cargo build` needs.
#[derive(Debug, Clone)]
pub struct CargoBuild<'a> {
    /// What to build.
    pub selection: &'a Selection,
    /// The platform built for.
    pub platform: &'a TargetPlatform,
    /// `--static`: link the C runtime statically.
    pub static_crt: bool,
    /// SOURCE_DATE_EPOCH.
    pub source_date_epoch: i64,
    /// The workspace root.
    pub workspace_root: &'a Path,
    /// The target directory for this build.
    pub target_dir: &'a Path,
    /// The toolchain.
    pub rustc: &'a RustcInfo,
    /// The user's rustflags (see [`user_rustflags`]).
    pub user_rustflags: &'a [String],
    /// Extra environment for cargo: the rustc wrapper that embeds the cargo-auditable data
    /// ([`super::auditable::DropDir::env`]); empty with `--no-auditable`.
    pub wrapper_env: &'a [(&'static str, std::ffi::OsString)],
    /// The native builder's layer settings, and whether it builds the image: the layer is
    /// then made while cargo finishes.
    pub layer_ahead: Option<&'a (super::layer_ahead::Settings, super::layer_ahead::Wanted)>,
}

/// A binary cargo produced, before it is copied and hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBinary {
    /// The package's name.
    pub package: String,
    /// The binary's name.
    pub name: String,
    /// The executable cargo wrote.
    pub path: PathBuf,
    /// Its bytes, read while cargo finished ([`super::early_read`]).
    pub early: Option<super::early_read::EarlyRead>,
}

/// What one cargo build produced.
#[derive(Debug, Default)]
pub struct CargoOutput {
    /// Every unit compiled (or found fresh), sorted.
    pub units: Vec<CompiledUnit>,
    /// The binaries, sorted by name.
    pub binaries: Vec<RawBinary>,
    /// The layer of the binaries, being made while cargo finishes ([`super::layer_ahead`]).
    pub layer_ahead: Option<super::layer_ahead::Runner>,
}

impl<'a> CargoBuild<'a> {
    /// The cargo step of one platform, without the wrapper's environment.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        selection: &'a Selection,
        platform: &'a TargetPlatform,
        static_crt: bool,
        source_date_epoch: i64,
        workspace_root: &'a Path,
        target_dir: &'a Path,
        rustc: &'a RustcInfo,
        user_rustflags: &'a [String],
    ) -> CargoBuild<'a> {
        CargoBuild {
            selection,
            platform,
            static_crt,
            source_date_epoch,
            workspace_root,
            target_dir,
            rustc,
            user_rustflags,
            wrapper_env: &[],
            layer_ahead: None,
        }
    }

    /// The rustflags passed to cargo (user flags first, ours after).
    pub fn rustflags(&self) -> Vec<String> {
        let mut flags = self.user_rustflags.to_vec();
        let mut remap = |from: &Path, to: &str| {
            flags.push(format!("--remap-path-prefix={}={to}", from.display()));
        };
        // The last matching prefix wins in rustc: general ones first.
        if let Some(home) = cargo_home() {
            remap(&home, "/cargo");
        }
        remap(
            &self.rustc.sysroot,
            &format!("/rustc/{}", self.rustc.commit_hash),
        );
        remap(self.workspace_root, ".");
        remap(self.target_dir, "/target");
        if self.static_crt {
            flags.push("-Ctarget-feature=+crt-static".to_owned());
        }
        flags.extend(self.platform.rustflags.iter().cloned());
        flags
    }

    /// The cargo command line (without the program).
    pub fn args(&self, quiet: bool) -> Vec<String> {
        let s = self.selection;
        let mut args = vec!["build".to_owned()];
        match s.profile.as_deref() {
            None | Some("release") => args.push("--release".to_owned()),
            Some(p) => {
                args.push("--profile".to_owned());
                args.push(p.to_owned());
            }
        }
        let mut common = s.cargo_common_args();
        if !common.iter().any(|a| a == "--locked") {
            common.push("--locked".to_owned());
        }
        args.extend(common);
        for p in &s.packages {
            args.push("--package".to_owned());
            args.push(p.clone());
        }
        if s.workspace {
            args.push("--workspace".to_owned());
        }
        if s.bins.is_empty() {
            args.push("--bins".to_owned());
        }
        for b in &s.bins {
            args.push("--bin".to_owned());
            args.push(b.clone());
        }
        args.push("--target".to_owned());
        args.push(self.platform.rust_target.clone());
        args.push("--target-dir".to_owned());
        args.push(self.target_dir.display().to_string());
        args.push("--message-format=json-render-diagnostics".to_owned());
        if quiet {
            args.push("--quiet".to_owned());
        }
        args
    }

    /// The `cargo build` command: our flags and environment, stdout piped (its JSON
    /// messages), stderr ours.
    fn command(&self, ui: &Ui) -> Command {
        let quiet = ui.is_json() || !ui.shows_progress() && !ui.is_verbose();
        let mut cmd = Command::new(cargo_program());
        cmd.args(self.args(quiet))
            .current_dir(self.workspace_root)
            .env("CARGO_ENCODED_RUSTFLAGS", self.rustflags().join("\x1f"))
            .env_remove("RUSTFLAGS")
            .env("CARGO_INCREMENTAL", "0")
            .env("SOURCE_DATE_EPOCH", self.source_date_epoch.to_string())
            .env_remove(super::auditable::DIR_ENV)
            .envs(self.wrapper_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        cmd
    }

    /// Runs cargo: its progress and diagnostics go to our stderr, its JSON messages are
    /// parsed. A failing build is an error (exit 2) that points at cargo's messages.
    pub fn run(&self, ui: &Ui) -> Result<CargoOutput> {
        let mut child = self
            .command(ui)
            .spawn()
            .map_err(|e| Error::msg(format!("running `cargo build`: {e}; is cargo installed?")))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut c = Collected::default();
        for line in BufReader::new(stdout).lines() {
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    // Not left running on its own.
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::msg(format!("reading cargo's output: {e}")));
                }
            };
            // Lines that are not JSON come from build scripts or cargo itself: skipped.
            if let Ok(m) = serde_json::from_str::<Message>(&line) {
                c.take(m, self.layer_ahead);
            }
        }
        let status = child
            .wait()
            .map_err(|e| Error::msg(format!("waiting for cargo: {e}")))?;
        let Collected {
            mut out,
            errors,
            reads,
            ahead,
        } = c;
        for (b, read) in out.binaries.iter_mut().zip(&reads) {
            b.early = read.wait();
        }
        if status.success() {
            out.layer_ahead = ahead;
        }
        if !status.success() {
            let mut msg = format!(
                "`cargo build` for {} failed ({status}); cargo's messages are above",
                self.platform.name()
            );
            if let Some(first) = errors.first() {
                msg.push_str(&format!(": {first}"));
            }
            return Err(Error::msg(msg));
        }
        out.units.sort();
        out.units.dedup();
        out.binaries.sort_by(|a, b| a.name.cmp(&b.name));
        if out.binaries.is_empty() {
            return Err(Error::msg(
                "`cargo build` produced no binary: select a package with a [[bin]] target (-p, --bin)",
            ));
        }
        Ok(out)
    }
}

/// What cargo's messages said so far, with the reads of the binaries it named and the
/// native builder's layer of them, being made.
#[derive(Default)]
struct Collected {
    out: CargoOutput,
    errors: Vec<String>,
    reads: Vec<super::early_read::Pending>,
    ahead: Option<super::layer_ahead::Runner>,
}

impl Collected {
    /// Takes one message: each binary named is read and hashed at once, while cargo goes
    /// on, and (native builder) the layer of the binaries so far is started, the one
    /// before stopped (dropped); cargo's `build-finished` lets a waiting layer go.
    fn take(
        &mut self,
        m: Message,
        layer: Option<&(super::layer_ahead::Settings, super::layer_ahead::Wanted)>,
    ) {
        if m.reason == "build-finished" {
            self.ahead.iter().for_each(super::layer_ahead::Runner::go);
        }
        m.collect(&mut self.out, &mut self.errors);
        if self.out.binaries.len() == self.reads.len() {
            return;
        }
        let first = self.reads.is_empty();
        for b in &self.out.binaries[self.reads.len()..] {
            self.reads.push(super::early_read::start(b.path.clone()));
        }
        if let Some((settings, native)) = layer
            && native.native()
        {
            let started = layer_ahead(*settings, &self.out.binaries, &self.reads, first);
            self.ahead = Some(started);
        }
    }
}

/// Starts making the layer of `binaries` (each read by `reads`, in the same order), at the
/// paths the image gives them: at once when `now` (the first binary), else once cargo says
/// it is done.
fn layer_ahead(
    settings: super::layer_ahead::Settings,
    binaries: &[RawBinary],
    reads: &[super::early_read::Pending],
    now: bool,
) -> super::layer_ahead::Runner {
    let files = binaries
        .iter()
        .zip(reads)
        .map(|(b, r)| {
            let path = super::compile::path_in_image(&b.name);
            (path.trim_start_matches('/').to_owned(), r.clone())
        })
        .collect();
    super::layer_ahead::Runner::start(settings, files, now)
}

/// The part of a cargo JSON message we read.
#[derive(Debug, Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    package_id: Option<String>,
    #[serde(default)]
    target: Option<MessageTarget>,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    message: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct MessageTarget {
    name: String,
    kind: Vec<String>,
}

impl Message {
    fn collect(self, out: &mut CargoOutput, errors: &mut Vec<String>) {
        match self.reason.as_str() {
            "compiler-artifact" => {
                let (Some(id), Some(target)) = (self.package_id, self.target) else {
                    return;
                };
                let (name, version) = parse_package_id(&id);
                if let Some(exe) = self.executable
                    && target.kind.iter().any(|k| k == "bin")
                {
                    out.binaries.push(RawBinary {
                        package: name.clone(),
                        name: target.name.clone(),
                        path: exe,
                        early: None,
                    });
                }
                out.units.push(CompiledUnit {
                    package_id: id,
                    name,
                    version,
                    target_name: target.name,
                    target_kinds: target.kind,
                });
            }
            "compiler-message" => {
                let m = self.message.unwrap_or_default();
                if m.get("level").and_then(|l| l.as_str()) == Some("error")
                    && let Some(text) = m.get("message").and_then(|t| t.as_str())
                {
                    errors.push(text.to_owned());
                }
            }
            _ => {}
        }
    }
}

/// Name and version from a package id: `registry+URL#name@1.0.0`, `path+file:///x/name#0.1.0`
/// (the name is the directory's), or the old `name 1.0.0 (source)` form.
pub fn parse_package_id(id: &str) -> (String, String) {
    if let Some((url, frag)) = id.rsplit_once('#') {
        if let Some((name, version)) = frag.split_once('@') {
            return (name.to_owned(), version.to_owned());
        }
        let url = url.split('?').next().unwrap_or(url);
        let name = url.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        return (name.to_owned(), frag.to_owned());
    }
    let mut parts = id.split(' ');
    let name = parts.next().unwrap_or("").to_owned();
    let version = parts.next().unwrap_or("").to_owned();
    (name, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_ids_of_every_form() {
        assert_eq!(
            parse_package_id("registry+https://github.com/rust-lang/crates.io-index#serde@1.0.200"),
            ("serde".into(), "1.0.200".into())
        );
        assert_eq!(
            parse_package_id("path+file:///tmp/x/hello-service#0.1.0"),
            ("hello-service".into(), "0.1.0".into())
        );
        assert_eq!(
            parse_package_id("path+file:///tmp/x/crates/core#app-core@0.1.0"),
            ("app-core".into(), "0.1.0".into())
        );
        assert_eq!(
            parse_package_id("itoa 1.0.1 (registry+https://github.com/rust-lang/crates.io-index)"),
            ("itoa".into(), "1.0.1".into())
        );
    }

    #[test]
    fn messages_become_units_and_binaries() {
        let mut out = CargoOutput::default();
        let mut errors = Vec::new();
        let line = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/hello#0.1.0","target":{"kind":["bin"],"name":"hello"},"executable":"/w/target/release/hello","fresh":false}"#;
        serde_json::from_str::<Message>(line)
            .unwrap()
            .collect(&mut out, &mut errors);
        assert_eq!(out.binaries[0].name, "hello");
        assert_eq!(out.units[0].target_kinds, ["bin"]);
    }

    #[test]
    fn our_flags_come_after_the_users() {
        let sel = Selection::default();
        let platform = super::super::platform::parse("linux/amd64/v3", None).unwrap();
        let rustc = RustcInfo {
            host: "x86_64-unknown-linux-gnu".into(),
            commit_hash: "abc".into(),
            sysroot: "/opt/rust".into(),
            verbose_version: String::new(),
        };
        let user = vec!["-Cdebuginfo=1".to_owned()];
        let b = CargoBuild {
            selection: &sel,
            platform: &platform,
            static_crt: true,
            source_date_epoch: 1,
            workspace_root: Path::new("/w"),
            target_dir: Path::new("/w/target"),
            rustc: &rustc,
            user_rustflags: &user,
            wrapper_env: &[],
            layer_ahead: None,
        };
        let f = b.rustflags();
        assert_eq!(f[0], "-Cdebuginfo=1");
        assert!(f.contains(&"--remap-path-prefix=/opt/rust=/rustc/abc".to_owned()));
        assert!(f.contains(&"--remap-path-prefix=/w=.".to_owned()));
        assert_eq!(
            &f[f.len() - 2..],
            ["-Ctarget-feature=+crt-static", "-Ctarget-cpu=x86-64-v3"]
        );
        let args = b.args(true);
        assert!(args.contains(&"--locked".to_owned()) && args.contains(&"--bins".to_owned()));
        assert!(
            args.windows(2)
                .any(|w| w == ["--target", "x86_64-unknown-linux-gnu"])
        );
    }

    #[test]
    fn config_rustflags_are_kept() {
        assert!(
            std::env::var_os("RUSTFLAGS").is_none()
                && std::env::var_os("CARGO_ENCODED_RUSTFLAGS").is_none(),
            "RUSTFLAGS or CARGO_ENCODED_RUSTFLAGS is set: unset it to run this test"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("ws/.cargo")).unwrap();
        std::fs::write(
            dir.path().join("ws/.cargo/config.toml"),
            "[build]\nrustflags = [\"--cfg\", \"mine\"]\n",
        )
        .unwrap();
        let programs = Programs {
            cargo: "cargo".into(),
            rustc: "rustc".into(),
            wrapper: None,
        };
        let ws = dir.path().join("ws");
        let config = CargoConfig::load(&ws, None).unwrap();
        let (flags, source) =
            user_rustflags(&config, &programs, &ws, "x86_64-unknown-linux-gnu").unwrap();
        assert_eq!(flags, ["--cfg", "mine"]);
        assert_eq!(source, "build.rustflags (.cargo/config.toml)");
    }
}
