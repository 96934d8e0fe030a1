//! The two generations of signing and registry peers every interop test runs against:
//! cosign 2.5 + oras 1.2 (the defaults on the peers' PATH) and cosign 3.1 + oras 1.3
//! (`$COSIGN3`, `$ORAS13` of `setup-peers.sh env`, else their place under `$PEERS/current`).
//!
//! Where the generations need different flags, [`Tier`] says so in one place, with the
//! flags cosign 3's own help gives:
//! - key signing without a transparency log: cosign 2.5 takes `--tlog-upload=false`; cosign
//!   3.1 refuses it while a signing config is in use and says to pass a signing config
//!   without log services (`cosign signing-config create`), which [`Tier::sign_flags`] does;
//! - bundles: cosign 2.5 writes and reads them only with `--new-bundle-format`; it is cosign
//!   3.1's default (the flag is still accepted, so tests pass it to both);
//! - `cosign sign`: cosign 2.5 writes the legacy `sha256-HEX.sig` tag, cosign 3.1 a bundle
//!   referrer (a `sign/v1` statement); `cosign verify` 3.1 reads both.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Peers;

/// Which generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// cosign 2.5, oras 1.2.
    Old,
    /// cosign 3.1, oras 1.3.
    Current,
}

/// One generation of peers.
#[derive(Debug, Clone)]
pub struct Tier {
    /// Which one.
    pub generation: Generation,
    /// The cosign binary.
    pub cosign: PathBuf,
    /// The oras binary.
    pub oras: PathBuf,
    /// The peers' environment.
    pub peers: Peers,
}

fn current_tool(peers: &Peers, var: &str, name: &str) -> PathBuf {
    let p = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| peers.root.join("current/usr/bin").join(name));
    assert!(
        p.is_file(),
        "peer {name} ({var} = {}) not found: run `scripts/peers.sh install`",
        p.display()
    );
    p
}

impl Peers {
    /// Both generations, old first. Panics with instructions when a tool is missing.
    pub fn tiers(&self) -> [Tier; 2] {
        let bin = self.root.join("root/usr/bin");
        [
            Tier {
                generation: Generation::Old,
                cosign: bin.join("cosign"),
                oras: bin.join("oras"),
                peers: self.clone(),
            },
            Tier {
                generation: Generation::Current,
                cosign: self.cosign3(),
                oras: current_tool(self, "ORAS13", "oras"),
                peers: self.clone(),
            },
        ]
    }

    /// sigstore-go 1.3's `sigstore-go-verification` (`$SIGSTORE_GO_VERIFY13`).
    pub fn sigstore_go_verify13(&self) -> PathBuf {
        current_tool(self, "SIGSTORE_GO_VERIFY13", "sigstore-go-verification")
    }
}

impl Tier {
    /// `cosign 2.5` or `cosign 3.1` / `oras 1.2` or `oras 1.3`, for messages and tables.
    pub fn name(&self) -> &'static str {
        match self.generation {
            Generation::Old => "cosign 2.5 + oras 1.2",
            Generation::Current => "cosign 3.1 + oras 1.3",
        }
    }

    /// True for cosign 3 / oras 1.3.
    pub fn is_current(&self) -> bool {
        self.generation == Generation::Current
    }

    /// A cosign command with the peers' environment.
    pub fn cosign(&self) -> Command {
        let mut c = Command::new(&self.cosign);
        self.peers.apply(&mut c);
        c
    }

    /// An oras command with the peers' environment.
    pub fn oras(&self) -> Command {
        let mut c = Command::new(&self.oras);
        self.peers.apply(&mut c);
        c
    }

    /// `oras discover --format json ARGS`: the direct referrers' descriptors. oras 1.2 lists
    /// them under `manifests`; oras 1.3 prints a tree, with them under `referrers` (each with
    /// its own `referrers`).
    pub fn oras_discover(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let out = super::run(
            self.oras()
                .args(["discover", "--format", "json"])
                .args(args),
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let key = match self.generation {
            Generation::Old => "manifests",
            Generation::Current => "referrers",
        };
        v[key]
            .as_array()
            .unwrap_or_else(|| {
                panic!(
                    "{}: no `{key}` in oras discover output:\n{out}",
                    self.name()
                )
            })
            .clone()
    }

    /// Flags for `cosign sign|attest|attest-blob --key` without a transparency log, written
    /// into `dir` when a file is needed (cosign 3's empty signing config).
    pub fn sign_flags(&self, dir: &Path) -> Vec<String> {
        match self.generation {
            Generation::Old => vec!["--tlog-upload=false".into()],
            Generation::Current => {
                let config = dir.join("signing-config-no-tlog.json");
                if !config.is_file() {
                    super::run(
                        self.cosign()
                            .args(["signing-config", "create", "--out"])
                            .arg(&config),
                    );
                }
                vec!["--signing-config".into(), config.display().to_string()]
            }
        }
    }
}
