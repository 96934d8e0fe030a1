//! `cargo provenance build` without peers: the native builder with docker absent
//! (reproducible across directories), the cargo step's settings, and the error cases that
//! need no daemon. The BuildKit and `docker run` tests are in `tests/it/image_peers.rs`.

use crate::support;
use crate::support::image as image_common;

use std::process::Command;

use image_common::*;
use serde_json::Value;

/// No daemon, no network: `--builder auto` with docker absent picks the native builder; two
/// builds of the same commit in different directories (own target directories) give the same
/// binary, manifest and index digests, with the cargo-auditable data on (the default: the
/// binary carries its crates, hello-service as root); the layer is deterministic and the
/// binary carries no path of this machine. Every `--compression` (gzip, zstd, none) gives the
/// same digests in both directories, its own layer media type, the same `diff_id` and the
/// choice in the provenance.
#[test]
fn native_builder_without_docker_is_reproducible_across_directories() {
    let mut summaries = Vec::new();
    let mut compressed: Vec<Vec<(String, String, Value)>> = Vec::new();
    let mut keep = Vec::new();
    for _ in 0..2 {
        let (tmp, dir) = support::example_repo("hello-service");
        let out = without_docker(&mut build_cmd(&dir))
            .env_remove("CARGO_TARGET_DIR")
            .args(["--builder", "auto", "--image", "hello-service:v1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "build failed:\n{}", stderr_of(&out));
        let err = stderr_of(&out);
        assert!(
            err.contains("native builder") && err.contains("no BuildKit reachable"),
            "{err}"
        );
        let outdir = dir.join("target/provenance");
        let summary = read_json(&outdir.join("summary.json"));
        let text = std::fs::read_to_string(outdir.join("summary.json")).unwrap();
        assert!(
            !text.contains(&tmp.path().display().to_string()),
            "no machine path in {text}"
        );
        assert!(
            !text.contains("nonexistent"),
            "no DOCKER_HOST value in {text}"
        );
        assert_eq!(summary["builder"]["kind"], "native");
        assert_eq!(summary["source_date_epoch"], 1_704_164_645);
        assert_eq!(summary["image"], "hello-service:v1");
        let layout = outdir.join("oci");
        let (digest, index) = image_index(&layout, "v1");
        assert_eq!(summary["index_digest"], digest.as_str());
        let m = &index["manifests"][0];
        assert_eq!(m["platform"]["architecture"], "amd64");
        let manifest = blob_json(&layout, m["digest"].as_str().unwrap());
        let config = blob_json(&layout, manifest["config"]["digest"].as_str().unwrap());
        assert_eq!(
            config["config"]["Entrypoint"][0],
            "/usr/local/bin/hello-service"
        );
        assert_eq!(config["created"], "2024-01-02T03:04:05Z");
        let labels = &config["config"]["Labels"];
        assert_eq!(
            labels["org.opencontainers.image.source"],
            "https://github.com/example/hello-service"
        );
        assert_eq!(
            labels["org.opencontainers.image.revision"]
                .as_str()
                .unwrap()
                .len(),
            40
        );

        // The layer: sorted, root-owned, fixed mtime.
        let layer = blob(&layout, manifest["layers"][0]["digest"].as_str().unwrap());
        let tar = flate2::read::GzDecoder::new(layer.as_slice());
        let mut ar = tar::Archive::new(tar);
        let entries: Vec<(String, u32, u64, u64)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.mtime().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            entries.last().unwrap(),
            &(
                "usr/local/bin/hello-service".to_owned(),
                0o755,
                0,
                1_704_164_645
            )
        );

        // The binary runs (it is static) and holds no path of this machine.
        let bin = outdir.join("bin/linux/amd64/hello-service");
        let run = Command::new(&bin).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), HELLO_OUTPUT);
        let data = auditable_info::audit_info_from_file(&bin, Default::default()).unwrap();
        let root = data.packages.iter().find(|p| p.root).unwrap();
        assert_eq!(root.name, "hello-service");
        assert!(data.packages.iter().any(|p| p.name == "serde_json"));
        let bytes = std::fs::read(&bin).unwrap();
        let needle = tmp.path().display().to_string();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "the binary contains the build directory {needle}"
        );
        // The same build with each --compression (incremental: nothing recompiles).
        let mut these = Vec::new();
        for how in ["gzip", "zstd", "none"] {
            let out_dir = tmp.path().join(format!("out-{how}"));
            let out = without_docker(&mut build_cmd(&dir))
                .env_remove("CARGO_TARGET_DIR")
                .args([
                    "--builder",
                    "native",
                    "--reproducible",
                    "--compression",
                    how,
                ])
                .arg("--output-dir")
                .arg(&out_dir)
                .output()
                .unwrap();
            assert!(out.status.success(), "{how}: {}", stderr_of(&out));
            let layout = out_dir.join("oci");
            let (digest, index) = image_index(&layout, "latest");
            let manifest = blob_json(&layout, index["manifests"][0]["digest"].as_str().unwrap());
            let config = blob_json(&layout, manifest["config"]["digest"].as_str().unwrap());
            let layer = &manifest["layers"][0];
            let media_type = layer["mediaType"].as_str().unwrap().to_owned();
            let bytes = blob(&layout, layer["digest"].as_str().unwrap());
            let tar = match how {
                "gzip" => {
                    let mut t = Vec::new();
                    std::io::Read::read_to_end(
                        &mut flate2::read::GzDecoder::new(bytes.as_slice()),
                        &mut t,
                    )
                    .unwrap();
                    t
                }
                "zstd" => zstd::decode_all(bytes.as_slice()).unwrap(),
                _ => bytes,
            };
            let diff_id = format!(
                "sha256:{}",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&tar))
            );
            assert_eq!(config["rootfs"]["diff_ids"][0], diff_id.as_str(), "{how}");
            let provenance = read_json(&out_dir.join("provenance.intoto.json"));
            assert_eq!(
                provenance["predicate"]["buildDefinition"]["externalParameters"]["layerCompression"],
                how
            );
            these.push((digest, media_type, config["rootfs"].clone()));
        }
        let types: Vec<&str> = these.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(
            types,
            [
                "application/vnd.oci.image.layer.v1.tar+gzip",
                "application/vnd.oci.image.layer.v1.tar+zstd",
                "application/vnd.oci.image.layer.v1.tar",
            ]
        );
        assert!(these.iter().all(|t| t.2 == these[0].2), "same diff_ids");
        compressed.push(these);
        summaries.push(summary);
        keep.push(tmp);
    }
    assert_eq!(compressed[0], compressed[1]);
    assert_eq!(summaries[0]["index_digest"], summaries[1]["index_digest"]);
    assert_eq!(summaries[0]["platforms"], summaries[1]["platforms"]);
    assert_eq!(summaries[0]["binaries"], summaries[1]["binaries"]);
}

/// A compile error: exit 2, our message points at cargo, cargo's diagnostic is shown.
#[test]
fn failing_cargo_build_exits_2_with_the_compiler_error() {
    let (_tmp, dir) =
        tiny_crate("fn main() { let x: u32 = \"not a number\"; println!(\"{x}\"); }\n");
    let out = build_cmd(&dir)
        .args(["--builder", "native"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("`cargo build` for linux/amd64 failed"),
        "{err}"
    );
    assert!(
        err.contains("mismatched types"),
        "cargo's diagnostic is shown: {err}"
    );
}

/// `--message-format json`: one `build-finished` JSON line on stdout, no status lines.
#[test]
fn json_messages_are_machine_readable() {
    let (_tmp, dir) = tiny_crate("fn main() {}\n");
    let out = build_cmd(&dir)
        .args(["--builder", "native", "--message-format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["reason"], "build-finished");
    assert!(
        last["index_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    for line in stdout.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    let err = stderr_of(&out);
    assert!(
        !err.contains("Compiling binaries") && !err.contains("Finished"),
        "{err}"
    );
}

/// Rustflags from the project's cargo config survive our CARGO_ENCODED_RUSTFLAGS.
#[test]
fn config_rustflags_are_kept_in_the_build() {
    let (_tmp, dir) = tiny_crate(
        "#[cfg(mine)]\nfn main() { println!(\"mine\"); }\n#[cfg(not(mine))]\nfn main() { println!(\"lost\"); }\n",
    );
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    std::fs::write(
        dir.join(".cargo/config.toml"),
        "[build]\nrustflags = [\"--cfg\", \"mine\"]\n",
    )
    .unwrap();
    let out = build_cmd(&dir)
        .args(["--builder", "native"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let bin = dir.join("target/provenance/bin/linux/amd64/tiny");
    let run = Command::new(&bin).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "mine");
}

/// A platform whose Rust target is not installed: exit 2 naming `rustup target add`.
#[test]
fn missing_rust_target_exits_2() {
    let (_tmp, dir) = tiny_crate("fn main() {}\n");
    let out = build_cmd(&dir)
        .args([
            "--builder",
            "native",
            "--platform",
            "linux/amd64,linux/s390x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("rustup target add s390x-unknown-linux-gnu"),
        "{err}"
    );
}

/// `build.target` in the project's cargo configuration chooses the platform, as inspect (and
/// so the provenance) records it: here a target that is not installed, named in the error.
#[test]
fn config_build_target_chooses_the_platform() {
    let (_tmp, dir) = tiny_crate("fn main() {}\n");
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    std::fs::write(
        dir.join(".cargo/config.toml"),
        "[build]\ntarget = \"s390x-unknown-linux-gnu\"\n",
    )
    .unwrap();
    let out = build_cmd(&dir)
        .env_remove("CARGO_BUILD_TARGET")
        .args(["--builder", "native"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("rustup target add s390x-unknown-linux-gnu"),
        "{err}"
    );
}

/// A missing base image for the native builder: exit 2 naming it, before compiling.
#[test]
fn missing_native_base_image_exits_2() {
    let (tmp, dir) = tiny_crate("fn main() {}\n");
    let base = format!("oci:{}/nope:1", tmp.path().display());
    let out = build_cmd(&dir)
        .env_remove("CARGO_TARGET_DIR")
        .args(["--builder", "native", "--base", &base])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("base image {base} not found")),
        "{err}"
    );
    assert!(!err.contains("Compiling"), "compiled first:\n{err}");
    assert!(
        !dir.join("target/x86_64-unknown-linux-gnu").exists(),
        "failed before compiling"
    );
}

/// BuildKit asked for but unreachable (no docker at all, or buildctl without BUILDKIT_HOST):
/// exit 2 naming DOCKER_HOST/BUILDKIT_HOST and suggesting `--builder native`.
#[test]
fn unreachable_buildkit_names_the_variables() {
    let (_tmp, dir) = tiny_crate("fn main() {}\n");
    for builder in ["buildx", "buildctl"] {
        let out = without_docker(&mut build_cmd(&dir))
            .args(["--builder", builder])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = stderr_of(&out);
        assert!(err.contains("BuildKit is not reachable"), "{err}");
        assert!(
            err.contains("DOCKER_HOST") && err.contains("BUILDKIT_HOST"),
            "{err}"
        );
        assert!(err.contains("--builder native"), "{err}");
    }
}

/// One commit cloned three ways (an https remote, a scp-like ssh remote, a local path) builds
/// the same image with a byte-identical SBOM and, with `--reproducible`, byte-identical
/// provenance: the source URL is recorded in one canonical form. The local clone has no
/// source URL (a warning says so) until `--source-url` names it. No output holds a path of
/// this machine.
#[test]
fn remote_spellings_give_one_image_sbom_and_provenance() {
    let (tmp, origin) = support::example_repo("hello-service");
    let [https, ssh, local] = three_clones(tmp.path(), &origin);
    let build = |dir: &std::path::Path, extra: &[&str]| {
        let out_dir = dir.with_extension("out");
        let out = build_cmd(dir)
            .env("CARGO_TARGET_DIR", support::example_target_dir())
            .args(["--builder", "native", "--reproducible", "--output-dir"])
            .arg(&out_dir)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let file = |f: &str| std::fs::read(out_dir.join(f)).unwrap();
        let summary = read_json(&out_dir.join("summary.json"));
        let outputs = (
            summary["index_digest"].as_str().unwrap().to_owned(),
            file("sbom.cdx.json"),
            file("provenance.intoto.json"),
        );
        (outputs, out_dir, stderr_of(&out))
    };
    let (first, _, _) = build(&https, &[]);
    let sbom: Value = serde_json::from_slice(&first.1).unwrap();
    assert_eq!(
        sbom["metadata"]["component"]["externalReferences"][0]["url"],
        "https://github.com/example/hello-service"
    );
    let provenance = String::from_utf8(first.2.clone()).unwrap();
    assert!(
        provenance.contains("\"git+https://github.com/example/hello-service@refs/heads/main\""),
        "{provenance}"
    );
    assert!(build(&ssh, &[]).0 == first, "the ssh clone differs");
    let named = ["--source-url", "https://github.com/example/hello-service"];
    assert!(build(&local, &named).0 == first, "the local clone differs");

    let (outputs, out_dir, stderr) = build(&local, &[]);
    assert_ne!(
        outputs.0, first.0,
        "without a source URL the label is absent"
    );
    let warning = stderr
        .lines()
        .find(|l| l.starts_with("warning:") && l.contains("local path"))
        .unwrap_or_else(|| panic!("no warning about the local remote:\n{stderr}"));
    let machine = tmp.path().display().to_string();
    assert!(!warning.contains(&machine), "{warning}");
    let layout = out_dir.join("oci");
    let (_, index) = image_index(&layout, "latest");
    let manifest = blob_json(&layout, index["manifests"][0]["digest"].as_str().unwrap());
    let config = blob_json(&layout, manifest["config"]["digest"].as_str().unwrap());
    let labels = &config["config"]["Labels"];
    assert!(
        labels.get("org.opencontainers.image.source").is_none(),
        "{labels}"
    );
    assert!(labels.get("org.opencontainers.image.revision").is_some());
    let sbom: Value = serde_json::from_slice(&outputs.1).unwrap();
    assert!(
        sbom["metadata"]["component"]
            .get("externalReferences")
            .is_none()
    );
    for dir in [
        &out_dir,
        &https.with_extension("out"),
        &ssh.with_extension("out"),
    ] {
        assert_no_machine_path(dir, &machine);
    }
}

/// The workspace root is guessed (the manifest's directory, when it holds a Cargo.lock) so
/// cargo starts at once; a stale Cargo.lock in a member's directory makes the guess wrong:
/// cargo's `metadata` names the real root, the build runs again there (a warning says so),
/// and the result is the same as a build where the guess was right: binaries and output in
/// the real root's target directory, paths remapped from the real root.
#[test]
fn a_wrong_workspace_guess_builds_again_in_cargos_workspace() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    let app = workspace_with_app(&ws, "fn main() { println!(\"{}\", file!()); }\n");
    // Left over from before `app` joined the workspace; cargo ignores it.
    std::fs::write(app.join("Cargo.lock"), APP_LOCK).unwrap();
    let out = build_cmd(&app)
        .args(["--builder", "native"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("building again") && err.contains("remove it"),
        "{err}"
    );
    assert!(
        !app.join("target/provenance").exists(),
        "nothing is copied out under the guess"
    );
    let bin = ws.join("target/provenance/bin/linux/amd64/app");
    let run = Command::new(&bin).output().unwrap();
    // `file!()` is relative to the workspace root cargo ran rustc in.
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "app/src/main.rs"
    );
    assert_no_machine_path(&ws.join("target/provenance/bin"), &ws.display().to_string());
    let summary: Value =
        serde_json::from_slice(&std::fs::read(ws.join("target/provenance/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["platforms"][0]["binaries"][0]["name"], "app");
}

/// `--manifest-path` through a symbolic link: the guess spells the root as cargo does (the
/// link kept), so the build runs once.
#[cfg(unix)]
#[test]
fn a_manifest_path_through_a_symlink_builds_once() {
    let (tmp, dir) = tiny_crate("fn main() {}\n");
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    let out = build_cmd(tmp.path())
        .args(["--builder", "native", "-v", "--manifest-path"])
        .arg(link.join("Cargo.toml"))
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("building again"), "{err}");
    assert!(link.join("target/provenance/summary.json").is_file());
}

/// A lockfile further up is not taken for the workspace's: `inner` (its own workspace, no
/// Cargo.lock) sits in `outer`, another project with a lockfile and a build script. The
/// build waits for cargo's answer, so `outer` is never compiled and its build script never
/// runs; cargo then refuses `inner` for its missing lockfile (`--locked`).
#[test]
fn a_lockfile_above_the_manifest_is_not_taken_for_its_workspace() {
    let tmp = tempfile::tempdir().unwrap();
    let outer = tmp.path().join("outer");
    let inner = outer.join("inner");
    std::fs::create_dir_all(outer.join("src")).unwrap();
    std::fs::create_dir_all(inner.join("src")).unwrap();
    let marker = tmp.path().join("outer-build-script-ran");
    std::fs::write(
        outer.join("Cargo.toml"),
        "[package]\nname = \"outer\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\nexclude = [\"inner\"]\n",
    )
    .unwrap();
    std::fs::write(
        outer.join("Cargo.lock"),
        "version = 4\n\n[[package]]\nname = \"outer\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(
        outer.join("build.rs"),
        format!(
            "fn main() {{ std::fs::write({:?}, \"ran\").unwrap(); }}\n",
            marker.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(outer.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(
        inner.join("Cargo.toml"),
        "[package]\nname = \"inner\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(inner.join("src/main.rs"), "fn main() {}\n").unwrap();
    let out = build_cmd(&inner)
        .args(["--builder", "native"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(!marker.exists(), "outer's build script ran");
    assert!(
        !outer.join("target").exists(),
        "outer's target directory was made"
    );
}

/// Run from a member's directory of a virtual workspace, the build builds that member, as
/// `cargo build` there does (cargo runs in the workspace root, with the member's manifest).
/// Before, cargo built every member there, and the cargo-auditable data, resolved for the
/// member only, was missing for the others: the build failed.
#[test]
fn a_member_directory_builds_that_member() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    let mut lock = "version = 4\n".to_owned();
    for p in ["a", "b"] {
        std::fs::create_dir_all(ws.join(p).join("src")).unwrap();
        std::fs::write(
            ws.join(p).join("Cargo.toml"),
            format!("[package]\nname = \"{p}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        )
        .unwrap();
        std::fs::write(ws.join(p).join("src/main.rs"), "fn main() {}\n").unwrap();
        lock.push_str(&format!(
            "\n[[package]]\nname = \"{p}\"\nversion = \"0.1.0\"\n"
        ));
    }
    std::fs::write(
        ws.join("Cargo.toml"),
        "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    std::fs::write(ws.join("Cargo.lock"), lock).unwrap();
    let out = build_cmd(&ws.join("a"))
        .args(["--builder", "native"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let bins: Vec<String> = std::fs::read_dir(ws.join("target/provenance/bin/linux/amd64"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(bins, ["a"]);
}
