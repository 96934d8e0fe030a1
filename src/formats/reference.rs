//! Image references as README.md ("Usage") spells them: a registry reference
//! `host[:port]/repo[:tag][@sha256:HEX]` (Docker Hub defaults when the host is left out) or an
//! OCI image layout `oci:PATH[:tag][@sha256:HEX]`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::util::digest::Digest;

/// Docker Hub's canonical registry name.
pub const DOCKER_HUB: &str = "docker.io";
/// The host Docker Hub's API answers on.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed `REF`: a registry repository or an OCI image layout, with an optional tag and
/// digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `host[:port]/repo[:tag][@digest]`.
    Registry(RegistryRef),
    /// `oci:PATH[:tag][@digest]`.
    Layout(LayoutRef),
}

/// A reference into a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRef {
    /// Registry host with optional port (`127.0.0.1:5000`, `docker.io`).
    pub registry: String,
    /// Repository path (`library/alpine`).
    pub repository: String,
    /// Tag, if given.
    pub tag: Option<String>,
    /// Digest, if given (wins over the tag when both are present).
    pub digest: Option<Digest>,
}

/// A reference into an OCI image layout directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutRef {
    /// The layout directory.
    pub path: PathBuf,
    /// Tag (`org.opencontainers.image.ref.name`), if given.
    pub tag: Option<String>,
    /// Digest, if given.
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses a `REF`; errors name the reference and say what form is expected.
    pub fn parse(s: &str) -> Result<Reference> {
        if let Some(rest) = s.strip_prefix("oci:") {
            parse_layout(rest).map(Reference::Layout)
        } else {
            parse_registry(s).map(Reference::Registry)
        }
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        match self {
            Reference::Registry(r) => r.tag.as_deref(),
            Reference::Layout(l) => l.tag.as_deref(),
        }
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<Digest> {
        match self {
            Reference::Registry(r) => r.digest,
            Reference::Layout(l) => l.digest,
        }
    }

    /// The same reference with another tag and no digest.
    pub fn with_tag(&self, tag: Option<&str>) -> Reference {
        let mut r = self.clone();
        match &mut r {
            Reference::Registry(x) => {
                x.tag = tag.map(str::to_owned);
                x.digest = None;
            }
            Reference::Layout(x) => {
                x.tag = tag.map(str::to_owned);
                x.digest = None;
            }
        }
        r
    }

    /// The same repository or layout, pinned to `digest` (tag dropped).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        let mut r = self.with_tag(None);
        match &mut r {
            Reference::Registry(x) => x.digest = Some(digest),
            Reference::Layout(x) => x.digest = Some(digest),
        }
        r
    }
}

impl FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Reference::parse(s)
    }
}

fn bad(s: &str, why: &str) -> Error {
    Error::msg(format!(
        "`{s}` is not a valid image reference ({why}): expected \
         `host[:port]/repo[:tag][@sha256:HEX]` or `oci:PATH[:tag][@sha256:HEX]`"
    ))
}

/// The parts of `name[:tag][@digest]` as written: nothing checked, nothing normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameParts<'a> {
    /// Everything before the tag and digest (`host/repo`, `repo`, a layout path).
    pub name: &'a str,
    /// After the last `:` of the last path component, if any.
    pub tag: Option<&'a str>,
    /// After the last `@`, if any.
    pub digest: Option<&'a str>,
    whole: &'a str,
}

impl<'a> NameParts<'a> {
    /// `name[:tag]`: the reference without its digest.
    pub fn without_digest(&self) -> &'a str {
        match self.tag {
            // `name:tag` is a prefix of the input; rebuild the slice from its pieces' lengths.
            Some(t) => &self.whole[..self.name.len() + 1 + t.len()],
            None => self.name,
        }
    }
}

/// Splits `name[:tag][@digest]` (the one rule for where a reference's tag and digest start:
/// the digest after the last `@`, the tag after a `:` in the last path component).
/// [`Reference::parse`] checks and normalises the parts; image names that are not yet
/// references (`--image NAME[:TAG]`, `oci:` paths) are split with this too.
pub fn split_name(s: &str) -> NameParts<'_> {
    let (rest, digest) = match s.rsplit_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    NameParts {
        name,
        tag,
        digest,
        whole: s,
    }
}

/// Splits `name[:tag][@sha256:HEX]`, parsing the digest.
fn split(s: &str, whole: &str) -> Result<(String, Option<String>, Option<Digest>)> {
    let parts = split_name(s);
    let digest = parts
        .digest
        .map(|d| d.parse::<Digest>().map_err(|e| bad(whole, &e.to_string())))
        .transpose()?;
    Ok((parts.name.to_owned(), parts.tag.map(str::to_owned), digest))
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn parse_layout(rest: &str) -> Result<LayoutRef> {
    let whole = format!("oci:{rest}");
    let (path, tag, digest) = split(rest, &whole)?;
    if path.is_empty() {
        return Err(bad(&whole, "the layout path is empty"));
    }
    if let Some(t) = &tag
        && !valid_tag(t)
    {
        return Err(bad(&whole, &format!("`{t}` is not a valid tag")));
    }
    Ok(LayoutRef {
        path: PathBuf::from(path),
        tag,
        digest,
    })
}

fn parse_registry(s: &str) -> Result<RegistryRef> {
    if s.is_empty() {
        return Err(bad(s, "it is empty"));
    }
    if s.contains("://") {
        return Err(bad(s, "leave out the scheme; use --plain-http for HTTP"));
    }
    let (name, tag, digest) = split(s, s)?;
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => (DOCKER_HUB.to_owned(), name.clone()),
    };
    let registry = match registry.as_str() {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
        _ => registry,
    };
    let repository = if registry == DOCKER_HUB && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository
    };
    let repo_ok = !repository.is_empty()
        && repository.split('/').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
        });
    if !repo_ok {
        return Err(bad(
            s,
            &format!(
                "repository `{repository}` must be lowercase letters, digits, `.`, `_`, `-`, `/`"
            ),
        ));
    }
    if let Some(t) = &tag
        && !valid_tag(t)
    {
        return Err(bad(s, &format!("`{t}` is not a valid tag")));
    }
    let tag = if tag.is_none() && digest.is_none() {
        Some("latest".to_owned())
    } else {
        tag
    };
    Ok(RegistryRef {
        registry,
        repository,
        tag,
        digest,
    })
}

impl RegistryRef {
    /// The host the API is reached at (Docker Hub's API host for `docker.io`).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// True for hosts on the loopback interface, where HTTP is allowed without `--plain-http`.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => self.registry.as_str(),
        };
        host == "localhost"
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
            || host == "[::1]"
            || host.ends_with(".localhost")
    }

    /// The tag or digest string for the manifest endpoint (digest wins).
    pub fn manifest_reference(&self) -> Option<String> {
        self.digest
            .map(|d| d.to_string())
            .or_else(|| self.tag.clone())
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Display for LayoutRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci:{}", self.path.display())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Registry(r) => r.fmt(f),
            Reference::Layout(l) => l.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    fn reg(s: &str) -> RegistryRef {
        match Reference::parse(s).unwrap() {
            Reference::Registry(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn registry_forms() {
        let r = reg("127.0.0.1:5000/a/b:v1");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "a/b", Some("v1"))
        );
        assert!(r.is_loopback());
        let r = reg(&format!("localhost:5000/x@sha256:{HEX}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.unwrap().hex(), HEX);
        let r = reg(&format!("ghcr.io/o/x:t@sha256:{HEX}"));
        assert_eq!(r.tag.as_deref(), Some("t"));
        assert!(!r.is_loopback());
        assert_eq!(r.to_string(), format!("ghcr.io/o/x:t@sha256:{HEX}"));
        // A DNS name that merely starts like a loopback address gets no plain HTTP.
        assert!(!reg("127.example.com/a/b:v1").is_loopback());
        assert!(!reg("127.0.0.1.evil.example:5000/a:v1").is_loopback());
        assert!(reg("127.1.2.3:5000/a:v1").is_loopback());
    }

    #[test]
    fn docker_hub_defaults() {
        let r = reg("alpine");
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/alpine");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.api_host(), "registry-1.docker.io");
        let r = reg("user/app:1.0");
        assert_eq!(r.repository, "user/app");
        let r = reg("index.docker.io/library/busybox");
        assert_eq!(r.registry, "docker.io");
    }

    #[test]
    fn layout_forms() {
        let Reference::Layout(l) = Reference::parse("oci:target/provenance/oci:v1").unwrap() else {
            panic!()
        };
        assert_eq!(l.path, PathBuf::from("target/provenance/oci"));
        assert_eq!(l.tag.as_deref(), Some("v1"));
        let Reference::Layout(l) = Reference::parse(&format!("oci:/tmp/x@sha256:{HEX}")).unwrap()
        else {
            panic!()
        };
        assert_eq!(l.tag, None);
        assert!(l.digest.is_some());
        let Reference::Layout(l) = Reference::parse("oci:dir").unwrap() else {
            panic!()
        };
        assert_eq!(l.tag, None, "a layout without a tag stays untagged");
    }

    #[test]
    fn rejects_bad_references() {
        for s in [
            "",
            "oci:",
            "https://example.com/x",
            "Example.com/UPPER",
            "host.io/x:bad tag",
            "host.io/x@sha256:abc",
            "host.io/x@md5:00",
            "host.io//x",
        ] {
            let e = Reference::parse(s).unwrap_err().to_string();
            assert!(e.contains("not a valid image reference"), "{s}: {e}");
        }
    }
}
