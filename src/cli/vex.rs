//! `cargo provenance vex REF`: sign an OpenVEX statement about an image and attach it as one
//! more referrer (role `vex`), leaving the image and its other referrers untouched.

use std::path::PathBuf;

use crate::error::Result;
use crate::formats::openvex::{Justification, Status};
use crate::ui::Ui;
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
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Also write the signed bundle to FILE.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
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

/// Runs the command; returns the exit code.
pub fn run(args: Args, ui: &Ui) -> Result<i32> {
    let input = args.input()?;
    let _ = (input, ui);
    Err(crate::error::Error::msg(
        "`cargo provenance vex` cannot sign and attach yet: waiting for the sign and publish stages",
    ))
}
