//! The one place where `build`'s stages overlap, for speed: the key's decryption (scrypt)
//! runs while `cargo metadata` and `rustc` are asked, and the project is inspected while cargo
//! compiles. Everything else runs in order.

use std::time::Instant;

use super::ReleaseOptions;
use super::signer::start_signer;
use crate::build::BuiltImage;
use crate::error::{Error, Result};
use crate::inspect::Known;
use crate::inspect::model::BuildInputs;
use crate::select::Selection;
use crate::sign::AnySigner;
use crate::ui::Ui;

/// What `inspect` read about the project for this build: the build inputs (toolchain, git
/// state, cargo settings) and the dependency graph the SBOM resolves.
pub struct Project {
    /// The build inputs the provenance records.
    pub inputs: BuildInputs,
    /// The project as the SBOM reads it (cargo metadata, Cargo.lock), not yet resolved for
    /// the build's platforms.
    pub graph: crate::sbom::Prepared,
    /// When the reading began (for the SBOM's `-v` timing line).
    pub read_start: Instant,
}

/// The key loaded, the image built and the project inspected, overlapping as the module
/// documentation says. The key is awaited before the build writes anything, so a wrong
/// password still costs nothing, and a key error comes before a build error.
pub fn key_and_inspect_overlapping_cargo(
    opts: &ReleaseOptions,
    selection: &Selection,
    ui: &Ui,
) -> Result<(Option<AnySigner>, BuiltImage, Project)> {
    // With the cargo-auditable data, the build reads the project for the SBOM (once);
    // without, it is read here, beside cargo, reusing inspect's `cargo metadata`.
    let from_build = !opts.build.no_auditable;
    std::thread::scope(|s| {
        let mut pending = Some(start_signer(&opts.signing, ui, s)?);
        let mut inspect = None;
        let mut signer = None;
        let mut before_writing = |known: &Known| -> Result<()> {
            if let Some(p) = pending.take() {
                signer = p.finish(ui)?;
                // Started once cargo metadata and rustc are done, so they do not compete.
                let known = known.clone();
                inspect = Some(s.spawn(move || inspect_project(selection, from_build, &known, ui)));
            }
            Ok(())
        };
        let built = crate::build::build_gated(&opts.build, ui, &mut before_writing);
        // A build that failed before its gate never started the reading.
        if let Some(p) = pending.take() {
            signer = p.finish(ui)?;
        }
        let (image, from_auditable) = built?;
        let (inputs, graph, read_start) = match inspect {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(Error::msg("reading the build inputs failed (panic)")))?,
            None => inspect_project(selection, from_build, &Known::default(), ui)?,
        };
        let graph = match (graph, from_auditable) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => crate::sbom::prepare(selection, None)?,
        };
        let project = Project {
            inputs,
            graph,
            read_start,
        };
        Ok((signer, image, project))
    })
}

/// The build inputs, and (unless the build reads it for cargo-auditable) the project for
/// the SBOM, reusing inspect's `cargo metadata`.
fn inspect_project(
    selection: &Selection,
    from_build: bool,
    known: &Known,
    ui: &Ui,
) -> Result<(BuildInputs, Option<crate::sbom::Prepared>, Instant)> {
    let start = Instant::now();
    let c = crate::inspect::collect_with(selection, ui, known)?;
    let reuse = Some((c.metadata_args, c.metadata));
    let prepared = if from_build {
        None
    } else {
        Some(crate::sbom::prepare(selection, reuse)?)
    };
    Ok((c.inputs, prepared, start))
}
