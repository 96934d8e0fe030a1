//! The attest stage of `build`: the SBOM about the image, the SLSA provenance, the SBOM
//! statement and (audited) the vulnerability scan, from the project and the built image; then
//! signing them ahead and writing their files.

use std::path::Path;

use super::overlap::Project;
use super::{ReleaseOptions, files, image_name, remove_stale, stage};
use crate::attest::provenance::{self, ProvenanceInput, ShippedCrate};
use crate::attest::sbom_statement;
use crate::audit::stage::Scan;
use crate::build::BuiltImage;
use crate::error::Result;
use crate::formats::intoto::{ResourceDescriptor, Statement};
use crate::formats::slsa::Provenance;
use crate::publish::ImageSubject;
use crate::sbom::{Sbom, SbomRequest, SbomSubject, SpecVersion};
use crate::select::Selection;
use crate::sign::Signer;
use crate::sign::{WrittenAttestation, write_attestations};
use crate::ui::Ui;
use crate::util::digest::Digest;

/// The statements about one image, before anything is signed or written.
pub struct Statements {
    /// The CycloneDX SBOM (`sbom.cdx.json`).
    pub sbom: Sbom,
    /// The SLSA provenance.
    pub provenance: Statement<Provenance>,
    /// The SBOM as an in-toto statement.
    pub sbom_statement: Statement,
    /// The vulnerability scan (`--fail-on` and friends), when audited.
    pub scan: Option<Scan>,
    /// The statements' subjects: the image index and its platform manifests.
    pub subjects: Vec<ResourceDescriptor>,
}

/// The SBOM and the statements of `image`, the vulnerability gate passed (cargo has compiled;
/// nothing is signed, attached or pushed yet).
pub fn attest(
    opts: &ReleaseOptions,
    selection: &Selection,
    mut project: Project,
    image: &BuiltImage,
    signer: Option<&dyn Signer>,
    started_on: i64,
    ui: &Ui,
) -> Result<Statements> {
    let environment = super::signer::run_environment(signer);
    if environment.kind == crate::attest::environment::EnvironmentKind::GithubActions {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        crate::attest::ci::github_source(project.inputs.git.as_mut(), &env)?;
    }
    let name = image_name(image);
    stage(ui, "Attesting", format!("SBOM and provenance of {name}"));
    let sbom = sbom_of(
        selection,
        project.graph,
        project.read_start,
        image,
        &name,
        ui,
    )?;
    let input = ProvenanceInput {
        inputs: project.inputs,
        crates: shipped_crates(&sbom),
        builder: image.builder.kind,
        builder_details: image.builder_details(),
        dockerfile: image.dockerfile.clone(),
        base_image: image.base_image.clone(),
        other_images: image.other_images(),
        image_name: Some(name),
        index_digest: image.index.digest,
        manifests: image.platforms.clone(),
        binaries: image.binaries.clone(),
        auditable: image.auditable,
        sbom_digest: Some(Digest::of(&sbom.json)),
        source_date_epoch: image.source_date_epoch,
        started_on,
        finished_on: crate::util::time::now(),
        reproducible: opts.reproducible,
        environment,
        layer_compression: image.compression,
    };
    let targets: Vec<String> = image
        .platforms
        .iter()
        .map(|p| p.rust_target.clone())
        .collect();
    let fixed = opts.reproducible.then_some(image.source_date_epoch);
    let scan = crate::audit::stage::gate_before_signing(
        opts.audit.as_ref(),
        &sbom,
        &targets,
        &image.output_dir,
        fixed,
        ui,
    )?;
    let provenance = provenance::statement(&input)?;
    let subjects = provenance::subjects(&input);
    let sbom_statement = sbom_statement(&sbom.json, subjects.clone())?;
    Ok(Statements {
        sbom,
        provenance,
        sbom_statement,
        scan,
        subjects,
    })
}

/// The SBOM about the image (`pkg:oci/NAME@sha256:...`), resolved for what cargo compiled.
fn sbom_of(
    selection: &Selection,
    graph: crate::sbom::Prepared,
    read_start: std::time::Instant,
    image: &BuiltImage,
    name: &str,
    ui: &Ui,
) -> Result<Sbom> {
    let request = SbomRequest {
        selection,
        spec_version: SpecVersion::V1_5,
        subject: SbomSubject::Image {
            name: name.to_owned(),
            digest: image.index.digest,
        },
        // One binary component per name: the SBOM lists each binary once, so with several
        // platforms it carries the first platform's files (the provenance names every
        // platform's binaries as subjects).
        binaries: image
            .platforms
            .first()
            .map(|p| p.binaries.clone())
            .unwrap_or_default(),
        compiled_units: Some(image.compiled_units.clone()),
        source_date_epoch: Some(image.source_date_epoch),
        // The image ships every selected package's binaries: one SBOM for all of them.
        workspace_mode: true,
        // The crates resolved for what cargo compiled, on every platform.
        built_for: image
            .platforms
            .iter()
            .map(|p| crate::sbom::BuiltFor {
                target: p.rust_target.clone(),
                rustflags: p.rustflags.clone(),
            })
            .collect(),
        auditable: image.auditable,
    };
    crate::sbom::generate_prepared(&request, graph, read_start, ui)
}

/// The library crates the SBOM lists as shipped, for the provenance.
fn shipped_crates(sbom: &Sbom) -> Vec<ShippedCrate> {
    sbom.required()
        .filter(|c| c.kind == crate::sbom::Kind::Library)
        .filter_map(|c| {
            Some(ShippedCrate {
                name: c.name.clone(),
                version: c.version.clone().unwrap_or_default(),
                purl: c.purl.clone()?,
                sha256: c.sha256.clone(),
            })
        })
        .collect()
}

/// Signs every statement ahead (the provenance, the SBOM, the scan, cosign's image signature
/// of each subject, BuildKit's statements the signer signs), so that a failing service leaves
/// nothing signed behind.
pub fn sign_ahead(
    signer: &dyn Signer,
    statements: &Statements,
    subjects: &[ImageSubject],
    image: &BuiltImage,
    ui: &Ui,
) -> Result<()> {
    let mut all = vec![
        statements.provenance.to_pretty()?,
        statements.sbom_statement.to_pretty()?,
    ];
    if let Some(scan) = &statements.scan {
        all.push(crate::audit::stage::scan_statement(
            scan,
            statements.subjects.clone(),
        )?);
    }
    for sub in subjects {
        let st = crate::formats::cosign::sign_statement(&sub.descriptor.digest);
        all.push(st.to_payload()?);
    }
    all.extend(
        image
            .buildkit_statements
            .iter()
            .filter(|b| signer.signs(&b.bytes))
            .map(|b| b.bytes.clone()),
    );
    let refs: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
    signer.prepare(&refs)?;
    if let Some(report) = signer.prepare_report() {
        ui.verbose("Keyless", report);
    }
    Ok(())
}

/// Writes the SBOM, the statements and (with a signer) their bundles into `dir`; an unsigned
/// run removes an earlier run's bundles.
pub fn write(
    dir: &Path,
    statements: &Statements,
    signer: Option<&dyn Signer>,
    ui: &Ui,
) -> Result<Vec<WrittenAttestation>> {
    crate::util::fs::write_atomic(&dir.join(files::SBOM), &statements.sbom.json)?;
    if signer.is_some() {
        stage(
            ui,
            "Signing",
            format!("{} and {}", files::PROVENANCE_BUNDLE, files::SBOM_BUNDLE),
        );
    } else {
        remove_stale(dir)?;
    }
    let mut written = write_attestations(
        dir,
        &statements.provenance,
        Some(&statements.sbom_statement),
        signer,
    )?;
    match &statements.scan {
        Some(scan) => written.push(crate::audit::stage::scan_attestation(
            scan,
            statements.subjects.clone(),
            dir,
            signer,
        )?),
        None => crate::audit::stage::remove_stale(dir)?,
    }
    Ok(written)
}
