//! The git state of the repository that holds the project, read with libgit2 (no `git`
//! program needed, nothing written: the index is not refreshed on disk). Outside a
//! repository, or before the first commit, there is no state and a warning says why.
//! The remote's URL leaves this module only as the source URL [`super::source_url`] chose:
//! canonical, without credentials, never a local path.

use std::path::{Path, PathBuf};

use git2::{ErrorCode, Repository, StatusOptions};

use super::model::GitState;
use super::source_url::{self, Chosen};
use super::toolchain::relative_to;
use crate::error::Result;
use crate::util::url::redact;

/// What the git probe found: the state (when there is one), the repository's work tree
/// (to express other paths relative to it; never serialised), and warnings.
#[derive(Debug, Default)]
pub struct GitProbe {
    /// The state, `None` outside git or without commits.
    pub state: Option<GitState>,
    /// The work tree root, when a repository was found.
    pub workdir: Option<PathBuf>,
    /// Why the state is missing or partial.
    pub warnings: Vec<String>,
}

/// Opens the repository holding `dir` like git does: searching upwards, stopping at
/// GIT_CEILING_DIRECTORIES. Every git reader (inspect, the build's facts, the SBOM) uses it,
/// so they agree on whether there is a repository.
pub fn open(dir: &Path) -> std::result::Result<Repository, git2::Error> {
    let ceilings: Vec<PathBuf> = std::env::var_os("GIT_CEILING_DIRECTORIES")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| p.is_absolute())
                .collect()
        })
        .unwrap_or_default();
    Repository::open_ext(dir, git2::RepositoryOpenFlags::empty(), &ceilings)
}

/// HEAD's commit id and committer time (seconds since the epoch), when HEAD names a commit.
/// The one reader of HEAD's commit: inspect, the build's facts and the advisory database's
/// age use it.
pub fn head_commit(repo: &Repository) -> Option<(String, i64)> {
    let commit = repo.head().ok()?.peel_to_commit().ok()?;
    Some((commit.id().to_string(), commit.committer().when().seconds()))
}

/// Reads the git state for the project in `dir`; `source_url` is `--source-url`. An error
/// only when the source URL cannot be chosen ([`source_url::choose`]).
pub fn probe(dir: &Path, source_url: Option<&str>) -> Result<GitProbe> {
    let mut out = GitProbe::default();
    let repo = match open(dir) {
        Ok(r) => r,
        Err(e) if e.code() == ErrorCode::NotFound => {
            out.warnings.push(
                "the project is not in a git repository: git state (commit, branch, remote) is \
                 absent; run `git init` and commit to record the source"
                    .to_owned(),
            );
            return Ok(out);
        }
        Err(e) => {
            out.warnings.push(format!(
                "cannot open the git repository of the project ({}): git state is absent",
                scrub(e.message(), dir)
            ));
            return Ok(out);
        }
    };
    let Some(workdir) = repo.workdir().map(Path::to_path_buf) else {
        out.warnings
            .push("the git repository is bare (no work tree): git state is absent".to_owned());
        return Ok(out);
    };
    out.workdir = Some(workdir.canonicalize().unwrap_or(workdir.clone()));
    let head = match repo.head() {
        Ok(h) => h,
        Err(e) if e.code() == ErrorCode::UnbornBranch || e.code() == ErrorCode::NotFound => {
            out.warnings.push(
                "the git repository has no commits yet: git state is absent; commit to record \
                 the source"
                    .to_owned(),
            );
            return Ok(out);
        }
        Err(e) => {
            out.warnings.push(format!(
                "cannot read git HEAD ({}): git state is absent",
                scrub(e.message(), &workdir)
            ));
            return Ok(out);
        }
    };
    let commit = match head.peel_to_commit() {
        Ok(c) => c,
        Err(e) => {
            out.warnings.push(format!(
                "git HEAD does not point to a commit ({}): git state is absent",
                scrub(e.message(), &workdir)
            ));
            return Ok(out);
        }
    };
    let detached = repo.head_detached().unwrap_or(!head.is_branch());
    let (branch, head_ref) = if detached || !head.is_branch() {
        (None, None)
    } else {
        (
            Some(String::from_utf8_lossy(head.shorthand_bytes()).into_owned()),
            Some(String::from_utf8_lossy(head.name_bytes()).into_owned()),
        )
    };
    let (dirty_paths, status_warning) = dirty_paths(&repo);
    out.warnings.extend(status_warning);
    let (remote_name, chosen) = remote(&repo, source_url)?;
    out.warnings.extend(chosen.warnings);
    let package_path = match relative_to(dir, &workdir).as_str() {
        "." => String::new(),
        p => p.to_owned(),
    };
    out.state = Some(GitState {
        commit: commit.id().to_string(),
        branch,
        detached,
        head_ref,
        tags: tags_at(&repo, commit.id()),
        dirty: !dirty_paths.is_empty(),
        dirty_paths,
        remote_url: chosen.url,
        remote_name,
        commit_time: commit.committer().when().seconds(),
        package_path,
    });
    Ok(out)
}

/// Tags (lightweight and annotated) whose target is `id`, sorted.
fn tags_at(repo: &Repository, id: git2::Oid) -> Vec<String> {
    let mut tags = Vec::new();
    if let Ok(refs) = repo.references_glob("refs/tags/*") {
        for r in refs.flatten() {
            let full = String::from_utf8_lossy(r.name_bytes()).into_owned();
            let Some(name) = full.strip_prefix("refs/tags/") else {
                continue;
            };
            if r.peel_to_commit().is_ok_and(|c| c.id() == id) {
                tags.push(name.to_owned());
            }
        }
    }
    tags.sort();
    tags
}

/// Changed tracked files and untracked files that are not ignored, relative to the work
/// tree, sorted; plus a warning when the status could not be read.
fn dirty_paths(repo: &Repository) -> (Vec<String>, Option<String>) {
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .include_unmodified(false)
        .exclude_submodules(false)
        .renames_head_to_index(false)
        .renames_index_to_workdir(false);
    match repo.statuses(Some(&mut opts)) {
        Ok(statuses) => {
            let mut paths: Vec<String> = statuses
                .iter()
                .filter(|s| {
                    let st = s.status();
                    !st.is_empty() && !st.contains(git2::Status::IGNORED)
                })
                .map(|s| String::from_utf8_lossy(s.path_bytes()).into_owned())
                .collect();
            paths.sort();
            paths.dedup();
            (paths, None)
        }
        Err(e) => (
            Vec::new(),
            Some(format!(
                "cannot read the git status ({}): the tree is reported clean",
                redact(e.message())
            )),
        ),
    }
}

/// The remote the source URL comes from (`origin`, else the first by name) and the source
/// URL chosen for the repository with it ([`source_url::choose_from_env`], `flag` being
/// `--source-url`). Every git reader (inspect, the build's facts, the SBOM) asks here.
pub fn remote(repo: &Repository, flag: Option<&str>) -> Result<(Option<String>, Chosen)> {
    let configured = configured_remote(repo);
    let chosen = source_url::choose_from_env(
        configured.as_ref().and_then(|(name, url)| {
            Some(source_url::Remote {
                name,
                url: url.as_deref()?,
            })
        }),
        flag,
    )?;
    Ok((configured.map(|(name, _)| name), chosen))
}

/// `origin`, else the first remote by name, with its URL as configured (credentials and
/// all: it goes nowhere but to [`source_url::choose`]).
fn configured_remote(repo: &Repository) -> Option<(String, Option<String>)> {
    let names: Vec<String> = repo
        .remotes()
        .ok()?
        .iter()
        .filter_map(|r| r.ok().flatten().map(str::to_owned))
        .collect();
    let name = if names.iter().any(|n| n == "origin") {
        "origin".to_owned()
    } else {
        names.iter().min()?.clone()
    };
    let url = repo
        .find_remote(&name)
        .ok()
        .map(|r| String::from_utf8_lossy(r.url_bytes()).into_owned());
    Some((name, url))
}

/// A libgit2 message without credentials and without this machine's path of `dir`.
fn scrub(message: &str, dir: &Path) -> String {
    let mut m = redact(message);
    for p in [dir.to_path_buf(), dir.canonicalize().unwrap_or_default()] {
        let s = p.to_string_lossy();
        if s.len() > 1 {
            m = m.replace(s.as_ref(), "<project>");
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_git_is_a_warning() {
        let tmp = tempfile::tempdir().unwrap();
        // A temp dir may itself sit inside a repository; then this cannot be asked, and the
        // test fails instead of passing.
        assert!(
            Repository::discover(tmp.path()).is_err(),
            "the temporary directory {} is inside a git repository: set TMPDIR elsewhere",
            tmp.path().display()
        );
        let p = probe(tmp.path(), None).unwrap();
        assert!(p.state.is_none());
        assert!(p.warnings[0].contains("not in a git repository"));
    }

    #[test]
    fn empty_repository_is_a_warning() {
        let tmp = tempfile::tempdir().unwrap();
        Repository::init(tmp.path()).unwrap();
        let p = probe(tmp.path(), None).unwrap();
        assert!(p.state.is_none());
        assert!(p.warnings[0].contains("no commits"), "{:?}", p.warnings);
        assert!(p.workdir.is_some());
    }

    #[test]
    fn scrub_removes_paths_and_credentials() {
        let m = scrub("at /tmp/xyz/p: https://u:pw@h/x", Path::new("/tmp/xyz/p"));
        assert_eq!(m, "at <project>: https://h/x");
    }
}
