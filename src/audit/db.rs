//! The RustSec advisory database: where it is, reading it, and how old it is.
//!
//! The advisory files are parsed by the `rustsec` crate ([`rustsec::Advisory::load_file`]:
//! the TOML front matter, version ranges, CVSS vectors, `affected.os/arch`). Walking the
//! directory, naming the file at fault, the database's date and the staleness warning are
//! ours. `rustsec` is built without its `git` feature, so fetching is done with the `git`
//! program, and only to clone a missing default database (docs/audit.md, "The database").

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use rustsec::Advisory;
use serde::Serialize;

use crate::error::{Error, Result};

/// The upstream advisory database (what cargo-audit clones).
pub const UPSTREAM: &str = "https://github.com/rustsec/advisory-db.git";
/// A database older than this (in days) gives a warning.
pub const STALE_AFTER_DAYS: i64 = 7;

/// Where the database comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// `--advisory-db DIR`: used as it is, never fetched.
    Dir(PathBuf),
    /// cargo-audit's cache (`$CARGO_HOME/advisory-db`): cloned when missing, unless offline.
    Default,
}

/// How the database's date was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DateSource {
    /// The committer date of the git repository's `HEAD`.
    GitCommit,
    /// The newest `date` among the advisories (a plain copy without git).
    NewestAdvisory,
}

/// What the report and the scan attestation say about the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbInfo {
    /// The directory read.
    #[serde(skip)]
    pub path: PathBuf,
    /// Where the upstream of this database is ([`UPSTREAM`]).
    pub uri: String,
    /// `HEAD`'s commit id for a git database, else `snapshot-YYYY-MM-DD`.
    pub version: String,
    /// The database's date (`YYYY-MM-DD`).
    pub date: String,
    /// How [`DbInfo::date`] was found.
    pub date_source: DateSource,
    /// How many advisories were read (withdrawn ones included).
    pub advisories: usize,
}

/// A loaded database.
#[derive(Debug)]
pub struct Database {
    /// About it.
    pub info: DbInfo,
    /// The advisories of the `crates/` collection, sorted by id.
    pub advisories: Vec<Advisory>,
}

/// `$CARGO_HOME/advisory-db` (cargo-audit's cache).
pub fn default_path() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os("CARGO_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h).join("advisory-db"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            Error::msg(
                "neither CARGO_HOME nor HOME is set: give the database with --advisory-db DIR",
            )
        })?;
    Ok(PathBuf::from(home).join(".cargo/advisory-db"))
}

/// Finds (and, for the default location when online and missing, clones) the database.
pub fn locate(location: &DbLocation, offline: bool) -> Result<PathBuf> {
    let path = match location {
        DbLocation::Dir(p) => {
            if !p.is_dir() {
                return Err(Error::msg(format!(
                    "advisory database {}: no such directory (--advisory-db takes a directory in \
                     the advisory-db layout, with crates/<name>/RUSTSEC-*.md)",
                    p.display()
                )));
            }
            return Ok(p.clone());
        }
        DbLocation::Default => default_path()?,
    };
    if path.is_dir() {
        return Ok(path);
    }
    if offline {
        return Err(Error::msg(format!(
            "no advisory database at {} and --offline forbids fetching it: run `cargo audit \
             fetch` or `git clone {UPSTREAM} {}` while online, or give --advisory-db DIR",
            path.display(),
            path.display()
        )));
    }
    // The one `git` program call outside verify: a network clone, which the git2 build here
    // cannot do (linked without its https/ssh transports, to keep OpenSSL and libssh2 out).
    let out = Command::new("git")
        .args(["clone", "--quiet", "--depth", "1", UPSTREAM])
        .arg(&path)
        .output();
    match out {
        Ok(o) if o.status.success() => Ok(path),
        Ok(o) => Err(Error::msg(format!(
            "no advisory database at {}, and cloning {UPSTREAM} failed: {}; give --advisory-db \
             DIR (a copy of the database), or run `cargo audit fetch`",
            path.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        ))),
        Err(e) => Err(Error::msg(format!(
            "no advisory database at {}, and the `git` program to clone it could not run ({e}); \
             give --advisory-db DIR, or run `cargo audit fetch`",
            path.display()
        ))),
    }
}

/// Reads the advisories under `crates/` of the crates named in `names` (each file parsed by
/// `rustsec`; one that does not parse is an error naming it), and the database's date. The
/// other advisories are only counted and their `date` line read (for the date when the
/// database is not a git repository).
pub fn load(path: &Path, names: &BTreeSet<String>) -> Result<Database> {
    let crates = path.join("crates");
    let dirs = read_dir_sorted(&crates).map_err(|e| {
        Error::msg(format!(
            "{} is not an advisory database: {} ({e}); --advisory-db takes a directory in the \
             advisory-db layout (crates/<name>/RUSTSEC-*.md)",
            path.display(),
            crates.display()
        ))
    })?;
    let git = git_head(path);
    let mut advisories = Vec::new();
    let mut count = 0;
    let mut newest = String::new();
    for dir in dirs.into_iter().filter(|d| d.is_dir()) {
        let wanted = dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| names.contains(n));
        if !wanted && git.is_some() {
            count += std::fs::read_dir(&dir).map(|r| r.count()).unwrap_or(0);
            continue;
        }
        let files = read_dir_sorted(&dir).map_err(|e| Error::io("reading", &dir, e))?;
        for file in files {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with('.') || !name.ends_with(".md") {
                continue;
            }
            count += 1;
            if !wanted {
                if let Some(d) = date_line(&file)
                    && d > newest
                {
                    newest = d;
                }
                continue;
            }
            let a = Advisory::load_file(&file).map_err(|e| {
                Error::msg(format!(
                    "advisory {} does not parse: {}; fix or remove the file, or use an intact \
                     copy of the database",
                    file.display(),
                    chain(&e)
                ))
            })?;
            if a.date().as_str() > newest.as_str() {
                newest = a.date().as_str().to_owned();
            }
            advisories.push(a);
        }
    }
    advisories.sort_by(|a, b| a.id().as_str().cmp(b.id().as_str()));
    let (version, date, date_source) = match git {
        Some((id, date)) => (id, date, DateSource::GitCommit),
        None if newest.is_empty() => {
            return Err(Error::msg(format!(
                "advisory database {} has no advisories under crates/: it is empty or not an \
                 advisory database",
                path.display()
            )));
        }
        None => (
            format!("snapshot-{newest}"),
            newest,
            DateSource::NewestAdvisory,
        ),
    };
    Ok(Database {
        info: DbInfo {
            path: path.to_owned(),
            uri: UPSTREAM.to_owned(),
            version,
            date,
            date_source,
            advisories: count,
        },
        advisories,
    })
}

/// The `date = "YYYY-MM-DD"` of an advisory's front matter, read as text.
fn date_line(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .take_while(|l| !l.starts_with("[versions]"))
        .find_map(|l| l.strip_prefix("date = \""))
        .and_then(|r| r.get(..10))
        .map(str::to_owned)
}

/// An error and its causes, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cause = c.source();
    }
    s
}

fn read_dir_sorted(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    v.sort();
    Ok(v)
}

/// `HEAD`'s commit id and committer date when `path` is the top of a git repository.
fn git_head(path: &Path) -> Option<(String, String)> {
    if !path.join(".git").exists() {
        return None;
    }
    let repo = crate::inspect::git::open(path).ok()?;
    let (commit, time) = crate::inspect::git::head_commit(&repo)?;
    let date = crate::util::time::rfc3339(time).ok()?;
    Some((commit, date[..10].to_owned()))
}

/// Days from the database's date to `now` (Unix seconds).
pub fn age_days(info: &DbInfo, now: i64) -> Option<i64> {
    let d = time::Date::parse(
        &info.date,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    let then = d.midnight().assume_utc().unix_timestamp();
    Some((now - then) / 86_400)
}

/// The staleness warning, when the database is older than [`STALE_AFTER_DAYS`].
pub fn staleness_warning(info: &DbInfo, now: i64) -> Option<String> {
    let age = age_days(info, now)?;
    (age > STALE_AFTER_DAYS).then(|| {
        let how = match info.date_source {
            DateSource::GitCommit => "its last commit",
            DateSource::NewestAdvisory => "its newest advisory",
        };
        format!(
            "the advisory database {} is {age} days old ({how} is dated {}): advisories \
             published since are not checked; update it (`cargo audit fetch`, or `git -C {} \
             pull`)",
            info.path.display(),
            info.date,
            info.path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_is_counted_from_the_date() {
        let info = DbInfo {
            path: PathBuf::from("/db"),
            uri: UPSTREAM.into(),
            version: "snapshot-2026-08-21".into(),
            date: "2026-08-21".into(),
            date_source: DateSource::NewestAdvisory,
            advisories: 1,
        };
        let day = 86_400;
        let base = 1_787_270_400; // 2026-08-21T00:00:00Z
        assert_eq!(age_days(&info, base + 3 * day), Some(3));
        assert!(staleness_warning(&info, base + 7 * day).is_none());
        let w = staleness_warning(&info, base + 30 * day).unwrap();
        assert!(w.contains("30 days old") && w.contains("2026-08-21"), "{w}");
    }
}
