//! The source URL `inspect` records (`git.remote_url`), one canonical form per repository
//! (docs/inspect.md, "Source URL"): every spelling of a remote gives the same URL, a local-path
//! remote gives none (with a warning and without its path), the CI platform's URL wins and must
//! name the remote's repository, and `--source-url` overrides all.

use serde_json::Value;

use super::{inspect, inspect_json, strs, support};
use support::{example_repo, git};

const URL: &str = "https://github.com/example/app";

#[test]
fn every_spelling_of_the_remote_records_one_url() {
    let (_tmp, dir) = example_repo("hello-service");
    for spelling in [
        "https://github.com/example/app.git",
        "git@github.com:example/app.git",
        "ssh://git@github.com:22/example/app",
        "https://x-access-token:s3cr3t@github.com/example/app/",
    ] {
        git(&dir, &["remote", "set-url", "origin", spelling]);
        let (v, stderr) = inspect_json(&dir, &[]);
        assert_eq!(v["git"]["remote_url"], URL, "{spelling}");
        assert_eq!(v["git"]["remote_name"], "origin");
        assert!(!stderr.contains("s3cr3t"), "{stderr}");
    }
}

#[test]
fn a_local_path_remote_is_left_out_with_a_warning() {
    let (tmp, dir) = example_repo("hello-service");
    let local = tmp.path().join("somewhere/app.git");
    for remote in [
        local.display().to_string(),
        format!("file://{}", local.display()),
    ] {
        git(&dir, &["remote", "set-url", "origin", &remote]);
        let (v, stderr) = inspect_json(&dir, &[]);
        assert!(v["git"].get("remote_url").is_none(), "{v}");
        assert_eq!(v["git"]["remote_name"], "origin");
        let warnings = strs(&v["warnings"]);
        assert!(
            warnings.iter().any(|w| w.contains("local path")),
            "{warnings:?}"
        );
        assert!(stderr.contains("--source-url"), "{stderr}");
        let path = tmp.path().display().to_string();
        assert!(!v.to_string().contains(&path) && !stderr.contains(&path));
        // `sbom` says it once too, and records no path either.
        let out = support::cargo_provenance()
            .current_dir(&dir)
            .arg("sbom")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(err.matches("is a local path").count(), 1, "{err}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains(&path) && !err.contains(&path));
    }
    let (v, stderr) = inspect_json(&dir, &["--source-url", "git@github.com:example/app.git"]);
    assert_eq!(v["git"]["remote_url"], URL);
    assert!(!stderr.contains("local path"), "{stderr}");
}

#[test]
fn the_ci_repository_wins_and_must_agree_with_the_remote() {
    let (tmp, dir) = example_repo("hello-service");
    let github = |cmd: &mut assert_cmd::Command| {
        cmd.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_REPOSITORY", "example/app");
    };
    let json = |extra: &[&str]| -> (Option<i32>, Value, String) {
        let mut cmd = inspect(&dir, &["--format", "json"]);
        cmd.args(extra);
        github(&mut cmd);
        let out = cmd.output().unwrap();
        let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), v, err)
    };
    // A local mirror in CI: the platform's URL.
    let mirror = tmp.path().join("mirror");
    git(
        &dir,
        &["remote", "set-url", "origin", &mirror.display().to_string()],
    );
    let (code, v, err) = json(&[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["git"]["remote_url"], URL);
    // The same repository spelled otherwise agrees.
    git(
        &dir,
        &[
            "remote",
            "set-url",
            "origin",
            "git@github.com:example/app.git",
        ],
    );
    assert_eq!(json(&[]).1["git"]["remote_url"], URL);
    // Another repository: exit 2, both named, and what to do.
    git(
        &dir,
        &[
            "remote",
            "set-url",
            "origin",
            "https://github.com/other/fork",
        ],
    );
    let (code, _, err) = json(&[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("https://github.com/other/fork") && err.contains(URL),
        "{err}"
    );
    assert!(err.contains("--source-url"), "{err}");
    // --source-url decides.
    let (code, v, err) = json(&["--source-url", "https://github.com/other/fork.git"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["git"]["remote_url"], "https://github.com/other/fork");
    // A --source-url that is not a URL is refused.
    let (code, _, err) = json(&["--source-url", "../app"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--source-url `../app` is not a URL"), "{err}");
}
