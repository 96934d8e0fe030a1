//! The OIDC identity token keyless signing presents to Fulcio, from the first source present:
//! `--identity-token TOKEN|@FILE`, `SIGSTORE_ID_TOKEN`, then GitHub Actions' ambient token
//! (`ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, audience `sigstore`).
//!
//! Ours (sigstore-oidc's ambient detection reads only the process environment and knows no
//! refetch): an ambient token about to expire is fetched again, so a long build still signs;
//! a given token that expired is refused before anything is built. The token, the request
//! bearer and the endpoint's query never reach a message: errors go through [`Secrets::redact`].

use std::time::Duration;

use serde_json::Value;
use sigstore_oidc::IdentityToken;

use crate::error::{Error, Result};

/// The audience Fulcio expects.
pub const AUDIENCE: &str = "sigstore";
/// A token with less than this left is fetched again (ambient) or refused (given).
const MIN_LIFETIME: Duration = Duration::from_secs(30);

/// Where the token comes from.
#[derive(Clone)]
pub enum TokenSource {
    /// `--identity-token` (inline or `@FILE`), or `SIGSTORE_ID_TOKEN`: used as given.
    Given {
        /// Which of the two, for messages.
        origin: &'static str,
        /// The JWT.
        token: IdentityToken,
    },
    /// GitHub Actions' ID-token endpoint.
    GithubActions {
        /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
        url: String,
        /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (a secret).
        bearer: String,
    },
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// Secrets that must never appear in a message.
#[derive(Clone, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    /// Adds a secret (empty strings are ignored).
    pub fn add(&mut self, s: &str) {
        if s.len() >= 8 && !self.0.iter().any(|x| x == s) {
            self.0.push(s.to_owned());
        }
    }

    /// `text` with every secret replaced by `<redacted>`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.0 {
            out = out.replace(s.as_str(), "<redacted>");
        }
        out
    }
}

impl TokenSource {
    /// The first source present: `flag` (`--identity-token`), then `var("SIGSTORE_ID_TOKEN")`,
    /// then GitHub Actions' two variables. `Ok(None)`: none.
    pub fn detect(
        flag: Option<&str>,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>> {
        if let Some(f) = flag {
            let raw = match f.strip_prefix('@') {
                Some(path) => {
                    let bytes = crate::util::fs::read(std::path::Path::new(path))?;
                    String::from_utf8(bytes).map_err(|_| {
                        Error::msg(format!(
                            "--identity-token @{path}: the file is not UTF-8 text"
                        ))
                    })?
                }
                None => f.to_owned(),
            };
            return Ok(Some(Self::given("--identity-token", raw.trim())?));
        }
        if let Some(t) = var("SIGSTORE_ID_TOKEN") {
            return Ok(Some(Self::given("SIGSTORE_ID_TOKEN", t.trim())?));
        }
        match (
            var("ACTIONS_ID_TOKEN_REQUEST_URL"),
            var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        ) {
            (Some(url), Some(bearer)) => Ok(Some(TokenSource::GithubActions { url, bearer })),
            _ => Ok(None),
        }
    }

    fn given(origin: &'static str, raw: &str) -> Result<Self> {
        let token = IdentityToken::from_jwt(raw).map_err(|_| {
            Error::msg(format!(
                "the identity token from {origin} is not a JWT (header.payload.signature)"
            ))
        })?;
        Ok(TokenSource::Given { origin, token })
    }

    /// Which source, for messages (no secret).
    pub fn describe(&self) -> &'static str {
        match self {
            TokenSource::Given { origin, .. } => origin,
            TokenSource::GithubActions { .. } => "the GitHub Actions ID-token endpoint",
        }
    }

    /// The secrets of this source.
    pub fn secrets(&self) -> Secrets {
        let mut s = Secrets::default();
        match self {
            TokenSource::Given { token, .. } => s.add(token.expose_secret()),
            TokenSource::GithubActions { bearer, .. } => s.add(bearer),
        }
        s
    }

    /// A token with at least 30 s left: the given one (refused when expired), or a fresh one
    /// from the GitHub endpoint. The fetched token is added to `secrets`.
    pub async fn token(
        &self,
        http: &reqwest::Client,
        cached: Option<&IdentityToken>,
        secrets: &mut Secrets,
    ) -> Result<IdentityToken> {
        match self {
            TokenSource::Given { origin, token } => {
                if !fresh(token) {
                    return Err(Error::msg(format!(
                        "OIDC identity token from {origin}: it expired at {} (Fulcio would \
                         refuse it); pass a fresh token",
                        token.expiration()
                    )));
                }
                Ok(token.clone())
            }
            TokenSource::GithubActions { url, bearer } => {
                if let Some(t) = cached.filter(|t| fresh(t)) {
                    return Ok(t.clone());
                }
                let t = fetch_github(http, url, bearer, secrets).await?;
                secrets.add(t.expose_secret());
                Ok(t)
            }
        }
    }
}

fn fresh(t: &IdentityToken) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let left = t.expiration().as_second() - now;
    left >= MIN_LIFETIME.as_secs() as i64
}

async fn fetch_github(
    http: &reqwest::Client,
    url: &str,
    bearer: &str,
    secrets: &Secrets,
) -> Result<IdentityToken> {
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}audience={AUDIENCE}");
    let fail = |what: String| {
        Error::msg(secrets.redact(&format!(
            "OIDC identity token from the GitHub Actions ID-token endpoint \
             (ACTIONS_ID_TOKEN_REQUEST_URL): {what}; does the job have `permissions: id-token: write`?"
        )))
    };
    let resp = http
        .get(&full)
        .header("Authorization", format!("bearer {bearer}"))
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| fail(format!("the request failed: {}", without_url(&e))))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(fail(format!("it answered HTTP {status}")));
    }
    let body: Value = resp
        .json()
        .await
        .map_err(|e| fail(format!("the answer is not JSON: {}", without_url(&e))))?;
    let jwt = body["value"]
        .as_str()
        .ok_or_else(|| fail("the answer has no `value`".into()))?;
    IdentityToken::from_jwt(jwt).map_err(|_| fail("the answer's `value` is not a JWT".into()))
}

/// A reqwest error without its URL (the URL's query may carry a secret).
pub fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<url>");
    }
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// The claims of a token as JSON (unverified; Fulcio authenticates the token).
pub fn claims(token: &IdentityToken) -> Value {
    use base64::Engine;
    token
        .expose_secret()
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p.trim_end_matches('='))
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

/// The certificate identity Fulcio issues for `token`, as real Fulcio derives it: for a
/// GitHub Actions token `https://github.com/` + `job_workflow_ref`; else the email; else a URI
/// subject. `None` when it cannot be told.
pub fn expected_san(token: &IdentityToken) -> Option<String> {
    let c = claims(token);
    if let Some(w) = c["job_workflow_ref"].as_str() {
        return Some(format!("https://github.com/{w}"));
    }
    if let Some(e) = c["email"].as_str() {
        return Some(e.to_owned());
    }
    c["sub"]
        .as_str()
        .filter(|s| s.contains("://"))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn jwt(claims: Value) -> String {
        let e = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.{}",
            e(b"{\"alg\":\"ES256\"}"),
            e(claims.to_string().as_bytes()),
            e(b"sig")
        )
    }

    #[test]
    fn first_source_wins() {
        let t = jwt(serde_json::json!({"iss":"i","sub":"s","exp": 4_000_000_000u64}));
        let env = |k: &str| match k {
            "SIGSTORE_ID_TOKEN" => Some(t.clone()),
            "ACTIONS_ID_TOKEN_REQUEST_URL" => Some("http://x/?a=1".into()),
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN" => Some("bearer-secret".into()),
            _ => None,
        };
        let s = TokenSource::detect(Some(&t), &env).unwrap().unwrap();
        assert_eq!(s.describe(), "--identity-token");
        let s = TokenSource::detect(None, &env).unwrap().unwrap();
        assert_eq!(s.describe(), "SIGSTORE_ID_TOKEN");
        let gh = |k: &str| {
            if k == "SIGSTORE_ID_TOKEN" {
                None
            } else {
                env(k)
            }
        };
        let s = TokenSource::detect(None, &gh).unwrap().unwrap();
        assert!(matches!(s, TokenSource::GithubActions { .. }));
        assert_eq!(s.secrets().redact("x bearer-secret y"), "x <redacted> y");
        assert!(TokenSource::detect(None, &|_| None).unwrap().is_none());
        let e = TokenSource::detect(Some("not-a-jwt"), &|_| None).unwrap_err();
        assert!(!e.to_string().contains("not-a-jwt"), "{e}");
    }

    #[test]
    fn expected_identity_and_expiry() {
        let gh = IdentityToken::from_jwt(&jwt(serde_json::json!({
            "iss":"i","sub":"repo:o/r:ref:refs/heads/main","exp": 1u64,
            "job_workflow_ref":"o/r/.github/workflows/w.yml@refs/heads/main"})))
        .unwrap();
        assert_eq!(
            expected_san(&gh).unwrap(),
            "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main"
        );
        assert!(!fresh(&gh));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let src = TokenSource::Given {
            origin: "--identity-token",
            token: gh,
        };
        let e = rt
            .block_on(src.token(&reqwest::Client::new(), None, &mut Secrets::default()))
            .unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
    }
}
