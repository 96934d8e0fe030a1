//! `build --builder native` needs no daemon and no network: it runs inside a network
//! namespace of its own (only a downed loopback, no route anywhere), with docker off PATH.
//! The crates are fetched first, outside the namespace, as a user would with `cargo fetch`.

use crate::support;

use std::process::Command;

#[test]
#[ignore = "needs root for `unshare --net` (scripts/test.sh runs it)"]
fn native_build_works_without_network_or_daemon() {
    let probe = Command::new("unshare").args(["--net", "true"]).status();
    assert!(
        probe.map(|s| s.success()).unwrap_or(false),
        "`unshare --net` is not available here (root and util-linux are needed)"
    );
    let (_tmp, dir) = support::example_repo("hello-service");
    support::run(
        Command::new("cargo")
            .current_dir(&dir)
            .args(["fetch", "--locked"]),
    );

    let bin = assert_cmd::cargo::cargo_bin("cargo-provenance");
    let path: String = std::env::split_paths(&std::env::var("PATH").unwrap_or_default())
        .filter(|d| !d.join("docker").exists())
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let out = Command::new("unshare")
        .arg("--net")
        .arg(&bin)
        .args([
            "provenance",
            "build",
            "--builder",
            "native",
            "--no-sign",
            "--image",
            "hello:v1",
        ])
        .current_dir(&dir)
        .env("PATH", path)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env_remove("BUILDKIT_HOST")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "build without network failed:\n{err}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("target/provenance/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["builder"]["kind"], "native", "{summary}");
    assert!(dir.join("target/provenance/oci/index.json").is_file());
    assert!(
        dir.join("target/provenance/provenance.intoto.json")
            .is_file()
    );
}
