//! `cargo provenance build`.

use std::path::PathBuf;

use crate::build::compress::LayerCompression;
use crate::build::{BuildOptions, BuilderChoice};
use crate::error::Result;
use crate::release::{ReleaseOptions, Signing, release};
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
    /// Sign keyless: an ephemeral key, a Fulcio certificate for the CI's (or
    /// --identity-token's) OIDC identity, a Rekor entry and a timestamp per signature.
    #[arg(long, conflicts_with = "no_sign")]
    pub keyless: bool,
    /// The keyless signing flags.
    #[command(flatten)]
    pub keyless_flags: KeylessFlags,
    /// Also sign every image digest the way cosign 2.x does: a simple-signing payload under
    /// the tag `sha256-<hex>.sig` (for verifiers that read only that form; docs/signatures.md).
    #[arg(long, requires = "key")]
    pub legacy_signature_tag: bool,
    /// With --key: also record every signature in Rekor (the signing config's log; checked
    /// against --trusted-root before anything is written).
    #[arg(long, requires = "key")]
    pub tlog: bool,
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
    /// Embed no dependency data in the binaries (by default each carries cargo-auditable's
    /// `.dep-v0` section, which `cargo audit bin`, syft, grype and trivy read).
    #[arg(long)]
    pub no_auditable: bool,
    /// How image layers are compressed: gzip (every tool pulls it), zstd (`tar+zstd`:
    /// containerd, Docker 23+, podman) or none. Native builder: our layer (a base's layers
    /// keep theirs); BuildKit: every layer.
    #[arg(long, value_enum, default_value_t = LayerCompression::Gzip, value_name = "HOW")]
    pub compression: LayerCompression,
    /// The vulnerability gate (docs/audit.md): with any of these flags the shipped crates are
    /// audited after cargo compiles and before anything is signed; with a key the scan is
    /// signed and attached (cosign's `vuln` predicate).
    #[command(flatten)]
    pub audit: super::audit::AuditFlags,
}

/// `--identity-token`, `--signing-config`, `--trusted-root` (with `--keyless`).
#[derive(Debug, Clone, clap::Args)]
pub struct KeylessFlags {
    /// The OIDC identity token (a JWT, or @FILE); else SIGSTORE_ID_TOKEN, else GitHub
    /// Actions' ambient token (audience sigstore).
    #[arg(long, value_name = "TOKEN|@FILE", requires = "keyless")]
    pub identity_token: Option<String>,
    /// The Sigstore signing config naming Fulcio, Rekor and the TSA (default: the
    /// public-good instance's, shipped with cargo-provenance).
    #[arg(long, value_name = "FILE")]
    pub signing_config: Option<PathBuf>,
    /// The trusted root everything the services return is verified against before a byte
    /// is written (default: the public-good root, shipped).
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
}

impl KeylessFlags {
    /// The signer's options.
    pub fn options(&self) -> crate::sign::keyless::KeylessOptions {
        crate::sign::keyless::KeylessOptions {
            identity_token: self.identity_token.clone(),
            signing_config: self.signing_config.clone(),
            trusted_root: self.trusted_root.clone(),
        }
    }
}

/// Runs the command; returns the exit code.
pub fn run(args: Args, ui: &Ui) -> Result<i32> {
    let f = &args.keyless_flags;
    if (f.signing_config.is_some() || f.trusted_root.is_some()) && !args.keyless && !args.tlog {
        return Err(crate::error::Error::msg(
            "--signing-config and --trusted-root apply to --keyless or --key --tlog",
        ));
    }
    let signing = match (&args.key, args.keyless, args.no_sign) {
        (Some(k), _, _) => Signing::Key(k.clone()),
        (None, true, _) => Signing::Keyless(args.keyless_flags.options()),
        (None, false, true) => Signing::NoSign,
        (None, false, false) => Signing::Unspecified,
    };
    let opts = ReleaseOptions {
        build: BuildOptions {
            selection: args.selection.selection(),
            builder: args.builder,
            buildx_builder: args.buildx_builder,
            dockerfile: args.dockerfile,
            base: args.base,
            image: args.image,
            platforms: args.platform,
            output_dir: args.output_dir,
            static_crt: args.static_crt,
            no_auditable: args.no_auditable,
            compression: args.compression,
        },
        signing,
        key_tlog: args.tlog.then(|| args.keyless_flags.options()),
        reproducible: args.reproducible,
        legacy_signature_tag: args.legacy_signature_tag,
        push: args.push,
        audit: args
            .audit
            .enabled()
            .then(|| args.audit.options(args.selection.offline)),
    };
    if let Some(a) = &opts.audit {
        crate::audit::run::precheck(a)?;
    }
    let r = release(&opts, ui)?;
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        write_job_summary(&r, &opts.signing, std::path::Path::new(&path))?;
    }
    let s = &r.summary;
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "reason": "build-finished",
            "image": r.image_name,
            "index_digest": s.index_digest,
            "layout": r.output_dir.join(&s.layout),
            "builder": s.builder,
            "output_dir": r.output_dir,
            "summary_file": r.summary_path,
            "signed": r.signed,
            "pushed": r.pushed,
            "summary": s,
        }));
        return Ok(0);
    }
    for p in &s.platforms {
        ui.status("Manifest", format!("{} {}", p.platform, p.manifest_digest));
    }
    for a in &s.attestations {
        show_attestation(ui, a);
    }
    ui.status(
        "Finished",
        format!(
            "image {} ({}) in {}",
            r.image_name,
            s.index_digest,
            r.output_dir.join(&s.layout).display(),
        ),
    );
    if let Some(p) = &r.pushed {
        ui.status("Pushed", p);
        // The pushed reference, pinned by digest, on stdout for scripts.
        println!("{p}");
    }
    Ok(0)
}

/// The lines for one `summary.json` attestation: `Signed` (legacy tags), `Attested` (with
/// referrers) or `Unsigned`; each tag or referrer at `-v`.
fn show_attestation(ui: &Ui, a: &crate::build::summary::Attestation) {
    let kind = a.predicate_type();
    if let crate::build::summary::Attestation::LegacyImageSignature(l) = a {
        for x in &l.tags {
            ui.verbose("Tagged", format!("{} -> {}", x.tag, x.subject_name));
        }
        ui.status("Signed", format!("{kind} ({} tag(s))", l.tags.len()));
        return;
    }
    let refs = a.referrers();
    if refs.is_empty() {
        ui.status("Unsigned", kind);
        return;
    }
    for x in refs {
        ui.verbose(
            "Referrer",
            format!("{} {} -> {}", kind, x.manifest_digest, x.subject_name),
        );
    }
    ui.status("Attested", format!("{kind} ({} referrer(s))", refs.len()));
}

/// Appends the GitHub Actions job summary (docs/build.md), rendered from `summary.json`.
fn write_job_summary(
    r: &crate::release::ReleaseSummary,
    signing: &Signing,
    path: &std::path::Path,
) -> Result<()> {
    use crate::build::job_summary::{SignedBy, append, render};
    let summary = &r.summary;
    let signed = match (signing, &r.keyless_identity) {
        (_, _) if !r.signed => SignedBy::Unsigned,
        (Signing::Keyless(_), Some((identity, issuer))) => SignedBy::Keyless {
            identity: identity.clone(),
            issuer: issuer.clone(),
            repository: std::env::var("GITHUB_REPOSITORY")
                .ok()
                .filter(|v| !v.is_empty()),
        },
        _ => SignedBy::Key,
    };
    append(
        path,
        &render(summary, &r.image_name, r.pushed.as_deref(), &signed),
    )
}
