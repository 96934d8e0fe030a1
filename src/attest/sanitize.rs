//! Defensive clean-up of values that reach attestations: absolute paths inside rustflags are
//! hidden. URLs are cleaned by [`crate::util::url::sanitize`] and
//! [`crate::util::url::git_uri`] (credentials, queries and fragments out, local paths
//! dropped): `inspect` already strips userinfo from git remotes, and this runs again on
//! everything we put in a statement because a leaked token in signed, published provenance
//! cannot be recalled.

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
