//! URLs, in one place: credentials out of URLs and out of text that may quote one, the
//! clean form of a URL that goes into an attestation, and the one canonical form of a
//! repository's source URL (docs/inspect.md, "Source URL"). Parsing is the `url` crate's;
//! only git's scp-like syntax (`[user@]host:path`), which is not a URL, is recognised here.
//!
//! The canonical source URL of a repository:
//! - `https://host[:port]/path` and `http://...`: userinfo, query and fragment dropped, the
//!   host lower-case, a default port dropped, a trailing `/` and a trailing `.git` dropped;
//! - `ssh://[user@]host[:port]/path`, `git://`, `git+ssh://`, `ssh+git://` and scp-like
//!   `[user@]host:path`: `https://host/path` with the same rules (the user and the ssh port
//!   are not part of the https address, so they are dropped);
//! - local paths and `file:` URLs: no source URL ([`SourceUrl::Local`]);
//! - other schemes (`persistent-https://`, ...): kept with the same clean-up.

use ::url::Url;

/// What a git remote (or `--source-url`) says about the source's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceUrl {
    /// The canonical URL.
    Url(String),
    /// A path or `file:` URL on this machine: not a source URL.
    Local,
    /// Not recognisable as a URL or a path.
    Invalid,
}

/// The canonical source URL of a remote (see the module documentation).
pub fn canonical_source(raw: &str) -> SourceUrl {
    let raw = raw.trim();
    if raw.is_empty() {
        return SourceUrl::Invalid;
    }
    if raw.contains("://") {
        return match Url::parse(raw) {
            Ok(u) if u.scheme() == "file" => SourceUrl::Local,
            Ok(u) => canonical_of(&u).map_or(SourceUrl::Invalid, SourceUrl::Url),
            Err(_) => SourceUrl::Invalid,
        };
    }
    match scp_like(raw) {
        Some((host, path)) => {
            Url::parse(&format!("https://{host}/{}", path.trim_start_matches('/')))
                .ok()
                .and_then(|u| canonical_of(&u))
                .map_or(SourceUrl::Invalid, SourceUrl::Url)
        }
        None => SourceUrl::Local,
    }
}

/// The comparison key of a repository URL: its canonical form, after removing a `git+`
/// prefix and an `@ref` after the path (SLSA's `git+https://host/repo@refs/heads/main`).
/// Anything that is not a URL is only trimmed.
pub fn repo_key(raw: &str) -> String {
    let trimmed = raw.trim();
    let bare = trimmed.strip_prefix("git+").unwrap_or(trimmed);
    let without_ref = match Url::parse(bare) {
        Ok(mut u) if !u.cannot_be_a_base() => {
            let path = u.path().to_owned();
            if let Some((p, _)) = path.split_once('@') {
                u.set_path(p);
            }
            u.to_string()
        }
        _ => bare.to_owned(),
    };
    match canonical_source(&without_ref) {
        SourceUrl::Url(u) => u,
        _ => trimmed.to_owned(),
    }
}

/// Two repository URLs name the same repository: their [`repo_key`]s are equal, the path
/// compared without case (GitHub and GitLab find `Org/App` and `org/app` alike).
pub fn same_repository(a: &str, b: &str) -> bool {
    repo_key(a).eq_ignore_ascii_case(&repo_key(b))
}

/// A URL for an attestation: no userinfo, query or fragment, scheme lower-case; a scp-like
/// remote becomes its canonical https form. `None` for local paths, `file:` URLs and
/// anything that is not recognisably a URL.
pub fn sanitize(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if !raw.contains("://") {
        return match canonical_source(raw) {
            SourceUrl::Url(u) => Some(u),
            _ => None,
        };
    }
    let mut u = Url::parse(raw).ok()?;
    if u.scheme() == "file" || u.host_str().is_none_or(str::is_empty) {
        return None;
    }
    clear_userinfo(&mut u);
    u.set_query(None);
    u.set_fragment(None);
    Some(serialize(&u))
}

/// The SLSA git URI of a remote: `git+<canonical source URL>`; `None` when the remote is not
/// a source URL (see [`canonical_source`]).
pub fn git_uri(remote: &str) -> Option<String> {
    match canonical_source(remote.trim().strip_prefix("git+").unwrap_or(remote)) {
        SourceUrl::Url(u) => Some(format!("git+{u}")),
        _ => None,
    }
}

/// Removes the userinfo (`user:password@`) from a URL with a scheme
/// (`https://user:token@host/x` → `https://host/x`); a URL without userinfo comes back
/// unchanged. A scp-like remote keeps its user name (not a secret) unless it carries a
/// password (`user:pw@host:path` → `host:path`). Anything else is returned unchanged.
pub fn strip_userinfo(raw: &str) -> String {
    // Userinfo ends at an `@`: without one there is none (and nothing to parse).
    if !raw.contains('@') {
        return raw.to_owned();
    }
    if raw.contains("://") {
        return match Url::parse(raw) {
            Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
                clear_userinfo(&mut u);
                serialize(&u)
            }
            Ok(_) => raw.to_owned(),
            // Not parsable: still never let an authority's userinfo through.
            Err(_) => redact(raw),
        };
    }
    if let Some((user, rest)) = raw.split_once('@')
        && user.contains(':')
        && !user.contains('/')
    {
        return rest.to_owned();
    }
    raw.to_owned()
}

/// Removes userinfo from every `scheme://user@host` inside free text (messages of cargo and
/// git), so that no credential is ever printed. Free text is not a URL: the authority is cut
/// at the first `/`, `?`, `#`, white space, quote or bracket, and everything in it up to its
/// last `@` is dropped.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let authority_start = pos + 3;
        out.push_str(&rest[..authority_start]);
        let tail = &rest[authority_start..];
        let end = tail
            .find(|c: char| {
                c == '/' || c == '?' || c == '#' || c.is_whitespace() || "'\"`<>()[]".contains(c)
            })
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        out.push_str(authority.rsplit_once('@').map_or(authority, |(_, h)| h));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// git's scp-like syntax `[user@]host:path` (no `://`, a `:` before any `/`, not a Windows
/// drive `C:\`): the host and the path.
fn scp_like(raw: &str) -> Option<(&str, &str)> {
    let (left, path) = raw.split_once(':')?;
    if left.contains('/') || raw.contains('\\') || left.len() < 2 || path.is_empty() {
        return None;
    }
    let host = left.rsplit_once('@').map_or(left, |(_, h)| h);
    (!host.is_empty()).then_some((host, path))
}

/// The canonical form of a parsed URL; `None` without a host.
fn canonical_of(u: &Url) -> Option<String> {
    let host = u.host_str().filter(|h| !h.is_empty())?;
    let scheme = match u.scheme() {
        "ssh" | "git" | "git+ssh" | "ssh+git" => "https",
        s => s,
    };
    let mut c = Url::parse(&format!("{scheme}://{}/", host.to_ascii_lowercase())).ok()?;
    if scheme == u.scheme() {
        c.set_port(u.port()).ok()?;
    }
    let path = u.path().trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    c.set_path(path);
    Some(serialize(&c))
}

/// The URL as a string, without the lone `/` the url crate gives an empty path.
fn serialize(u: &Url) -> String {
    let s = u.as_str();
    if u.path() == "/" && u.query().is_none() && u.fragment().is_none() {
        return s.strip_suffix('/').unwrap_or(s).to_owned();
    }
    s.to_owned()
}

fn clear_userinfo(u: &mut Url) {
    // Both fail only for URLs without a host, which have no userinfo.
    let _ = u.set_username("");
    let _ = u.set_password(None);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> Option<String> {
        match canonical_source(s) {
            SourceUrl::Url(u) => Some(u),
            _ => None,
        }
    }

    #[test]
    fn every_spelling_of_a_remote_is_one_url() {
        for spelling in [
            "https://github.com/org/app.git",
            "https://github.com/org/app",
            "https://github.com/org/app/",
            "https://user:token@GitHub.com/org/app.git",
            "https://github.com:443/org/app.git?x=1#frag",
            "git@github.com:org/app.git",
            "github.com:org/app",
            "ssh://git@github.com/org/app.git",
            "ssh://git@github.com:2222/org/app.git",
            "git+ssh://git@github.com/org/app",
            "git://github.com/org/app.git",
        ] {
            assert_eq!(
                canon(spelling).as_deref(),
                Some("https://github.com/org/app"),
                "{spelling}"
            );
        }
        assert_eq!(
            canon("https://git.example.com:8443/a/b.git").as_deref(),
            Some("https://git.example.com:8443/a/b"),
            "an https port is part of the address"
        );
        assert_eq!(canon("http://host/a").as_deref(), Some("http://host/a"));
        assert_eq!(canon("https://host").as_deref(), Some("https://host"));
    }

    #[test]
    fn local_paths_are_not_source_urls() {
        for local in [
            "/srv/git/app.git",
            "../app",
            "app",
            "./a:b",
            "file:///srv/git/app.git",
            "C:\\src\\app",
            "C:/src/app",
        ] {
            assert_eq!(canonical_source(local), SourceUrl::Local, "{local}");
        }
        assert_eq!(canonical_source(""), SourceUrl::Invalid);
        assert_eq!(canonical_source("https://"), SourceUrl::Invalid);
    }

    #[test]
    fn strips_userinfo_from_scheme_urls() {
        assert_eq!(
            strip_userinfo("https://user:s3cr3t@github.com/x/y"),
            "https://github.com/x/y"
        );
        assert_eq!(
            strip_userinfo("https://tok@github.com/x"),
            "https://github.com/x"
        );
        assert_eq!(
            strip_userinfo("ssh://git@host:22/x.git"),
            "ssh://host:22/x.git"
        );
        assert_eq!(strip_userinfo("https://a:b@c@host/p@q"), "https://host/p@q");
        assert_eq!(strip_userinfo("https://host/x"), "https://host/x");
        assert_eq!(strip_userinfo("sparse+https://h/i/"), "sparse+https://h/i/");
        assert_eq!(strip_userinfo("file:///tmp/x"), "file:///tmp/x");
    }

    #[test]
    fn keeps_scp_style_users_but_not_passwords() {
        assert_eq!(
            strip_userinfo("git@github.com:x/y.git"),
            "git@github.com:x/y.git"
        );
        assert_eq!(strip_userinfo("u:pw@host:x"), "host:x");
        assert_eq!(strip_userinfo("../local/repo"), "../local/repo");
    }

    #[test]
    fn redacts_urls_in_text() {
        let t = "failed to fetch `https://user:s3cr3t@github.com/x/y` (git+https://t@h/z?rev=1)";
        let r = redact(t);
        assert!(!r.contains("s3cr3t") && !r.contains("t@h"), "{r}");
        assert_eq!(
            r,
            "failed to fetch `https://github.com/x/y` (git+https://h/z?rev=1)"
        );
        assert_eq!(redact("no url here"), "no url here");
        assert_eq!(redact("x://"), "x://");
    }

    #[test]
    fn sanitized_urls_for_attestations() {
        assert_eq!(
            sanitize("https://x-access-token:ghp_SECRET@github.com/o/r.git?token=abc#frag")
                .as_deref(),
            Some("https://github.com/o/r.git")
        );
        assert_eq!(
            sanitize("HTTPS://tok@host").as_deref(),
            Some("https://host")
        );
        assert_eq!(
            sanitize("git@github.com:o/r.git").as_deref(),
            Some("https://github.com/o/r")
        );
        assert_eq!(
            sanitize("ssh://git:pw@host:22/r").as_deref(),
            Some("ssh://host:22/r")
        );
        assert_eq!(sanitize("/home/me/repo"), None);
        assert_eq!(sanitize("file:///home/me/repo"), None);
        assert_eq!(sanitize("C:\\x"), None);
        assert_eq!(
            git_uri("https://u:p@h/r.git").as_deref(),
            Some("git+https://h/r")
        );
        assert_eq!(
            git_uri("git@h:o/r.git").as_deref(),
            Some("git+https://h/o/r")
        );
        assert_eq!(git_uri("/srv/r"), None);
    }

    #[test]
    fn repository_keys() {
        assert_eq!(
            repo_key("git+https://GitHub.com/a/b.git@refs/heads/main"),
            "https://github.com/a/b"
        );
        assert_eq!(
            repo_key("https://github.com/a/b/"),
            "https://github.com/a/b"
        );
        assert!(same_repository(
            "git@github.com:a/b.git",
            "https://github.com/a/b"
        ));
        assert!(!same_repository(
            "https://github.com/a/b",
            "https://github.com/a/c"
        ));
        assert!(same_repository(
            "https://github.com/Org/App",
            "git@github.com:org/app"
        ));
    }
}
