//! The few git facts the image needs (commit, commit time, remote URL), read with git2.
//! The inspect stage reads the full git state; this is the part the build needs before it,
//! with inspect's repository discovery and remote choice ([`crate::inspect::git`]).

use std::path::Path;

/// HEAD's commit, its committer time and the remote URL without credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitFacts {
    /// HEAD's commit id.
    pub commit: String,
    /// HEAD's committer time (seconds since the epoch).
    pub commit_time: i64,
    /// `origin`'s URL (else the first remote's), userinfo removed.
    pub remote_url: Option<String>,
    /// The working tree's root on this machine (never written to outputs).
    pub workdir: Option<std::path::PathBuf>,
}

/// Reads the facts from the repository holding `dir`; `None` outside git or without commits.
pub fn facts(dir: &Path) -> Option<GitFacts> {
    let repo = crate::inspect::git::open(dir).ok()?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?;
    let (_, remote_url) = crate::inspect::git::remote(&repo);
    Some(GitFacts {
        workdir: repo.workdir().map(std::path::Path::to_path_buf),
        commit: commit.id().to_string(),
        commit_time: commit.committer().when().seconds(),
        remote_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_repository_is_none() {
        let d = tempfile::tempdir().unwrap();
        assert!(facts(d.path()).is_none() || std::env::var_os("GIT_DIR").is_some());
    }
}
