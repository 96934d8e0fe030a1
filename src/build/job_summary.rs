//! The GitHub Actions job summary `build` appends to `$GITHUB_STEP_SUMMARY` (Markdown): the
//! image and its digest, each attestation with its referrers, and the exact commands a
//! consumer runs to verify it (ours and cosign's). Rendered from `summary.json`'s content, so
//! what the page says is what the build wrote.

use std::fmt::Write as _;

use super::Summary;

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
pub fn render(summary: &Summary, image: &str, pushed: Option<&str>, signed: &SignedBy) -> String {
    let mut md = String::new();
    let digest = summary.index_digest;
    let _ = writeln!(md, "## cargo-provenance: `{image}`\n");
    let _ = writeln!(md, "- index digest: `{digest}`");
    if let Some(p) = pushed {
        let _ = writeln!(md, "- pushed: `{p}`");
    }
    for p in &summary.platforms {
        let _ = writeln!(md, "- {}: `{}`", p.platform, p.manifest_digest);
    }
    let _ = writeln!(
        md,
        "\n| attestation | role | signed | referrers |\n|---|---|---|---|"
    );
    for a in &summary.attestations {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} |",
            a.predicate_type(),
            a.role().as_str(),
            if a.signed() { "yes" } else { "no" },
            a.referrers().len()
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
    let mut kinds: Vec<&str> = summary
        .attestations
        .iter()
        .filter(|a| a.signed())
        .filter_map(|a| cosign_type(a.predicate_type()))
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
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let referrer = json!({"subject": d('a'), "subject_name": "app", "manifest_digest": d('e')});
        let attestation = |predicate_type: &str, referrers: Vec<serde_json::Value>| {
            json!({"predicate_type": predicate_type, "role": "image-attestation", "signed": true,
                "statement_file": null, "statement_digest": d('f'), "predicate_file": null,
                "bundle_file": "b.json", "bundle_digest": d('b'), "referrers": referrers})
        };
        let s: Summary = serde_json::from_value(json!({"tag": "1", "layout": "oci",
            "index_digest": d('a'),
            "platforms": [{"platform": "linux/amd64", "manifest_digest": d('c'),
                "rust_target": "x86_64-unknown-linux-gnu", "binaries": []}],
            "builder": {"kind": "native", "id": "native"}, "source_date_epoch": 1,
            "source_date_epoch_source": "env",
            "attestations": [
                attestation("https://slsa.dev/provenance/v1", vec![referrer.clone(), referrer.clone()]),
                attestation("https://cyclonedx.org/bom", vec![referrer])]}))
        .unwrap();
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
