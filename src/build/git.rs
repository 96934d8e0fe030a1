//! The few git facts the image needs (commit, commit time, source URL), read with git2.
//! The inspect stage reads the full git state; this is the part the build needs before it,
//! with inspect's repository discovery and source URL choice ([`crate::inspect::git`]).

use std::path::Path;

use crate::error::Result;

/// HEAD's commit, its committer time and the repository's source URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitFacts {
    /// HEAD's commit id.
    pub commit: String,
    /// HEAD's committer time (seconds since the epoch).
    pub commit_time: i64,
    /// The canonical source URL ([`crate::inspect::source_url`]), when there is one.
    pub remote_url: Option<String>,
    /// The working tree's root on this machine (never written to outputs).
    pub workdir: Option<std::path::PathBuf>,
}

/// Reads the facts from the repository holding `dir` (`None` outside git or without
/// commits); `source_url` is `--source-url`. An error only when the source URL cannot be
/// chosen (see [`crate::inspect::source_url::choose`]).
pub fn facts(dir: &Path, source_url: Option<&str>) -> Result<Option<GitFacts>> {
    let Ok(repo) = crate::inspect::git::open(dir) else {
        return Ok(None);
    };
    let Some((commit, commit_time)) = crate::inspect::git::head_commit(&repo) else {
        return Ok(None);
    };
    let (_, chosen) = crate::inspect::git::remote(&repo, source_url)?;
    Ok(Some(GitFacts {
        workdir: repo.workdir().map(std::path::Path::to_path_buf),
        commit,
        commit_time,
        remote_url: chosen.url,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository in `dir` with one commit and `origin` = `remote`: the commit id.
    fn repository_with_a_commit(dir: &Path, remote: &str) -> String {
        let repo = git2::Repository::init(dir).unwrap();
        std::fs::write(dir.join("f"), "x").unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("f")).unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let who =
            git2::Signature::new("t", "t@example.com", &git2::Time::new(1_704_164_645, 0)).unwrap();
        let id = repo
            .commit(Some("HEAD"), &who, &who, "one", &tree, &[])
            .unwrap();
        repo.remote("origin", remote).unwrap();
        id.to_string()
    }

    #[test]
    fn facts_of_a_repository_and_of_none() {
        let tmp = tempfile::tempdir().unwrap();
        let (repo_dir, plain) = (tmp.path().join("repo"), tmp.path().join("plain"));
        std::fs::create_dir_all(&repo_dir).unwrap();
        std::fs::create_dir_all(&plain).unwrap();
        let commit = repository_with_a_commit(&repo_dir, "git@github.com:o/r.git");
        // --source-url, so that a CI run's own repository URL does not take part (the remote's
        // canonical form is tested in inspect::source_url and tests/it/inspect/source_url.rs).
        let f = facts(&repo_dir, Some("https://example.com/x/y.git"))
            .unwrap()
            .expect("a repository with a commit");
        assert_eq!(f.commit, commit);
        assert_eq!(f.commit_time, 1_704_164_645);
        assert_eq!(f.remote_url.as_deref(), Some("https://example.com/x/y"));
        // Beside the repository, not inside it: no facts. Only when nothing above the
        // temporary directory is a repository can this be asked; a test that cannot ask
        // fails instead of passing.
        assert!(
            git2::Repository::discover(&plain).is_err(),
            "the temporary directory {} is inside a git repository: set TMPDIR elsewhere",
            plain.display()
        );
        assert_eq!(facts(&plain, None).unwrap(), None);
    }
}
