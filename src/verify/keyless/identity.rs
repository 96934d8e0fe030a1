//! The identity policy of keyless verification, with cosign's flag names: who must have
//! signed (the certificate's SAN), which OIDC issuer vouched for them, and optionally the
//! GitHub Actions claims Fulcio copies into the certificate.

use regex::Regex;
use sigstore_verify::crypto::CertificateInfo;

use crate::error::{Error, Result};

/// The identity flags as given (`--certificate-identity[-regexp]`,
/// `--certificate-oidc-issuer[-regexp]`, `--certificate-github-workflow-*`).
#[derive(Debug, Clone, Default)]
pub struct IdentityFlags {
    /// `--certificate-identity`: the SAN, exactly.
    pub identity: Option<String>,
    /// `--certificate-identity-regexp`: a regular expression the whole SAN must match.
    pub identity_regexp: Option<String>,
    /// `--certificate-oidc-issuer`: the issuer, exactly.
    pub issuer: Option<String>,
    /// `--certificate-oidc-issuer-regexp`: a regular expression the whole issuer must match.
    pub issuer_regexp: Option<String>,
    /// `--certificate-github-workflow-repository`, `-ref`, `-sha`, `-trigger`, `-name`.
    pub github: GithubClaims,
}

/// Expected GitHub Actions claims (Fulcio's extensions 1.3.6.1.4.1.57264.1.2 to .6).
#[derive(Debug, Clone, Default)]
pub struct GithubClaims {
    /// `--certificate-github-workflow-repository` (`owner/repo`).
    pub repository: Option<String>,
    /// `--certificate-github-workflow-ref` (`refs/heads/main`).
    pub git_ref: Option<String>,
    /// `--certificate-github-workflow-sha` (the commit).
    pub sha: Option<String>,
    /// `--certificate-github-workflow-trigger` (`push`, ...).
    pub trigger: Option<String>,
    /// `--certificate-github-workflow-name`.
    pub name: Option<String>,
}

impl IdentityFlags {
    /// True when no identity flag was given at all.
    pub fn is_empty(&self) -> bool {
        self.identity.is_none()
            && self.identity_regexp.is_none()
            && self.issuer.is_none()
            && self.issuer_regexp.is_none()
    }
}

/// How one claim is matched.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// The claim equals this string.
    Exact(String),
    /// The whole claim matches this expression (anchored at both ends).
    Regexp(Regex),
}

impl Matcher {
    fn new(exact: &Option<String>, regexp: &Option<String>, flag: &str) -> Result<Option<Self>> {
        match (exact, regexp) {
            (Some(_), Some(_)) => Err(Error::msg(format!(
                "give --{flag} or --{flag}-regexp, not both"
            ))),
            (Some(e), None) => Ok(Some(Matcher::Exact(e.clone()))),
            (None, Some(r)) => Regex::new(&format!("^(?:{r})$"))
                .map(|re| Some(Matcher::Regexp(re)))
                .map_err(|e| {
                    Error::msg(format!(
                        "--{flag}-regexp `{r}` is not a valid regular expression: {e}"
                    ))
                }),
            (None, None) => Ok(None),
        }
    }

    /// Whether `value` satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(e) => e == value,
            Matcher::Regexp(re) => re.is_match(value),
        }
    }

    /// The exact value, when this matcher is one.
    pub fn exact(&self) -> Option<&str> {
        match self {
            Matcher::Exact(e) => Some(e),
            Matcher::Regexp(_) => None,
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(e) => write!(f, "`{e}`"),
            Matcher::Regexp(re) => write!(f, "regexp `{}`", re.as_str()),
        }
    }
}

/// A complete identity policy: both the identity and the issuer are constrained.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    /// The certificate's SAN (email or URI).
    pub identity: Matcher,
    /// The certificate's OIDC issuer extension.
    pub issuer: Matcher,
    /// Expected GitHub Actions claims.
    pub github: GithubClaims,
}

const IDENTITY_FLAGS: &str = "--certificate-identity (or --certificate-identity-regexp)";
const ISSUER_FLAGS: &str = "--certificate-oidc-issuer (or --certificate-oidc-issuer-regexp)";

impl IdentityPolicy {
    /// The policy the flags give: `Ok(None)` when none was given; an error naming the missing
    /// flag when only the identity or only the issuer was given (both are required, as in
    /// cosign), or when a regular expression does not compile.
    pub fn from_flags(flags: &IdentityFlags) -> Result<Option<IdentityPolicy>> {
        let identity = Matcher::new(
            &flags.identity,
            &flags.identity_regexp,
            "certificate-identity",
        )?;
        let issuer = Matcher::new(
            &flags.issuer,
            &flags.issuer_regexp,
            "certificate-oidc-issuer",
        )?;
        match (identity, issuer) {
            (Some(identity), Some(issuer)) => Ok(Some(IdentityPolicy {
                identity,
                issuer,
                github: flags.github.clone(),
            })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(missing(ISSUER_FLAGS)),
            (None, Some(_)) => Err(missing(IDENTITY_FLAGS)),
        }
    }

    /// The policy the flags give, required: a keyless signature is only worth anything
    /// together with who signed it.
    pub fn required(flags: &IdentityFlags, what: &str) -> Result<IdentityPolicy> {
        if flags.is_empty() {
            return Err(Error::msg(format!(
                "{what} is signed keyless (a Fulcio certificate): pass {IDENTITY_FLAGS} and \
                 {ISSUER_FLAGS} to say whose signature is acceptable"
            )));
        }
        Ok(Self::from_flags(flags)?.expect("flags are not empty"))
    }

    /// Checks the certificate's claims; `Err` says which claim differs and how.
    pub fn check(&self, cert: &CertificateInfo) -> std::result::Result<String, String> {
        let san = cert.identity.as_ref().map(|s| s.as_str()).unwrap_or("");
        if !self.identity.matches(san) {
            return Err(format!(
                "the certificate's identity (SAN) is `{san}`, expected {}",
                self.identity
            ));
        }
        let issuer = cert.issuer.as_deref().unwrap_or("");
        if !self.issuer.matches(issuer) {
            return Err(format!(
                "the certificate's OIDC issuer is `{issuer}`, expected {}",
                self.issuer
            ));
        }
        self.check_github(cert)?;
        Ok(format!("identity `{san}`, issuer `{issuer}`"))
    }

    fn check_github(&self, cert: &CertificateInfo) -> std::result::Result<(), String> {
        let found = &cert.ci_claims.deprecated_github;
        let g = &self.github;
        let pairs = [
            ("repository", &g.repository, &found.workflow_repository),
            ("ref", &g.git_ref, &found.workflow_ref),
            ("sha", &g.sha, &found.workflow_sha),
            ("trigger", &g.trigger, &found.workflow_trigger),
            ("name", &g.name, &found.workflow_name),
        ];
        for (name, expected, actual) in pairs {
            let Some(expected) = expected else { continue };
            if actual.as_deref() != Some(expected.as_str()) {
                return Err(format!(
                    "--certificate-github-workflow-{name}: expected `{expected}`, the certificate says {}",
                    actual
                        .as_deref()
                        .map_or("nothing".to_owned(), |a| format!("`{a}`"))
                ));
            }
        }
        Ok(())
    }
}

fn missing(flags: &str) -> Error {
    Error::msg(format!(
        "keyless verification needs both the identity and its issuer: {flags} is missing"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(id: Option<&str>, id_re: Option<&str>, iss: Option<&str>) -> IdentityFlags {
        IdentityFlags {
            identity: id.map(Into::into),
            identity_regexp: id_re.map(Into::into),
            issuer: iss.map(Into::into),
            ..IdentityFlags::default()
        }
    }

    #[test]
    fn both_identity_and_issuer_are_required() {
        let e = IdentityPolicy::from_flags(&flags(Some("a"), None, None)).unwrap_err();
        assert!(e.to_string().contains("--certificate-oidc-issuer"), "{e}");
        let e = IdentityPolicy::from_flags(&flags(None, None, Some("i"))).unwrap_err();
        assert!(e.to_string().contains("--certificate-identity"), "{e}");
        assert!(
            IdentityPolicy::from_flags(&flags(None, None, None))
                .unwrap()
                .is_none()
        );
        let e = IdentityPolicy::required(&flags(None, None, None), "b").unwrap_err();
        assert!(e.to_string().contains("--certificate-identity"), "{e}");
        let e = IdentityPolicy::from_flags(&flags(Some("a"), Some("b"), Some("i"))).unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");
        let e = IdentityPolicy::from_flags(&flags(None, Some("("), Some("i"))).unwrap_err();
        assert!(e.to_string().contains("regular expression"), "{e}");
    }

    #[test]
    fn regexps_match_the_whole_claim() {
        let p =
            IdentityPolicy::from_flags(&flags(None, Some("https://github.com/org/.*"), Some("i")))
                .unwrap()
                .unwrap();
        assert!(
            p.identity
                .matches("https://github.com/org/repo/.github/workflows/x.yml@refs/heads/main")
        );
        assert!(
            !p.identity
                .matches("https://evil.example/?https://github.com/org/x")
        );
    }
}
