//! `verify --rebuild`: check the recorded commit out into a temporary clone, rebuild it with
//! the recorded parameters and toolchain, and compare binary and image digests with the
//! verified provenance's subjects and with the digest being verified, naming every one that
//! differs.
//!
//! The rebuild runs our own binary's `build --no-sign` as a child process: the recorded
//! `SOURCE_DATE_EPOCH` and rustup toolchain go into its environment only, and its target
//! directory is inside the temporary clone. Its `summary.json` gives the rebuilt digests.

use crate::verify::CheckId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::verify::checks::{KNOWN_BUILD_TYPES, SLSA_PROVENANCE_V1};
use crate::verify::document::{Kind, Target};
use crate::verify::report::Report;
use crate::attest::params::{ExternalParameters, InternalParameters};
use crate::build::Summary;
use crate::error::{Error, Result};
use crate::ui::Ui;
use crate::util::digest::Digest;

/// What the provenance says was built, and from what.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `externalParameters`.
    pub external: ExternalParameters,
    /// `internalParameters`.
    pub internal: InternalParameters,
    /// Subjects: (name, digest, is the image index).
    pub subjects: Vec<(String, Digest, bool)>,
}

impl Recorded {
    /// Reads a verified provenance statement of our build type.
    pub fn from_statement(st: &Value) -> std::result::Result<Recorded, String> {
        if st["predicateType"] != SLSA_PROVENANCE_V1 {
            return Err("not an SLSA v1 provenance".into());
        }
        let def = &st["predicate"]["buildDefinition"];
        let bt = def["buildType"].as_str().unwrap_or_default();
        if !KNOWN_BUILD_TYPES.contains(&bt) {
            return Err(format!("buildType `{bt}` is not ours: cannot rebuild"));
        }
        let external = serde_json::from_value(def["externalParameters"].clone())
            .map_err(|e| format!("externalParameters: {e}"))?;
        let internal = serde_json::from_value(def["internalParameters"].clone())
            .map_err(|e| format!("internalParameters: {e}"))?;
        let subjects = st["subject"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let d = Digest::from_hex(s["digest"]["sha256"].as_str()?).ok()?;
                let is_index = s["mediaType"]
                    .as_str()
                    .is_some_and(|m| m.contains("image.index"));
                Some((
                    s["name"].as_str().unwrap_or_default().to_owned(),
                    d,
                    is_index,
                ))
            })
            .collect();
        Ok(Recorded {
            external,
            internal,
            subjects,
        })
    }

    /// The `build` arguments that repeat the recorded build in `src` (the clone), writing to
    /// `out`.
    pub fn build_args(&self, src: &Path, out: &Path) -> Vec<String> {
        let e = &self.external;
        let dir = match e.source.as_ref().map(|s| s.path.as_str()) {
            Some(p) if !p.is_empty() => src.join(p),
            _ => src.to_owned(),
        };
        let mut a = vec![
            "build".to_owned(),
            "-q".to_owned(),
            "--manifest-path".to_owned(),
            dir.join("Cargo.toml").display().to_string(),
            "--locked".to_owned(),
            "--no-sign".to_owned(),
            "--output-dir".to_owned(),
            out.display().to_string(),
            "--builder".to_owned(),
            e.builder.clone(),
            "--profile".to_owned(),
            e.profile.clone(),
        ];
        for p in &e.packages {
            a.extend(["-p".to_owned(), p.clone()]);
        }
        for b in &e.binaries {
            a.extend(["--bin".to_owned(), b.clone()]);
        }
        if !e.features.is_empty() {
            a.extend(["--features".to_owned(), e.features.join(",")]);
        }
        if e.all_features {
            a.push("--all-features".to_owned());
        }
        if e.no_default_features {
            a.push("--no-default-features".to_owned());
        }
        if e.platforms.is_empty() {
            a.extend(["--target".to_owned(), e.target.clone()]);
        } else {
            a.extend(["--platform".to_owned(), e.platforms.join(",")]);
        }
        if let Some(c) = &e.layer_compression {
            a.extend(["--compression".to_owned(), c.clone()]);
        }
        if e.base_image != "scratch" {
            a.extend(["--base".to_owned(), e.base_image.clone()]);
        }
        if let Some(d) = &e.dockerfile
            && !d.path.starts_with('<')
            && !d.path.starts_with("templates/")
        {
            a.extend([
                "--dockerfile".to_owned(),
                src.join(&d.path).display().to_string(),
            ]);
        }
        if !e.auditable {
            a.push("--no-auditable".to_owned());
        }
        if let Some(i) = &e.image {
            a.extend(["--image".to_owned(), i.clone()]);
        }
        a
    }
}

/// Rebuilt digests by subject name, from `summary.json`; the index under `index_name`.
pub fn rebuilt_subjects(summary: &Summary, index_name: &str) -> BTreeMap<String, Vec<Digest>> {
    let mut out: BTreeMap<String, Vec<Digest>> = BTreeMap::new();
    out.entry(index_name.to_owned())
        .or_default()
        .push(summary.index_digest);
    for p in &summary.platforms {
        out.entry(p.platform.clone())
            .or_default()
            .push(p.manifest_digest);
        for b in &p.binaries {
            out.entry(b.path.clone()).or_default().push(b.digest);
        }
    }
    out
}

/// Compares recorded subjects with rebuilt ones: the differences, binaries first.
pub fn differences(recorded: &Recorded, rebuilt: &BTreeMap<String, Vec<Digest>>) -> Vec<String> {
    let mut bins = Vec::new();
    let mut images = Vec::new();
    for (name, digest, is_index) in &recorded.subjects {
        let got = rebuilt.get(name).cloned().unwrap_or_default();
        if got.contains(digest) {
            continue;
        }
        let what = match got.as_slice() {
            [] => format!("{name}: recorded {digest}, absent from the rebuild"),
            g => format!(
                "{name}: recorded {digest}, rebuilt {}",
                g.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        if *is_index || !name.starts_with('/') {
            images.push(format!("image {what}"));
        } else {
            bins.push(format!("binary {what}"));
        }
    }
    bins.extend(images);
    bins
}

/// Compares the digest being verified (and, for an index, each platform manifest it lists)
/// with the rebuild: an index must be the rebuilt index, a manifest one of the rebuilt
/// platform manifests. The provenance's subjects alone are not enough: a statement about a
/// genuine image says nothing about another index that lists that image's manifests.
pub fn target_differences(target: &Target, summary: &Summary) -> Vec<String> {
    let rebuilt: Vec<Digest> = summary
        .platforms
        .iter()
        .map(|p| p.manifest_digest)
        .collect();
    let list = |v: &[Digest]| {
        v.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if target.parts.is_empty() {
        return vec!["no image digest to compare with the rebuild".into()];
    }
    target
        .parts
        .iter()
        .filter_map(|p| match p.kind {
            Kind::Index if p.digest != summary.index_digest => Some(format!(
                "image {p} being verified is not the rebuilt index {}",
                summary.index_digest
            )),
            Kind::Manifest if !rebuilt.contains(&p.digest) => Some(format!(
                "image {p} being verified is not a rebuilt platform manifest ({})",
                list(&rebuilt)
            )),
            _ => None,
        })
        .collect()
}

/// ` (toolchain differs: ...)` when `rustc -vV` here is not the recorded toolchain.
fn toolchain_difference(recorded: &Recorded, dir: &Path) -> Option<String> {
    let mut cmd = Command::new("rustc");
    cmd.current_dir(dir).arg("-vV");
    if let Some(t) = &recorded.internal.toolchain.rustup_toolchain {
        cmd.env("RUSTUP_TOOLCHAIN", t);
    }
    let out = String::from_utf8(cmd.output().ok()?.stdout).ok()?;
    let field = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().to_owned())
    };
    let t = &recorded.internal.toolchain;
    let here = (field("release:")?, field("commit-hash:")?);
    if here.0 == t.rustc_release && here.1 == t.rustc_commit_hash {
        return None;
    }
    Some(format!(
        " (toolchain differs: recorded rustc {} ({}), here {} ({}))",
        t.rustc_release, t.rustc_commit_hash, here.0, here.1
    ))
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .map_err(|e| Error::msg(format!("running git: {e}; --rebuild needs git on PATH")))?;
    if !out.status.success() {
        return Err(Error::msg(format!(
            "git {} in {} failed: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs the rebuild for the first counted provenance in `statements` and records the
/// `rebuild` check in `report`.
pub fn run(
    report: &mut Report,
    statements: &[Value],
    target: &Target,
    source: Option<&Path>,
    ui: &Ui,
) -> Result<()> {
    let recorded = statements
        .iter()
        .find_map(|s| Recorded::from_statement(s).ok());
    let Some(recorded) = recorded else {
        report.fail(
            CheckId::Rebuild,
            None,
            "no verified provenance of our build type to rebuild from",
        );
        return Ok(());
    };
    let Some(src) = recorded.external.source.clone() else {
        report.fail(
            CheckId::Rebuild,
            None,
            "the provenance records no source commit to rebuild",
        );
        return Ok(());
    };
    let repo_dir = source
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let top = git(&repo_dir, &["rev-parse", "--show-toplevel"])?;
    if git(
        Path::new(&top),
        &["cat-file", "-e", &format!("{}^{{commit}}", src.commit)],
    )
    .is_err()
    {
        report.fail(
            CheckId::Rebuild,
            None,
            format!(
                "commit {} is not in the repository at {top}: fetch it or pass --source PATH",
                src.commit
            ),
        );
        return Ok(());
    }
    let tmp = tempfile::tempdir()
        .map_err(|e| Error::msg(format!("creating a temporary directory: {e}")))?;
    let clone = tmp.path().join("src");
    let out = tmp.path().join("out");
    ui.status(
        "Rebuilding",
        format!("commit {} in a temporary clone", src.commit),
    );
    git(
        tmp.path(),
        &["clone", "-q", "--shared", "--no-checkout", &top, "src"],
    )?;
    git(
        &clone,
        &[
            "-c",
            "advice.detachedHead=false",
            "checkout",
            "-q",
            "--detach",
            &src.commit,
        ],
    )?;
    // The image's `org.opencontainers.image.source` label comes from the repository's remote:
    // give the clone the remotes of the repository it was cloned from.
    git(&clone, &["remote", "remove", "origin"])?;
    for name in git(Path::new(&top), &["remote"])?.lines() {
        let url = git(Path::new(&top), &["remote", "get-url", name])?;
        git(&clone, &["remote", "add", name, &url])?;
    }
    let exe =
        std::env::current_exe().map_err(|e| Error::msg(format!("locating our own binary: {e}")))?;
    let mut cmd = Command::new(exe);
    cmd.args(recorded.build_args(&clone, &out))
        .env(
            "SOURCE_DATE_EPOCH",
            recorded.internal.source_date_epoch.to_string(),
        )
        .env_remove("CARGO_TARGET_DIR");
    if let Some(t) = &recorded.internal.toolchain.rustup_toolchain {
        cmd.env("RUSTUP_TOOLCHAIN", t);
    }
    let status = cmd
        .status()
        .map_err(|e| Error::msg(format!("running the rebuild: {e}")))?;
    if !status.success() {
        report.fail(
            CheckId::Rebuild,
            None,
            format!("the rebuild of commit {} failed ({status})", src.commit),
        );
        return Ok(());
    }
    let summary: Summary =
        serde_json::from_slice(&crate::util::fs::read(&out.join("summary.json"))?)
            .map_err(|e| Error::msg(format!("the rebuild's summary.json is not valid: {e}")))?;
    let index_name = recorded
        .subjects
        .iter()
        .find(|s| s.2)
        .map(|s| s.0.clone())
        .unwrap_or_default();
    let mut diffs = differences(&recorded, &rebuilt_subjects(&summary, &index_name));
    diffs.extend(target_differences(target, &summary));
    let dirty = if src.dirty {
        " (the build recorded uncommitted changes: a dirty tree does not rebuild from its commit)"
    } else {
        ""
    };
    if diffs.is_empty() {
        report.pass(
            CheckId::Rebuild,
            None,
            format!(
                "commit {} rebuilt with identical digests for all {} subjects and the {} being \
                 verified",
                src.commit,
                recorded.subjects.len(),
                target.top().map(|p| p.to_string()).unwrap_or_default()
            ),
        );
    } else {
        let toolchain = toolchain_difference(&recorded, &clone).unwrap_or_default();
        report.fail(
            CheckId::Rebuild,
            None,
            format!("{}{dirty}{toolchain}", diffs.join("; ")),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_binaries_first() {
        let d = |c: char| Digest::from_hex(&c.to_string().repeat(64)).unwrap();
        let rec = Recorded {
            external: serde_json::from_value(serde_json::json!({
                "packages": [], "binaries": [], "profile": "release", "target": "t",
                "builder": "native", "baseImage": "scratch", "platforms": []
            }))
            .unwrap(),
            internal: serde_json::from_value(serde_json::json!({
                "toolchain": {"rustcRelease": "1", "rustcCommitHash": "x", "rustcCommitDate": "d", "host": "h", "cargoVersion": "c"},
                "rustflagsSource": "none", "profileSettings": {"optLevel": "3", "lto": "false", "codegenUnits": 1, "debug": "0", "strip": "none", "panic": "unwind"},
                "sourceDateEpoch": 1, "reproducible": true
            }))
            .unwrap_or_else(|e| panic!("{e}")),
            subjects: vec![
                ("img".into(), d('a'), true),
                ("linux/amd64".into(), d('b'), false),
                ("/usr/local/bin/hello".into(), d('c'), false),
            ],
        };
        let summary = |index: char, manifest: char, binary: char| -> Summary {
            serde_json::from_value(serde_json::json!({
                "tag": "latest", "layout": "oci", "index_digest": d(index).to_string(),
                "platforms": [{"platform": "linux/amd64", "manifest_digest": d(manifest).to_string(),
                    "rust_target": "x86_64-unknown-linux-gnu",
                    "binaries": [{"name": "hello", "package": "hello", "path": "/usr/local/bin/hello",
                        "digest": d(binary).to_string(), "size": 1, "file": "bin/hello"}]}],
                "builder": {"kind": "native", "id": "native"}, "source_date_epoch": 1, "source_date_epoch_source": "env"
            }))
            .unwrap()
        };
        let diffs = differences(&rec, &rebuilt_subjects(&summary('a', 'e', 'f'), "img"));
        assert_eq!(diffs.len(), 2, "{diffs:?}");
        assert!(
            diffs[0].starts_with("binary /usr/local/bin/hello: recorded"),
            "{diffs:?}"
        );
        assert!(diffs[1].starts_with("image linux/amd64"), "{diffs:?}");
        assert!(differences(&rec, &rebuilt_subjects(&summary('a', 'b', 'c'), "img")).is_empty());
    }
}
