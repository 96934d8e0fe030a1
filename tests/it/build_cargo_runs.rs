//! The cargo runs of `cargo provenance build`: which `cargo` commands a build starts, read
//! from a shim named by `CARGO` that logs each command line and runs the real cargo.

use std::path::{Path, PathBuf};

use crate::support::image::{build_cmd, stderr_of, tiny_crate, without_docker, workspace_with_app};

/// A `cargo` that appends its arguments to `log` and runs the real one (the `CARGO` this
/// test runs under, else `cargo` on `PATH`).
fn logging_cargo(dir: &Path, log: &Path) -> PathBuf {
    shim(dir, log, "")
}

/// [`logging_cargo`], running `before` (shell) first.
fn shim(dir: &Path, log: &Path, before: &str) -> PathBuf {
    let real = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let shim = dir.join("cargo-shim");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\n{before}\nexec '{real}' \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    shim
}

/// `build --builder native` in `dir` with `cargo` as the shim `cargo`.
fn native_build(dir: &Path, cargo: &Path) -> assert_cmd::Command {
    let mut c = build_cmd(dir);
    c.env("CARGO", cargo).args(["--builder", "native"]);
    c
}

/// The subcommands and flags of the logged cargo runs: `metadata --no-deps`, `metadata`
/// (the full graph) and `build`.
fn runs(log: &Path) -> Vec<&'static str> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut runs: Vec<&'static str> = text
        .lines()
        .filter_map(|l| match l.split_whitespace().next() {
            Some("metadata") if l.contains("--no-deps") => Some("metadata --no-deps"),
            Some("metadata") => Some("metadata"),
            Some("build") => Some("build"),
            _ => None,
        })
        .collect();
    runs.sort();
    runs
}

/// Built from the workspace root (where the layout is guessed), the guess is confirmed by
/// the `cargo metadata` the cargo-auditable resolution runs anyway: one cargo run fewer
/// beside `cargo build` (on 2 cores a third cargo took ~5-9 ms from the build). Without the
/// resolution (`--no-auditable`) or without a guess (a member built from its own
/// directory), `cargo metadata --no-deps` still names the layout.
#[cfg(unix)]
#[test]
fn a_guessed_layout_is_confirmed_by_the_resolutions_cargo_metadata() {
    let (tmp, dir) = tiny_crate("fn main() {}\n");
    let log = tmp.path().join("cargo.log");
    let shim = logging_cargo(tmp.path(), &log);
    let out = native_build(&dir, &shim).arg("-q").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(runs(&log), ["build", "metadata"]);
    assert!(dir.join("target/provenance/summary.json").is_file());

    std::fs::remove_file(&log).unwrap();
    let out = native_build(&dir, &shim)
        .args(["-q", "--no-auditable"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let seen = runs(&log);
    assert!(seen.contains(&"metadata --no-deps"), "{seen:?}");

    // A member without a lockfile of its own, built from its directory: no guess, cargo
    // names the root (the workspace's) before it builds.
    let ws = tmp.path().join("ws");
    let app = workspace_with_app(&ws, "fn main() {}\n");
    std::fs::remove_file(&log).unwrap();
    let out = native_build(&app, &shim).arg("-q").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(runs(&log), ["build", "metadata", "metadata --no-deps"]);
    assert!(ws.join("target/provenance/summary.json").is_file());
}

/// A `--manifest-path` through a symbolic link, from the manifest's real directory: the
/// guess keeps the link (as cargo spells the root) while the resolution names the manifest
/// without it, so `--no-deps` (run as cargo would be) confirms the guess, and the build runs
/// once.
#[cfg(unix)]
#[test]
fn a_manifest_path_through_a_link_from_its_own_directory_builds_once() {
    let (tmp, dir) = tiny_crate("fn main() {}\n");
    let log = tmp.path().join("cargo.log");
    let shim = logging_cargo(tmp.path(), &log);
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    let out = native_build(&dir, &shim)
        .args(["-v", "--manifest-path"])
        .arg(link.join("Cargo.toml"))
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("building again"), "{err}");
    assert_eq!(runs(&log), ["build", "metadata", "metadata --no-deps"]);
}

/// When the build fails and the `cargo metadata` that would confirm the layout fails too
/// (it reads every platform's packages; offline, the build may not need them), the build's
/// failure is the one reported.
#[cfg(unix)]
#[test]
fn a_failed_build_is_reported_before_a_failed_confirmation() {
    let (tmp, dir) = tiny_crate("fn main() { let x: u8 = \"not a number\"; }\n");
    let log = tmp.path().join("cargo.log");
    let failing = "case \"$1 $2\" in 'metadata --format-version') echo 'error: no network' >&2; exit 101;; esac";
    let shim = shim(tmp.path(), &log, failing);
    let out = native_build(&dir, &shim).output().unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`cargo build` for linux/amd64 failed"),
        "{err}"
    );
}

/// The native builder makes its layer while cargo finishes (`-v` says so; with two binaries,
/// the first one's layer is stopped and the last one's made once cargo is done), and the
/// image is the same with `--builder auto` without docker, which makes it ahead only once
/// its probe chose the native builder. (That a layer made ahead is the layer the image step
/// makes itself: `build::native::tests`, `build::layer_ahead::tests`.)
#[test]
fn a_layer_made_while_cargo_finishes_gives_the_same_image() {
    let (tmp, dir) = tiny_crate("fn main() {}\n");
    std::fs::create_dir_all(dir.join("src/bin")).unwrap();
    std::fs::write(dir.join("src/bin/second.rs"), "fn main() {}\n").unwrap();
    let digest = |builder: &str, out: &str| {
        let out_dir = tmp.path().join(out);
        let run = without_docker(&mut build_cmd(&dir))
            .args(["--builder", builder, "-v", "--output-dir"])
            .arg(&out_dir)
            .output()
            .unwrap();
        let err = stderr_of(&run);
        assert!(run.status.success(), "{err}");
        let layer_line = err
            .lines()
            .find(|l| l.contains("Layer"))
            .unwrap_or("")
            .to_owned();
        (
            crate::support::image::image_index(&out_dir.join("oci"), "latest").0,
            layer_line,
        )
    };
    let (ahead, line) = digest("native", "native");
    assert!(line.contains("made while cargo finished"), "{line}");
    let (auto, _) = digest("auto", "auto");
    assert_eq!(ahead, auto);
}
