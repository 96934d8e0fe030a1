//! The repository's source URL, chosen once for every output that records it (the image
//! label `org.opencontainers.image.source`, the SBOM's `vcs` references, the provenance's
//! `source.uri`): `--source-url`, else the CI platform's repository URL (which must name the
//! same repository as the git remote), else the git remote. Every candidate is put in the
//! canonical form of [`crate::util::url`], so a clone over ssh and a clone over https record
//! the same URL. A local-path remote is not a source URL: it is left out, with a warning.

use crate::error::{Error, Result};
use crate::util::url::{SourceUrl, canonical_source, redact, same_repository};

/// The chosen URL and why a URL is missing, when it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chosen {
    /// The canonical source URL; `None` when there is none to record.
    pub url: Option<String>,
    /// Why the remote was not used (a local path, not a URL).
    pub warnings: Vec<String>,
}

/// The git remote the URL may come from: its name and its URL as the checkout spells it.
#[derive(Debug, Clone, Copy)]
pub struct Remote<'a> {
    /// The remote's name (`origin`).
    pub name: &'a str,
    /// Its URL, as configured.
    pub url: &'a str,
}

/// Chooses the source URL: `flag` (`--source-url`) wins; else the CI platform's repository
/// URL (read through `var`), which must name the same repository as `remote`; else `remote`.
/// Errors (exit 2): a `--source-url` that is not a URL, and a CI URL that names another
/// repository than the remote.
pub fn choose(
    remote: Option<Remote>,
    flag: Option<&str>,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Chosen> {
    if let Some(flag) = flag {
        return match canonical_source(flag) {
            SourceUrl::Url(url) => Ok(Chosen {
                url: Some(url),
                warnings: Vec::new(),
            }),
            _ => Err(Error::msg(format!(
                "--source-url `{}` is not a URL: give the repository's address, e.g. \
                 https://github.com/org/app",
                redact(flag)
            ))),
        };
    }
    let from_remote = remote.map(|r| (r, canonical_source(r.url)));
    if let Some((ci_url, what)) = ci_repository_url(var) {
        if let Some((r, SourceUrl::Url(u))) = &from_remote
            && !same_repository(u, &ci_url)
        {
            return Err(Error::msg(format!(
                "{what} names {ci_url}, but the checkout's git remote `{}` is {u}: they must \
                 name the same repository; pass --source-url URL to say which one this build \
                 is from",
                r.name
            )));
        }
        return Ok(Chosen {
            url: Some(ci_url),
            warnings: Vec::new(),
        });
    }
    Ok(match from_remote {
        None => Chosen::default(),
        Some((_, SourceUrl::Url(u))) => Chosen {
            url: Some(u),
            warnings: Vec::new(),
        },
        Some((r, SourceUrl::Local)) => left_out(format!(
            "the git remote `{}` is a local path, not a source URL",
            r.name
        )),
        Some((r, SourceUrl::Invalid)) => {
            left_out(format!("the git remote `{}` is not a URL", r.name))
        }
    })
}

/// [`choose`] with this process's environment.
pub fn choose_from_env(remote: Option<Remote>, flag: Option<&str>) -> Result<Chosen> {
    choose(remote, flag, &|k| {
        std::env::var(k).ok().filter(|v| !v.trim().is_empty())
    })
}

fn left_out(why: String) -> Chosen {
    Chosen {
        url: None,
        warnings: vec![format!(
            "{why}: no source URL is recorded (image label, SBOM, provenance); pass \
             --source-url URL, or set the remote to the repository's https or ssh URL"
        )],
    }
}

/// The repository URL the CI platform names, canonical, with where it came from: GitHub
/// Actions (`GITHUB_ACTIONS=true`: `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY`) or GitLab CI
/// (`GITLAB_CI=true`: `$CI_PROJECT_URL`).
pub fn ci_repository_url(var: &dyn Fn(&str) -> Option<String>) -> Option<(String, &'static str)> {
    let is_true = |k: &str| var(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let canonical = |raw: String| match canonical_source(&raw) {
        SourceUrl::Url(u) => Some(u),
        _ => None,
    };
    if is_true("GITHUB_ACTIONS")
        && let Some(repo) = var("GITHUB_REPOSITORY")
    {
        let server = var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
        let url = format!(
            "{}/{}",
            server.trim_end_matches('/'),
            repo.trim_matches('/')
        );
        if let Some(u) = canonical(url) {
            return Some((u, "GitHub Actions (GITHUB_SERVER_URL/GITHUB_REPOSITORY)"));
        }
    }
    if is_true("GITLAB_CI")
        && let Some(u) = var("CI_PROJECT_URL").and_then(canonical)
    {
        return Some((u, "GitLab CI (CI_PROJECT_URL)"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn remote(url: &str) -> Option<Remote<'_>> {
        Some(Remote {
            name: "origin",
            url,
        })
    }

    const NONE: &[(&str, &str)] = &[];
    const GITHUB: &[(&str, &str)] = &[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "org/app"),
    ];

    #[test]
    fn the_remote_in_canonical_form() {
        let c = choose(remote("git@github.com:org/app.git"), None, &env(NONE)).unwrap();
        assert_eq!(c.url.as_deref(), Some("https://github.com/org/app"));
        assert!(c.warnings.is_empty());
        assert_eq!(choose(None, None, &env(NONE)).unwrap(), Chosen::default());
    }

    #[test]
    fn a_local_remote_is_left_out_with_a_warning_without_its_path() {
        let c = choose(remote("/home/me/src/app"), None, &env(NONE)).unwrap();
        assert_eq!(c.url, None);
        assert!(c.warnings[0].contains("local path"), "{:?}", c.warnings);
        assert!(!c.warnings[0].contains("/home/me"), "{:?}", c.warnings);
    }

    #[test]
    fn ci_wins_and_must_agree_with_the_remote() {
        let c = choose(remote("git@github.com:org/app.git"), None, &env(GITHUB)).unwrap();
        assert_eq!(c.url.as_deref(), Some("https://github.com/org/app"));
        let c = choose(remote("/srv/mirror/app"), None, &env(GITHUB)).unwrap();
        assert_eq!(c.url.as_deref(), Some("https://github.com/org/app"));
        assert!(c.warnings.is_empty());
        let e = choose(remote("https://github.com/other/fork"), None, &env(GITHUB)).unwrap_err();
        assert!(
            e.to_string().contains("https://github.com/other/fork")
                && e.to_string().contains("--source-url"),
            "{e}"
        );
        let gitlab = env(&[
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_URL", "https://gitlab.example.com/g/p"),
        ]);
        let c = choose(remote("git@gitlab.example.com:g/p.git"), None, &gitlab).unwrap();
        assert_eq!(c.url.as_deref(), Some("https://gitlab.example.com/g/p"));
    }

    #[test]
    fn the_flag_wins_over_everything() {
        let c = choose(
            remote("https://github.com/other/fork"),
            Some("https://tok@github.com/org/app.git"),
            &env(GITHUB),
        )
        .unwrap();
        assert_eq!(c.url.as_deref(), Some("https://github.com/org/app"));
        let e = choose(None, Some("../app"), &env(NONE)).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--source-url `../app`"), "{e}");
    }
}
