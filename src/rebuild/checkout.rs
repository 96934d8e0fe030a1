//! The recorded commit, checked out with git2 into a temporary repository that borrows the
//! source repository's objects, as `git clone --shared` does: nothing is copied, and the
//! source repository is not written to. The temporary repository gets the source
//! repository's remotes, because the image's `org.opencontainers.image.source` label comes
//! from them (docs/inspect.md, "Source URL").
//!
//! libgit2 has no `--shared` clone (its local clone copies or hard-links every object, a
//! full copy when the temporary directory is on another file system), so the borrowing is
//! git's own one-line `objects/info/alternates` file, which libgit2 and git both read.

use std::path::{Path, PathBuf};

use git2::build::CheckoutBuilder;
use git2::{Oid, Repository};
use tempfile::TempDir;

use crate::error::{Error, Result};

/// The repository the recorded commit is taken from (`--source PATH`, default: the one
/// holding the current directory).
pub struct Origin {
    repo: Repository,
    top: PathBuf,
}

impl Origin {
    /// Opens the repository holding `dir`, as every git reader does
    /// ([`crate::inspect::git::open`]).
    pub fn open(dir: &Path) -> Result<Origin> {
        let repo = crate::inspect::git::open(dir).map_err(|e| {
            Error::msg(format!(
                "--rebuild: {} is not in a git repository ({}): run verify in the project's \
                 repository or pass --source PATH",
                dir.display(),
                e.message()
            ))
        })?;
        let top = repo.workdir().unwrap_or(repo.path());
        let top = top.canonicalize().unwrap_or_else(|_| top.to_path_buf());
        Ok(Origin { repo, top })
    }

    /// The repository's work tree (its git directory when bare), for messages.
    pub fn top(&self) -> &Path {
        &self.top
    }

    /// The commit with the full object id `id` (40 or 64 hex digits), when the repository
    /// has it. Anything else (a branch, `HEAD`, an abbreviated id) names no commit: the
    /// provenance records the exact one.
    pub fn commit(&self, id: &str) -> Option<Oid> {
        let full = matches!(id.len(), 40 | 64) && id.bytes().all(|b| b.is_ascii_hexdigit());
        if !full {
            return None;
        }
        let oid = Oid::from_str(id).ok()?;
        self.repo.find_commit(oid).ok().map(|c| c.id())
    }
}

/// A temporary directory holding the checkout (`src`) and the rebuild's output (`out`);
/// removed when dropped.
pub struct Checkout {
    pub(super) _tmp: TempDir,
    /// The checked-out work tree, HEAD detached at the commit.
    pub src: PathBuf,
    /// The rebuild's `--output-dir`.
    pub out: PathBuf,
}

impl Checkout {
    /// Checks `commit` of `origin` out into a new temporary directory.
    pub fn create(origin: &Origin, commit: Oid) -> Result<Checkout> {
        let tmp = tempfile::tempdir()
            .map_err(|e| Error::msg(format!("creating a temporary directory: {e}")))?;
        let src = tmp.path().join("src");
        let out = tmp.path().join("out");
        let failed = |what: &str, e: git2::Error| {
            Error::msg(format!(
                "{what} for the rebuild of commit {commit} in {}: {}",
                src.display(),
                e.message()
            ))
        };
        let repo = Repository::init(&src).map_err(|e| failed("creating a repository", e))?;
        borrow_objects(&repo, &origin.repo)?;
        // Opened again: the alternates are read when a repository is opened.
        let repo = Repository::open(&src).map_err(|e| failed("opening the repository", e))?;
        repo.set_head_detached(commit)
            .map_err(|e| failed("setting HEAD", e))?;
        repo.checkout_head(Some(CheckoutBuilder::new().force()))
            .map_err(|e| failed("checking the commit out", e))?;
        copy_remotes(&origin.repo, &repo).map_err(|e| failed("copying the remotes", e))?;
        Ok(Checkout {
            _tmp: tmp,
            src,
            out,
        })
    }
}

/// Lets `repo` read the objects of `from` (`objects/info/alternates`, as `git clone
/// --shared` writes it).
fn borrow_objects(repo: &Repository, from: &Repository) -> Result<()> {
    let objects = from.commondir().join("objects");
    let objects = objects.canonicalize().unwrap_or(objects);
    let info = repo.path().join("objects").join("info");
    let file = info.join("alternates");
    std::fs::create_dir_all(&info)
        .and_then(|()| std::fs::write(&file, format!("{}\n", objects.display())))
        .map_err(|e| Error::msg(format!("writing {}: {e}", file.display())))
}

/// Gives `to` every remote of `from` that has a URL, with that URL.
fn copy_remotes(from: &Repository, to: &Repository) -> std::result::Result<(), git2::Error> {
    let names = from.remotes()?;
    for name in names.iter().filter_map(|r| r.ok().flatten()) {
        let remote = from.find_remote(name)?;
        let url = String::from_utf8_lossy(remote.url_bytes()).into_owned();
        if !url.is_empty() {
            to.remote(name, &url)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository with two commits and two remotes; the first commit's id.
    fn origin(dir: &Path) -> Oid {
        let repo = Repository::init(dir).unwrap();
        let sig = git2::Signature::new("t", "t@example.com", &git2::Time::new(1, 0)).unwrap();
        let mut parent = None;
        let mut first = None;
        for text in ["one\n", "two\n"] {
            std::fs::write(dir.join("f.txt"), text).unwrap();
            let mut index = repo.index().unwrap();
            index.add_path(Path::new("f.txt")).unwrap();
            let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
            let parents: Vec<git2::Commit> = parent
                .iter()
                .map(|p| repo.find_commit(*p).unwrap())
                .collect();
            let refs: Vec<&git2::Commit> = parents.iter().collect();
            let id = repo
                .commit(Some("HEAD"), &sig, &sig, text, &tree, &refs)
                .unwrap();
            first.get_or_insert(id);
            parent = Some(id);
        }
        repo.remote("origin", "https://example.com/org/app.git")
            .unwrap();
        repo.remote("mirror", "git@example.com:org/app.git")
            .unwrap();
        first.unwrap()
    }

    #[test]
    fn checks_an_older_commit_out_with_the_remotes_and_leaves_the_origin_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let first = origin(tmp.path());
        let head_before = std::fs::read(tmp.path().join(".git/HEAD")).unwrap();
        // Found from a directory below the work tree, as git finds it.
        let sub = tmp.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let o = Origin::open(&sub).unwrap();
        assert_eq!(o.top(), tmp.path().canonicalize().unwrap());
        assert_eq!(o.commit(&first.to_string()), Some(first));
        let c = Checkout::create(&o, first).unwrap();
        assert_eq!(
            std::fs::read_to_string(c.src.join("f.txt")).unwrap(),
            "one\n"
        );
        let repo = Repository::open(&c.src).unwrap();
        assert!(repo.head_detached().unwrap());
        assert_eq!(
            crate::inspect::git::head_commit(&repo).unwrap().0,
            first.to_string()
        );
        let url = |n: &str| repo.find_remote(n).unwrap().url().unwrap().to_owned();
        assert_eq!(url("origin"), "https://example.com/org/app.git");
        assert_eq!(url("mirror"), "git@example.com:org/app.git");
        // Clean: the build records no dirty tree for a fresh checkout.
        let statuses = repo.statuses(None).unwrap();
        assert!(statuses.is_empty(), "{} changed paths", statuses.len());
        assert_eq!(
            std::fs::read(tmp.path().join(".git/HEAD")).unwrap(),
            head_before
        );
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("f.txt")).unwrap(),
            "two\n"
        );
    }

    #[test]
    fn an_unknown_commit_and_a_directory_outside_git_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let first = origin(tmp.path());
        let o = Origin::open(tmp.path()).unwrap();
        assert_eq!(o.commit(&"1".repeat(40)), None);
        assert_eq!(o.commit(&first.to_string()), Some(first));
        // Only a full commit id names a commit: never a ref or an abbreviation.
        for rev in ["HEAD", "HEAD~1", "master", "main", &first.to_string()[..12]] {
            assert_eq!(o.commit(rev), None, "{rev}");
        }
        let outside = tempfile::tempdir().unwrap();
        let e = Origin::open(outside.path()).err().unwrap().to_string();
        assert!(e.contains("not in a git repository"), "{e}");
        assert!(e.contains("--source PATH"), "{e}");
    }
}
