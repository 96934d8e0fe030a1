//! The target triple and the effective rustflags, with cargo's precedence (the first that
//! is set wins):
//!
//! 1. `CARGO_ENCODED_RUSTFLAGS` (flags separated by `0x1f`);
//! 2. `RUSTFLAGS` (separated by white space);
//! 3. every `target.<triple>.rustflags` and matching `target.'cfg(..)'.rustflags` in cargo
//!    config (plus `CARGO_TARGET_<TRIPLE>_RUSTFLAGS`), joined;
//! 4. `build.rustflags` (plus `CARGO_BUILD_RUSTFLAGS`).

use std::path::Path;
use std::str::FromStr;

use cargo_platform::{Cfg, CfgExpr};

use super::cargo_config::{CargoConfig, env_key};
use super::toolchain::Programs;
use crate::error::{Error, Result};

/// The target triple: `--target`, else `build.target` (or `CARGO_BUILD_TARGET`), else the
/// host. Returns the triple and whether it was asked for explicitly. A custom target
/// specification file (`path/to/x.json`) is reported by its name (`x`).
pub fn target(requested: Option<&str>, config: &CargoConfig, host: &str) -> (String, bool) {
    match requested_target(requested, config) {
        Some(t) if t.ends_with(".json") => {
            let name = Path::new(&t)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or(t);
            (name, true)
        }
        Some(t) => (t, true),
        None => (host.to_owned(), false),
    }
}

/// The target asked for, as given: `--target`, else `build.target` (or
/// `CARGO_BUILD_TARGET`); `None` builds for the host. A target specification file stays a
/// path here (what `rustc --target` takes); [`target`] gives its name.
pub fn requested_target(requested: Option<&str>, config: &CargoConfig) -> Option<String> {
    requested.map(str::to_owned).or_else(|| {
        config
            .get_string(&["build", "target"], "CARGO_BUILD_TARGET")
            .map(|(v, _)| v)
    })
}

/// The rustflags cargo passes for `target` and where they came from. `cfgs` is called only
/// when a `target.'cfg(..)'.rustflags` entry exists and must be evaluated.
pub fn effective(
    config: &CargoConfig,
    target: &str,
    cfgs: impl FnOnce() -> Result<Vec<Cfg>>,
) -> Result<(Vec<String>, String)> {
    if let Ok(encoded) = std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        let flags = if encoded.is_empty() {
            Vec::new()
        } else {
            encoded.split('\x1f').map(str::to_owned).collect()
        };
        return Ok((flags, "CARGO_ENCODED_RUSTFLAGS".to_owned()));
    }
    if let Ok(plain) = std::env::var("RUSTFLAGS") {
        let flags = plain.split_whitespace().map(str::to_owned).collect();
        return Ok((flags, "RUSTFLAGS".to_owned()));
    }
    let mut flags = Vec::new();
    let mut sources = Vec::new();
    let triple_env = format!("CARGO_TARGET_{}_RUSTFLAGS", env_key(target));
    if let Some(f) = config.get_flags(&["target", target, "rustflags"], Some(&triple_env)) {
        flags.extend(f.values);
        sources.push(format!(
            "target.{target}.rustflags ({})",
            f.origins.join(", ")
        ));
    }
    let cfg_keys = config.target_cfg_keys("rustflags");
    if !cfg_keys.is_empty() {
        let cfgs = cfgs()?;
        for key in cfg_keys {
            let expr = key
                .strip_prefix("cfg(")
                .and_then(|k| k.strip_suffix(')'))
                .unwrap_or(&key);
            let expr = CfgExpr::from_str(expr).map_err(|e| {
                Error::msg(format!(
                    "cargo configuration: `[target.'{key}']` is not a valid cfg expression: {e}"
                ))
            })?;
            if expr.matches(&cfgs)
                && let Some(f) = config.get_flags(&["target", &key, "rustflags"], None)
            {
                flags.extend(f.values);
                sources.push(format!(
                    "target.'{key}'.rustflags ({})",
                    f.origins.join(", ")
                ));
            }
        }
    }
    if !sources.is_empty() {
        return Ok((flags, sources.join("; ")));
    }
    if let Some(f) = config.get_flags(&["build", "rustflags"], Some("CARGO_BUILD_RUSTFLAGS")) {
        let source = format!("build.rustflags ({})", f.origins.join(", "));
        return Ok((f.values, source));
    }
    Ok((Vec::new(), "none".to_owned()))
}

/// `rustc --print cfg --target <target>`: the cfg values `target.'cfg(..)'` tables match.
pub fn target_cfgs(programs: &Programs, dir: &Path, target: &str) -> Result<Vec<Cfg>> {
    let answer = super::answers::ask(
        programs
            .rustc_command(dir)
            .args(["--print", "cfg", "--target", target]),
        &programs.rustc,
    )?;
    let out = answer
        .finish(&programs.rustc, &format!("--print cfg --target {target}"))
        .map_err(|e| {
            Error::msg(format!(
                "{e}; is the target installed (`rustup target add {target}`)?"
            ))
        })?;
    parse_cfg(&out)
}

/// The lines of `rustc --print cfg` (`unix`, `target_os="linux"`), empty lines skipped.
pub fn parse_cfg(text: &str) -> Result<Vec<Cfg>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            Cfg::from_str(l.trim())
                .map_err(|e| Error::msg(format!("`rustc --print cfg` printed `{l}`: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(s: &str) -> CargoConfig {
        CargoConfig::from_tables(vec![(".cargo/config.toml", s.parse().unwrap())])
    }

    fn unix() -> Result<Vec<Cfg>> {
        Ok(vec![
            Cfg::from_str("unix").unwrap(),
            Cfg::from_str("target_os=\"linux\"").unwrap(),
        ])
    }

    // These tests do not set RUSTFLAGS; they run only when the test process has none.
    fn env_free() -> bool {
        std::env::var_os("RUSTFLAGS").is_none()
            && std::env::var_os("CARGO_ENCODED_RUSTFLAGS").is_none()
            && std::env::var_os("CARGO_BUILD_RUSTFLAGS").is_none()
    }

    #[test]
    fn target_sections_beat_build() {
        assert!(
            env_free(),
            "RUSTFLAGS, CARGO_ENCODED_RUSTFLAGS or CARGO_BUILD_RUSTFLAGS is set: unset it to run this test"
        );
        let c = config(
            "[build]\nrustflags = ['-Cbuild']\n\
             [target.x86_64-unknown-linux-gnu]\nrustflags = ['-Ctriple']\n\
             [target.'cfg(unix)']\nrustflags = ['-Cunix']\n\
             [target.'cfg(windows)']\nrustflags = ['-Cwin']\n",
        );
        let (flags, source) = effective(&c, "x86_64-unknown-linux-gnu", unix).unwrap();
        assert_eq!(flags, ["-Ctriple", "-Cunix"]);
        assert!(
            source.starts_with("target.x86_64-unknown-linux-gnu.rustflags"),
            "{source}"
        );
        let (flags, source) = effective(&c, "aarch64-apple-darwin", || Ok(vec![])).unwrap();
        assert_eq!(flags, ["-Cbuild"]);
        assert_eq!(source, "build.rustflags (.cargo/config.toml)");
    }

    #[test]
    fn nothing_set_is_none() {
        assert!(
            env_free(),
            "RUSTFLAGS, CARGO_ENCODED_RUSTFLAGS or CARGO_BUILD_RUSTFLAGS is set: unset it to run this test"
        );
        let (flags, source) = effective(&config(""), "x", || unreachable!()).unwrap();
        assert!(flags.is_empty());
        assert_eq!(source, "none");
    }

    #[test]
    fn rustc_cfg_lines() {
        let cfg = parse_cfg("unix\ntarget_os=\"linux\"\n\n").unwrap();
        assert_eq!(cfg.len(), 2);
        assert!(parse_cfg("target_os=\"unterminated").is_err());
    }

    #[test]
    fn target_choice() {
        let c = config("[build]\ntarget = 'wasm32-unknown-unknown'");
        assert!(
            std::env::var_os("CARGO_BUILD_TARGET").is_none(),
            "CARGO_BUILD_TARGET is set: unset it to run this test"
        );
        assert_eq!(
            target(None, &c, "h"),
            ("wasm32-unknown-unknown".into(), true)
        );
        assert_eq!(target(Some("t"), &c, "h"), ("t".into(), true));
        assert_eq!(target(None, &config(""), "h"), ("h".into(), false));
        assert_eq!(target(Some("/x/my.json"), &c, "h"), ("my".into(), true));
    }
}
