//! `cargo provenance discover REF`: lists the referrers of an image as a tree (like `oras
//! discover`) or JSON.

use crate::cli::ReportFormat;
use crate::error::Result;
use crate::oci::reference::Reference;
use crate::oci::registry::Options;
use crate::oci::store::Store;
use crate::publish::discover::{discover, render_tree};
use crate::ui::Ui;

/// Flags of `cargo provenance discover`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: `host[:port]/repo[:tag][@sha256:HEX]` or `oci:PATH[:tag][@sha256:HEX]`.
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Output: a tree (human) or a JSON document.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
    /// List only referrers with this artifact type.
    #[arg(long, value_name = "TYPE")]
    pub artifact_type: Option<String>,
    /// For an image index: discover the referrers of the manifest for this platform
    /// (`os/arch[/variant]`, like `oras discover --platform`).
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Use HTTP, not HTTPS, for the registry (always the case for loopback hosts).
    #[arg(long)]
    pub plain_http: bool,
}

/// Runs the command; returns the exit code.
pub fn run(args: Args, _ui: &Ui) -> Result<i32> {
    let reference = Reference::parse(&args.reference)?;
    let opts = Options {
        plain_http: args.plain_http,
        ..Options::default()
    };
    let store = Store::open(&reference, &opts, false)?;
    let mut subject = store.resolve(&reference)?;
    if let Some(p) = &args.platform {
        subject = crate::publish::select_platform(&store, &subject, p)
            .map_err(|e| e.context(&args.reference))?;
    }
    let nodes = discover(&store, &subject.digest, args.artifact_type.as_deref())?;
    let pinned = reference.with_digest(subject.digest);
    match args.format {
        ReportFormat::Human => print!("{}", render_tree(&pinned.to_string(), &nodes)),
        ReportFormat::Json => {
            let doc = serde_json::json!({
                "reference": pinned.to_string(),
                "mediaType": subject.media_type,
                "digest": subject.digest,
                "size": subject.size,
                "manifests": nodes,
            });
            println!("{}", serde_json::to_string_pretty(&doc).expect("JSON"));
        }
    }
    Ok(0)
}
