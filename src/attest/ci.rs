//! The CI's own account of the source, checked against the checkout. On GitHub Actions
//! (`GITHUB_SHA`, `GITHUB_REF`) the commit must be HEAD and the ref must be the branch
//! checked out, a tag at HEAD, or (a detached checkout, as for pull requests) any ref; the
//! provenance's source ref is then `GITHUB_REF`. A disagreement is an error: the signing
//! certificate carries the CI's claims, and the provenance must not say otherwise.

use crate::error::{Error, Result};
use crate::inspect::model::GitState;

/// Checks `git` against `GITHUB_SHA` and `GITHUB_REF` (read through `var`), then records
/// `GITHUB_REF` as the ref built.
pub fn github_source(
    git: Option<&mut GitState>,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<()> {
    let sha = var("GITHUB_SHA");
    let git_ref = var("GITHUB_REF");
    let Some(g) = git else {
        return match sha {
            Some(sha) => Err(Error::msg(format!(
                "GITHUB_SHA is {sha}, but the build directory is not a git checkout: check the \
                 repository out (actions/checkout) before building"
            ))),
            None => Ok(()),
        };
    };
    if let Some(sha) = &sha
        && !sha.eq_ignore_ascii_case(&g.commit)
    {
        return Err(Error::msg(format!(
            "GITHUB_SHA is {sha}, but the checkout's HEAD is {}: the provenance's source must be \
             the commit the workflow runs for (check out GITHUB_SHA, or build in the checkout)",
            g.commit
        )));
    }
    let Some(r) = git_ref else { return Ok(()) };
    if let Some(head) = &g.head_ref
        && head != &r
    {
        return Err(Error::msg(format!(
            "GITHUB_REF is {r}, but the checkout is on {head}: the provenance's source ref must \
             be the ref the workflow runs for"
        )));
    }
    if let Some(tag) = r.strip_prefix("refs/tags/")
        && !g.tags.iter().any(|t| t == tag)
    {
        return Err(Error::msg(format!(
            "GITHUB_REF is {r}, but the tag {tag} does not point at the checkout's HEAD {}",
            g.commit
        )));
    }
    g.head_ref = Some(r);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(head_ref: Option<&str>, tags: &[&str]) -> GitState {
        GitState {
            commit: "a".repeat(40),
            head_ref: head_ref.map(Into::into),
            detached: head_ref.is_none(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    fn run(g: &mut GitState, sha: &str, r: &str) -> Result<()> {
        let (sha, r) = (sha.to_owned(), r.to_owned());
        github_source(Some(g), &move |k| match k {
            "GITHUB_SHA" => Some(sha.clone()),
            "GITHUB_REF" => Some(r.clone()),
            _ => None,
        })
    }

    #[test]
    fn the_ci_claims_must_match_the_checkout() {
        let a = "a".repeat(40);
        let mut g = state(Some("refs/heads/main"), &[]);
        run(&mut g, &a, "refs/heads/main").unwrap();
        let e = run(&mut g, &"b".repeat(40), "refs/heads/main").unwrap_err();
        assert!(e.to_string().contains("GITHUB_SHA"), "{e}");
        let e = run(
            &mut state(Some("refs/heads/dev"), &[]),
            &a,
            "refs/heads/main",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("checkout is on refs/heads/dev"),
            "{e}"
        );
        let mut tagged = state(None, &["v1"]);
        run(&mut tagged, &a, "refs/tags/v1").unwrap();
        assert_eq!(tagged.head_ref.as_deref(), Some("refs/tags/v1"));
        assert!(run(&mut state(None, &[]), &a, "refs/tags/v2").is_err());
        let mut pr = state(None, &[]);
        run(&mut pr, &a, "refs/pull/7/merge").unwrap();
        assert_eq!(pr.head_ref.as_deref(), Some("refs/pull/7/merge"));
        assert!(github_source(None, &|k| (k == "GITHUB_SHA").then(|| a.clone())).is_err());
        assert!(github_source(None, &|_| None).is_ok());
    }
}
