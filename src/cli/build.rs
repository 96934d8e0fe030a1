//! `cargo provenance build`.

use std::path::PathBuf;

use crate::build::{BuildOptions, BuilderChoice};
use crate::error::{Error, Result};
use crate::ui::Ui;

/// Flags of `cargo provenance build`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Cargo's selection flags.
    #[command(flatten)]
    pub selection: super::SelectionArgs,
    /// Image builder: BuildKit when reachable, else the daemonless native builder.
    #[arg(long, value_enum, default_value_t = BuilderChoice::Auto, value_name = "BUILDER")]
    pub builder: BuilderChoice,
    /// The docker buildx builder to use (`docker buildx ls`), remote builders included.
    #[arg(long, value_name = "NAME")]
    pub buildx_builder: Option<String>,
    /// Your Dockerfile (BuildKit only); the binaries are the named context `bins`
    /// (`COPY --from=bins ${TARGETPLATFORM}/ /usr/local/bin/`).
    #[arg(long, value_name = "PATH")]
    pub dockerfile: Option<PathBuf>,
    /// Base image: `scratch` (default, static binaries), an image reference
    /// (`host/repo:tag[@sha256:...]`) or an OCI layout `oci:PATH[:TAG]`.
    #[arg(long, value_name = "REF|scratch")]
    pub base: Option<String>,
    /// Image name and tag (the tag names the image in the OCI layout; default `latest`).
    #[arg(long, value_name = "NAME[:TAG]")]
    pub image: Option<String>,
    /// Platforms, comma-separated (linux/amd64, linux/amd64/v3, linux/arm64 with its Rust target).
    #[arg(long, value_name = "P,...", value_delimiter = ',')]
    pub platform: Vec<String>,
    /// Push the image and its referrers to the registry named by --image.
    #[arg(long, requires = "image")]
    pub push: bool,
    /// Sign with this cosign-compatible private key.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["keyless", "no_sign"])]
    pub key: Option<PathBuf>,
    /// Sign keyless (Fulcio/Rekor).
    #[arg(long, conflicts_with = "no_sign")]
    pub keyless: bool,
    /// Write unsigned statements only.
    #[arg(long)]
    pub no_sign: bool,
    /// Output directory (default: <target dir>/provenance).
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Byte-identical provenance too (times from SOURCE_DATE_EPOCH, no random ids).
    #[arg(long)]
    pub reproducible: bool,
    /// Link the C runtime statically (always on for `scratch` images).
    #[arg(long = "static")]
    pub static_crt: bool,
}

/// Runs the command; returns the exit code.
pub fn run(args: Args, ui: &Ui) -> Result<i32> {
    // HOOK(lead): the attest/sign/publish stages are wired here after merging; until then
    // `--key`, `--keyless` and `--push` are refused rather than silently ignored.
    if args.key.is_some() || args.keyless {
        return Err(Error::msg(
            "signing is not wired into `build` yet: use --no-sign (statements are written unsigned)",
        ));
    }
    if args.push {
        return Err(Error::msg(
            "--push is not wired into `build` yet: push the layout with `cargo provenance push oci:DIR REF`",
        ));
    }
    let opts = BuildOptions {
        selection: args.selection.selection(),
        builder: args.builder,
        buildx_builder: args.buildx_builder,
        dockerfile: args.dockerfile,
        base: args.base,
        image: args.image,
        platforms: args.platform,
        output_dir: args.output_dir,
        static_crt: args.static_crt,
    };
    let out = crate::build::build(&opts, ui)?;
    if !args.no_sign {
        ui.warn(
            "no --key or --keyless: nothing is signed; the statements are unsigned \
             (give --key cosign.key, or --no-sign to say so)",
        );
    }
    let _ = args.reproducible; // consumed by the attest stage
    let summary_path = out.output_dir.join("summary.json");
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "reason": "build-finished",
            "index_digest": out.index.digest,
            "layout": out.layout_path,
            "summary": summary_path,
            "builder": out.builder,
        }));
    } else {
        for p in &out.platforms {
            ui.status("Manifest", format!("{} {}", p.platform, p.manifest.digest));
        }
        ui.status(
            "Finished",
            format!(
                "image {} ({}) in {}:{}",
                out.image_name.as_deref().unwrap_or("(unnamed)"),
                out.index.digest,
                out.layout_path.display(),
                out.tag
            ),
        );
    }
    Ok(0)
}
