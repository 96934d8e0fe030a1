//! Where the build runs: `runDetails.builder.id` and `metadata.invocationId`.
//!
//! | environment | detected by | builder id | invocation id |
//! |---|---|---|---|
//! | GitHub Actions | `GITHUB_ACTIONS=true` | `$GITHUB_SERVER_URL/$GITHUB_WORKFLOW_REF` | `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID/attempts/$GITHUB_RUN_ATTEMPT` |
//! | GitLab CI | `GITLAB_CI=true` | `$CI_SERVER_URL/$CI_PROJECT_PATH/-/runners/$CI_RUNNER_ID` | `$CI_JOB_URL` |
//! | Buildkite | `BUILDKITE=true` | `https://buildkite.com/$BUILDKITE_ORGANIZATION_SLUG/$BUILDKITE_PIPELINE_SLUG` | `$BUILDKITE_BUILD_URL` |
//! | other CI | `CI` set and not `false` | [`OTHER_CI_BUILDER_ID`] | none |
//! | a developer machine | otherwise | [`LOCAL_BUILDER_ID`] | a random `urn:uuid:` |
//!
//! Only these variables are read, and every URL goes through [`crate::util::url::sanitize`].

/// The builder id of a build on a developer machine (no CI detected).
pub const LOCAL_BUILDER_ID: &str = "https://cargo-provenance.dev/builders/local/v1";
/// The builder id of a build in a CI system we do not recognise.
pub const OTHER_CI_BUILDER_ID: &str = "https://cargo-provenance.dev/builders/ci/v1";

/// Which kind of environment was detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnvironmentKind {
    /// GitHub Actions.
    GithubActions,
    /// GitLab CI.
    GitlabCi,
    /// Buildkite.
    Buildkite,
    /// Some other CI (`CI` is set).
    OtherCi,
    /// A developer machine.
    Local,
}

/// The build's environment, as recorded in the provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnvironment {
    /// What was detected.
    pub kind: EnvironmentKind,
    /// `runDetails.builder.id`.
    pub builder_id: String,
    /// The CI run, when in CI.
    pub invocation_id: Option<String>,
}

impl RunEnvironment {
    /// Detects the environment from this process's environment variables.
    pub fn detect() -> Self {
        Self::detect_with(&|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Detects the environment through `var` (a lookup of non-empty variables).
    pub fn detect_with(var: &dyn Fn(&str) -> Option<String>) -> Self {
        let is_true = |k: &str| var(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let join = |base: Option<String>, rest: &str| -> Option<String> {
            let base = crate::util::url::sanitize(&base?)?;
            crate::util::url::sanitize(&format!(
                "{}/{}",
                base.trim_end_matches('/'),
                rest.trim_start_matches('/')
            ))
        };
        if is_true("GITHUB_ACTIONS") {
            let server = var("GITHUB_SERVER_URL").or(Some("https://github.com".into()));
            if let Some(id) = var("GITHUB_WORKFLOW_REF").and_then(|w| join(server.clone(), &w)) {
                let invocation = match (var("GITHUB_REPOSITORY"), var("GITHUB_RUN_ID")) {
                    (Some(repo), Some(run)) => {
                        let attempt = var("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into());
                        join(
                            server,
                            &format!("{repo}/actions/runs/{run}/attempts/{attempt}"),
                        )
                    }
                    _ => None,
                };
                return RunEnvironment {
                    kind: EnvironmentKind::GithubActions,
                    builder_id: id,
                    invocation_id: invocation,
                };
            }
        }
        if is_true("GITLAB_CI")
            && let (Some(project), Some(runner)) = (var("CI_PROJECT_PATH"), var("CI_RUNNER_ID"))
            && let Some(id) = join(
                var("CI_SERVER_URL").or(Some("https://gitlab.com".into())),
                &format!("{project}/-/runners/{runner}"),
            )
        {
            return RunEnvironment {
                kind: EnvironmentKind::GitlabCi,
                builder_id: id,
                invocation_id: var("CI_JOB_URL").and_then(|u| crate::util::url::sanitize(&u)),
            };
        }
        if is_true("BUILDKITE")
            && let (Some(org), Some(pipeline)) = (
                var("BUILDKITE_ORGANIZATION_SLUG"),
                var("BUILDKITE_PIPELINE_SLUG"),
            )
            && let Some(id) = join(
                Some("https://buildkite.com".into()),
                &format!("{org}/{pipeline}"),
            )
        {
            return RunEnvironment {
                kind: EnvironmentKind::Buildkite,
                builder_id: id,
                invocation_id: var("BUILDKITE_BUILD_URL")
                    .and_then(|u| crate::util::url::sanitize(&u)),
            };
        }
        if var("CI").is_some_and(|v| !v.eq_ignore_ascii_case("false") && v != "0") {
            return RunEnvironment {
                kind: EnvironmentKind::OtherCi,
                builder_id: OTHER_CI_BUILDER_ID.into(),
                invocation_id: None,
            };
        }
        RunEnvironment {
            kind: EnvironmentKind::Local,
            builder_id: LOCAL_BUILDER_ID.into(),
            invocation_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn detect(vars: &[(&str, &str)]) -> RunEnvironment {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RunEnvironment::detect_with(&|k| m.get(k).cloned())
    }

    #[test]
    fn github_actions() {
        let e = detect(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            (
                "GITHUB_WORKFLOW_REF",
                "octo/app/.github/workflows/release.yml@refs/tags/v1",
            ),
            ("GITHUB_REPOSITORY", "octo/app"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_TOKEN", "ghs_CANARY"),
        ]);
        assert_eq!(e.kind, EnvironmentKind::GithubActions);
        assert_eq!(
            e.builder_id,
            "https://github.com/octo/app/.github/workflows/release.yml@refs/tags/v1"
        );
        assert_eq!(
            e.invocation_id.as_deref(),
            Some("https://github.com/octo/app/actions/runs/42/attempts/2")
        );
    }

    #[test]
    fn gitlab_buildkite_other_local() {
        let g = detect(&[
            ("GITLAB_CI", "true"),
            ("CI", "true"),
            ("CI_SERVER_URL", "https://gitlab.example.com"),
            ("CI_PROJECT_PATH", "grp/app"),
            ("CI_RUNNER_ID", "7"),
            (
                "CI_JOB_URL",
                "https://gitlab-ci-token:SECRET@gitlab.example.com/grp/app/-/jobs/9",
            ),
        ]);
        assert_eq!(
            g.builder_id,
            "https://gitlab.example.com/grp/app/-/runners/7"
        );
        assert_eq!(
            g.invocation_id.as_deref(),
            Some("https://gitlab.example.com/grp/app/-/jobs/9")
        );
        let b = detect(&[
            ("BUILDKITE", "true"),
            ("BUILDKITE_ORGANIZATION_SLUG", "o"),
            ("BUILDKITE_PIPELINE_SLUG", "p"),
        ]);
        assert_eq!(b.builder_id, "https://buildkite.com/o/p");
        assert_eq!(detect(&[("CI", "true")]).builder_id, OTHER_CI_BUILDER_ID);
        assert_eq!(detect(&[("CI", "false")]).kind, EnvironmentKind::Local);
        assert_eq!(detect(&[]).builder_id, LOCAL_BUILDER_ID);
        // GitHub without a workflow ref falls back to generic CI.
        assert_eq!(
            detect(&[("GITHUB_ACTIONS", "true"), ("CI", "true")]).kind,
            EnvironmentKind::OtherCi
        );
    }
}
