//! Which image builder runs: `--builder auto|native|buildx|buildctl`, BuildKit probes, and
//! the record of the choice.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};

use super::BuildOptions;
use super::buildkit;

/// `--builder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuilderChoice {
    /// BuildKit when reachable (buildctl with BUILDKIT_HOST, else docker buildx), else native.
    #[default]
    Auto,
    /// The daemonless native builder.
    Native,
    /// `docker buildx build`.
    Buildx,
    /// `buildctl build` with BUILDKIT_HOST.
    Buildctl,
}

/// The builder that ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuilderKind {
    /// The native builder.
    Native,
    /// docker buildx.
    Buildx,
    /// buildctl.
    Buildctl,
}

/// The builder that ran and how it describes itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuilderInfo {
    /// Which builder.
    pub kind: BuilderKind,
    /// A description (`cargo-provenance native builder 0.1.0`, `docker buildx (builder
    /// default, driver docker)`).
    pub id: String,
    /// Why `auto` picked it (absent when chosen with `--builder`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the probes said (shown on the terminal, never recorded: tools' messages may hold
    /// environment values such as DOCKER_HOST).
    #[serde(skip)]
    pub probe_messages: Option<String>,
    /// Facts about a BuildKit builder: `name`, `driver`, `buildkit` (version).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

/// Picks the builder for `--builder`: probes BuildKit when needed. An explicit BuildKit
/// choice that does not answer is an error naming DOCKER_HOST/BUILDKIT_HOST.
pub fn choose_builder(opts: &BuildOptions) -> Result<(BuilderInfo, Option<buildkit::Client>)> {
    let native = |reason: Option<String>| BuilderInfo {
        kind: BuilderKind::Native,
        id: format!(
            "cargo-provenance native builder {}",
            env!("CARGO_PKG_VERSION")
        ),
        reason,
        probe_messages: None,
        details: BTreeMap::new(),
    };
    let buildx = buildkit::Client::Buildx {
        builder: opts.buildx_builder.clone(),
    };
    let explicit = |client: buildkit::Client, kind| match buildkit::probe(&client) {
        Ok((id, details)) => Ok((
            BuilderInfo {
                kind,
                id,
                reason: None,
                probe_messages: None,
                details,
            },
            Some(client),
        )),
        Err(why) => Err(buildkit::unreachable(&client, &why)),
    };
    match opts.builder {
        BuilderChoice::Native => Ok((native(None), None)),
        BuilderChoice::Buildx => explicit(buildx, BuilderKind::Buildx),
        BuilderChoice::Buildctl => explicit(buildkit::Client::Buildctl, BuilderKind::Buildctl),
        BuilderChoice::Auto => {
            let mut why = Vec::new();
            if std::env::var_os("BUILDKIT_HOST").is_some() {
                match buildkit::probe(&buildkit::Client::Buildctl) {
                    Ok((id, details)) => {
                        let info = BuilderInfo {
                            kind: BuilderKind::Buildctl,
                            id,
                            reason: Some("auto: BuildKit answers at BUILDKIT_HOST".into()),
                            probe_messages: None,
                            details,
                        };
                        return Ok((info, Some(buildkit::Client::Buildctl)));
                    }
                    Err(e) => why.push(format!("buildctl: {e}")),
                }
            }
            match buildkit::probe(&buildx) {
                Ok((id, details)) => Ok((
                    BuilderInfo {
                        kind: BuilderKind::Buildx,
                        id,
                        reason: Some("auto: BuildKit answers through docker buildx".into()),
                        probe_messages: (!why.is_empty()).then(|| why.join("; ")),
                        details,
                    },
                    Some(buildx),
                )),
                Err(e) => {
                    why.push(format!("docker buildx: {e}"));
                    let mut info = native(Some(
                        "auto: no BuildKit reachable (docker buildx, BUILDKIT_HOST)".into(),
                    ));
                    info.probe_messages = Some(why.join("; "));
                    Ok((info, None))
                }
            }
        }
    }
}

/// The builder choice: known, or being probed in a thread while cargo compiles.
pub(crate) enum Probe {
    Done(Box<Result<(BuilderInfo, Option<buildkit::Client>)>>),
    Running(std::thread::JoinHandle<Result<(BuilderInfo, Option<buildkit::Client>)>>),
}

impl Probe {
    pub(crate) fn join(self) -> Result<(BuilderInfo, Option<buildkit::Client>)> {
        match self {
            Probe::Done(r) => *r,
            Probe::Running(h) => h
                .join()
                .unwrap_or_else(|_| Err(Error::msg("probing BuildKit failed unexpectedly"))),
        }
    }
}
