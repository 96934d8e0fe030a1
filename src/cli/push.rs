//! `cargo provenance push SRC DEST`: copies an image and all its referrers between OCI
//! layouts and registries, digests unchanged.

use crate::error::Result;
use crate::oci::registry::Options;
use crate::publish::copy::push;
use crate::ui::Ui;

/// Flags of `cargo provenance push`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Source: `oci:PATH[:TAG][@sha256:HEX]` or `host[:port]/repo[:tag][@sha256:HEX]`.
    #[arg(value_name = "SRC")]
    pub src: String,
    /// Destination: a registry reference or `oci:PATH[:TAG]`. Without a tag, the source's
    /// tag is used.
    #[arg(value_name = "DEST")]
    pub dest: String,
    /// Use HTTP, not HTTPS, for the registry (always the case for loopback hosts).
    #[arg(long)]
    pub plain_http: bool,
}

/// Runs the command; returns the exit code.
pub fn run(args: Args, ui: &Ui) -> Result<i32> {
    let opts = Options {
        plain_http: args.plain_http,
        ..Options::default()
    };
    ui.status("Pushing", format!("{} to {}", args.src, args.dest));
    let (dest, report) = push(&args.src, &args.dest, &opts, &|line| {
        ui.verbose("Copied", line)
    })?;
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "reason": "push",
            "source": args.src,
            "destination": dest.to_string(),
            "report": report,
        }));
    } else {
        ui.status(
            "Pushed",
            format!(
                "{dest} ({} manifests, {} referrers, {} cosign .sig/.att tags, {} blobs copied, \
                 {} already there)",
                report.manifests,
                report.referrers,
                report.legacy_tags,
                report.blobs_copied,
                report.blobs_skipped
            ),
        );
    }
    Ok(0)
}
