//! Cargo configuration as cargo reads it: `.cargo/config.toml` (or the legacy `.cargo/config`)
//! in the project directory and each of its parents, then `$CARGO_HOME/config.toml`, with the
//! `CARGO_*` environment variables on top. `cargo config get` is unstable, so the files are
//! parsed here with the `toml` crate and merged with cargo's rules: a deeper directory wins
//! over its parents, arrays are joined (higher precedence last), the environment wins over
//! files.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One configuration file, already parsed.
#[derive(Debug, Clone)]
struct Layer {
    /// Where it came from, free of absolute paths: `.cargo/config.toml`,
    /// `../.cargo/config.toml`, `$CARGO_HOME/config.toml`.
    origin: String,
    table: toml::Table,
}

/// The merged view of every cargo configuration file that applies to a directory.
#[derive(Debug, Clone, Default)]
pub struct CargoConfig {
    /// Lowest precedence first.
    layers: Vec<Layer>,
}

/// A string-list setting (`rustflags`): its values and where they came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Flags {
    /// The flags, in the order cargo passes them.
    pub values: Vec<String>,
    /// The origins that contributed, in the same order.
    pub origins: Vec<String>,
}

impl CargoConfig {
    /// Loads the configuration that applies to `dir`: the `.cargo/config.toml` files of `dir`
    /// and its ancestors, then `cargo_home/config.toml` (unless it was one of them).
    pub fn load(dir: &Path, cargo_home: Option<&Path>) -> Result<CargoConfig> {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let mut found: Vec<(PathBuf, String)> = Vec::new();
        let mut up = String::new();
        for ancestor in dir.ancestors() {
            if let Some(file) = config_file_in(&ancestor.join(".cargo")) {
                let name = file.file_name().unwrap_or_default().to_string_lossy();
                found.push((file.clone(), format!("{up}.cargo/{name}")));
            }
            up.push_str("../");
        }
        if let Some(home) = cargo_home {
            let home = home.canonicalize().unwrap_or_else(|_| home.to_path_buf());
            if let Some(file) = config_file_in(&home)
                && !found.iter().any(|(f, _)| f == &file)
            {
                let name = file.file_name().unwrap_or_default().to_string_lossy();
                found.push((file.clone(), format!("$CARGO_HOME/{name}")));
            }
        }
        // `found` is highest precedence first; layers are kept lowest first.
        let mut layers = Vec::with_capacity(found.len());
        for (file, origin) in found.into_iter().rev() {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Error::io("reading cargo configuration", &file, e))?;
            let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
                Error::msg(format!(
                    "cargo configuration {} is not valid TOML: {}; fix the file",
                    file.display(),
                    e.message()
                ))
            })?;
            layers.push(Layer { origin, table });
        }
        Ok(CargoConfig { layers })
    }

    /// A configuration made of in-memory tables (lowest precedence first), for tests.
    pub fn from_tables(tables: Vec<(&str, toml::Table)>) -> CargoConfig {
        CargoConfig {
            layers: tables
                .into_iter()
                .map(|(origin, table)| Layer {
                    origin: origin.to_owned(),
                    table,
                })
                .collect(),
        }
    }

    /// The origins of the loaded files, lowest precedence first.
    pub fn origins(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.origin.clone()).collect()
    }

    /// The value at `path` (`["build", "target"]`) from the file of highest precedence that
    /// sets it, with that file's origin.
    pub fn get(&self, path: &[&str]) -> Option<(&toml::Value, &str)> {
        self.layers
            .iter()
            .rev()
            .find_map(|l| lookup(&l.table, path).map(|v| (v, l.origin.as_str())))
    }

    /// A string setting: the environment variable `env` when set, else the files.
    pub fn get_string(&self, path: &[&str], env: &str) -> Option<(String, String)> {
        if let Some(v) = env_var(env) {
            return Some((v, format!("environment ({env})")));
        }
        match self.get(path)? {
            (toml::Value::String(s), origin) => Some((s.clone(), origin.to_owned())),
            (toml::Value::Array(a), origin) if a.len() == 1 => {
                a[0].as_str().map(|s| (s.to_owned(), origin.to_owned()))
            }
            (other, origin) => Some((other.to_string(), origin.to_owned())),
        }
    }

    /// A string-list setting (`build.rustflags`): arrays of every file joined (higher
    /// precedence last), a string replaces what lower files said and is split on white
    /// space; the environment variable `env` (split on white space) comes last.
    pub fn get_flags(&self, path: &[&str], env: Option<&str>) -> Option<Flags> {
        let mut flags = Flags::default();
        let mut any = false;
        for layer in &self.layers {
            match lookup(&layer.table, path) {
                Some(toml::Value::Array(items)) => {
                    any = true;
                    flags
                        .values
                        .extend(items.iter().filter_map(|v| v.as_str().map(str::to_owned)));
                    flags.origins.push(layer.origin.clone());
                }
                Some(toml::Value::String(s)) => {
                    any = true;
                    flags.values = s.split_whitespace().map(str::to_owned).collect();
                    flags.origins = vec![layer.origin.clone()];
                }
                _ => {}
            }
        }
        if let Some(env) = env
            && let Some(v) = env_var(env)
        {
            any = true;
            flags.values.extend(v.split_whitespace().map(str::to_owned));
            flags.origins.push(format!("environment ({env})"));
        }
        any.then_some(flags)
    }

    /// The keys of the `[target]` table that are `cfg(...)` expressions and set `key`,
    /// sorted, from every file.
    pub fn target_cfg_keys(&self, key: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .layers
            .iter()
            .filter_map(|l| l.table.get("target").and_then(|t| t.as_table()))
            .flat_map(|t| {
                t.iter()
                    .filter(|(k, v)| k.starts_with("cfg(") && v.get(key).is_some())
                    .map(|(k, _)| k.clone())
            })
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// The `[profile.<name>]` table of each file that has one, lowest precedence first.
    pub fn profile_tables(&self, name: &str) -> Vec<(&toml::Table, &str)> {
        self.layers
            .iter()
            .filter_map(|l| {
                lookup(&l.table, &["profile", name])
                    .and_then(|v| v.as_table())
                    .map(|t| (t, l.origin.as_str()))
            })
            .collect()
    }
}

/// `.cargo/config` (legacy, preferred by cargo when both exist) or `.cargo/config.toml`.
fn config_file_in(dir: &Path) -> Option<PathBuf> {
    ["config", "config.toml"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// The value at a dotted path inside a table.
fn lookup<'a>(table: &'a toml::Table, path: &[&str]) -> Option<&'a toml::Value> {
    let (first, rest) = path.split_first()?;
    let mut value = table.get(*first)?;
    for key in rest {
        value = value.as_table()?.get(*key)?;
    }
    Some(value)
}

/// An environment variable that is set (to anything, including an empty string).
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The environment-variable spelling of a config key part (`x86_64-unknown-linux-gnu` →
/// `X86_64_UNKNOWN_LINUX_GNU`, `codegen-units` → `CODEGEN_UNITS`).
pub fn env_key(part: &str) -> String {
    part.chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        s.parse().unwrap()
    }

    #[test]
    fn deeper_files_win_and_arrays_join() {
        let c = CargoConfig::from_tables(vec![
            (
                "$CARGO_HOME/config.toml",
                table("[build]\ntarget = 'a'\nrustflags = ['-Chome']"),
            ),
            (
                ".cargo/config.toml",
                table("[build]\ntarget = 'b'\nrustflags = ['-Cproj']"),
            ),
        ]);
        assert_eq!(c.get(&["build", "target"]).unwrap().1, ".cargo/config.toml");
        let f = c
            .get_flags(
                &["build", "rustflags"],
                Some("CARGO_PROVENANCE_TEST_UNSET_VAR"),
            )
            .unwrap();
        assert_eq!(f.values, ["-Chome", "-Cproj"]);
        assert_eq!(f.origins, ["$CARGO_HOME/config.toml", ".cargo/config.toml"]);
    }

    #[test]
    fn a_string_replaces_lower_files() {
        let c = CargoConfig::from_tables(vec![
            ("low", table("[build]\nrustflags = ['-Clow']")),
            ("high", table("[build]\nrustflags = '-C a  -C b'")),
        ]);
        let f = c.get_flags(&["build", "rustflags"], None).unwrap();
        assert_eq!(f.values, ["-C", "a", "-C", "b"]);
        assert!(c.get_flags(&["build", "nothing"], None).is_none());
    }

    #[test]
    fn cfg_keys_are_listed_sorted() {
        let c = CargoConfig::from_tables(vec![(
            "x",
            table(
                "[target.'cfg(unix)']\nrustflags = ['-Cu']\n[target.'cfg(all())']\nrustflags = []\n\
                 [target.'cfg(windows)']\nrunner = 'x'",
            ),
        )]);
        assert_eq!(c.target_cfg_keys("rustflags"), ["cfg(all())", "cfg(unix)"]);
    }

    #[test]
    fn env_keys_like_cargo() {
        assert_eq!(
            env_key("x86_64-unknown-linux-gnu"),
            "X86_64_UNKNOWN_LINUX_GNU"
        );
        assert_eq!(env_key("codegen-units"), "CODEGEN_UNITS");
    }

    #[test]
    fn loads_files_from_ancestors() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let proj = root.join("a/b");
        std::fs::create_dir_all(proj.join(".cargo")).unwrap();
        std::fs::create_dir_all(root.join("a/.cargo")).unwrap();
        std::fs::write(proj.join(".cargo/config.toml"), "[build]\ntarget='inner'").unwrap();
        std::fs::write(root.join("a/.cargo/config"), "[build]\njobs=1").unwrap();
        let home = root.join("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join("config.toml"), "[build]\nrustflags=['-Chome']").unwrap();
        let c = CargoConfig::load(&proj, Some(&home)).unwrap();
        assert_eq!(
            c.origins(),
            [
                "$CARGO_HOME/config.toml",
                "../.cargo/config",
                ".cargo/config.toml"
            ]
        );
        std::fs::write(proj.join(".cargo/config.toml"), "[build").unwrap();
        let e = CargoConfig::load(&proj, Some(&home)).unwrap_err();
        assert!(e.to_string().contains("config.toml"), "{e}");
    }
}
