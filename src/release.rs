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

use crate::build::{BuildOptions, BuiltImage, Summary};
use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::store::Store;
use crate::publish;
use crate::select::Selection;
use crate::sign::Signer;
use crate::ui::Ui;

pub mod overlap;
mod referrers;
mod signer;
pub mod statements;

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
fn image_name(out: &BuiltImage) -> String {
    out.image_name.clone().unwrap_or_else(|| {
        out.binaries
            .first()
            .map(|b| b.package.clone())
            .unwrap_or_else(|| "image".to_owned())
    })
}

/// Runs `cargo provenance build` (docs/build.md): the key, the image, the statements, their
/// signatures, the referrers, `summary.json`, the push. Every file is written atomically; the
/// summary is written last, so a `summary.json` with attestations means they are all there.
pub fn release(opts: &ReleaseOptions, ui: &Ui) -> Result<ReleaseSummary> {
    if opts.push && opts.build.image.is_none() {
        return Err(Error::msg(
            "--push needs --image REGISTRY/REPO[:TAG] to name where to push",
        ));
    }
    let started_on = crate::util::time::now();
    let selection = absolute_manifest_path(&opts.build.selection)?;
    let (signer, image, project) =
        overlap::key_and_inspect_overlapping_cargo(opts, &selection, ui)?;
    let signer = signer
        .map(|s| s.with_tlog(opts.key_tlog.as_ref()))
        .transpose()?;
    let signer: Option<&dyn Signer> = signer.as_ref().map(|s| s as &dyn Signer);
    let statements = statements::attest(opts, &selection, project, &image, signer, started_on, ui)?;
    let name = image_name(&image);
    let store = Store::Layout(Layout::open(&image.layout_path)?);
    let publisher = referrers::Publisher {
        subjects: publish::image_subjects(&store, &image.index, &name)?,
        store,
        layout_path: &image.layout_path,
        dir: &image.output_dir,
        name: &name,
        created: crate::util::time::rfc3339(image.source_date_epoch)?,
        ui,
    };
    if let Some(s) = signer {
        statements::sign_ahead(s, &statements, &publisher.subjects, &image, ui)?;
    }
    // Everything that can fail on bad input is done: the files follow.
    let written = statements::write(&image.output_dir, &statements, signer, ui)?;
    let mut attestations = publisher.attach(&written)?;
    if let Some(s) = signer {
        attestations.extend(publisher.sign_image(s, opts.legacy_signature_tag)?);
    }
    attestations.extend(publisher.buildkit(&image, signer)?);
    let mut summary = Summary::from_output(&image);
    summary.attestations = attestations;
    let summary_path = image.output_dir.join(files::SUMMARY);
    summary.write(&summary_path)?;
    let pushed = match opts.push {
        true => Some(push(opts, &image, &name, ui)?),
        false => None,
    };
    Ok(ReleaseSummary {
        summary,
        summary_path,
        output_dir: image.output_dir.clone(),
        image_name: name,
        signed: signer.is_some(),
        pushed,
        keyless_identity: signer.and_then(Signer::keyless_identity),
    })
}

/// The selection with its `--manifest-path` made absolute.
fn absolute_manifest_path(selection: &Selection) -> Result<Selection> {
    let mut selection = selection.clone();
    if let Some(m) = &selection.manifest_path {
        selection.manifest_path =
            Some(std::path::absolute(m).map_err(|e| Error::io("resolving", m, e))?);
    }
    Ok(selection)
}

/// `--push`: the layout (image and referrers) copied to `--image`; the reference pushed to,
/// pinned by digest.
fn push(opts: &ReleaseOptions, image: &BuiltImage, name: &str, ui: &Ui) -> Result<String> {
    let dest = opts.build.image.clone().unwrap_or_default();
    stage(ui, "Pushing", format!("{name} and its referrers to {dest}"));
    let src = format!("oci:{}:{}", image.layout_path.display(), image.tag);
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
    Ok(reference.to_string())
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
