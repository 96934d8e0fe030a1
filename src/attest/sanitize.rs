//! Defensive clean-up of values that reach attestations: URLs lose credentials, queries and
//! fragments; local paths are dropped; absolute paths inside rustflags are hidden.
//!
//! `inspect` already strips userinfo from git remotes; this runs again on everything we put
//! in a statement because a leaked token in signed, published provenance cannot be recalled.

use crate::inspect::urls;

/// A URL without userinfo, query or fragment; scp-like `user@host:path` becomes
/// `ssh://host/path`. `None` for local paths and `file:` URLs (they would leak this machine's
/// layout) and for anything that is not recognisably a URL.
pub fn url(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if let Some((scheme, host, rest)) = urls::split_authority(raw) {
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            || scheme.eq_ignore_ascii_case("file")
            || host.is_empty()
        {
            return None;
        }
        let path = rest.split(['?', '#']).next().unwrap_or("");
        return Some(format!("{}://{host}{path}", scheme.to_ascii_lowercase()));
    }
    // scp-like syntax: [user@]host:path (no slash before the colon).
    if let Some((left, path)) = raw.split_once(':') {
        // `C:\x` is a Windows path, not a host called `C`.
        let drive = left.len() == 1 || raw.contains('\\');
        if !drive
            && !left.contains('/')
            && !left.is_empty()
            && !path.is_empty()
            && !raw.starts_with('/')
        {
            let host = urls::host_of(left);
            let path = path.split(['?', '#']).next().unwrap_or("");
            let path = path.trim_start_matches('/');
            if !host.is_empty() {
                return Some(format!("ssh://{host}/{path}"));
            }
        }
    }
    None
}

/// The SLSA git URI form of a remote: `git+https://host/path` (an `ssh://` remote becomes
/// `git+ssh://`). `None` when the remote is not a usable URL (see [`url`]).
pub fn git_uri(remote: &str) -> Option<String> {
    let u = url(remote)?;
    Some(if u.starts_with("git+") {
        u
    } else {
        format!("git+{u}")
    })
}

/// Rustflags with the source side of `--remap-path-prefix FROM=TO` hidden (`FROM` is an
/// absolute path of the building machine).
pub fn rustflags(flags: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(flags.len());
    let mut next_is_remap = false;
    for f in flags {
        if next_is_remap {
            out.push(hide_from(f));
            next_is_remap = false;
        } else if f == "--remap-path-prefix" {
            out.push(f.clone());
            next_is_remap = true;
        } else if let Some(v) = f.strip_prefix("--remap-path-prefix=") {
            out.push(format!("--remap-path-prefix={}", hide_from(v)));
        } else {
            out.push(f.clone());
        }
    }
    out
}

fn hide_from(mapping: &str) -> String {
    match mapping.rsplit_once('=') {
        Some((_, to)) => format!("<local>={to}"),
        None => "<local>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_credentials_query_and_fragment() {
        assert_eq!(
            url("https://x-access-token:ghp_SECRET@github.com/o/r.git?token=abc#frag").as_deref(),
            Some("https://github.com/o/r.git")
        );
        assert_eq!(url("HTTPS://tok@host").as_deref(), Some("https://host"));
        assert_eq!(
            url("git@github.com:o/r.git").as_deref(),
            Some("ssh://github.com/o/r.git")
        );
        assert_eq!(
            url("ssh://git:pw@host:22/r").as_deref(),
            Some("ssh://host:22/r")
        );
        assert_eq!(url("/home/me/repo"), None);
        assert_eq!(url("file:///home/me/repo"), None);
        assert_eq!(url("C:\\x"), None);
        assert_eq!(
            git_uri("https://u:p@h/r").as_deref(),
            Some("git+https://h/r")
        );
    }

    #[test]
    fn hides_remap_sources() {
        let f: Vec<String> = [
            "--remap-path-prefix=/home/me/src=/build",
            "-C",
            "opt-level=3",
            "--remap-path-prefix",
            "/root/.cargo=/cargo",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            rustflags(&f),
            [
                "--remap-path-prefix=<local>=/build",
                "-C",
                "opt-level=3",
                "--remap-path-prefix",
                "<local>=/cargo"
            ]
        );
    }
}
