//! `cargo provenance build` with the real peers (dockerd 26 + buildx from
//! ../shared/tools/setup-peers.sh): images run with `docker run`, BuildKit builds are
//! reproducible, attestation manifests are taken out of the index, and our platform
//! manifests equal the ones BuildKit produces when run by hand.

mod spellings;

use crate::support;
use crate::support::image as image_common;

use std::path::Path;
use std::process::Command;

use image_common::*;
use serde_json::Value;
use support::Peers;

/// Copies `<layout>:<tag>` to the local registry with oras (1.2 and 1.3, each to its own
/// repository) and runs each copy with docker on `platform`; returns stdout, the same for
/// both.
fn run_in_docker(peers: &Peers, layout: &Path, tag: &str, platform: &str) -> String {
    let mut outputs = Vec::new();
    for tier in peers.tiers() {
        let repo = peers.unique_repo("image-run");
        let reference = format!("{repo}:{tag}");
        support::run(tier.oras().args([
            "cp",
            "--to-plain-http",
            "--from-oci-layout",
            &format!("{}:{tag}", layout.display()),
            &reference,
        ]));
        let out = support::run(peers.cmd("docker").args([
            "run",
            "--rm",
            "--pull",
            "always",
            "--platform",
            platform,
            &reference,
        ]));
        let _ = peers.cmd("docker").args(["rmi", &reference]).output();
        outputs.push((tier.name(), out.trim().to_owned()));
    }
    assert_eq!(outputs[0].1, outputs[1].1, "{outputs:?}");
    outputs.remove(0).1
}

fn peer_build(peers: &Peers, dir: &Path) -> assert_cmd::Command {
    let mut c = build_cmd(dir);
    c.envs(peers.envs());
    c
}

/// docker buildx: the image runs on both platforms, two builds of the same commit in
/// different directories (own target directories, so every dependency is compiled in each)
/// give the same binary, manifest and index digests, the final index holds no
/// `unknown/unknown` attestation manifest (BuildKit's statements are kept aside), and each
/// platform manifest equals the one `docker buildx build` run by hand produces.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn buildx_image_runs_is_reproducible_and_matches_buildkit() {
    let peers = Peers::get();
    peers.require_docker();
    let mut summaries = Vec::new();
    let mut keep = Vec::new();
    for _ in 0..2 {
        let (tmp, dir) = support::example_repo("hello-service");
        let out = peer_build(&peers, &dir)
            .env_remove("CARGO_TARGET_DIR")
            .args([
                "--builder",
                "auto",
                "--platform",
                "linux/amd64,linux/amd64/v3",
                "--image",
                "hello-service:bk",
                "--output-dir",
            ])
            .arg(tmp.path().join("out"))
            .output()
            .unwrap();
        assert!(out.status.success(), "build failed:\n{}", stderr_of(&out));
        let summary = read_json(&tmp.path().join("out/summary.json"));
        assert_eq!(
            summary["builder"]["kind"], "buildx",
            "auto picks BuildKit: {summary}"
        );
        // Each build compiled its dependencies in its own target directory (one per
        // platform: amd64/v3 has its own target-cpu).
        for deps in [
            "target/x86_64-unknown-linux-gnu/release/deps",
            "target/provenance-builds/linux-amd64-v3/x86_64-unknown-linux-gnu/release/deps",
        ] {
            let deps = dir.join(deps);
            let compiled = std::fs::read_dir(&deps)
                .unwrap_or_else(|e| panic!("reading {}: {e}", deps.display()))
                .any(|e| {
                    let name = e.unwrap().file_name();
                    let name = name.to_string_lossy();
                    name.starts_with("libserde_json-") && name.ends_with(".rlib")
                });
            assert!(compiled, "serde_json compiled in {}", deps.display());
        }
        summaries.push(summary);
        keep.push(tmp);
    }
    assert_eq!(
        summaries[0]["platforms"], summaries[1]["platforms"],
        "same binaries and platform manifests in both directories"
    );
    assert_eq!(
        summaries[0]["index_digest"], summaries[1]["index_digest"],
        "same index digest in both directories"
    );
    let summary = &summaries[0];
    let outdir = keep[0].path().join("out");
    let layout = outdir.join("oci");
    let (_, index) = image_index(&layout, "bk");
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 2);
    for m in manifests {
        assert_ne!(
            m["platform"]["os"], "unknown",
            "no attestation manifest in the index: {index}"
        );
        assert!(m["annotations"].get("vnd.docker.reference.type").is_none());
    }
    let statements = summary["buildkit_attestations"].as_array().unwrap();
    assert_eq!(
        statements.len(),
        2,
        "one BuildKit statement per platform: {summary}"
    );

    // docker buildx by hand, same Dockerfile, binaries, labels and epoch.
    let config = {
        let m = blob_json(&layout, manifests[0]["digest"].as_str().unwrap());
        blob_json(&layout, m["config"]["digest"].as_str().unwrap())
    };
    let hand = keep[0].path().join("by-hand");
    std::fs::create_dir_all(&hand).unwrap();
    let template =
        std::fs::read_to_string(support::repo_root().join("templates/Dockerfile.scratch")).unwrap();
    std::fs::write(
        hand.join("Dockerfile"),
        template.replace(
            "{{ENTRYPOINT}}",
            r#"ENTRYPOINT ["/usr/local/bin/hello-service"]"#,
        ),
    )
    .unwrap();
    let mut cmd = peers.cmd("docker");
    cmd.args([
        "buildx",
        "build",
        "--platform",
        "linux/amd64,linux/amd64/v3",
        "--build-context",
    ])
    .arg(format!("bins={}", outdir.join("bin").display()))
    .args([
        "--build-arg",
        "SOURCE_DATE_EPOCH=1704164645",
        "--provenance",
        "mode=max",
    ]);
    for (k, v) in config["config"]["Labels"].as_object().unwrap() {
        cmd.args(["--label", &format!("{k}={}", v.as_str().unwrap())]);
    }
    cmd.arg("--output")
        .arg(format!(
            "type=oci,dest={},tar=false,rewrite-timestamp=true",
            hand.join("oci").display()
        ))
        .arg(&hand);
    support::run(&mut cmd);
    let top = read_json(&hand.join("oci/index.json"));
    let bk_index = blob_json(
        &hand.join("oci"),
        top["manifests"][0]["digest"].as_str().unwrap(),
    );
    let bk: Vec<(String, String)> = bk_index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["platform"]["os"] != "unknown")
        .map(|m| {
            let p = &m["platform"];
            let mut name = format!("linux/{}", p["architecture"].as_str().unwrap());
            if let Some(v) = p["variant"].as_str() {
                name.push('/');
                name.push_str(v);
            }
            (name, m["digest"].as_str().unwrap().to_owned())
        })
        .collect();
    for p in summary["platforms"].as_array().unwrap() {
        let ours = (
            p["platform"].as_str().unwrap().to_owned(),
            p["manifest_digest"].as_str().unwrap().to_owned(),
        );
        assert!(bk.contains(&ours), "{ours:?} not among BuildKit's {bk:?}");
    }

    // The image runs on both platforms.
    assert_eq!(
        run_in_docker(&peers, &layout, "bk", "linux/amd64"),
        HELLO_OUTPUT
    );
    assert_eq!(
        run_in_docker(&peers, &layout, "bk", "linux/amd64/v3"),
        HELLO_OUTPUT
    );
}

/// Layers compressed with zstd (`tar+zstd`) and uncompressed (`tar`) pull and run under the
/// test dockerd, as gzip ones do.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn zstd_and_uncompressed_layers_run_in_docker() {
    let peers = Peers::get();
    peers.require_docker();
    let (tmp, dir) = support::example_repo("hello-service");
    let target = support::example_target_dir();
    for how in ["zstd", "none"] {
        let out_dir = tmp.path().join(how);
        let out = build_cmd(&dir)
            .env("CARGO_TARGET_DIR", &target)
            .args(["--builder", "native", "--compression", how, "--output-dir"])
            .arg(&out_dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let (_, index) = image_index(&out_dir.join("oci"), "latest");
        let manifest = blob_json(
            &out_dir.join("oci"),
            index["manifests"][0]["digest"].as_str().unwrap(),
        );
        let media_type = manifest["layers"][0]["mediaType"].as_str().unwrap();
        assert!(media_type.ends_with(if how == "zstd" { "tar+zstd" } else { ".tar" }));
        assert_eq!(
            run_in_docker(&peers, &out_dir.join("oci"), "latest", "linux/amd64"),
            HELLO_OUTPUT,
            "{how}"
        );
    }
}

/// The native builder's images run in docker: static binaries on scratch for linux/amd64 and
/// linux/amd64/v3 in one index, and a dynamically
/// linked one on `local/cc:bookworm` read from an OCI layout (`docker save`). BuildKit builds
/// on the same base, named or as that layout, also run, with the base digest recorded.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn images_run_in_docker_on_scratch_and_on_a_base() {
    let peers = Peers::get();
    peers.require_docker();
    let (tmp, dir) = support::example_repo("hello-service");
    let target = support::example_target_dir();

    let scratch = tmp.path().join("scratch");
    let out = build_cmd(&dir)
        .env("CARGO_TARGET_DIR", &target)
        .args([
            "--builder",
            "native",
            "--platform",
            "linux/amd64,linux/amd64/v3",
            "--output-dir",
        ])
        .arg(&scratch)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (_, index) = image_index(&scratch.join("oci"), "latest");
    let variants: Vec<&Value> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["platform"]["variant"])
        .collect();
    assert_eq!(variants, [&Value::Null, &Value::from("v3")], "{index}");
    for platform in ["linux/amd64", "linux/amd64/v3"] {
        assert_eq!(
            run_in_docker(&peers, &scratch.join("oci"), "latest", platform),
            HELLO_OUTPUT
        );
    }

    // local/cc:bookworm as an OCI layout.
    let saved = tmp.path().join("cc.tar");
    support::run(
        peers
            .cmd("docker")
            .args(["save", "-o"])
            .arg(&saved)
            .arg("local/cc:bookworm"),
    );
    let cc = tmp.path().join("cc-layout");
    std::fs::create_dir_all(&cc).unwrap();
    support::run(
        Command::new("tar")
            .arg("-xf")
            .arg(&saved)
            .arg("-C")
            .arg(&cc),
    );
    let on_cc = tmp.path().join("on-cc");
    let out = build_cmd(&dir)
        .env("CARGO_TARGET_DIR", &target)
        .args(["--builder", "native", "--base"])
        .arg(format!("oci:{}:bookworm", cc.display()))
        .arg("--output-dir")
        .arg(&on_cc)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let summary = read_json(&on_cc.join("summary.json"));
    let text = std::fs::read_to_string(on_cc.join("summary.json")).unwrap();
    assert!(
        !text.contains(&tmp.path().display().to_string()),
        "no machine path in {text}"
    );
    assert_eq!(summary["base_image"]["reference"], "oci:cc-layout:bookworm");
    assert!(
        summary["base_image"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let (_, index) = image_index(&on_cc.join("oci"), "latest");
    let manifest = blob_json(
        &on_cc.join("oci"),
        index["manifests"][0]["digest"].as_str().unwrap(),
    );
    assert!(
        manifest["layers"].as_array().unwrap().len() >= 2,
        "base layers + ours: {manifest}"
    );
    assert_eq!(
        run_in_docker(&peers, &on_cc.join("oci"), "latest", "linux/amd64"),
        HELLO_OUTPUT
    );

    // BuildKit on the same bases: the daemon's image by name, and the OCI layout (a named
    // context pinned by digest). Both record the base's digest.
    for (base, name) in [
        ("local/cc:bookworm".to_owned(), "bk-daemon-base"),
        (format!("oci:{}:bookworm", cc.display()), "bk-layout-base"),
    ] {
        let out_dir = tmp.path().join(name);
        let out = peer_build(&peers, &dir)
            .env("CARGO_TARGET_DIR", &target)
            .args(["--builder", "buildx", "--base", &base, "--output-dir"])
            .arg(&out_dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{base}: {}", stderr_of(&out));
        let summary = read_json(&out_dir.join("summary.json"));
        assert_eq!(summary["dockerfile"]["path"], "<builtin>/Dockerfile.base");
        let digest = summary["base_image"]["digest"].as_str().unwrap_or_default();
        assert!(
            digest.starts_with("sha256:"),
            "{base}: base digest recorded: {summary}"
        );
        assert_eq!(
            run_in_docker(&peers, &out_dir.join("oci"), "latest", "linux/amd64"),
            HELLO_OUTPUT
        );
    }
    // The native builder pulls a registry base through our registry client.
    // (oras 1.2 and 1.3 each copy it; the build takes the last copy.)
    let mut repo = String::new();
    for tier in peers.tiers() {
        repo = peers.unique_repo("image-base");
        support::run(
            tier.oras()
                .args(["cp", "--to-plain-http", "--from-oci-layout"])
                .arg(format!("{}:bookworm", cc.display()))
                .arg(format!("{repo}:bookworm")),
        );
    }
    let from_registry = tmp.path().join("native-registry-base");
    let out = build_cmd(&dir)
        .env("CARGO_TARGET_DIR", &target)
        .args([
            "--builder",
            "native",
            "--base",
            &format!("{repo}:bookworm"),
            "--output-dir",
        ])
        .arg(&from_registry)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let summary = read_json(&from_registry.join("summary.json"));
    assert_eq!(
        summary["base_image"]["reference"],
        format!("{repo}:bookworm").as_str()
    );
    assert!(
        summary["base_image"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(
        run_in_docker(&peers, &from_registry.join("oci"), "latest", "linux/amd64"),
        HELLO_OUTPUT
    );

    // A registry base that does not exist: exit 2 naming it.
    let out = build_cmd(&dir)
        .args(["--builder", "native", "--base", &format!("{repo}:missing")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("base image {repo}:missing not found")),
        "{err}"
    );
}

/// BuildKit's own errors reach the user: a Dockerfile mistake and a missing base image exit
/// 2 with BuildKit's message; a bogus DOCKER_HOST is named.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn buildkit_errors_show_buildkits_message() {
    let peers = Peers::get();
    peers.require_docker();
    let (tmp, dir) = tiny_crate("fn main() { println!(\"tiny\"); }\n");

    let dockerfile = tmp.path().join("Dockerfile.bad");
    std::fs::write(
        &dockerfile,
        "FROMM scratch\nCOPY --from=bins linux/amd64/ /usr/local/bin/\n",
    )
    .unwrap();
    let out = peer_build(&peers, &dir)
        .args(["--builder", "buildx", "--dockerfile"])
        .arg(&dockerfile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("BuildKit said") && err.contains("unknown instruction"),
        "{err}"
    );

    let out = peer_build(&peers, &dir)
        .args(["--builder", "buildx", "--base", "local/does-not-exist:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("BuildKit said") && err.contains("local/does-not-exist"),
        "{err}"
    );

    let out = peer_build(&peers, &dir)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["--builder", "buildx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("BuildKit is not reachable") && err.contains("DOCKER_HOST"),
        "{err}"
    );
    assert!(err.contains("--builder native"), "{err}");
}

/// `--buildx-builder NAME` selects a builder that is not the default one: a docker context
/// `second` (pointing at the peers' daemon, chosen with DOCKER_CONTEXT, DOCKER_HOST unset, in a
/// DOCKER_CONFIG of its own) whose builder is named `second`. It builds through the buildx
/// plugin run directly (found in that DOCKER_CONFIG's `cli-plugins`) and through `docker
/// buildx` (`CARGO_PROVENANCE_BUILDX=docker`), with the same index digest and the builder
/// recorded; an unknown builder is exit 2 naming it and the variables.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn buildx_builder_flag_selects_a_named_builder_both_ways() {
    let peers = Peers::get();
    peers.require_docker();
    let (tmp, dir) = support::example_repo("hello-service");
    let config = tmp.path().join("dockercfg");
    std::fs::create_dir_all(&config).unwrap();
    std::os::unix::fs::symlink(
        peers.docker_config.join("cli-plugins"),
        config.join("cli-plugins"),
    )
    .unwrap();
    support::run(
        peers
            .cmd("docker")
            .env("DOCKER_CONFIG", &config)
            .args(["context", "create", "second", "--docker"])
            .arg(format!("host={}", peers.docker_host)),
    );
    let build = |how: &str, builder: &str| {
        let mut c = peer_build(&peers, &dir);
        c.env_remove("DOCKER_HOST")
            .env("DOCKER_CONFIG", &config)
            .env("DOCKER_CONTEXT", "second")
            .env("CARGO_PROVENANCE_BUILDX", how)
            .args(["--builder", "buildx", "--buildx-builder", builder])
            .arg("--output-dir")
            .arg(tmp.path().join(format!("out-{how}")));
        c.output().unwrap()
    };
    let mut indexes = Vec::new();
    for how in ["plugin", "docker"] {
        let out = build(how, "second");
        assert!(out.status.success(), "{how}: {}", stderr_of(&out));
        let summary = read_json(&tmp.path().join(format!("out-{how}/summary.json")));
        assert_eq!(summary["builder"]["kind"], "buildx", "{summary}");
        assert_eq!(summary["builder"]["details"]["name"], "second", "{summary}");
        assert_eq!(
            summary["builder"]["details"]["driver"], "docker",
            "{summary}"
        );
        indexes.push(summary["index_digest"].clone());
    }
    assert!(indexes[0].is_string(), "{indexes:?}");
    assert_eq!(indexes[0], indexes[1]);

    let out = build("plugin", "no-such-builder");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(err.contains("BuildKit is not reachable"), "{err}");
    assert!(err.contains("no-such-builder"), "{err}");
    assert!(
        err.contains("DOCKER_HOST") && err.contains("--builder native"),
        "{err}"
    );
}
