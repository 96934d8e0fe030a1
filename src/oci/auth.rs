//! Registry credentials, read the way every OCI tool reads them: the docker config file
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`) with its `auths` entries
//! (`auth` = base64 `user:password`, or `username`/`password`, or `identitytoken`), and
//! credential helpers (`credHelpers` per registry, `credsStore` for all) run as
//! `docker-credential-<name> get` with the registry on stdin.
//!
//! Secrets never reach a message: [`Credentials`] prints as `<redacted>`, and errors name only
//! the registry and the helper.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde::Deserialize;

use reqwest::Url;

use crate::error::{Error, Result};

/// What to present to a registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Username and password (or personal access token).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// An identity (refresh) token, exchanged at the token endpoint.
    IdentityToken(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

#[derive(Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

#[derive(Deserialize)]
struct HelperOutput {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// The docker config file in effect (`$DOCKER_CONFIG/config.json` or
/// `~/.docker/config.json`), whether or not it exists.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

/// The keys a registry may be filed under in `auths` / `credHelpers`.
fn candidate_keys(registry: &str) -> Vec<String> {
    let mut keys = vec![
        registry.to_owned(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
        format!("https://{registry}/v2/"),
    ];
    if registry == super::reference::DOCKER_HUB {
        keys.insert(0, "https://index.docker.io/v1/".to_owned());
        keys.push("index.docker.io".to_owned());
        keys.push("registry-1.docker.io".to_owned());
    }
    keys
}

/// Credentials for `registry` from the docker config in effect; `None` when it has none
/// (anonymous access).
pub fn credentials_for(registry: &str) -> Result<Option<Credentials>> {
    match docker_config_path() {
        Some(p) if p.is_file() => credentials_from(&p, registry),
        _ => Ok(None),
    }
}

/// Credentials for `registry` from the docker config file at `path`.
pub fn credentials_from(path: &Path, registry: &str) -> Result<Option<Credentials>> {
    let bytes = crate::util::fs::read(path)?;
    let config: DockerConfig = serde_json::from_slice(&bytes).map_err(|e| {
        Error::msg(format!(
            "{} is not a valid docker config file: {e}",
            path.display()
        ))
    })?;
    let keys = candidate_keys(registry);
    for k in &keys {
        if let Some(helper) = config.cred_helpers.get(k) {
            return run_helper(helper, k, registry);
        }
    }
    for k in &keys {
        if let Some(entry) = config.auths.get(k)
            && let Some(c) = entry_credentials(entry, path, registry)?
        {
            return Ok(Some(c));
        }
    }
    if let Some(store) = &config.creds_store {
        let key = keys[0].clone();
        return run_helper(store, &key, registry);
    }
    Ok(None)
}

fn entry_credentials(
    entry: &AuthEntry,
    path: &Path,
    registry: &str,
) -> Result<Option<Credentials>> {
    if let Some(t) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Some(Credentials::IdentityToken(t.to_owned())));
    }
    if let Some(a) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(a.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())));
        return match decoded {
            Some((username, password)) => Ok(Some(Credentials::Basic { username, password })),
            None => Err(Error::msg(format!(
                "the `auth` entry for {registry} in {} is not base64 of `user:password`; \
                 run `docker login {registry}` again",
                path.display()
            ))),
        };
    }
    if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
        return Ok(Some(Credentials::Basic {
            username: u.clone(),
            password: p.clone(),
        }));
    }
    Ok(None)
}

/// Runs `docker-credential-<helper> get` with `key` on stdin.
fn run_helper(helper: &str, key: &str, registry: &str) -> Result<Option<Credentials>> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::msg(format!(
                "running credential helper `{program}` for {registry}: {e}; install it or \
                 remove it from the docker config"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(key.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::msg(format!("running credential helper `{program}`: {e}")))?;
    if !out.status.success() {
        // "credentials not found" is not an error: anonymous access may still work.
        let stdout = String::from_utf8_lossy(&out.stdout);
        if stdout.contains("credentials not found") || out.stdout.is_empty() {
            return Ok(None);
        }
        return Err(Error::msg(format!(
            "credential helper `{program}` failed for {registry} ({})",
            out.status
        )));
    }
    let parsed: HelperOutput = serde_json::from_slice(&out.stdout).map_err(|_| {
        Error::msg(format!(
            "credential helper `{program}` printed something that is not its JSON answer for \
             {registry}"
        ))
    })?;
    if parsed.secret.is_empty() {
        return Ok(None);
    }
    if parsed.username == "<token>" {
        return Ok(Some(Credentials::IdentityToken(parsed.secret)));
    }
    Ok(Some(Credentials::Basic {
        username: parsed.username,
        password: parsed.secret,
    }))
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `basic` or `bearer` (lowercase).
    pub scheme: String,
    /// Parameters (`realm`, `service`, `scope`).
    pub params: BTreeMap<String, String>,
}

/// Parses `Bearer realm="...",service="...",scope="..."` (or `Basic realm="..."`).
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = BTreeMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((k, v)) = rest.split_once('=') else {
            break;
        };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim_start();
        let (value, tail) = if let Some(q) = v.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match v.find(',') {
                Some(end) => (&v[..end], &v[end..]),
                None => (v, ""),
            }
        };
        params.insert(k, value.to_owned());
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

/// Gets a Bearer token for `repository` from the challenge's realm: a GET with Basic
/// credentials, or docker's OAuth2 refresh-token POST for an identity token.
pub(crate) async fn fetch_token(
    http: &reqwest::Client,
    registry: &str,
    repository: &str,
    creds: Option<&Credentials>,
    params: &BTreeMap<String, String>,
    received: &std::sync::atomic::AtomicU64,
) -> Result<String> {
    let realm = params.get("realm").ok_or_else(|| {
        Error::msg(format!(
            "{registry}'s bearer challenge names no token realm"
        ))
    })?;
    let mut url = Url::parse(realm)
        .map_err(|_| Error::msg(format!("{registry}'s token realm `{realm}` is not a URL")))?;
    let scope = format!("repository:{}:pull,push", repository);
    {
        let mut q = url.query_pairs_mut();
        if let Some(s) = params.get("service") {
            q.append_pair("service", s);
        }
        q.append_pair("scope", &scope);
        if let Some(s) = params.get("scope").filter(|s| **s != scope) {
            q.append_pair("scope", s);
        }
    }
    let req = match creds {
        Some(Credentials::Basic { username, password }) => http.get(url).header(
            reqwest::header::AUTHORIZATION,
            basic_header(username, password),
        ),
        Some(Credentials::IdentityToken(t)) => {
            // The OAuth2 refresh-token flow docker uses for identity tokens: a POST form.
            let mut form = Url::parse("http://form.invalid/").expect("static URL");
            {
                let mut q = form.query_pairs_mut();
                q.append_pair("grant_type", "refresh_token");
                q.append_pair("refresh_token", t);
                q.append_pair("client_id", "cargo-provenance");
                q.append_pair("scope", &scope);
                if let Some(s) = params.get("service") {
                    q.append_pair("service", s);
                }
            }
            let body = form.query().unwrap_or("").to_owned();
            url.set_query(None);
            http.post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
        }
        None => http.get(url),
    };
    let resp = req.send().await.map_err(|e| {
        Error::msg(format!(
            "getting a token for {registry}: {}",
            describe_reqwest(&e)
        ))
    })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(Error::msg(format!(
            "{registry}'s token service refused access ({status}); check the credentials \
             in the docker config (`docker login {registry}`)"
        )));
    }
    let bytes = match super::limits::read(resp, super::limits::SMALL_BODY_MAX, received).await {
        Ok(b) => b.bytes,
        Err(super::limits::BodyError::Transport(e)) => {
            return Err(Error::msg(format!(
                "reading {registry}'s token: {}",
                describe_reqwest(&e)
            )));
        }
        Err(super::limits::BodyError::TooLarge { got, .. }) => {
            return Err(Error::msg(format!(
                "{registry}'s token service sent {got} bytes or more, past the {} a token \
                 answer may have: refused",
                super::limits::size_words(super::limits::SMALL_BODY_MAX)
            )));
        }
    };
    let body: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| Error::msg(format!("{registry}'s token service sent no JSON token")))?;
    body.get("token")
        .or_else(|| body.get("access_token"))
        .and_then(|t| t.as_str())
        .map(str::to_owned)
        .ok_or_else(|| Error::msg(format!("{registry}'s token service sent no token")))
}

/// The `Authorization` value for Basic credentials.
pub(crate) fn basic_header(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A short description of a transport error (no URL: it could carry an upload state).
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_request() {
        "connection dropped"
    } else {
        "transport error"
    };
    let mut msg = kind.to_owned();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_auths_entries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        std::fs::write(
            &p,
            format!(
                r#"{{"auths":{{"reg.example:5000":{{"auth":"{auth}"}},"https://index.docker.io/v1/":{{"identitytoken":"tok"}}}}}}"#
            ),
        )
        .unwrap();
        let c = credentials_from(&p, "reg.example:5000").unwrap().unwrap();
        assert_eq!(
            c,
            Credentials::Basic {
                username: "alice".into(),
                password: "s3cret".into()
            }
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(
            credentials_from(&p, "docker.io").unwrap(),
            Some(Credentials::IdentityToken("tok".into()))
        );
        assert_eq!(credentials_from(&p, "other.example").unwrap(), None);
    }

    #[test]
    fn missing_helper_is_a_clear_error_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, r#"{"credHelpers":{"r.example":"nope-not-here"}}"#).unwrap();
        let e = credentials_from(&p, "r.example").unwrap_err().to_string();
        assert!(e.contains("docker-credential-nope-not-here"), "{e}");
    }

    #[test]
    fn challenges_parse() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.example/token");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
        let b = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(b.scheme, "basic");
    }
}
