//! Package URLs (purls) as the SBOM and the VEX statements write them: one encoder, one
//! qualifier order (sorted by key, the purl spec's canonical form), one `pkg:oci` form.

use crate::formats::oci::Platform;

/// Percent-encodes a purl name segment or qualifier value (unreserved characters, `:` and
/// `/` kept).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `BASE?k=v&...` with the qualifiers sorted by key and their values encoded; `BASE` alone
/// when there are none.
pub fn with_qualifiers(base: String, qualifiers: &[(&str, String)]) -> String {
    let mut s = base;
    let mut q: Vec<_> = qualifiers.to_vec();
    q.sort();
    for (i, (k, v)) in q.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        s.push('=');
        s.push_str(&encode(v));
    }
    s
}

/// `pkg:cargo/NAME@VERSION` with qualifiers sorted by key.
pub fn cargo(name: &str, version: &str, qualifiers: &[(&str, String)]) -> String {
    with_qualifiers(
        format!("pkg:cargo/{}@{}", encode(name), encode(version)),
        qualifiers,
    )
}

/// `pkg:oci/NAME@sha256%3AHEX?arch=..&os=..&repository_url=REPO&tag=TAG&variant=..`
/// (qualifiers sorted) for an image `repository` (`registry/path` or a bare name, no tag or
/// digest) and a sha256 digest: the name is the repository's last segment, lowercased;
/// `repository_url` is given when the repository has a `/`; `platform` adds `arch`, `os` and
/// `variant`.
pub fn oci(
    repository: &str,
    digest_hex: &str,
    tag: Option<&str>,
    platform: Option<&Platform>,
) -> String {
    let name = repository
        .rsplit('/')
        .next()
        .unwrap_or(repository)
        .to_lowercase();
    let mut q: Vec<(&str, String)> = Vec::new();
    if let Some(pl) = platform {
        q.push(("arch", pl.architecture.clone()));
        q.push(("os", pl.os.clone()));
        if let Some(v) = &pl.variant {
            q.push(("variant", v.clone()));
        }
    }
    if repository.contains('/') {
        q.push(("repository_url", repository.to_owned()));
    }
    if let Some(t) = tag {
        q.push(("tag", t.to_owned()));
    }
    with_qualifiers(
        format!("pkg:oci/{}@sha256%3A{digest_hex}", encode(&name)),
        &q,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_purls_sort_qualifiers_and_encode_values() {
        let pl = Platform {
            architecture: "arm".into(),
            os: "linux".into(),
            variant: Some("v7".into()),
            os_version: None,
        };
        assert_eq!(
            oci("r:5/team/App", "ab", Some("v 1"), Some(&pl)),
            "pkg:oci/app@sha256%3Aab?arch=arm&os=linux&repository_url=r:5/team/App&tag=v%201&variant=v7"
        );
        assert_eq!(oci("app", "ab", None, None), "pkg:oci/app@sha256%3Aab");
        assert_eq!(
            cargo("a b", "1", &[("z", "1".into()), ("a", "&".into())]),
            "pkg:cargo/a%20b@1?a=%26&z=1"
        );
    }
}
