//! `cargo provenance build` end to end: the build stage, then the SBOM, the provenance, the
//! signatures and the referrers, and the push.
//!
//! [`release`] runs the stages in order:
//!
//! 1. the signing key is loaded first (a wrong password fails before anything is built);
//! 2. [`crate::build::build`]: binaries and the image in `<output-dir>/oci`;
//! 3. [`crate::inspect::collect`] and [`crate::sbom::generate`]: `sbom.cdx.json`, about the
//!    image (`pkg:oci/NAME@sha256:...`);
//! 4. the SLSA provenance and the SBOM statement ([`crate::attest`]), signed with the key
//!    ([`crate::sign`]) into `provenance.sigstore.json` and `sbom.sigstore.json`;
//! 5. each bundle attached as a referrer to the image index and every platform manifest in
//!    the layout ([`crate::publish`]); BuildKit's own statements signed and attached to their
//!    platform manifest (role `buildkit-attestation`);
//! 6. `summary.json` with every attestation and its referrer manifests;
//! 7. with `push`, the layout (image and referrers) copied to the registry.
//!
//! Without a key nothing is signed: the statements are written unsigned, nothing is attached,
//! and a warning says so. No throwaway key is ever made up. See `docs/build.md`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use crate::attest::provenance::{self, ProvenanceInput, ShippedCrate};
use crate::attest::{sbom_statement, write_attestations};
use crate::build::{BuildOptions, BuildOutput, Summary};
use crate::error::{Error, Result};
use crate::formats::oci::Descriptor;
use crate::oci::layout::Layout;
use crate::oci::store::Store;
use crate::publish::{self, BundleInfo, Role};
use crate::sbom::{SbomRequest, SbomSubject, SpecVersion};
use crate::sign::{AnySigner, Signer};

mod signer;
use crate::ui::Ui;
use crate::util::digest::Digest;
use signer::{run_environment, signs_buildkit, start_signer};

/// How the statements are signed (`--key`, `--keyless`, `--no-sign`, or none of them).
#[derive(Debug, Clone, Default)]
pub enum Signing {
    /// `--key PATH`: a cosign-compatible private key.
    Key(PathBuf),
    /// `--keyless`: an ephemeral key, a Fulcio certificate, Rekor entries (docs/signatures.md).
    Keyless(crate::sign::keyless::KeylessOptions),
    /// `--no-sign`: statements only, on purpose.
    NoSign,
    /// No flag: statements only, with a warning.
    #[default]
    Unspecified,
}

/// Everything `build` needs.
#[derive(Debug, Clone, Default)]
pub struct ReleaseOptions {
    /// The build stage's options.
    pub build: BuildOptions,
    /// How to sign.
    pub signing: Signing,
    /// `--reproducible`: byte-identical provenance (times from SOURCE_DATE_EPOCH, no random
    /// invocation id).
    pub reproducible: bool,
    /// `--legacy-signature-tag`: also sign every image digest in cosign 2.x's legacy form
    /// (a `sha256-<hex>.sig` tag).
    pub legacy_signature_tag: bool,
    /// `--push`: copy the layout to the registry named by `--image`.
    pub push: bool,
    /// `--tlog` (with `--key`): log the key's signatures in the Rekor of this signing config,
    /// checked against this trusted root (`identity_token` unused).
    pub key_tlog: Option<crate::sign::keyless::KeylessOptions>,
    /// The vulnerability gate and scan attestation (`--fail-on`, `--advisory-db`, ...);
    /// `None`: no audit.
    pub audit: Option<crate::audit::run::AuditOptions>,
}

/// What `build` produced.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseSummary {
    /// `summary.json`'s content.
    pub summary: Summary,
    /// Where `summary.json` is.
    pub summary_path: PathBuf,
    /// The output directory.
    pub output_dir: PathBuf,
    /// The image name used in the SBOM, the statements and the referrers (`--image`, else
    /// the package's name).
    pub image_name: String,
    /// True when the statements were signed and attached.
    pub signed: bool,
    /// The registry reference pushed to, pinned by digest (`--push`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed: Option<String>,
    /// Keyless: the certificate identity and issuer that signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyless_identity: Option<(String, String)>,
}

/// The file names of the output directory (docs/build.md, "Output directory").
pub mod files {
    /// The SBOM.
    pub const SBOM: &str = "sbom.cdx.json";
    /// The unsigned provenance statement.
    pub const PROVENANCE: &str = "provenance.intoto.json";
    /// The signed provenance.
    pub const PROVENANCE_BUNDLE: &str = "provenance.sigstore.json";
    /// The signed SBOM statement.
    pub const SBOM_BUNDLE: &str = "sbom.sigstore.json";
    /// BuildKit's statements and their bundles.
    pub const BUILDKIT_DIR: &str = "buildkit";
    /// The summary.
    pub const SUMMARY: &str = "summary.json";
}

/// A stage line: `   Attesting ...` for people, `{"reason":"stage",...}` in JSON mode.
fn stage(ui: &Ui, verb: &str, message: impl std::fmt::Display) {
    if ui.is_json() {
        ui.json(&json!({
            "reason": "stage",
            "stage": verb.to_ascii_lowercase(),
            "message": message.to_string(),
        }));
    } else {
        ui.status(verb, message);
    }
}

/// The image name the SBOM, the statements and the referrers use: `--image` as given, else
/// the (first) package's name.
fn image_name(out: &BuildOutput) -> String {
    out.image_name.clone().unwrap_or_else(|| {
        out.binaries
            .first()
            .map(|b| b.package.clone())
            .unwrap_or_else(|| "image".to_owned())
    })
}

/// Runs `cargo provenance build`. Every file is written atomically; the summary is written
/// last, so a `summary.json` with attestations means they are all there.
pub fn release(opts: &ReleaseOptions, ui: &Ui) -> Result<ReleaseSummary> {
    if opts.push && opts.build.image.is_none() {
        return Err(Error::msg(
            "--push needs --image REGISTRY/REPO[:TAG] to name where to push",
        ));
    }
    let started_on = crate::util::time::now();
    let mut selection = opts.build.selection.clone();
    if let Some(m) = &selection.manifest_path {
        selection.manifest_path =
            Some(std::path::absolute(m).map_err(|e| Error::io("resolving", m, e))?);
    }
    // Overlapped with the build: the key's decryption (scrypt) runs while cargo metadata and
    // rustc are asked, and is awaited before the build writes anything (a wrong password
    // still costs nothing); the build inputs and the SBOM's project are read while cargo
    // compiles.
    // With the cargo-auditable data, the build reads the project for the SBOM (once);
    // without, it is read here, beside cargo, reusing inspect's `cargo metadata`.
    let from_build = !opts.build.no_auditable;
    let (signer, out, read, project) = std::thread::scope(|s| -> Result<_> {
        let mut pending = Some(start_signer(&opts.signing, ui, s)?);
        let read_inputs = |known: crate::inspect::Known| {
            let start = std::time::Instant::now();
            let c = crate::inspect::collect_with(&selection, ui, &known)?;
            let reuse = Some((c.metadata_args, c.metadata));
            let prepared = if from_build {
                None
            } else {
                Some(crate::sbom::prepare(&selection, reuse)?)
            };
            Ok((c.inputs, prepared, start))
        };
        let mut inspect = None;
        let mut signer = None;
        let mut before_writing = |known: &crate::inspect::Known| -> Result<()> {
            if let Some(p) = pending.take() {
                signer = p.finish(ui)?;
                // Started once cargo metadata and rustc are done, so they do not compete.
                let known = known.clone();
                inspect = Some(s.spawn(move || read_inputs(known)));
            }
            Ok(())
        };
        let built = crate::build::build_gated(&opts.build, ui, &mut before_writing);
        // A key error comes first, as when the key was loaded before the build (a build that
        // failed before its gate never started the reading).
        if let Some(p) = pending.take() {
            signer = p.finish(ui)?;
        }
        let (out, project) = built?;
        let read = match inspect {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(Error::msg("reading the build inputs failed (panic)")))?,
            None => read_inputs(crate::inspect::Known::default())?,
        };
        Ok((signer, out, read, project))
    })?;
    let signer = match (signer, &opts.key_tlog) {
        (Some(AnySigner::Key(key)), Some(t)) => Some(AnySigner::LoggedKey(Box::new(
            crate::sign::keyless::tlog::LoggedKeySigner::new(
                key,
                t.signing_config.as_deref(),
                t.trusted_root.as_deref(),
            )?,
        ))),
        (s, _) => s,
    };
    let (mut inputs, prepared, read_start) = read;
    let prepared = match (prepared, project) {
        (Some(p), _) | (None, Some(p)) => p,
        (None, None) => crate::sbom::prepare(&selection, None)?,
    };
    let environment = run_environment(signer.as_ref());
    if environment.kind == crate::attest::environment::EnvironmentKind::GithubActions {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        crate::attest::ci::github_source(inputs.git.as_mut(), &env)?;
    }
    let signer_dyn: Option<&dyn Signer> = signer.as_ref().map(|s| s as &dyn Signer);
    let dir = out.output_dir.clone();
    let name = image_name(&out);

    // The SBOM, about the image.
    stage(ui, "Attesting", format!("SBOM and provenance of {name}"));
    let sbom = crate::sbom::generate_prepared(
        &SbomRequest {
            selection: &selection,
            spec_version: SpecVersion::V1_5,
            subject: SbomSubject::Image {
                name: name.clone(),
                digest: out.index.digest,
            },
            // One binary component per name: the SBOM lists each binary once, so with
            // several platforms it carries the first platform's files (the provenance names
            // every platform's binaries as subjects).
            binaries: out
                .platforms
                .first()
                .map(|p| p.binaries.clone())
                .unwrap_or_default(),
            compiled_units: Some(out.compiled_units.clone()),
            source_date_epoch: Some(out.source_date_epoch),
            // The image ships every selected package's binaries: one SBOM for all of them.
            workspace_mode: true,
            // The crates resolved for what cargo compiled, on every platform.
            built_for: out
                .platforms
                .iter()
                .map(|p| crate::sbom::BuiltFor {
                    target: p.rust_target.clone(),
                    rustflags: p.rustflags.clone(),
                })
                .collect(),
            auditable: out.auditable,
        },
        prepared,
        read_start,
        ui,
    )?;
    let crates: Vec<ShippedCrate> = sbom
        .required()
        .filter(|c| c.kind == crate::sbom::Kind::Library)
        .filter_map(|c| {
            Some(ShippedCrate {
                name: c.name.clone(),
                version: c.version.clone().unwrap_or_default(),
                purl: c.purl.clone()?,
                sha256: c.sha256.clone(),
            })
        })
        .collect();

    // The provenance.
    let input = ProvenanceInput {
        inputs,
        crates,
        builder: out.image_builder_kind(),
        builder_details: out.builder_details(),
        dockerfile: out.dockerfile_input(),
        base_image: out.base_image_input(),
        other_images: out.other_images(),
        image_name: Some(name.clone()),
        index_digest: out.index.digest,
        manifests: out.platform_manifests(),
        binaries: out.binaries.clone(),
        auditable: out.auditable,
        sbom_digest: Some(Digest::of(&sbom.json)),
        source_date_epoch: out.source_date_epoch,
        started_on,
        finished_on: crate::util::time::now(),
        reproducible: opts.reproducible,
        environment,
        layer_compression: out.compression,
    };
    // The vulnerability gate: cargo has compiled, nothing is signed, attached or pushed yet.
    let targets: Vec<String> = out
        .platforms
        .iter()
        .map(|p| p.rust_target.clone())
        .collect();
    let fixed = opts.reproducible.then_some(out.source_date_epoch);
    let scan = crate::audit::stage::gate_before_signing(
        opts.audit.as_ref(),
        &sbom,
        &targets,
        &dir,
        fixed,
        ui,
    )?;
    let prov = provenance::statement(&input)?;
    let sbom_stmt = sbom_statement(&sbom.json, provenance::subjects(&input))?;
    let store = Store::Layout(Layout::open(&out.layout_path)?);
    let subjects = publish::image_subjects(&store, &out.index, &name)?;
    if let Some(s) = signer_dyn {
        // Every signature before any file: a failing service leaves nothing signed behind.
        let mut statements = vec![prov.to_pretty()?, sbom_stmt.to_pretty()?];
        if let Some(scan) = &scan {
            let subjects = provenance::subjects(&input);
            statements.push(crate::audit::stage::scan_statement(scan, subjects)?);
        }
        for sub in &subjects {
            let st = crate::formats::cosign::sign_statement(&sub.descriptor.digest);
            statements.push(st.to_payload()?);
        }
        statements.extend(
            out.buildkit_statements
                .iter()
                .filter(|b| signs_buildkit(signer.as_ref(), &b.bytes))
                .map(|b| b.bytes.clone()),
        );
        let refs: Vec<&[u8]> = statements.iter().map(Vec::as_slice).collect();
        s.prepare(&refs)?;
        if let Some(AnySigner::Keyless(k)) = &signer {
            ui.verbose("Keyless", k.timings());
        }
    }
    // Everything that can fail on bad input is done: the files follow.
    crate::util::fs::write_atomic(&dir.join(files::SBOM), &sbom.json)?;

    if signer.is_some() {
        stage(
            ui,
            "Signing",
            format!("{} and {}", files::PROVENANCE_BUNDLE, files::SBOM_BUNDLE),
        );
    } else {
        remove_stale(&dir)?;
    }
    let mut written = write_attestations(&dir, &prov, Some(&sbom_stmt), signer_dyn)?;
    match &scan {
        Some(scan) => {
            let subjects = provenance::subjects(&input);
            let w = crate::audit::stage::scan_attestation(scan, subjects, &dir, signer_dyn)?;
            written.push(w);
        }
        None => crate::audit::stage::remove_stale(&dir)?,
    }

    // Referrers, in the layout.
    let created = crate::util::time::rfc3339(out.source_date_epoch)?;
    let mut attestations = Vec::new();
    for w in &written {
        let is_sbom = w.predicate_type == crate::attest::SBOM_PREDICATE_TYPE;
        let mut referrers = Vec::new();
        if let Some((_, bundle)) = &w.bundle {
            stage(
                ui,
                "Attaching",
                format!(
                    "{} to {} subject(s) in {}",
                    w.predicate_type,
                    subjects.len(),
                    rel(&dir, &out.layout_path)
                ),
            );
            let info = BundleInfo {
                bundle_json: &bundle.bytes,
                predicate_type: &w.predicate_type,
                role: Role::ImageAttestation,
                created: &created,
            };
            for s in &subjects {
                let d = publish::attach_bundle(&store, &s.descriptor, &s.name, &info)?;
                referrers.push(referrer_entry(&s.descriptor, &s.name, &d));
            }
        }
        attestations.push(json!({
            "predicate_type": w.predicate_type,
            "role": Role::ImageAttestation.as_str(),
            "signed": w.bundle.is_some(),
            "statement_file": w.statement_file.as_ref().map(|p| rel(&dir, p)),
            "statement_digest": Digest::of(&w.statement),
            "predicate_file": is_sbom.then_some(files::SBOM),
            "bundle_file": w.bundle.as_ref().map(|(p, _)| rel(&dir, p)),
            "bundle_digest": w.bundle_digest(),
            "referrers": referrers,
        }));
    }

    // The image signature, as `cosign sign` makes it, on every digest of the image.
    if let Some(s) = signer_dyn {
        stage(
            ui,
            "Signing",
            format!(
                "image {name} ({} digest(s)), as cosign signs images",
                subjects.len()
            ),
        );
        let signed = publish::image_signature::sign_image(&store, &subjects, s, &created)?;
        attestations.push(json!({
            "predicate_type": crate::formats::cosign::SIGN_PREDICATE_TYPE,
            "role": Role::ImageSignature.as_str(),
            "signed": true,
            "bundle_digests": signed.iter().map(|x| x.bundle_digest).collect::<Vec<_>>(),
            "referrers": signed
                .iter()
                .map(|x| referrer_entry(&x.subject.descriptor, &x.subject.name, &x.referrer))
                .collect::<Vec<_>>(),
        }));
        if let (true, Some(key)) = (
            opts.legacy_signature_tag,
            signer.as_ref().and_then(AnySigner::key),
        ) {
            stage(
                ui,
                "Signing",
                format!("image {name} as cosign 2.x does (.sig tags)"),
            );
            let legacy =
                publish::legacy_signature::sign_image_legacy(&store, &subjects, key, &name)?;
            attestations.push(publish::legacy_signature::summary_entry(&legacy));
        }
    }

    // BuildKit's own statements: kept as files; signed and attached to their manifest.
    let bk_dir = dir.join(files::BUILDKIT_DIR);
    if bk_dir.exists() {
        std::fs::remove_dir_all(&bk_dir).map_err(|e| Error::io("removing", &bk_dir, e))?;
    }
    let mut statements: Vec<_> = out.buildkit_statements.iter().collect();
    statements.sort_by(|a, b| {
        (a.subject, &a.predicate_type, Digest::of(&a.bytes)).cmp(&(
            b.subject,
            &b.predicate_type,
            Digest::of(&b.bytes),
        ))
    });
    for (i, st) in statements.iter().enumerate() {
        let platform = out
            .platforms
            .iter()
            .find(|p| p.manifest.digest == st.subject)
            .ok_or_else(|| {
                Error::msg(format!(
                    "a BuildKit statement names {}, which is not a platform manifest of the image",
                    st.subject
                ))
            })?;
        let base = format!(
            "{}/{i}-{}",
            files::BUILDKIT_DIR,
            platform.platform.to_string().replace('/', "-")
        );
        let stmt_file = dir.join(format!("{base}.intoto.json"));
        std::fs::create_dir_all(&bk_dir).map_err(|e| Error::io("creating", &bk_dir, e))?;
        crate::util::fs::write_atomic(&stmt_file, &st.bytes)?;
        let mut referrers = Vec::new();
        let mut bundle_file = None;
        let mut bundle_digest = None;
        if let Some(s) = signer_dyn.filter(|_| signs_buildkit(signer.as_ref(), &st.bytes)) {
            let signed = crate::sign::sign_statement(&st.bytes, s)?;
            let path = dir.join(format!("{base}.sigstore.json"));
            crate::util::fs::write_atomic(&path, &signed.bytes)?;
            let subject = platform.manifest.bare();
            let subject_name = format!("{name} [{}]", platform.platform);
            stage(
                ui,
                "Attaching",
                format!("BuildKit {} to {}", st.predicate_type, subject.digest),
            );
            let d = publish::attach_bundle(
                &store,
                &subject,
                &subject_name,
                &BundleInfo {
                    bundle_json: &signed.bytes,
                    predicate_type: &st.predicate_type,
                    role: Role::BuildkitAttestation,
                    created: &created,
                },
            )?;
            referrers.push(referrer_entry(&subject, &subject_name, &d));
            bundle_file = Some(rel(&dir, &path));
            bundle_digest = Some(signed.digest);
        }
        attestations.push(json!({
            "predicate_type": st.predicate_type,
            "role": Role::BuildkitAttestation.as_str(),
            "signed": bundle_file.is_some(),
            "statement_file": rel(&dir, &stmt_file),
            "statement_digest": Digest::of(&st.bytes),
            "bundle_file": bundle_file,
            "bundle_digest": bundle_digest,
            "referrers": referrers,
        }));
    }

    let mut summary = Summary::from_output(&out);
    summary.attestations = attestations;
    let summary_path = dir.join(files::SUMMARY);
    summary.write(&summary_path)?;

    let mut pushed = None;
    if opts.push {
        let dest = opts.build.image.clone().unwrap_or_default();
        stage(ui, "Pushing", format!("{name} and its referrers to {dest}"));
        let src = format!("oci:{}:{}", out.layout_path.display(), out.tag);
        let (reference, report) = crate::publish::copy::push(
            &src,
            &dest,
            &crate::oci::registry::Options::default(),
            &|line| ui.verbose("Copied", line),
        )?;
        ui.verbose(
            "Pushed",
            format!(
                "{} manifests ({} referrers), {} blobs uploaded, {} already there",
                report.manifests, report.referrers, report.blobs_copied, report.blobs_skipped
            ),
        );
        pushed = Some(reference.to_string());
    }

    Ok(ReleaseSummary {
        summary,
        summary_path,
        output_dir: dir,
        image_name: name,
        signed: signer.is_some(),
        pushed,
        keyless_identity: match &signer {
            Some(AnySigner::Keyless(k)) => {
                k.identity().map(|i| (i.to_owned(), k.issuer().to_owned()))
            }
            _ => None,
        },
    })
}

/// One referrer in `summary.json`.
fn referrer_entry(
    subject: &Descriptor,
    subject_name: &str,
    referrer: &Descriptor,
) -> serde_json::Value {
    json!({
        "subject": subject.digest,
        "subject_name": subject_name,
        "manifest_digest": referrer.digest,
    })
}

/// Bundles of an earlier signed run in the same directory: gone when this run is unsigned, so
/// no file claims a signature over something else.
fn remove_stale(dir: &Path) -> Result<()> {
    for f in [files::PROVENANCE_BUNDLE, files::SBOM_BUNDLE] {
        let p = dir.join(f);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| Error::io("removing", &p, e))?;
        }
    }
    Ok(())
}

/// `path` relative to the output directory, with `/`.
fn rel(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_the_summary_are_relative_with_slashes() {
        let dir = Path::new("/x/out");
        assert_eq!(
            rel(dir, &dir.join("buildkit/0-linux-amd64.intoto.json")),
            "buildkit/0-linux-amd64.intoto.json"
        );
        assert_eq!(
            rel(dir, &dir.join("provenance.intoto.json")),
            "provenance.intoto.json"
        );
    }

    #[test]
    fn keyless_needs_a_token_and_no_key_means_no_signer() {
        let ui = Ui::default();
        assert!(signer::signer_for(&Signing::NoSign, &ui).unwrap().is_none());
        assert!(
            signer::signer_for(&Signing::Unspecified, &ui)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn stale_bundles_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(files::PROVENANCE_BUNDLE), "{}").unwrap();
        std::fs::write(dir.path().join(files::PROVENANCE), "{}").unwrap();
        remove_stale(dir.path()).unwrap();
        assert!(!dir.path().join(files::PROVENANCE_BUNDLE).exists());
        assert!(dir.path().join(files::PROVENANCE).exists());
    }
}
