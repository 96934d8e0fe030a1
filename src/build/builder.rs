//! Which image builder runs: `--builder auto|native|buildx|buildctl`, BuildKit probes, and
//! the record of the choice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuilderKind {
    /// The native builder.
    Native,
    /// docker buildx.
    Buildx,
    /// buildctl.
    Buildctl,
}

impl BuilderKind {
    /// The name recorded in the provenance's `externalParameters.builder`.
    pub fn as_str(self) -> &'static str {
        match self {
            BuilderKind::Native => "native",
            BuilderKind::Buildx => "buildx",
            BuilderKind::Buildctl => "buildctl",
        }
    }
}

/// The builder that ran and how it describes itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// The native builder's record.
fn native_info(reason: Option<String>) -> BuilderInfo {
    BuilderInfo {
        kind: BuilderKind::Native,
        id: format!(
            "cargo-provenance native builder {}",
            env!("CARGO_PKG_VERSION")
        ),
        reason,
        probe_messages: None,
        details: BTreeMap::new(),
    }
}

/// The client an explicit `--builder buildx|buildctl` names (`None` for `auto`/`native`).
fn explicit_client(opts: &BuildOptions) -> Option<(buildkit::Client, BuilderKind)> {
    match opts.builder {
        BuilderChoice::Buildx => Some((
            buildkit::Client::Buildx {
                builder: opts.buildx_builder.clone(),
            },
            BuilderKind::Buildx,
        )),
        BuilderChoice::Buildctl => Some((buildkit::Client::Buildctl, BuilderKind::Buildctl)),
        BuilderChoice::Auto | BuilderChoice::Native => None,
    }
}

/// Probes an explicitly chosen BuildKit client: its record, or the error naming
/// DOCKER_HOST/BUILDKIT_HOST.
fn probe_explicit(client: &buildkit::Client, kind: BuilderKind) -> Result<BuilderInfo> {
    match buildkit::probe(client) {
        Ok((id, details)) => Ok(BuilderInfo {
            kind,
            id,
            reason: None,
            probe_messages: None,
            details,
        }),
        Err(why) => Err(buildkit::unreachable(client, &why)),
    }
}

/// Picks the builder for `--builder`: probes BuildKit when needed. An explicit BuildKit
/// choice that does not answer is an error naming DOCKER_HOST/BUILDKIT_HOST.
pub fn choose_builder(opts: &BuildOptions) -> Result<(BuilderInfo, Option<buildkit::Client>)> {
    let buildx = buildkit::Client::Buildx {
        builder: opts.buildx_builder.clone(),
    };
    match opts.builder {
        BuilderChoice::Native => Ok((native_info(None), None)),
        BuilderChoice::Buildx => Ok((probe_explicit(&buildx, BuilderKind::Buildx)?, Some(buildx))),
        BuilderChoice::Buildctl => {
            let client = buildkit::Client::Buildctl;
            Ok((
                probe_explicit(&client, BuilderKind::Buildctl)?,
                Some(client),
            ))
        }
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
                    let mut info = native_info(Some(
                        "auto: no BuildKit reachable (docker buildx, BUILDKIT_HOST)".into(),
                    ));
                    info.probe_messages = Some(why.join("; "));
                    Ok((info, None))
                }
            }
        }
    }
}

/// The builder choice while cargo compiles: known (`native`), being probed in a thread
/// (`auto`, which must know before the image stage), or an explicit BuildKit client whose
/// probe waits for the image stage, so that it runs beside BuildKit's build rather than
/// competing with the compiler for the CPU.
pub(crate) enum Probe {
    Done(Box<Result<(BuilderInfo, Option<buildkit::Client>)>>),
    Running(std::thread::JoinHandle<Result<(BuilderInfo, Option<buildkit::Client>)>>),
    Explicit(buildkit::Client, BuilderKind),
}

/// The builder's record: known, or an explicit client's probe running in a thread.
pub(crate) enum PendingInfo {
    Known(BuilderInfo),
    Probing(std::thread::JoinHandle<Result<BuilderInfo>>),
}

impl PendingInfo {
    /// The record (an unreachable explicit BuildKit is an error).
    pub(crate) fn wait(self) -> Result<BuilderInfo> {
        match self {
            PendingInfo::Known(b) => Ok(b),
            PendingInfo::Probing(h) => h
                .join()
                .unwrap_or_else(|_| Err(Error::msg("probing BuildKit failed unexpectedly"))),
        }
    }
}

impl Probe {
    /// Starts choosing for `opts`: `auto` probes in a thread at once. `native` is told
    /// whether the native builder builds the image as soon as that is known.
    pub(crate) fn start(opts: &BuildOptions, native: &super::layer_ahead::Wanted) -> Probe {
        if let Some((client, kind)) = explicit_client(opts) {
            native.set(false);
            return Probe::Explicit(client, kind);
        }
        if opts.builder == BuilderChoice::Native {
            native.set(true);
            return Probe::Done(Box::new(choose_builder(opts)));
        }
        let o = opts.clone();
        let native = native.clone();
        Probe::Running(std::thread::spawn(move || {
            let chosen = choose_builder(&o);
            native.set(matches!(chosen, Ok((_, None))));
            chosen
        }))
    }

    /// The client to build with (`None`: native) and its record; an explicit client's probe
    /// starts now, in a thread.
    pub(crate) fn join(self) -> Result<(Option<buildkit::Client>, PendingInfo)> {
        let (info, client) = match self {
            Probe::Done(r) => (*r)?,
            Probe::Running(h) => h
                .join()
                .unwrap_or_else(|_| Err(Error::msg("probing BuildKit failed unexpectedly")))?,
            Probe::Explicit(client, kind) => {
                let c = client.clone();
                let h = std::thread::spawn(move || probe_explicit(&c, kind));
                return Ok((Some(client), PendingInfo::Probing(h)));
            }
        };
        Ok((client, PendingInfo::Known(info)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the native builder builds the image is known before cargo for `native` and
    /// an explicit BuildKit client (whose probe waits for the image stage); `auto` says once
    /// its probe chose.
    #[test]
    fn the_native_builder_is_known_before_cargo_when_asked_for() {
        let mut opts = BuildOptions {
            builder: BuilderChoice::Native,
            ..BuildOptions::default()
        };
        let native = crate::build::layer_ahead::Wanted::default();
        assert!(!native.native());
        let _probe = Probe::start(&opts, &native);
        assert!(native.native());
        opts.builder = BuilderChoice::Buildx;
        let buildx = crate::build::layer_ahead::Wanted::default();
        let _probe = Probe::start(&opts, &buildx);
        assert!(!buildx.native());
    }
}
