//! The BuildKit builder: `docker buildx build` (any builder the user selected) or `buildctl
//! build` (with `BUILDKIT_HOST`), exporting an OCI layout.
//!
//! Our prebuilt binaries reach the Dockerfile as the named build context `bins`
//! (`COPY --from=bins ${TARGETPLATFORM}/ /usr/local/bin/`); `SOURCE_DATE_EPOCH` is a build
//! arg and the export uses `rewrite-timestamp=true`, so the platform manifests are
//! reproducible. BuildKit's own provenance (`mode=max`) arrives as attestation manifests
//! (platform `unknown/unknown`) inside the image index: we take them out, keep their in-toto
//! statements, and hand back an index holding only the platform manifests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::formats::index::is_platform_manifest;
use crate::formats::oci::{Descriptor, ImageIndex, ImageManifest};
use crate::oci::layout::Layout;
use crate::util::digest::Digest;

use super::platform::TargetPlatform;

pub use crate::formats::annotations::{
    DOCKER_REFERENCE_DIGEST as REFERENCE_DIGEST, DOCKER_REFERENCE_TYPE as REFERENCE_TYPE,
};

/// The named context a base image from an OCI layout is passed as (`BASE` build arg).
pub const BASE_CONTEXT: &str = "cargo-provenance-base";

/// Which BuildKit client drives the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// `docker buildx build`, optionally `--builder NAME`.
    Buildx {
        /// `--buildx-builder`.
        builder: Option<String>,
    },
    /// `buildctl build`, reaching BuildKit through `BUILDKIT_HOST`.
    Buildctl,
}

impl Client {
    /// How the client is named on the terminal before its probe answers.
    pub fn describe(&self) -> String {
        match self {
            Client::Buildx { builder: Some(b) } => format!("docker buildx (builder {b})"),
            Client::Buildx { builder: None } => "docker buildx".to_owned(),
            Client::Buildctl => "buildctl (BUILDKIT_HOST)".to_owned(),
        }
    }
}

/// Checks that BuildKit answers through `client`; returns a description of the builder
/// (recorded as the builder id) and facts about it (`name`, `driver`, `buildkit` version),
/// or why it is unreachable.
pub fn probe(client: &Client) -> std::result::Result<(String, BTreeMap<String, String>), String> {
    match client {
        Client::Buildx { builder } => {
            let mut cmd = super::buildx_plugin::command();
            cmd.arg("inspect");
            if let Some(b) = builder {
                cmd.args(["--builder", b]);
            }
            let out = cmd
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("`docker` could not be run ({e})"))?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            let field = |k: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_owned()))
                    .filter(|v| !v.is_empty())
            };
            if let Some(err) = field("Error:") {
                return Err(err);
            }
            if !out.status.success() {
                return Err(first_line(&text));
            }
            let mut details = BTreeMap::new();
            for (key, label) in [
                ("name", "Name:"),
                ("driver", "Driver:"),
                ("buildkit", "BuildKit version:"),
            ] {
                if let Some(v) = field(label) {
                    details.insert(key.to_owned(), v);
                }
            }
            Ok((
                format!(
                    "docker buildx (builder {}, driver {})",
                    details.get("name").map_or("default", String::as_str),
                    details.get("driver").map_or("unknown", String::as_str)
                ),
                details,
            ))
        }
        Client::Buildctl => {
            if std::env::var_os("BUILDKIT_HOST").is_none() {
                return Err("BUILDKIT_HOST is not set".to_owned());
            }
            let out = Command::new("buildctl")
                .args(["debug", "info"])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("`buildctl` could not be run ({e})"))?;
            if !out.status.success() {
                return Err(first_line(&String::from_utf8_lossy(&out.stderr)));
            }
            let mut details = BTreeMap::new();
            let text = String::from_utf8_lossy(&out.stdout);
            if let Some(v) = text.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("BuildKit:")
                    .map(|v| v.trim().to_owned())
            }) {
                details.insert("buildkit".to_owned(), v);
            }
            Ok(("buildctl (BUILDKIT_HOST)".to_owned(), details))
        }
    }
}

/// The first non-empty line of a tool's message.
fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message")
        .to_owned()
}

/// The error for an unreachable BuildKit: names the variables and the way out.
pub fn unreachable(client: &Client, why: &str) -> Error {
    let (what, var) = match client {
        Client::Buildx { builder: Some(b) } => {
            (format!("docker buildx builder `{b}`"), "DOCKER_HOST")
        }
        Client::Buildx { builder: None } => ("docker buildx".to_owned(), "DOCKER_HOST"),
        Client::Buildctl => ("buildctl".to_owned(), "BUILDKIT_HOST"),
    };
    let set = |v: &str| {
        if std::env::var_os(v).is_some() {
            "set"
        } else {
            "unset"
        }
    };
    Error::msg(format!(
        "BuildKit is not reachable through {what}: {why} (DOCKER_HOST is {}, BUILDKIT_HOST is {}); \
         start the daemon or point {var} at it, or build without a daemon with --builder native",
        set("DOCKER_HOST"),
        set("BUILDKIT_HOST")
    ))
}

/// One BuildKit build.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The client.
    pub client: &'a Client,
    /// The Dockerfile.
    pub dockerfile: &'a Path,
    /// The main build context.
    pub context: &'a Path,
    /// The `bins` named context (`<platform>/<binary>`).
    pub bins: &'a Path,
    /// The platforms.
    pub platforms: &'a [TargetPlatform],
    /// Build args (SOURCE_DATE_EPOCH, BASE).
    pub build_args: BTreeMap<String, String>,
    /// Image labels.
    pub labels: BTreeMap<String, String>,
    /// Where BuildKit writes its OCI layout (a fresh directory).
    pub out_dir: &'a Path,
    /// Where BuildKit writes its metadata file.
    pub metadata_file: &'a Path,
    /// Named contexts read from OCI layouts: name → (absolute layout path, digest).
    pub layout_contexts: BTreeMap<String, (PathBuf, Digest)>,
    /// `--compression`: gzip is BuildKit's default and adds nothing to the command line.
    pub compression: super::compress::LayerCompression,
}

/// BuildKit's statement about one platform manifest.
#[derive(Debug, Clone)]
pub struct BuildKitStatement {
    /// The platform manifest the attestation manifest refers to.
    pub subject: Digest,
    /// `in-toto.io/predicate-type` of the layer.
    pub predicate_type: String,
    /// The statement's bytes as BuildKit wrote them (an empty subject filled in: `with_subject`).
    pub bytes: Vec<u8>,
}

/// What BuildKit produced, with attestations taken out of the index.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// BuildKit's layout (temporary).
    pub layout: Layout,
    /// The digest BuildKit reported in the metadata file (its index, attestations included).
    pub buildkit_index_digest: Digest,
    /// The index without attestation manifests.
    pub index: ImageIndex,
    /// The in-toto statements of the attestation manifests.
    pub statements: Vec<BuildKitStatement>,
    /// Why statements were left out (one that names another subject than its manifest).
    pub refused: Vec<String>,
    /// Base images named in the statements' materials: (uri, digest).
    pub materials: Vec<(String, Digest)>,
}

impl Request<'_> {
    /// The command line.
    pub fn command(&self) -> Command {
        let platforms: Vec<String> = self.platforms.iter().map(|p| p.name()).collect();
        let mut output = format!(
            "type=oci,dest={},tar=false,rewrite-timestamp=true",
            self.out_dir.display()
        );
        match self.compression {
            super::compress::LayerCompression::Gzip => {}
            super::compress::LayerCompression::Zstd => {
                output.push_str(",compression=zstd,force-compression=true")
            }
            super::compress::LayerCompression::None => {
                output.push_str(",compression=uncompressed,force-compression=true")
            }
        }
        match self.client {
            Client::Buildx { builder } => {
                let mut c = super::buildx_plugin::command();
                c.args(["build", "--progress", "plain"]);
                if let Some(b) = builder {
                    c.args(["--builder", b]);
                }
                c.arg("--file").arg(self.dockerfile);
                c.args(["--platform", &platforms.join(",")]);
                c.arg("--build-context")
                    .arg(format!("bins={}", self.bins.display()));
                for (name, (path, digest)) in &self.layout_contexts {
                    c.arg("--build-context")
                        .arg(format!("{name}=oci-layout://{}@{digest}", path.display()));
                }
                for (k, v) in &self.build_args {
                    c.args(["--build-arg", &format!("{k}={v}")]);
                }
                for (k, v) in &self.labels {
                    c.args(["--label", &format!("{k}={v}")]);
                }
                c.args(["--provenance", "mode=max", "--output", &output]);
                c.arg("--metadata-file").arg(self.metadata_file);
                c.arg(self.context);
                c
            }
            Client::Buildctl => {
                let mut c = Command::new("buildctl");
                let dir = self.dockerfile.parent().unwrap_or(Path::new("."));
                let name = self.dockerfile.file_name().unwrap_or_default();
                c.args([
                    "build",
                    "--progress",
                    "plain",
                    "--frontend",
                    "dockerfile.v0",
                ]);
                c.arg("--local")
                    .arg(format!("context={}", self.context.display()));
                c.arg("--local")
                    .arg(format!("dockerfile={}", dir.display()));
                c.arg("--local")
                    .arg(format!("bins={}", self.bins.display()));
                c.arg("--opt")
                    .arg(format!("filename={}", name.to_string_lossy()));
                c.args(["--opt", "context:bins=local:bins"]);
                for (name, (path, digest)) in &self.layout_contexts {
                    c.arg("--oci-layout")
                        .arg(format!("{name}={}", path.display()));
                    c.arg("--opt")
                        .arg(format!("context:{name}=oci-layout://{name}@{digest}"));
                }
                c.args(["--opt", &format!("platform={}", platforms.join(","))]);
                for (k, v) in &self.build_args {
                    c.args(["--opt", &format!("build-arg:{k}={v}")]);
                }
                for (k, v) in &self.labels {
                    c.args(["--opt", &format!("label:{k}={v}")]);
                }
                c.args(["--opt", "attest:provenance=mode=max", "--output", &output]);
                c.arg("--metadata-file").arg(self.metadata_file);
                c
            }
        }
    }

    /// Runs the build and post-processes BuildKit's layout. BuildKit's own error (a
    /// Dockerfile mistake, a missing base image) is part of the error message.
    pub fn run(&self, stream: bool) -> Result<Outcome> {
        use std::io::{BufRead, BufReader, Write};
        let mut cmd = self.command();
        let program = match self.client {
            Client::Buildx { .. } => "docker buildx build",
            Client::Buildctl => "buildctl build",
        };
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| unreachable(self.client, &format!("running {program}: {e}")))?;
        // BuildKit's log: shown live when `stream` (a terminal or -v), kept for errors.
        let mut log = String::new();
        if let Some(err) = child.stderr.take() {
            for line in BufReader::new(err)
                .lines()
                .map_while(std::result::Result::ok)
            {
                if stream {
                    let _ = writeln!(std::io::stderr(), "{line}");
                }
                log.push_str(&line);
                log.push('\n');
            }
        }
        let status = child
            .wait()
            .map_err(|e| Error::msg(format!("waiting for {program}: {e}")))?;
        let out = std::process::Output {
            status,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        if !out.status.success() {
            return Err(Error::msg(format!(
                "{program} failed ({}); BuildKit said:\n{}",
                out.status,
                error_excerpt(&log)
            )));
        }
        let meta_bytes = std::fs::read(self.metadata_file)
            .map_err(|e| Error::io("reading BuildKit's metadata file", self.metadata_file, e))?;
        let meta: Value = serde_json::from_slice(&meta_bytes)
            .map_err(|e| Error::msg(format!("BuildKit's metadata file is not JSON: {e}")))?;
        let digest: Digest = meta
            .get("containerimage.digest")
            .and_then(|d| d.as_str())
            .ok_or_else(|| Error::msg("BuildKit's metadata file has no containerimage.digest"))?
            .parse()?;
        strip_attestations(self.out_dir, digest)
    }
}

/// The lines of BuildKit's log that explain a failure (its `ERROR` lines and the Dockerfile
/// excerpt), or the end of the log.
pub fn error_excerpt(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains("ERROR") || l.starts_with("------") || l.starts_with("error:"))
        .unwrap_or(lines.len().saturating_sub(20));
    let tail: Vec<&str> = lines[start..]
        .iter()
        .rev()
        .take(40)
        .rev()
        .copied()
        .collect();
    tail.join("\n")
}

/// Opens BuildKit's layout, checks the index digest against the metadata, and separates
/// platform manifests from attestation manifests.
pub fn strip_attestations(out_dir: &Path, reported: Digest) -> Result<Outcome> {
    let layout = Layout::open(out_dir)?;
    let top = layout.index()?;
    let root = top
        .manifests
        .iter()
        .find(|d| d.digest == reported)
        .ok_or_else(|| {
            Error::msg(format!(
                "BuildKit reported image {reported} but its OCI layout does not hold it"
            ))
        })?;
    let bytes = layout.get_blob(&root.digest)?;
    let full: ImageIndex = serde_json::from_slice(&bytes)
        .map_err(|e| Error::msg(format!("BuildKit's image index is not valid: {e}")))?;
    let mut index = full.clone();
    index.manifests.clear();
    let mut statements = Vec::new();
    let mut refused = Vec::new();
    let mut materials = Vec::new();
    for d in &full.manifests {
        if is_platform_manifest(d) {
            index.manifests.push(d.clone());
            continue;
        }
        let subject: Digest = match d.annotations.get(REFERENCE_DIGEST) {
            Some(s) => s.parse()?,
            None => continue,
        };
        let m: ImageManifest = serde_json::from_slice(&layout.get_blob(&d.digest)?)
            .map_err(|e| Error::msg(format!("BuildKit attestation manifest {}: {e}", d.digest)))?;
        for l in &m.layers {
            let bytes = layout.get_blob(&l.digest)?;
            let predicate_type = l
                .annotations
                .get("in-toto.io/predicate-type")
                .cloned()
                .unwrap_or_default();
            if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                collect_materials(&v, &mut materials);
            }
            let bytes = with_subject(bytes, &subject);
            // Signed with the user's key, so only about this image: a statement (from a
            // remote, perhaps hostile, builder) that names anything else is left out.
            if !names_only(&bytes, &subject) {
                refused.push(format!(
                    "BuildKit's `{predicate_type}` statement about platform manifest {subject} \
                     names another subject: left out, neither signed nor attached"
                ));
                continue;
            }
            statements.push(BuildKitStatement {
                subject,
                predicate_type,
                bytes,
            });
        }
    }
    materials.sort();
    materials.dedup();
    Ok(Outcome {
        layout,
        buildkit_index_digest: reported,
        index,
        statements,
        refused,
        materials,
    })
}

/// A statement of BuildKit's with its subject. BuildKit's attestation storage says a
/// statement's subject is the manifest its attestation manifest refers to (named `_`), and
/// BuildKit's image exporter sets it so; Docker 26's BuildKit (buildx's `docker` driver)
/// leaves it empty in its OCI export, and a statement that names nothing fails verify. An empty or missing
/// `subject` is filled in as the storage spec says; any other statement is kept byte for byte.
fn with_subject(bytes: Vec<u8>, subject: &Digest) -> Vec<u8> {
    let Ok(Value::Object(mut statement)) = serde_json::from_slice::<Value>(&bytes) else {
        return bytes;
    };
    match statement.get("subject") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(_) => return bytes,
    }
    let named = serde_json::json!([{"name": "_", "digest": {"sha256": subject.hex()}}]);
    statement.insert("subject".to_owned(), named);
    serde_json::to_vec(&statement).unwrap_or(bytes)
}

/// Whether the in-toto statement `bytes` names `subject`, by sha256, and nothing else.
fn names_only(bytes: &[u8], subject: &Digest) -> bool {
    let Ok(statement) = serde_json::from_slice::<Value>(bytes) else {
        return false;
    };
    let subjects = statement["subject"].as_array().map(Vec::as_slice);
    let hex = subject.hex();
    subjects.is_some_and(|all| {
        !all.is_empty()
            && all
                .iter()
                .all(|s| s["digest"]["sha256"].as_str() == Some(hex.as_str()))
    })
}

/// Image materials of a SLSA v0.2 (`predicate.materials`) or v1
/// (`predicate.buildDefinition.resolvedDependencies`) statement: `pkg:docker/...` URIs.
fn collect_materials(statement: &Value, out: &mut Vec<(String, Digest)>) {
    let p = &statement["predicate"];
    let lists = [
        &p["materials"],
        &p["buildDefinition"]["resolvedDependencies"],
    ];
    for list in lists {
        for m in list.as_array().into_iter().flatten() {
            let uri = m["uri"].as_str().unwrap_or_default();
            let Some(hex) = m["digest"]["sha256"].as_str() else {
                continue;
            };
            if uri.starts_with("pkg:docker/")
                && let Ok(d) = Digest::from_hex(hex)
            {
                out.push((uri.to_owned(), d));
            }
        }
    }
}

/// Moves one platform manifest and everything it references from BuildKit's layout `from`
/// into `to` (same file system: a rename, no copy). Each blob is checked against its digest
/// first; a blob `to` already has is left alone.
pub fn move_manifest(from: &Layout, to: &Layout, manifest: &Descriptor) -> Result<()> {
    let bytes = from.get_blob(&manifest.digest)?;
    let m: ImageManifest = serde_json::from_slice(&bytes)
        .map_err(|e| Error::msg(format!("manifest {}: {e}", manifest.digest)))?;
    let digests = std::iter::once(&m.config)
        .chain(&m.layers)
        .map(|d| d.digest)
        .chain(std::iter::once(manifest.digest));
    for d in digests {
        if to.has_blob(&d) {
            continue;
        }
        let blob = from.get_blob(&d)?;
        if std::fs::rename(from.blob_path(&d), to.blob_path(&d)).is_err() {
            to.put_blob(&blob)?;
        }
    }
    Ok(())
}

/// A template Dockerfile or the user's, rendered into `dir`; returns its path.
pub fn render_template(
    template: &str,
    entrypoint: Option<&[String]>,
    dir: &Path,
) -> Result<PathBuf> {
    let ep = match entrypoint {
        Some(ep) => format!(
            "ENTRYPOINT {}",
            serde_json::to_string(ep).expect("JSON serialises")
        ),
        None => String::new(),
    };
    let text = template.replace("{{ENTRYPOINT}}", &ep);
    let path = dir.join("Dockerfile");
    std::fs::write(&path, text.as_bytes()).map_err(|e| Error::io("writing", &path, e))?;
    Ok(path)
}

#[cfg(test)]
mod tests;
