//! `verify --rebuild`: check the recorded commit out into a temporary directory, rebuild it
//! with the recorded parameters and toolchain, and compare binary and image digests with the
//! verified provenance's subjects and with the digest being verified, naming every one that
//! differs.
//!
//! A consumer of verify's verified statements that runs the producers, so it lives above
//! verify (README, "Architecture"). The steps, each from one typed value to the next:
//!
//! 1. the verified statements → the [`Recorded`] provenance of our build type, and its
//!    source commit;
//! 2. `--source PATH` → the [`checkout::Origin`] repository, which must hold that commit;
//! 3. → a [`checkout::Checkout`] of the commit (git2, borrowing the repository's objects);
//! 4. → [`Rebuilt`]: our own binary's `build --no-sign` run there as a child process; the
//!    recorded `SOURCE_DATE_EPOCH` and rustup toolchain go into its environment only, and its
//!    target directory is inside the checkout. Its `summary.json` gives the rebuilt digests,
//!    its provenance the toolchain it used;
//! 5. → the verdict: the `rebuild` check passes or fails, naming what differs.

pub mod checkout;
pub mod compare;
pub mod recorded;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::build::Summary;
use crate::build::summary::Attestation;
use crate::error::{Error, Result};
use crate::formats::build_type::{InternalParameters, SourceParameters, ToolchainParameters};
use crate::formats::intoto::Statement;
use crate::formats::slsa::Provenance;
use crate::ui::Ui;
use crate::verify::document::Target;
use crate::verify::{CheckId, Report};
use checkout::{Checkout, Origin};
pub use compare::{differences, rebuilt_subjects, target_differences};
pub use recorded::{Recorded, Subject};

/// Runs the rebuild for the first counted provenance in `statements` (the verified ones) and
/// records the `rebuild` check in `report`. An error only when the rebuild cannot be
/// attempted here (no git repository, no temporary directory, our own binary not found).
pub fn run(
    report: &mut Report,
    statements: &[Value],
    target: &Target,
    source: Option<&Path>,
    ui: &Ui,
) -> Result<()> {
    match rebuild(statements, target, source.unwrap_or(Path::new(".")), ui) {
        Ok(reason) => report.pass(CheckId::Rebuild, None, reason),
        Err(Stop::Fail(reason)) => report.fail(CheckId::Rebuild, None, reason),
        Err(Stop::Error(e)) => return Err(e),
    }
    Ok(())
}

/// Why the rebuild stopped early: the `rebuild` check fails with a reason, or verify
/// cannot go on.
enum Stop {
    Fail(String),
    Error(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Error(e)
    }
}

/// The steps; the `rebuild` check's passing reason, or why it stopped.
fn rebuild(
    statements: &[Value],
    target: &Target,
    source: &Path,
    ui: &Ui,
) -> std::result::Result<String, Stop> {
    let recorded = Recorded::first(statements).ok_or_else(|| {
        Stop::Fail("no verified provenance of our build type to rebuild from".into())
    })?;
    let src = recorded
        .source()
        .ok_or_else(|| Stop::Fail("the provenance records no source commit to rebuild".into()))?;
    let origin = Origin::open(source)?;
    let commit = origin.commit(&src.commit).ok_or_else(|| {
        Stop::Fail(format!(
            "commit {} is not in the repository at {}: fetch it or pass --source PATH",
            src.commit,
            origin.top().display()
        ))
    })?;
    ui.status(
        "Rebuilding",
        format!("commit {} in a temporary clone", src.commit),
    );
    let checkout = Checkout::create(&origin, commit)?;
    let rebuilt = Rebuilt::run(&recorded, src, &checkout)?;
    verdict(&recorded, src, &rebuilt, target)
}

/// What the rebuild produced: its `summary.json` and the toolchain its provenance records.
pub struct Rebuilt {
    /// The rebuild's `summary.json`.
    pub summary: Summary,
    /// `internalParameters.toolchain` of the rebuild's provenance, when it could be read.
    pub toolchain: Option<ToolchainParameters>,
}

impl Rebuilt {
    /// Runs the recorded build in `checkout` and reads what it wrote.
    fn run(
        recorded: &Recorded,
        src: &SourceParameters,
        checkout: &Checkout,
    ) -> std::result::Result<Rebuilt, Stop> {
        let status = command(recorded, checkout)?
            .status()
            .map_err(|e| Error::msg(format!("running the rebuild: {e}")))?;
        if !status.success() {
            return Err(Stop::Fail(format!(
                "the rebuild of commit {} failed ({status})",
                src.commit
            )));
        }
        let summary: Summary =
            serde_json::from_slice(&crate::util::fs::read(&checkout.out.join("summary.json"))?)
                .map_err(|e| Error::msg(format!("the rebuild's summary.json is not valid: {e}")))?;
        let toolchain = toolchain_of(&summary, &checkout.out);
        Ok(Rebuilt { summary, toolchain })
    }
}

/// Our own binary's `build` repeating the recorded build in `checkout`: the recorded
/// `SOURCE_DATE_EPOCH` and rustup toolchain in its environment only, its target directory
/// inside the checkout. With a rustup toolchain, `CARGO` (which cargo sets when it runs us:
/// the running toolchain's own cargo) is left out, so that rustup's proxies pick the recorded
/// toolchain ([`crate::inspect::toolchain::cargo_program`]).
fn command(recorded: &Recorded, checkout: &Checkout) -> Result<Command> {
    let exe =
        std::env::current_exe().map_err(|e| Error::msg(format!("locating our own binary: {e}")))?;
    let mut cmd = Command::new(exe);
    cmd.args(recorded.build_args(&checkout.src, &checkout.out))
        .env(
            "SOURCE_DATE_EPOCH",
            recorded.internal.source_date_epoch.to_string(),
        )
        .env_remove("CARGO_TARGET_DIR");
    if let Some(t) = &recorded.internal.toolchain.rustup_toolchain {
        cmd.env("RUSTUP_TOOLCHAIN", t)
            .env_remove("RUSTUP_TOOLCHAIN_SOURCE")
            .env_remove("CARGO");
    }
    Ok(cmd)
}

/// The toolchain the rebuild's provenance (its summary's provenance entry) records.
fn toolchain_of(summary: &Summary, out: &Path) -> Option<ToolchainParameters> {
    let file = summary.attestations.iter().find_map(|a| match a {
        Attestation::Image(i) if i.predicate_type == crate::formats::slsa::PREDICATE_TYPE => {
            i.statement_file.as_deref()
        }
        _ => None,
    })?;
    let bytes = std::fs::read(out.join(file)).ok()?;
    let st: Statement<Provenance> = serde_json::from_slice(&bytes).ok()?;
    let internal: InternalParameters =
        serde_json::from_value(st.predicate.build_definition.internal_parameters?).ok()?;
    Some(internal.toolchain)
}

/// The `rebuild` check: passes when every recorded subject and the digest being verified
/// were rebuilt identically; otherwise names each difference, the dirty tree the build
/// recorded, and a toolchain difference.
fn verdict(
    recorded: &Recorded,
    src: &SourceParameters,
    rebuilt: &Rebuilt,
    target: &Target,
) -> std::result::Result<String, Stop> {
    let summary = &rebuilt.summary;
    let mut diffs = differences(recorded, &rebuilt_subjects(summary, recorded.index_name()));
    diffs.extend(target_differences(target, summary));
    if diffs.is_empty() {
        return Ok(format!(
            "commit {} rebuilt with identical digests for all {} subjects and the {} being \
             verified",
            src.commit,
            recorded.subjects.len(),
            target.top().map(|p| p.to_string()).unwrap_or_default()
        ));
    }
    let dirty = if src.dirty {
        " (the build recorded uncommitted changes: a dirty tree does not rebuild from its commit)"
    } else {
        ""
    };
    let toolchain = rebuilt
        .toolchain
        .as_ref()
        .and_then(|t| compare::toolchain_difference(&recorded.internal.toolchain, t))
        .unwrap_or_default();
    Err(Stop::Fail(format!(
        "{}{dirty}{toolchain}",
        diffs.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_child_gets_the_recorded_epoch_and_toolchain_and_no_pinned_cargo() {
        let tmp = tempfile::tempdir().unwrap();
        let mut recorded: Recorded = Recorded {
            external: serde_json::from_value(serde_json::json!({
                "packages": ["p"], "binaries": ["b"], "profile": "release", "target": "t",
                "builder": "native", "baseImage": "scratch", "platforms": []
            }))
            .unwrap(),
            internal: serde_json::from_value(serde_json::json!({
                "toolchain": {"rustcRelease": "1", "rustcCommitHash": "x", "rustcCommitDate": "d",
                    "host": "h", "cargoVersion": "c", "rustupToolchain": "1.95.0"},
                "rustflagsSource": "none", "profileSettings": {"optLevel": "3", "lto": "false",
                    "codegenUnits": 1, "debug": "0", "strip": "none", "panic": "unwind"},
                "sourceDateEpoch": 1234, "reproducible": true
            }))
            .unwrap(),
            subjects: vec![],
        };
        let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
        let checkout = Checkout {
            _tmp: tmp,
            src,
            out,
        };
        let envs = |r: &Recorded| -> Vec<(String, Option<String>)> {
            command(r, &checkout)
                .unwrap()
                .get_envs()
                .map(|(k, v)| {
                    let s = |x: &std::ffi::OsStr| x.to_string_lossy().into_owned();
                    (s(k), v.map(s))
                })
                .collect()
        };
        let e = envs(&recorded);
        let has = |e: &[(String, Option<String>)], k: &str, v: Option<&str>| {
            e.iter().any(|(a, b)| a == k && b.as_deref() == v)
        };
        assert!(has(&e, "SOURCE_DATE_EPOCH", Some("1234")), "{e:?}");
        assert!(has(&e, "RUSTUP_TOOLCHAIN", Some("1.95.0")), "{e:?}");
        assert!(has(&e, "CARGO", None), "{e:?}");
        assert!(has(&e, "CARGO_TARGET_DIR", None), "{e:?}");
        recorded.internal.toolchain.rustup_toolchain = None;
        let e = envs(&recorded);
        assert!(
            !e.iter()
                .any(|(k, _)| k == "CARGO" || k == "RUSTUP_TOOLCHAIN"),
            "{e:?}"
        );
    }
}
