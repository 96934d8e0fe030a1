//! The profile in effect and its settings, merged as cargo merges them: built-in defaults
//! (`dev`, `release`; `test` inherits `dev`, `bench` inherits `release`, custom profiles name
//! what they `inherits`), then `[profile.<name>]` of the workspace's root `Cargo.toml`, then
//! cargo config files, then `CARGO_PROFILE_<NAME>_<KEY>` variables. `CARGO_INCREMENTAL` and
//! `build.incremental` override `incremental`. Per-package overrides
//! (`[profile.<name>.package.<spec>]`) are not reflected.

use std::collections::BTreeMap;

use super::cargo_config::{CargoConfig, env_key};
use super::model::Profile;
use crate::error::{Error, Result};

/// The keys reported, in cargo's spelling.
const KEYS: [&str; 7] = [
    "opt-level",
    "lto",
    "codegen-units",
    "debug",
    "strip",
    "panic",
    "incremental",
];

/// Resolves profile `name`. `manifest_profiles` is the `[profile]` table of the workspace
/// root manifest.
pub fn resolve(
    name: &str,
    manifest_profiles: Option<&toml::Table>,
    config: &CargoConfig,
) -> Result<Profile> {
    let mut values: BTreeMap<String, (toml::Value, String)> = BTreeMap::new();
    apply_chain(name, manifest_profiles, config, &mut values, 0)?;
    if let Some((v, origin)) =
        config.get_string(&["build", "incremental"], "CARGO_BUILD_INCREMENTAL")
    {
        values.insert(
            "incremental".into(),
            (toml::Value::Boolean(v == "true" || v == "1"), origin),
        );
    }
    if let Ok(v) = std::env::var("CARGO_INCREMENTAL") {
        values.insert(
            "incremental".into(),
            (
                toml::Value::Boolean(v == "1"),
                "environment (CARGO_INCREMENTAL)".into(),
            ),
        );
    }
    let get = |k: &str| values.get(k).map(|(v, _)| v);
    let debug = normalize_debug(get("debug"));
    let mut sources: BTreeMap<String, String> = values
        .iter()
        .map(|(k, (_, origin))| (k.clone(), origin.clone()))
        .collect();
    // Since cargo 1.77, a profile without debug info strips it unless `strip` is set.
    let strip = match get("strip") {
        Some(v) => normalize_strip(v),
        None if debug == "none" => {
            sources.insert("strip".into(), "default (no debug info)".into());
            "debuginfo".into()
        }
        None => "none".into(),
    };
    Ok(Profile {
        name: name.to_owned(),
        opt_level: get("opt-level")
            .map(value_str)
            .unwrap_or_else(|| "0".into()),
        lto: normalize_lto(get("lto")),
        codegen_units: get("codegen-units")
            .and_then(|v| v.as_integer())
            .and_then(|n| u32::try_from(n).ok()),
        debug,
        strip,
        panic: get("panic")
            .map(value_str)
            .unwrap_or_else(|| "unwind".into()),
        incremental: get("incremental")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        sources,
    })
}

/// Applies the built-in base, the inherited profile, then this profile's own settings.
fn apply_chain(
    name: &str,
    manifest: Option<&toml::Table>,
    config: &CargoConfig,
    values: &mut BTreeMap<String, (toml::Value, String)>,
    depth: usize,
) -> Result<()> {
    if depth > 16 {
        return Err(Error::msg(format!(
            "profile `{name}`: `inherits` chain loops; fix [profile.*] in Cargo.toml"
        )));
    }
    let manifest_table = manifest
        .and_then(|m| m.get(name))
        .and_then(|v| v.as_table());
    let config_tables = config.profile_tables(name);
    match name {
        "dev" | "release" => builtin(name, values),
        "test" => apply_chain("dev", manifest, config, values, depth + 1)?,
        "bench" => apply_chain("release", manifest, config, values, depth + 1)?,
        _ => {
            let inherits = config_tables
                .iter()
                .rev()
                .find_map(|(t, _)| t.get("inherits"))
                .or_else(|| manifest_table.and_then(|t| t.get("inherits")))
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            match inherits {
                Some(parent) if parent != name => {
                    apply_chain(&parent, manifest, config, values, depth + 1)?
                }
                _ if manifest_table.is_none() && config_tables.is_empty() => {
                    return Err(Error::msg(format!(
                        "profile `{name}` is not defined: add [profile.{name}] with `inherits` \
                         to the workspace Cargo.toml, or use --profile release"
                    )));
                }
                _ => {
                    return Err(Error::msg(format!(
                        "profile `{name}` has no `inherits` key: custom profiles must name the \
                         profile they inherit from ([profile.{name}] inherits = \"release\")"
                    )));
                }
            }
        }
    }
    if let Some(t) = manifest_table {
        set_from_table(t, "Cargo.toml", values);
    }
    for (t, origin) in config_tables {
        set_from_table(t, origin, values);
    }
    for key in KEYS {
        let var = format!("CARGO_PROFILE_{}_{}", env_key(name), env_key(key));
        if let Ok(v) = std::env::var(&var) {
            values.insert(
                key.to_owned(),
                (env_value(&v), format!("environment ({var})")),
            );
        }
    }
    Ok(())
}

fn builtin(name: &str, values: &mut BTreeMap<String, (toml::Value, String)>) {
    let release = name == "release";
    let d = |v: toml::Value| (v, format!("default ({name})"));
    values.insert(
        "opt-level".into(),
        d(toml::Value::String(if release { "3" } else { "0" }.into())),
    );
    values.insert("debug".into(), d(toml::Value::Boolean(!release)));
    values.insert("lto".into(), d(toml::Value::Boolean(false)));
    values.insert("panic".into(), d(toml::Value::String("unwind".into())));
    values.insert("incremental".into(), d(toml::Value::Boolean(!release)));
}

fn set_from_table(
    table: &toml::Table,
    origin: &str,
    values: &mut BTreeMap<String, (toml::Value, String)>,
) {
    for key in KEYS {
        if let Some(v) = table.get(key) {
            values.insert(key.to_owned(), (v.clone(), origin.to_owned()));
        }
    }
}

/// An environment value typed as the TOML it stands for (`true`, `3`, `"thin"`).
fn env_value(v: &str) -> toml::Value {
    match v {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => v
            .parse::<i64>()
            .map(toml::Value::Integer)
            .unwrap_or_else(|_| toml::Value::String(v.to_owned())),
    }
}

fn value_str(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn normalize_debug(v: Option<&toml::Value>) -> String {
    match v {
        None | Some(toml::Value::Boolean(false)) => "none".into(),
        Some(toml::Value::Boolean(true)) => "full".into(),
        Some(toml::Value::Integer(0)) => "none".into(),
        Some(toml::Value::Integer(1)) => "limited".into(),
        Some(toml::Value::Integer(2)) => "full".into(),
        Some(toml::Value::String(s)) if s == "0" => "none".into(),
        Some(toml::Value::String(s)) if s == "1" => "limited".into(),
        Some(toml::Value::String(s)) if s == "2" => "full".into(),
        Some(other) => value_str(other),
    }
}

fn normalize_lto(v: Option<&toml::Value>) -> String {
    match v {
        None | Some(toml::Value::Boolean(false)) => "false".into(),
        Some(toml::Value::Boolean(true)) => "fat".into(),
        Some(toml::Value::String(s)) if s == "true" => "fat".into(),
        Some(other) => value_str(other),
    }
}

fn normalize_strip(v: &toml::Value) -> String {
    match v {
        toml::Value::Boolean(true) => "symbols".into(),
        toml::Value::Boolean(false) => "none".into(),
        other => value_str(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        s.parse().unwrap()
    }

    fn no_profile_env() -> bool {
        !std::env::vars().any(|(k, _)| {
            k.starts_with("CARGO_PROFILE_")
                || k == "CARGO_INCREMENTAL"
                || k.starts_with("CARGO_BUILD_")
        })
    }

    #[test]
    fn release_defaults() {
        assert!(
            no_profile_env(),
            "CARGO_PROFILE_*, CARGO_BUILD_* or CARGO_INCREMENTAL is set: unset it to run this test"
        );
        let p = resolve("release", None, &CargoConfig::default()).unwrap();
        assert_eq!(p.opt_level, "3");
        assert_eq!(p.lto, "false");
        assert_eq!(p.debug, "none");
        assert_eq!(p.strip, "debuginfo");
        assert_eq!(p.panic, "unwind");
        assert!(!p.incremental);
        assert_eq!(p.codegen_units, None);
        assert_eq!(p.sources["opt-level"], "default (release)");
        let d = resolve("dev", None, &CargoConfig::default()).unwrap();
        assert_eq!(
            (d.opt_level.as_str(), d.debug.as_str(), d.strip.as_str()),
            ("0", "full", "none")
        );
        assert!(d.incremental);
    }

    #[test]
    fn manifest_then_config() {
        assert!(
            no_profile_env(),
            "CARGO_PROFILE_*, CARGO_BUILD_* or CARGO_INCREMENTAL is set: unset it to run this test"
        );
        let manifest = table(
            "[release]\nlto = 'thin'\ncodegen-units = 1\npanic = 'abort'\n\
             [dist]\ninherits = 'release'\nstrip = true\n",
        );
        let config = CargoConfig::from_tables(vec![(
            ".cargo/config.toml",
            table("[profile.release]\ncodegen-units = 4\ndebug = 1"),
        )]);
        let p = resolve("release", Some(&manifest), &config).unwrap();
        assert_eq!(p.lto, "thin");
        assert_eq!(p.codegen_units, Some(4));
        assert_eq!(p.debug, "limited");
        assert_eq!(p.strip, "none");
        assert_eq!(p.panic, "abort");
        assert_eq!(p.sources["lto"], "Cargo.toml");
        assert_eq!(p.sources["codegen-units"], ".cargo/config.toml");
        let dist = resolve("dist", Some(&manifest), &config).unwrap();
        assert_eq!(
            (dist.lto.as_str(), dist.strip.as_str()),
            ("thin", "symbols")
        );
        assert_eq!(dist.name, "dist");
        let bench = resolve("bench", Some(&manifest), &config).unwrap();
        assert_eq!(bench.opt_level, "3");
    }

    #[test]
    fn unknown_or_bad_profiles_fail() {
        let e = resolve("nope", None, &CargoConfig::default()).unwrap_err();
        assert!(
            e.to_string().contains("profile `nope` is not defined"),
            "{e}"
        );
        let m = table("[x]\nlto = true\n[loop]\ninherits = 'loop2'\n[loop2]\ninherits = 'loop'");
        let e = resolve("x", Some(&m), &CargoConfig::default()).unwrap_err();
        assert!(e.to_string().contains("inherits"), "{e}");
        let e = resolve("loop", Some(&m), &CargoConfig::default()).unwrap_err();
        assert!(e.to_string().contains("loops"), "{e}");
    }

    #[test]
    fn env_values_are_typed() {
        assert_eq!(env_value("true"), toml::Value::Boolean(true));
        assert_eq!(env_value("3"), toml::Value::Integer(3));
        assert_eq!(env_value("s"), toml::Value::String("s".into()));
        assert_eq!(normalize_lto(Some(&env_value("true"))), "fat");
    }
}
