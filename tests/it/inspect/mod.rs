//! `cargo provenance inspect` on fixtures made at run time: git states (credentials in the
//! remote, dirty tree, detached HEAD, tags, no commits, no git), a stale lockfile, a
//! missing manifest, toolchain fields against `rustc -vV`, cargo settings, the dependency
//! graph of the examples, and the corpus workspaces against their Cargo.lock.

mod cargo_exit;
mod corpus;
mod source_url;
use crate::support;

use std::path::Path;
use std::process::Command;

use corpus::{lock_packages, lock_source};
use serde_json::Value;
use support::{cargo_provenance, copy_example, example_repo, git};

/// Variables of the outer `cargo test` / CI run that would change what inspect reports.
const NOISY_ENV: [&str; 6] = [
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_INCREMENTAL",
    "RUSTC_WRAPPER",
];

fn inspect(dir: &Path, extra: &[&str]) -> assert_cmd::Command {
    let mut c = cargo_provenance();
    c.arg("inspect")
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .args(extra);
    for v in NOISY_ENV {
        c.env_remove(v);
    }
    c
}

/// Runs `inspect --format json` (plus `extra`), expects success; returns (json, stderr).
fn inspect_json(dir: &Path, extra: &[&str]) -> (Value, String) {
    let out = inspect(dir, &["--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        out.status.success(),
        "inspect failed ({}):\n{stderr}\n{stdout}",
        out.status
    );
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (v, stderr)
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn package<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["dependencies"]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("package {name} missing"))
}

#[test]
fn remote_credentials_never_appear() {
    let (_tmp, dir) = example_repo("hello-service");
    git(
        &dir,
        &[
            "remote",
            "set-url",
            "origin",
            "https://user:s3cr3t-token@github.com/x/y",
        ],
    );
    let (v, _) = inspect_json(&dir, &[]);
    assert_eq!(v["git"]["remote_url"], "https://github.com/x/y");
    assert_eq!(v["git"]["remote_name"], "origin");
    let variants: [&[&str]; 5] = [
        &["--format", "json"],
        &["--format", "json", "-v"],
        &["--format", "json", "-vv", "--message-format", "json"],
        &["--format", "human", "-v"],
        &["-vv"],
    ];
    for args in variants {
        let out = inspect(&dir, args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream);
            assert!(!text.contains("s3cr3t-token"), "{args:?} leaked: {text}");
            assert!(!text.contains("user:"), "{args:?} leaked userinfo: {text}");
        }
    }
    // With --message-format json the document is one line on stdout.
    let out = inspect(&dir, &["--format", "json", "--message-format", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["git"]["remote_url"], "https://github.com/x/y");
    // scp-style remotes are recorded in the canonical https form (tests/it/inspect/source_url.rs).
    git(
        &dir,
        &["remote", "set-url", "origin", "git@github.com:x/y.git"],
    );
    let (v, _) = inspect_json(&dir, &[]);
    assert_eq!(v["git"]["remote_url"], "https://github.com/x/y");
}

#[test]
fn clean_repository_state() {
    let (tmp, dir) = example_repo("hello-service");
    let (v, stderr) = inspect_json(&dir, &[]);
    let g = &v["git"];
    assert_eq!(g["commit"], git(&dir, &["rev-parse", "HEAD"]).trim());
    assert_eq!(g["branch"], "main");
    assert_eq!(g["head_ref"], "refs/heads/main");
    assert_eq!(g["detached"], false);
    assert_eq!(g["dirty"], false);
    assert_eq!(g["dirty_paths"], serde_json::json!([]));
    assert_eq!(g["tags"], serde_json::json!([]));
    assert_eq!(g["commit_time"], 1704164645);
    assert_eq!(g["package_path"], "");
    assert!(v.get("warnings").is_none(), "{v}");
    assert!(!stderr.contains("warning"), "{stderr}");
    // No absolute path of this machine in the output; and it is deterministic.
    let text = inspect(&dir, &["--format", "json"])
        .output()
        .unwrap()
        .stdout;
    let text = String::from_utf8(text).unwrap();
    assert!(!text.contains(tmp.path().to_str().unwrap()), "{text}");
    assert_eq!(text, serde_json::to_string_pretty(&v).unwrap() + "\n");
}

#[test]
fn dirty_tree_lists_changed_and_untracked_but_not_ignored() {
    let (_tmp, dir) = example_repo("workspace-app");
    std::fs::write(dir.join(".gitignore"), "ignored.txt\n/target\n").unwrap();
    git(&dir, &["add", ".gitignore"]);
    git(&dir, &["commit", "-q", "-m", "ignore"]);
    std::fs::write(dir.join("crates/app-core/src/lib.rs"), "// changed\n").unwrap();
    std::fs::write(dir.join("new.txt"), "new\n").unwrap();
    std::fs::create_dir_all(dir.join("crates/new-dir")).unwrap();
    std::fs::write(dir.join("crates/new-dir/inner.txt"), "x\n").unwrap();
    std::fs::write(dir.join("ignored.txt"), "ignored\n").unwrap();
    let (v, _) = inspect_json(&dir, &[]);
    let g = &v["git"];
    assert_eq!(g["dirty"], true);
    assert_eq!(
        strs(&g["dirty_paths"]),
        [
            "crates/app-core/src/lib.rs",
            "crates/new-dir/inner.txt",
            "new.txt"
        ]
    );
}

#[test]
fn detached_head() {
    let (_tmp, dir) = example_repo("hello-service");
    let first = git(&dir, &["rev-parse", "HEAD"]).trim().to_owned();
    git(&dir, &["commit", "-q", "--allow-empty", "-m", "second"]);
    git(&dir, &["checkout", "-q", "--detach", &first]);
    let (v, _) = inspect_json(&dir, &[]);
    let g = &v["git"];
    assert_eq!(g["commit"], first.as_str());
    assert_eq!(g["detached"], true);
    assert!(g.get("branch").is_none(), "{g}");
    assert!(g.get("head_ref").is_none(), "{g}");
    assert_eq!(g["dirty"], false);
}

#[test]
fn tags_at_head_lightweight_and_annotated() {
    let (_tmp, dir) = example_repo("hello-service");
    git(&dir, &["tag", "v0.0.1"]);
    git(&dir, &["commit", "-q", "--allow-empty", "-m", "release"]);
    git(&dir, &["tag", "v0.1.0"]);
    git(&dir, &["tag", "-a", "v0.1.0-annotated", "-m", "annotated"]);
    let (v, _) = inspect_json(&dir, &[]);
    assert_eq!(strs(&v["git"]["tags"]), ["v0.1.0", "v0.1.0-annotated"]);
}

#[test]
fn repository_without_commits_warns() {
    let (_tmp, dir) = copy_example("hello-service");
    git(&dir, &["init", "-q"]);
    let (v, stderr) = inspect_json(&dir, &[]);
    assert!(v.get("git").is_none(), "{v}");
    let warnings = strs(&v["warnings"]);
    assert!(warnings[0].contains("no commits"), "{warnings:?}");
    assert!(
        stderr.contains("warning: the git repository has no commits"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
}

#[test]
fn no_git_at_all_warns() {
    let (_tmp, dir) = copy_example("hello-service");
    // Keep libgit2 from walking up into a repository the temp dir may sit in.
    let out = inspect(&dir, &["--format", "json"])
        .env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap())
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(v.get("git").is_none(), "{v}");
    assert!(strs(&v["warnings"])[0].contains("not in a git repository"));
    assert!(
        stderr.contains("warning: the project is not in a git repository"),
        "{stderr}"
    );
    // The rest is still there.
    assert_eq!(v["cargo"]["packages"], serde_json::json!(["hello-service"]));
    assert!(!v["dependencies"]["packages"].as_array().unwrap().is_empty());
}

#[test]
fn stale_lockfile_is_exit_2_and_left_untouched() {
    let (_tmp, dir) = example_repo("hello-service");
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("itoa = \"1\"", "itoa = \"1\"\nfastrand = \"2\""),
    )
    .unwrap();
    let lock = dir.join("Cargo.lock");
    let before = std::fs::read(&lock).unwrap();
    let out = inspect(&dir, &["--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lockfile needs updating"), "{stderr}");
    assert!(stderr.contains("left untouched"), "{stderr}");
    assert!(!stderr.contains("panicked"));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read(&lock).unwrap(), before, "Cargo.lock changed");
    // A missing lockfile is not created either.
    std::fs::remove_file(&lock).unwrap();
    let out = inspect(&dir, &["--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!lock.exists(), "Cargo.lock was created");
}

#[test]
fn missing_manifest_is_exit_2_naming_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nowhere/Cargo.toml");
    let out = cargo_provenance()
        .args(["inspect", "--format", "json", "--manifest-path"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(missing.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn toolchain_matches_rustc_vv() {
    let (_tmp, dir) = example_repo("hello-service");
    let (v, _) = inspect_json(&dir, &[]);
    let vv = support::run(Command::new("rustc").arg("-vV").current_dir(&dir));
    let field = |k: &str| {
        vv.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}: ")))
            .unwrap()
            .to_owned()
    };
    let t = &v["toolchain"];
    assert_eq!(t["rustc_version_line"], vv.lines().next().unwrap());
    assert_eq!(t["rustc_release"], field("release"));
    assert_eq!(t["rustc_commit_hash"], field("commit-hash"));
    assert_eq!(t["rustc_commit_date"], field("commit-date"));
    assert_eq!(t["host"], field("host"));
    assert_eq!(t["llvm_version"], field("LLVM version"));
    assert_eq!(t["rustc"], "rustc");
    let cargo_v = support::run(Command::new("cargo").arg("-V").current_dir(&dir));
    assert_eq!(t["cargo_version"], cargo_v.trim());
    assert_eq!(v["cargo"]["target"], field("host"));
    assert_eq!(v["cargo"]["target_explicit"], false);
    assert!(t.get("rustc_wrapper").is_none());

    // RUSTC_WRAPPER: rustc runs through it, and only its name is reported.
    let wrapper = dir.join("wrap.sh");
    std::fs::write(&wrapper, "#!/bin/sh\nexec \"$@\"\n").unwrap();
    support::run(Command::new("chmod").arg("+x").arg(&wrapper));
    let out = inspect(&dir, &["--format", "json"])
        .env("RUSTC_WRAPPER", &wrapper)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["toolchain"]["rustc_wrapper"], "wrap.sh");
    assert_eq!(v["toolchain"]["rustc_release"], field("release"));
}

#[test]
fn rustup_toolchain_file_is_reported() {
    assert!(
        Command::new("rustup").arg("--version").output().is_ok(),
        "this test needs rustup (the toolchain source is rustup's)"
    );
    let (_tmp, dir) = example_repo("hello-service");
    let active = support::run(Command::new("rustup").args(["show", "active-toolchain"]));
    let name = active.split_whitespace().next().unwrap().to_owned();
    std::fs::write(
        dir.join("rust-toolchain.toml"),
        format!("[toolchain]\nchannel = \"{name}\"\n"),
    )
    .unwrap();
    let out = inspect(&dir, &["--format", "json"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTUP_TOOLCHAIN_SOURCE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["toolchain"]["rustup_toolchain"], name.as_str());
    assert_eq!(
        v["toolchain"]["rustup_toolchain_source"],
        "rust-toolchain file (rust-toolchain.toml)"
    );
    // Under rustup's cargo proxy, the environment says where the choice came from.
    let out = inspect(&dir, &["--format", "json"])
        .env("RUSTUP_TOOLCHAIN", &name)
        .env("RUSTUP_TOOLCHAIN_SOURCE", "env")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["toolchain"]["rustup_toolchain_source"],
        "environment (RUSTUP_TOOLCHAIN)"
    );
}

#[test]
fn rustflags_and_profile_follow_cargo_precedence() {
    let (_tmp, dir) = example_repo("hello-service");
    let (v, _) = inspect_json(&dir, &[]);
    let host = v["toolchain"]["host"].as_str().unwrap().to_owned();
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    std::fs::write(
        dir.join(".cargo/config.toml"),
        format!(
            "[build]\nrustflags = [\"--cfg=build_flag\"]\n\
             [target.{host}]\nrustflags = [\"--cfg=triple_flag\"]\n\
             [target.'cfg(all())']\nrustflags = [\"--cfg=cfg_flag\"]\n\
             [target.'cfg(any())']\nrustflags = [\"--cfg=never\"]\n\
             [profile.release]\ncodegen-units = 4\n"
        ),
    )
    .unwrap();
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        format!("{text}\n[profile.release]\nlto = \"thin\"\npanic = \"abort\"\ncodegen-units = 1\n[profile.dist]\ninherits = \"release\"\nstrip = true\n"),
    )
    .unwrap();
    let (v, _) = inspect_json(&dir, &[]);
    let c = &v["cargo"];
    assert_eq!(
        strs(&c["rustflags"]),
        ["--cfg=triple_flag", "--cfg=cfg_flag"]
    );
    let source = c["rustflags_source"].as_str().unwrap();
    assert!(
        source.contains(&format!("target.{host}.rustflags (.cargo/config.toml)")),
        "{source}"
    );
    let p = &c["profile"];
    assert_eq!(p["name"], "release");
    assert_eq!(p["lto"], "thin");
    assert_eq!(p["panic"], "abort");
    assert_eq!(p["codegen_units"], 4, "config beats Cargo.toml");
    assert_eq!(p["sources"]["codegen-units"], ".cargo/config.toml");
    assert_eq!(p["sources"]["lto"], "Cargo.toml");

    // Another target: its triple section does not apply, cfg(all()) still matches.
    let (v, _) = inspect_json(&dir, &["--target", "wasm32-unknown-unknown"]);
    assert_eq!(v["cargo"]["target"], "wasm32-unknown-unknown");
    assert_eq!(v["cargo"]["target_explicit"], true);
    assert_eq!(strs(&v["cargo"]["rustflags"]), ["--cfg=cfg_flag"]);
    // Without target sections, build.rustflags.
    let config = std::fs::read_to_string(dir.join(".cargo/config.toml")).unwrap();
    std::fs::write(
        dir.join(".cargo/config.toml"),
        config.split("[target").next().unwrap(),
    )
    .unwrap();
    let (v, _) = inspect_json(&dir, &[]);
    assert_eq!(strs(&v["cargo"]["rustflags"]), ["--cfg=build_flag"]);
    assert_eq!(
        v["cargo"]["rustflags_source"],
        "build.rustflags (.cargo/config.toml)"
    );
    std::fs::write(dir.join(".cargo/config.toml"), config).unwrap();

    // The environment wins: RUSTFLAGS, then CARGO_ENCODED_RUSTFLAGS over it.
    let (v, _) = {
        let out = inspect(&dir, &["--format", "json", "--profile", "dist"])
            .env("RUSTFLAGS", "-C  opt-level=2 ")
            .env("CARGO_PROFILE_DIST_LTO", "false")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (serde_json::from_slice::<Value>(&out.stdout).unwrap(), ())
    };
    assert_eq!(strs(&v["cargo"]["rustflags"]), ["-C", "opt-level=2"]);
    assert_eq!(v["cargo"]["rustflags_source"], "RUSTFLAGS");
    let p = &v["cargo"]["profile"];
    assert_eq!(
        (p["name"].as_str(), p["lto"].as_str()),
        (Some("dist"), Some("false"))
    );
    assert_eq!(p["strip"], "symbols");
    assert_eq!(p["panic"], "abort", "inherited from release");
    assert_eq!(p["sources"]["lto"], "environment (CARGO_PROFILE_DIST_LTO)");
    let out = inspect(&dir, &["--format", "json"])
        .env("RUSTFLAGS", "--cfg=ignored")
        .env("CARGO_ENCODED_RUSTFLAGS", "-Copt-level=1\x1f--cfg=enc")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        strs(&v["cargo"]["rustflags"]),
        ["-Copt-level=1", "--cfg=enc"]
    );
    // An unknown profile is exit 2.
    let out = inspect(&dir, &["--profile", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("profile `nope`"));
}

#[test]
fn workspace_graph_edges_kinds_features_and_checksums() {
    let (tmp, dir) = example_repo("workspace-app");
    let (v, _) = inspect_json(&dir, &[]);
    // Default selection of a virtual workspace: its default members.
    assert_eq!(strs(&v["cargo"]["packages"]), ["app-admin", "app-server"]);
    assert_eq!(
        strs(&v["dependencies"]["roots"]),
        [
            "app-admin@0.3.0+path:crates/app-admin",
            "app-server@0.3.0+path:crates/app-server"
        ]
    );
    let core = package(&v, "app-core");
    assert_eq!(
        core["source"],
        serde_json::json!({"kind": "path", "path": "crates/app-core"})
    );
    assert!(strs(&core["target_kinds"]).contains(&"custom-build".to_owned()));
    let edges = core["dependencies"].as_array().unwrap();
    let edge = |name: &str| edges.iter().find(|e| e["name"] == name).unwrap().clone();
    assert_eq!(
        edge("autocfg")["kinds"],
        serde_json::json!([{"kind": "build"}])
    );
    assert_eq!(
        edge("core_foundation_sys")["kinds"],
        serde_json::json!([{"kind": "normal", "target": "cfg(target_os = \"macos\")"}])
    );
    assert_eq!(
        strs(&package(&v, "app-macros")["target_kinds"]),
        ["proc-macro"]
    );
    let server = package(&v, "app-server");
    let fastrand = server["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "fastrand")
        .unwrap();
    assert_eq!(fastrand["kinds"], serde_json::json!([{"kind": "dev"}]));
    assert_eq!(
        fastrand["id"],
        format!(
            "fastrand@{}",
            package(&v, "fastrand")["version"].as_str().unwrap()
        )
    );
    // Optional feature off: serde_json is not resolved.
    assert!(
        !v["dependencies"]["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "serde_json")
    );
    // Checksums are the lockfile's.
    let lock = lock_packages(&dir.join("Cargo.lock"));
    for p in v["dependencies"]["packages"].as_array().unwrap() {
        let key = (
            p["name"].as_str().unwrap().to_owned(),
            p["version"].as_str().unwrap().to_owned(),
            lock_source(p),
        );
        let expected = lock
            .get(&key)
            .unwrap_or_else(|| panic!("{key:?} not in Cargo.lock"));
        assert_eq!(p["checksum"].as_str(), expected.as_deref(), "{key:?}");
        assert!(
            !p["id"]
                .as_str()
                .unwrap()
                .contains(tmp.path().to_str().unwrap())
        );
    }
    assert_eq!(package(&v, "itoa")["license"], "MIT OR Apache-2.0");

    // --features turns the optional dependency on; -p and --bin select.
    let (v, _) = inspect_json(&dir, &["--features", "app-server/json", "-p", "app-server"]);
    assert!(strs(&package(&v, "app-server")["features"]).contains(&"json".to_owned()));
    assert!(package(&v, "serde_json")["checksum"].is_string());
    assert_eq!(strs(&v["cargo"]["features"]), ["app-server/json"]);
    assert_eq!(strs(&v["cargo"]["packages"]), ["app-server"]);
    let (v, _) = inspect_json(&dir, &["--bin", "app-admin"]);
    assert_eq!(strs(&v["cargo"]["packages"]), ["app-admin"]);
    assert_eq!(
        v["cargo"]["binaries"],
        serde_json::json!([{"package": "app-admin", "name": "app-admin"}])
    );
    let (v, _) = inspect_json(&dir, &["--workspace", "--all-features"]);
    assert_eq!(strs(&v["cargo"]["packages"]).len(), 4);
    assert_eq!(
        v["dependencies"]["packages"].as_array().unwrap().len(),
        lock.len()
    );
    // A member's manifest selects that member; paths stay relative to the workspace.
    let (v, _) = inspect_json(&dir.join("crates/app-core"), &[]);
    assert_eq!(strs(&v["cargo"]["packages"]), ["app-core"]);
    assert_eq!(v["git"]["package_path"], "crates/app-core");
    assert_eq!(v["cargo"]["workspace_path"], "");
    // Unknown -p is exit 2 naming it.
    let out = inspect(&dir, &["-p", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`nope`"));
}

#[test]
fn human_report_has_every_section() {
    let (_tmp, dir) = example_repo("workspace-app");
    let out = inspect(&dir, &[]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "Toolchain",
        "Cargo",
        "Git",
        "Dependencies:",
        "opt-level=3",
        "app-server",
        "crates.io",
    ] {
        assert!(text.contains(needle), "{needle} missing in:\n{text}");
    }
}
