//! The GitHub Actions job summary `build` appends to `$GITHUB_STEP_SUMMARY` (Markdown): the
//! image and its digest, each attestation with its referrers, and the exact commands a
//! consumer runs to verify it (ours and cosign's). Rendered from `summary.json`'s content, so
//! what the page says is what the build wrote.

use std::fmt::Write as _;

use serde_json::Value;

/// How the build was signed, for the verify commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedBy {
    /// Keyless: the certificate identity and issuer, and the GitHub repository (`owner/repo`).
    Keyless {
        /// The certificate's SAN.
        identity: String,
        /// The OIDC issuer.
        issuer: String,
        /// `GITHUB_REPOSITORY`, when known.
        repository: Option<String>,
    },
    /// `--key`: the consumer needs the public key.
    Key,
    /// Nothing signed.
    Unsigned,
}

/// cosign's `--type` for our predicate types.
fn cosign_type(predicate_type: &str) -> Option<&'static str> {
    crate::formats::predicate::cosign_type(predicate_type)
}

/// The Markdown for `summary` (summary.json's content) of an image pushed as `pushed`.
pub fn render(summary: &Value, image: &str, pushed: Option<&str>, signed: &SignedBy) -> String {
    let mut md = String::new();
    let digest = summary["index_digest"].as_str().unwrap_or_default();
    let _ = writeln!(md, "## cargo-provenance: `{image}`\n");
    let _ = writeln!(md, "- index digest: `{digest}`");
    if let Some(p) = pushed {
        let _ = writeln!(md, "- pushed: `{p}`");
    }
    for p in summary["platforms"].as_array().into_iter().flatten() {
        let _ = writeln!(
            md,
            "- {}: `{}`",
            p["platform"].as_str().unwrap_or_default(),
            p["manifest_digest"].as_str().unwrap_or_default()
        );
    }
    let _ = writeln!(
        md,
        "\n| attestation | role | signed | referrers |\n|---|---|---|---|"
    );
    for a in summary["attestations"].as_array().into_iter().flatten() {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} |",
            a["predicate_type"].as_str().unwrap_or_default(),
            a["role"].as_str().unwrap_or_default(),
            if a["signed"] == true { "yes" } else { "no" },
            a["referrers"].as_array().map_or(0, Vec::len)
        );
    }
    let target = pushed.unwrap_or(image);
    let (ours, cosign) = match signed {
        SignedBy::Keyless {
            identity,
            issuer,
            repository,
        } => {
            let repo = repository
                .as_deref()
                .map(|r| format!(" --certificate-github-workflow-repository {r}"))
                .unwrap_or_default();
            (
                format!(
                    "cargo provenance verify {target} --certificate-identity {identity} \
                     --certificate-oidc-issuer {issuer}{repo}"
                ),
                format!(
                    "--certificate-identity {identity} --certificate-oidc-issuer {issuer}{repo}"
                ),
            )
        }
        SignedBy::Key => (
            format!("cargo provenance verify {target} --key cosign.pub"),
            "--key cosign.pub".to_owned(),
        ),
        SignedBy::Unsigned => {
            let _ = writeln!(md, "\nNothing was signed: there is nothing to verify.");
            return md;
        }
    };
    let _ = writeln!(md, "\n### Verify\n\n```sh\n{ours}");
    let mut kinds: Vec<&str> = summary["attestations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["signed"] == true)
        .filter_map(|a| cosign_type(a["predicate_type"].as_str()?))
        .collect();
    kinds.dedup();
    for k in kinds {
        let _ = writeln!(md, "cosign verify-attestation --type {k} {cosign} {target}");
    }
    let _ = writeln!(md, "```");
    md
}

/// Appends the summary to `$GITHUB_STEP_SUMMARY` when it is set.
pub fn append(path: &std::path::Path, markdown: &str) -> crate::error::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| crate::error::Error::io("opening", path, e))?;
    f.write_all(markdown.as_bytes())
        .map_err(|e| crate::error::Error::io("writing", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keyless_summary_has_the_commands() {
        let s = json!({"index_digest": "sha256:ab", "platforms": [{"platform": "linux/amd64", "manifest_digest": "sha256:cd"}],
            "attestations": [
                {"predicate_type": "https://slsa.dev/provenance/v1", "role": "image-attestation", "signed": true, "referrers": [{}, {}]},
                {"predicate_type": "https://cyclonedx.org/bom", "role": "image-attestation", "signed": true, "referrers": [{}]}]});
        let md = render(
            &s,
            "reg/app:1",
            Some("reg/app:1@sha256:ab"),
            &SignedBy::Keyless {
                identity: "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main".into(),
                issuer: "https://token.actions.githubusercontent.com".into(),
                repository: Some("o/r".into()),
            },
        );
        assert!(md.contains("cargo provenance verify reg/app:1@sha256:ab --certificate-identity https://github.com/o/r/.github/workflows/w.yml@refs/heads/main"), "{md}");
        assert!(
            md.contains("cosign verify-attestation --type slsaprovenance1 --certificate-identity"),
            "{md}"
        );
        assert!(md.contains("--type cyclonedx"), "{md}");
        assert!(
            md.contains("| `https://slsa.dev/provenance/v1` | image-attestation | yes | 2 |"),
            "{md}"
        );
        assert!(render(&s, "x", None, &SignedBy::Unsigned).contains("Nothing was signed"));
    }
}
