//! The few git facts the image needs (commit, commit time, remote URL), read with git2.
//! The inspect stage reads the full git state; this is the part the build needs before it,
//! with the same credential stripping ([`crate::inspect::urls::strip_userinfo`]).

use std::path::Path;

use crate::inspect::urls::strip_userinfo;

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
    let repo = git2::Repository::discover(dir).ok()?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?;
    let remote_name = match repo.find_remote("origin") {
        Ok(_) => Some("origin".to_owned()),
        Err(_) => repo.remotes().ok().and_then(|r| {
            r.iter()
                .flatten()
                .flatten()
                .next()
                .map(|s: &str| s.to_owned())
        }),
    };
    let remote_url = remote_name.and_then(|n| {
        repo.find_remote(&n)
            .ok()
            .and_then(|r| r.url().ok().map(strip_userinfo))
    });
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
