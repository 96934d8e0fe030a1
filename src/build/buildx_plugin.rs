//! Where `docker buildx` really is: the docker CLI runs buildx as a plugin, the executable
//! `docker-buildx` in one of its plugin directories. We run that executable directly (buildx's
//! standalone mode, which reads DOCKER_HOST, DOCKER_CONTEXT and the docker configuration just
//! as the plugin does) and so skip the docker CLI's own start and its plugin metadata call:
//! two Go processes, about 40 ms per call on a small machine. When no plugin is found, or
//! `CARGO_PROVENANCE_BUILDX=docker` is set, `docker buildx` runs as usual.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The plugin directories, in the docker CLI's order: `$DOCKER_CONFIG/cli-plugins` (else
/// `~/.docker/cli-plugins`), the `cliPluginsExtraDirs` of its `config.json`, then the system
/// directories.
pub fn plugin_dirs() -> Vec<PathBuf> {
    let config = std::env::var_os("DOCKER_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
    let mut dirs = Vec::new();
    if let Some(c) = &config {
        dirs.push(c.join("cli-plugins"));
        dirs.extend(extra_dirs(&c.join("config.json")));
    }
    for d in [
        "/usr/local/lib/docker/cli-plugins",
        "/usr/local/libexec/docker/cli-plugins",
        "/usr/lib/docker/cli-plugins",
        "/usr/libexec/docker/cli-plugins",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// `cliPluginsExtraDirs` of the docker CLI's `config.json` (absent or unreadable: none).
fn extra_dirs(config_json: &Path) -> Vec<PathBuf> {
    let Ok(bytes) = std::fs::read(config_json) else {
        return Vec::new();
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    value
        .get("cliPluginsExtraDirs")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_str().map(PathBuf::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The `docker-buildx` executable the docker CLI would run, if any.
pub fn find() -> Option<PathBuf> {
    if std::env::var("CARGO_PROVENANCE_BUILDX").is_ok_and(|v| v == "docker") {
        return None;
    }
    plugin_dirs()
        .into_iter()
        .map(|d| d.join("docker-buildx"))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// A command running buildx: the plugin directly when found, else `docker buildx`. The
/// caller adds the subcommand (`build`, `inspect`).
pub fn command() -> Command {
    match find() {
        Some(plugin) => Command::new(plugin),
        None => {
            let mut c = Command::new("docker");
            c.arg("buildx");
            c
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_dirs_come_from_config_json() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.json");
        std::fs::write(&cfg, r#"{"cliPluginsExtraDirs": ["/opt/a", "/opt/b"]}"#).unwrap();
        assert_eq!(
            extra_dirs(&cfg),
            vec![PathBuf::from("/opt/a"), PathBuf::from("/opt/b")]
        );
        std::fs::write(&cfg, "not json").unwrap();
        assert!(extra_dirs(&cfg).is_empty());
        assert!(extra_dirs(&dir.path().join("absent.json")).is_empty());
    }
}
