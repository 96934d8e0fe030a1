//! Credentials out of URLs: remote URLs and any text that may quote one (cargo's or git's
//! messages) pass through here before they reach an output, a warning or an error.

/// Removes the userinfo (`user:password@`) from a URL with a scheme
/// (`https://user:token@host/x` → `https://host/x`). An scp-style remote (`git@host:path`)
/// is kept as it is (the user name there is not a secret), unless its user part carries a
/// password (`user:pw@host:path` → `host:path`). Anything else is returned unchanged.
pub fn strip_userinfo(url: &str) -> String {
    if let Some((scheme, host, rest)) = split_authority(url) {
        return format!("{scheme}://{host}{rest}");
    }
    // scp-style `user@host:path`: keep, except a `user:password@` form.
    if let Some(at) = url.find('@') {
        let user = &url[..at];
        if user.contains(':') && !user.contains('/') {
            return url[at + 1..].to_owned();
        }
    }
    url.to_owned()
}

/// Splits `scheme://[userinfo@]host/rest` into the scheme, the host (the authority without
/// its userinfo) and the rest from the first `/`, `?` or `#` on. `None` without `://`.
pub fn split_authority(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, tail) = url.split_once("://")?;
    let end = tail.find(['/', '?', '#']).unwrap_or(tail.len());
    Some((scheme, host_of(&tail[..end]), &tail[end..]))
}

/// A URL authority (`user:password@host:port`) without its userinfo: all after the last `@`.
pub fn host_of(authority: &str) -> &str {
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// Removes userinfo from every `scheme://user@host` URL inside free text (error messages
/// of cargo and git), so that no credential is ever printed.
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
        out.push_str(host_of(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(strip_userinfo("file:///tmp/x"), "file:///tmp/x");
    }

    #[test]
    fn keeps_scp_style_remotes() {
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
}
