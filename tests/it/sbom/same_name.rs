//! Two packages of one name resolved for one package (renamed dependencies): each declaration
//! gets the package from where it declares it. Before, the first candidate in cargo's order
//! was taken when the sources did not compare equal (a git package's source ends in
//! `#<commit>`, a path dependency has none): a Windows-only path crate stood in for the git
//! crate built on Linux, and a build-only crate for the one linked in.

use std::path::Path;

use super::helpers::sbom_checked;
use crate::support::run;

fn write(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A library crate `foo` of `version` in `dir`.
fn foo(dir: &Path, version: &str) {
    write(
        dir,
        "Cargo.toml",
        &format!("[package]\nname = \"foo\"\nversion = \"{version}\"\nedition = \"2021\"\n"),
    );
    write(dir, "src/lib.rs", "");
}

/// `sbom -p app` of the workspace `dir` (with `deps` written in app's manifest): the
/// components as `(name, version, scope, purl)`, sorted.
fn components(dir: &Path, deps: &str) -> Vec<(String, String, String, String)> {
    write(
        dir,
        "Cargo.toml",
        &format!(
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [workspace]\n\n{deps}"
        ),
    );
    write(dir, "src/main.rs", "fn main() {}\n");
    write(dir, "build.rs", "fn main() {}\n");
    run(std::process::Command::new("cargo")
        .arg("generate-lockfile")
        .current_dir(dir));
    // A file:// git URL names a directory of this machine: allowed here.
    let (_, doc) = sbom_checked(dir, &["-p", "app"], false);
    let field = |c: &serde_json::Value, k: &str| c[k].as_str().unwrap_or_default().to_owned();
    let mut out: Vec<_> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let f = |k| field(c, k);
            (f("name"), f("version"), f("scope"), f("purl"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn path_dependencies_of_one_name_each_get_their_own_directory() {
    let tmp = tempfile::tempdir().unwrap();
    foo(&tmp.path().join("foo1"), "1.0.0");
    foo(&tmp.path().join("foo2"), "2.0.0");
    let got = components(
        &tmp.path().join("app"),
        "[dependencies]\nfoo = { path = \"../foo2\" }\n\n\
         [build-dependencies]\nfoo_old = { package = \"foo\", path = \"../foo1\" }\n",
    );
    let scopes: Vec<(&str, &str)> = got
        .iter()
        .filter(|c| c.0 == "foo")
        .map(|c| (c.1.as_str(), c.2.as_str()))
        .collect();
    assert_eq!(
        scopes,
        [("1.0.0", "excluded"), ("2.0.0", "required")],
        "{got:?}"
    );
}

#[test]
fn a_git_dependency_is_not_taken_for_a_path_crate_of_another_platform() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("foo-git");
    foo(&repo, "1.0.0");
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &["commit", "-qm", "foo"],
    ] {
        crate::support::git(&repo, args);
    }
    foo(&tmp.path().join("foo-windows"), "1.0.0");
    let url = format!("file://{}", repo.display());
    let got = components(
        &tmp.path().join("app"),
        &format!(
            "[dependencies]\nfoo = {{ git = \"{url}\" }}\n\n\
             [target.'cfg(windows)'.dependencies]\n\
             foo_w = {{ package = \"foo\", path = \"../foo-windows\" }}\n"
        ),
    );
    let foos: Vec<&(String, String, String, String)> =
        got.iter().filter(|c| c.0 == "foo").collect();
    assert_eq!(foos.len(), 1, "{got:?}");
    assert!(
        foos[0].3.contains("vcs_url=git"),
        "the git crate, not the Windows path crate: {got:?}"
    );
}
