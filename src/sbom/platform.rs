//! The two platforms the resolution evaluates `[target.'cfg(..)'.dependencies]` against,
//! read as `build` reads cargo's settings (inspect's [`CargoConfig`], [`rustflags::target`],
//! [`rustflags::effective`] and [`Programs`]):
//!
//! - the target: `--target`, else `build.target` / `CARGO_BUILD_TARGET`, else the host; its
//!   cfg is `rustc --print cfg --target T` with the effective rustflags (environment, then
//!   `target.<triple>.rustflags` / `target.'cfg(..)'.rustflags`, then `build.rustflags`);
//! - the host (build scripts, proc-macros and what they use): `rustc --print cfg` without
//!   rustflags, because `build` always passes `--target`, and cargo then gives rustflags to
//!   target units only.
//!
//! The rustc calls run in parallel with each other (and with `cargo metadata`).

use std::path::Path;

use cargo_metadata::cargo_platform::Cfg;

use crate::error::{Error, Result};
use crate::inspect::answers::{self, Answer};
use crate::inspect::cargo_config::CargoConfig;
use crate::inspect::rustflags::{self, parse_cfg};
use crate::inspect::toolchain::Programs;

/// The host and the target, with their cfg values.
#[derive(Debug, Clone)]
pub struct Platforms {
    /// The host triple.
    pub host: String,
    /// `rustc --print cfg` for the host (no rustflags).
    pub host_cfg: Vec<Cfg>,
    /// The target triple (the host when none is asked for).
    pub target: String,
    /// `rustc --print cfg --target <target>` with the target's rustflags.
    pub target_cfg: Vec<Cfg>,
}

/// Asks rustc (in `dir`, as cargo would run it) for the host and target cfg values;
/// `requested` is `--target`.
pub fn read(
    programs: &Programs,
    dir: &Path,
    config: &CargoConfig,
    requested: Option<&str>,
) -> Result<Platforms> {
    let requested = rustflags::requested_target(requested, config);
    // One rustc for the host triple and its cfg (`--print host-tuple`, rustc 1.84+), with
    // `rustc -vV` + `--print cfg` as the fallback for older toolchains.
    let host_child = spawn(programs, dir, &["--print", "host-tuple", "--print", "cfg"])?;
    let target_child = match &requested {
        Some(t) => {
            let (name, _) = rustflags::target(Some(t), config, "");
            let (flags, _) =
                rustflags::effective(config, &name, || rustflags::target_cfgs(programs, dir, t))?;
            Some((name, spawn_cfg(programs, dir, t, &flags)?))
        }
        None => None,
    };
    let (host, host_cfg) = host_and_cfg(programs, dir, host_child)?;
    let (target, target_cfg) = match target_child {
        Some((name, child)) => (
            name,
            parse_cfg(&wait(programs, child, "--print cfg --target")?)?,
        ),
        None => {
            let (flags, _) = rustflags::effective(config, &host, || Ok(host_cfg.clone()))?;
            let cfg = if flags.is_empty() {
                host_cfg.clone()
            } else {
                target_cfg(programs, dir, &host, &flags)?
            };
            (host.clone(), cfg)
        }
    };
    Ok(Platforms {
        host,
        host_cfg,
        target,
        target_cfg,
    })
}

/// The host triple and its cfg from `rustc --print host-tuple --print cfg`, else (older
/// toolchains) from `rustc -vV` and `rustc --print cfg`.
fn host_and_cfg(programs: &Programs, dir: &Path, child: Answer) -> Result<(String, Vec<Cfg>)> {
    if let Ok(out) = wait(programs, child, "--print host-tuple --print cfg") {
        let (first, rest) = out.split_once('\n').unwrap_or((&out, ""));
        return Ok((first.trim().to_owned(), parse_cfg(rest)?));
    }
    let vv = wait(programs, spawn(programs, dir, &["-vV"])?, "-vV")?;
    let host = vv
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .ok_or_else(|| Error::msg("`rustc -vV` printed no `host:` line"))?
        .trim()
        .to_owned();
    let cfg = wait(
        programs,
        spawn(programs, dir, &["--print", "cfg"])?,
        "--print cfg",
    )?;
    Ok((host, parse_cfg(&cfg)?))
}

/// `rustc --print cfg --target T FLAGS...`: the cfg values of the target units of a build
/// with these rustflags.
pub fn target_cfg(
    programs: &Programs,
    dir: &Path,
    target: &str,
    flags: &[String],
) -> Result<Vec<Cfg>> {
    parse_cfg(&wait(
        programs,
        spawn_cfg(programs, dir, target, flags)?,
        "--print cfg --target",
    )?)
}

/// `rustc --print cfg --target T FLAGS...`, started.
fn spawn_cfg(programs: &Programs, dir: &Path, target: &str, flags: &[String]) -> Result<Answer> {
    let mut args = vec!["--print", "cfg", "--target", target];
    args.extend(flags.iter().map(String::as_str));
    spawn(programs, dir, &args)
}

/// rustc with `args`: its remembered answer ([`answers`]), or started.
fn spawn(programs: &Programs, dir: &Path, args: &[&str]) -> Result<Answer> {
    answers::ask(programs.rustc_command(dir).args(args), &programs.rustc)
}

/// Waits for a rustc started by [`spawn`] with `args` (for the message).
fn wait(programs: &Programs, child: Answer, args: &str) -> Result<String> {
    child.finish(&programs.rustc, args).map_err(|e| {
        Error::msg(format!(
            "{e}; check the target triple (--target, build.target in .cargo/config.toml, \
             CARGO_BUILD_TARGET), the rustflags and the toolchain"
        ))
    })
}
