//! `cargo provenance push SRC DEST`: copies an image and all its referrers between OCI
//! layouts and registries, digests unchanged.

use crate::error::Result;
use crate::oci::reference::Reference;
use crate::oci::registry::Options;
use crate::oci::store::Store;
use crate::publish::copy::copy_image;
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
    let src_ref = Reference::parse(&args.src)?;
    let mut dst_ref = Reference::parse(&args.dest)?;
    let opts = Options {
        plain_http: args.plain_http,
        ..Options::default()
    };
    let src = Store::open(&src_ref, &opts, false)?;
    let image = src.resolve(&src_ref)?;
    // A destination without tag and digest takes the source's tag (registry references
    // default to `latest` when parsed, so look at the text).
    let dest_has_tag = match &dst_ref {
        Reference::Layout(l) => l.tag.is_some(),
        Reference::Registry(_) => {
            let last = args.dest.rsplit('/').next().unwrap_or("");
            last.contains(':') || last.contains('@')
        }
    };
    if !dest_has_tag && let Some(t) = src_ref.tag() {
        dst_ref = dst_ref.with_tag(Some(t));
    }
    if let Some(d) = dst_ref.digest()
        && d != image.digest
    {
        return Err(crate::Error::msg(format!(
            "{}: the destination names digest {d} but the source image is {}",
            args.dest, image.digest
        )));
    }
    let dst = Store::open(&dst_ref, &opts, true)?;
    ui.status(
        "Pushing",
        format!("{src_ref} ({}) to {}", image.digest, dst.describe()),
    );
    let tag = dst_ref.tag().map(str::to_owned);
    let report = copy_image(&src, &image, &dst, tag.as_deref(), &|line| {
        ui.verbose("Copied", line)
    })?;
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "reason": "push",
            "source": src_ref.to_string(),
            "destination": dst_ref.to_string(),
            "report": report,
        }));
    } else {
        ui.status(
            "Pushed",
            format!(
                "{} as {} ({} manifests, {} referrers, {} blobs copied, {} already there)",
                image.digest,
                dst_ref,
                report.manifests,
                report.referrers,
                report.blobs_copied,
                report.blobs_skipped
            ),
        );
    }
    Ok(0)
}
