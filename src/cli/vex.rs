//! `cargo provenance vex REF`: sign an OpenVEX statement about an image and attach it as one
//! more referrer (role `vex`), leaving the image and its other referrers untouched.

use std::path::PathBuf;

use crate::error::Result;
use crate::formats::openvex::{Justification, Status};
use crate::oci::reference::Reference;
use crate::oci::registry::Options;
use crate::oci::store::Store;
use crate::sign::{AnySigner, KeySigner, Signer as _};
use crate::ui::Ui;
use crate::vex::publish::{default_image_name, publish_vex};
use crate::vex::{DEFAULT_AUTHOR, VexInput};

/// Flags of `cargo provenance vex`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: `host[:port]/repo[:tag][@sha256:HEX]` or `oci:PATH[:tag][@sha256:HEX]`.
    #[arg(value_name = "REF")]
    pub reference: String,
    /// The vulnerability's identifier (CVE-..., GHSA-..., RUSTSEC-...).
    #[arg(long, value_name = "ID")]
    pub vulnerability: String,
    /// not_affected, affected, fixed or under_investigation.
    #[arg(long, value_name = "STATUS")]
    pub status: String,
    /// Why the image is not affected (required with not_affected): component_not_present,
    /// vulnerable_code_not_present, vulnerable_code_not_in_execute_path,
    /// vulnerable_code_cannot_be_controlled_by_adversary, inline_mitigations_already_exist.
    #[arg(long, value_name = "J")]
    pub justification: Option<String>,
    /// Free text: why or how the image is (not) affected.
    #[arg(long, value_name = "TEXT")]
    pub impact_statement: Option<String>,
    /// What users should do (required with affected).
    #[arg(long, value_name = "TEXT")]
    pub action_statement: Option<String>,
    /// Purl of a crate in the image the statement is about (repeat for several).
    #[arg(long = "product", value_name = "PURL")]
    pub products: Vec<String>,
    /// The document's author.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_AUTHOR)]
    pub author: String,
    /// Private key to sign with (cosign.key; password from COSIGN_PASSWORD).
    #[arg(
        long,
        value_name = "KEY",
        required_unless_present = "keyless",
        conflicts_with = "keyless"
    )]
    pub key: Option<PathBuf>,
    /// Sign keyless (an ephemeral key, a Fulcio certificate, a Rekor entry), as `build
    /// --keyless` does.
    #[arg(long)]
    pub keyless: bool,
    /// The keyless signing flags.
    #[command(flatten)]
    pub keyless_flags: super::build::KeylessFlags,
    /// Also write the signed bundle to FILE.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Name recorded for the image in purls and subject names (default: registry/repository,
    /// or the layout directory's name).
    #[arg(long, value_name = "NAME")]
    pub image_name: Option<String>,
    /// Use HTTP, not HTTPS, for the registry (always the case for loopback hosts).
    #[arg(long)]
    pub plain_http: bool,
}

impl Args {
    /// The library's form of the statement flags, checked (exit 2 with the allowed values).
    pub fn input(&self) -> Result<VexInput> {
        let status: Status = self.status.parse()?;
        let justification = self
            .justification
            .as_deref()
            .map(str::parse::<Justification>)
            .transpose()?;
        let input = VexInput {
            vulnerability: self.vulnerability.clone(),
            status,
            justification,
            impact_statement: self.impact_statement.clone(),
            action_statement: self.action_statement.clone(),
            subcomponents: self.products.clone(),
            author: self.author.clone(),
        };
        input.validate()?;
        Ok(input)
    }
}

/// The statement's time: `SOURCE_DATE_EPOCH` when set (reproducible runs), else now.
fn timestamp() -> Result<String> {
    let epoch = crate::util::time::source_date_epoch_env()?.unwrap_or_else(crate::util::time::now);
    crate::util::time::rfc3339(epoch)
}

/// Runs the command; returns the exit code.
pub fn run(args: Args, ui: &Ui) -> Result<i32> {
    // Flags first: a bad status or justification is reported before any key or registry.
    let input = args.input()?;
    let reference = Reference::parse(&args.reference)?;
    let signer = match &args.key {
        Some(key) => AnySigner::Key(KeySigner::from_key_file(key, ui)?),
        None => {
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let opts = args.keyless_flags.options();
            AnySigner::Keyless(Box::new(crate::sign::keyless::KeylessSigner::start(
                &opts, &env,
            )?))
        }
    };
    let opts = Options {
        plain_http: args.plain_http,
        ..Options::default()
    };
    let store = Store::open(&reference, &opts, false)
        .map_err(|e| e.context(format!("{reference} does not resolve to an image")))?;
    let name = args
        .image_name
        .clone()
        .unwrap_or_else(|| default_image_name(&reference));
    let created = timestamp()?;
    let public_key = signer.key().map(KeySigner::public_key);
    let out = publish_vex(
        &store,
        &reference,
        &name,
        &input,
        &signer,
        public_key.as_ref(),
        &created,
    )?;
    if !input.subcomponents.is_empty() && public_key.is_none() {
        ui.warn(
            "keyless: the --product purls were not checked against the image's SBOM (that \
             check needs the key the SBOM is signed with)",
        );
    } else if !input.subcomponents.is_empty() && out.sbom_components.is_none() {
        ui.warn(format!(
            "{pinned_name} has no SBOM signed by this key about this image: the --product purls \
             were not checked against the crates the image ships",
            pinned_name = reference
        ));
    }
    if let Some(path) = &args.output {
        crate::util::fs::write_atomic(path, &out.bundle.bytes)?;
    }
    let pinned = reference.with_digest(out.image.digest);
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "reason": "vex-attached",
            "image": pinned.to_string(),
            "vulnerability": input.vulnerability,
            "status": input.status,
            "documentId": out.document.id,
            "bundleDigest": out.bundle.digest,
            "referrers": out.referrers.iter().map(|d| d.digest).collect::<Vec<_>>(),
        }));
    } else {
        ui.status(
            "Signed",
            format!(
                "VEX {} {} ({})",
                input.vulnerability, input.status, out.document.id
            ),
        );
        for r in &out.referrers {
            ui.status("Attached", format!("{} (role vex)", r.digest));
        }
        println!("{pinned}");
    }
    Ok(0)
}
