//! A small OCI distribution client bound to one repository.
//!
//! Built on reqwest (the HTTP stack oci-client itself uses) because publishing needs what
//! oci-client 0.18 does not expose: manifests pushed as the exact bytes we hashed, the
//! `OCI-Subject` response header, `ETag` / `If-Match` for the fallback referrers tag, and
//! control over which requests may be retried. It speaks:
//! - auth: anonymous, Basic, and Bearer tokens from the `WWW-Authenticate` challenge, with
//!   credentials from the docker config ([`super::auth`]);
//! - HTTP for loopback hosts or with `--plain-http`, HTTPS otherwise;
//! - blob upload as POST then monolithic PUT, with a HEAD first to skip blobs already there;
//! - retries with exponential backoff on 5xx, 429 and dropped connections, bounded by
//!   [`RetryPolicy`]; requests that are unsafe to repeat blindly are never retried here but
//!   by their caller, which re-reads state first.
//!
//! No credential or token is ever put in a URL, a message or a log line.

mod blobs;
mod budget;
mod manifests;
mod referrers;

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use super::auth::{Credentials, basic_header, credentials_for, describe_reqwest, parse_challenge};
use super::limits::{self, BodyError, MANIFEST_MAX, SMALL_BODY_MAX};
use super::reference::RegistryRef;
pub use super::retry::RetryPolicy;
pub(crate) use super::retry::rand_u32;
use crate::error::{Error, Result};
use crate::formats::oci::{
    IndexEntries, MEDIA_TYPE_DOCKER_LIST, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST,
};
use crate::util::digest::Digest;

/// A registry answer callers branch on, carried as the cause of an [`Error`] (find it with
/// [`RegistryError::of`]): never matched by its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    /// The registry sent content whose digest (or size) is not the one asked for: truncated
    /// or swapped.
    DigestMismatch {
        /// The digest asked for.
        expected: Digest,
        /// The digest of what was sent.
        actual: Digest,
        /// More words (sizes), empty or starting with a space.
        detail: String,
    },
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::DigestMismatch { actual, detail, .. } => {
                write!(f, "the registry sent content with digest {actual}{detail}")
            }
        }
    }
}

impl std::error::Error for RegistryError {}

impl RegistryError {
    /// The registry error `e` carries, if any.
    pub fn of(e: &Error) -> Option<&RegistryError> {
        e.cause::<RegistryError>()
    }
}

/// Options for connecting to a registry.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Use HTTP instead of HTTPS (always the case for loopback hosts).
    pub plain_http: bool,
    /// Retry behaviour.
    pub retry: RetryPolicy,
}

/// A manifest as fetched: the exact bytes, the media type the registry reported, their
/// digest, and the `ETag` (for conditional updates).
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The manifest bytes, unchanged.
    pub bytes: Vec<u8>,
    /// `Content-Type` (or the `mediaType` field when the header is missing).
    pub media_type: String,
    /// The `Content-Type` header as sent (without parameters), when there was one.
    pub content_type: Option<String>,
    /// sha256 of `bytes`.
    pub digest: Digest,
    /// The `ETag` header, if any.
    pub etag: Option<String>,
}

/// The result of a manifest PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored; `oci_subject` is the `OCI-Subject` header (the registry indexed the referrer).
    Stored {
        /// The `OCI-Subject` response header.
        oci_subject: Option<String>,
    },
    /// 412: the `If-Match` precondition failed (someone else wrote first).
    PreconditionFailed,
    /// A definitive refusal (4xx other than 408, 412, 429): retrying will not help. Only
    /// [`RegistryClient::put_manifest_classified`] returns it.
    Rejected(String),
}

/// A client for one repository of one registry.
pub struct RegistryClient {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    /// HTTP, not HTTPS: `http` has no TLS roots.
    plain: bool,
    /// The client with TLS roots, for HTTPS met by a plain-HTTP client.
    tls: std::sync::OnceLock<reqwest::Client>,
    base: String,
    reference: RegistryRef,
    creds: Option<Credentials>,
    authorization: Mutex<Option<HeaderValue>>,
    retry: RetryPolicy,
    /// Every body byte received, answers that failed or were retried included.
    received: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// No request (nor retry) is sent once `received` has passed this ([`RegistryClient::limit_reads`]).
    budget: std::sync::atomic::AtomicU64,
    /// No request (nor retry) is sent past this, and none waits beyond it
    /// ([`RegistryClient::limit_time`]).
    stop_at: std::sync::OnceLock<std::time::Instant>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RegistryClient({})", self.base)
    }
}

/// One response, fully read.
struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    /// sha256 of `body`, computed while it streamed in.
    digest: Digest,
}

const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";

impl RegistryClient {
    /// Connects (lazily: nothing is sent yet) to the repository of `reference`, with
    /// credentials from the docker config.
    pub fn new(reference: &RegistryRef, opts: &Options) -> Result<RegistryClient> {
        let creds = credentials_for(&reference.registry)?;
        Self::with_credentials(reference, opts, creds)
    }

    /// Like [`RegistryClient::new`] with explicit credentials.
    pub fn with_credentials(
        reference: &RegistryRef,
        opts: &Options,
        creds: Option<Credentials>,
    ) -> Result<RegistryClient> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::msg(format!("starting the HTTP runtime: {e}")))?;
        let plain = opts.plain_http || reference.is_loopback();
        let scheme = if plain { "http" } else { "https" };
        Ok(RegistryClient {
            rt,
            http: super::http::client(plain)?,
            plain,
            tls: std::sync::OnceLock::new(),
            base: format!("{scheme}://{}", reference.api_host()),
            reference: reference.clone(),
            creds,
            authorization: Mutex::new(None),
            retry: opts.retry,
            received: Default::default(),
            budget: std::sync::atomic::AtomicU64::new(u64::MAX),
            stop_at: std::sync::OnceLock::new(),
        })
    }

    /// The client for `url`: a plain-HTTP registry's client has no TLS roots (loading the
    /// system's takes milliseconds), so HTTPS (a token realm, a redirect) goes through a
    /// client with them, made on first use.
    fn client_for(&self, url: &str) -> Result<&reqwest::Client> {
        if !self.plain || !url.starts_with("https:") {
            return Ok(&self.http);
        }
        if let Some(c) = self.tls.get() {
            return Ok(c);
        }
        let c = super::http::client(false)?;
        Ok(self.tls.get_or_init(|| c))
    }

    /// The reference this client was made for.
    pub fn reference(&self) -> &RegistryRef {
        &self.reference
    }

    fn repo_url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.base, self.reference.repository)
    }

    fn what(&self, method: &Method, what: &str) -> String {
        format!(
            "{method} {what} on {}/{}",
            self.reference.registry, self.reference.repository
        )
    }

    /// `GET <repository>/<path>` (retried), with an `Accept` header when given, reading at
    /// most `max` bytes of the answer.
    async fn get_async(
        &self,
        path: &str,
        accept: Option<&str>,
        what: &str,
        max: u64,
    ) -> Result<Resp> {
        let headers: Vec<(&str, String)> = accept
            .map(|a| ("Accept", a.to_owned()))
            .into_iter()
            .collect();
        self.send_async(
            Method::GET,
            &self.repo_url(path),
            &headers,
            None,
            (true, max),
            what,
        )
        .await
    }

    /// Sends a request, authenticating on 401 and (when `retry`) retrying transient failures;
    /// reads at most `max` bytes of the answer ([`limits`]).
    fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: Option<&[u8]>,
        retry_max: (bool, u64),
        what: &str,
    ) -> Result<Resp> {
        self.rt
            .block_on(self.send_async(method, url, headers, body, retry_max, what))
    }

    /// [`RegistryClient::send`] for callers that run several requests at once.
    async fn send_async(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: Option<&[u8]>,
        (retry, max): (bool, u64),
        what: &str,
    ) -> Result<Resp> {
        {
            let mut attempt = 0u32;
            let mut authed = false;
            let mut timed_out = false;
            let deadline = limits::deadline(max, body.map_or(0, |b| b.len() as u64));
            // A plain-HTTP registry redirecting to HTTPS: the request is sent again through
            // the client with TLS roots, which follows the redirect itself.
            let mut via_tls = false;
            loop {
                self.within_budget(&method, what)?;
                let client = if via_tls {
                    self.client_for("https:")?
                } else {
                    self.client_for(url)?
                };
                let timeout = deadline.min(self.time_left(&method, what)?);
                let mut req = client.request(method.clone(), url).timeout(timeout);
                for (k, v) in headers {
                    req = req.header(*k, v);
                }
                if let Some(a) = self.authorization.lock().unwrap().clone() {
                    req = req.header(reqwest::header::AUTHORIZATION, a);
                }
                if let Some(b) = body {
                    req = req.body(b.to_vec());
                }
                let result = async {
                    let r = req.send().await.map_err(BodyError::Transport)?;
                    let status = r.status();
                    let headers = r.headers().clone();
                    // An error answer is read within the small bound: its text is only shown.
                    // Not within the expected size: a 500 on a 2-byte blob is retried, not
                    // refused for its 5-byte text.
                    let max = if status.is_success() {
                        max
                    } else {
                        SMALL_BODY_MAX
                    };
                    let body = limits::read(r, max, &self.received).await?;
                    Ok::<_, BodyError>(Resp {
                        status,
                        headers,
                        body: body.bytes,
                        digest: body.digest,
                    })
                }
                .await;
                let transient_left = retry && attempt + 1 < self.retry.attempts;
                match result {
                    Err(BodyError::TooLarge { max, got }) => {
                        return Err(Error::msg(format!(
                            "{}: the registry sent {got} bytes or more, past the {} allowed \
                             for this answer: refused",
                            self.what(&method, what),
                            limits::size_words(max)
                        )));
                    }
                    Err(BodyError::Transport(e)) => {
                        // A registry that drips its answer is given one more chance, not six.
                        let again = !(e.is_timeout() && std::mem::replace(&mut timed_out, true));
                        if transient_left && again {
                            tokio::time::sleep(
                                self.retry
                                    .delay(attempt)
                                    .min(self.time_left(&method, what)?),
                            )
                            .await;
                            attempt += 1;
                            continue;
                        }
                        return Err(Error::msg(format!(
                            "{}: {} (after {} attempt(s)); check that the registry is \
                             reachable",
                            self.what(&method, what),
                            describe_reqwest(&e),
                            attempt + 1
                        )));
                    }
                    Ok(r) if r.status == StatusCode::UNAUTHORIZED && !authed => {
                        authed = true;
                        self.authenticate(&r.headers).await?;
                    }
                    Ok(r)
                        if transient_left
                            && (r.status.is_server_error()
                                || r.status == StatusCode::TOO_MANY_REQUESTS) =>
                    {
                        let delay = retry_after(&r.headers)
                            .map(|d| d.min(self.retry.max_delay))
                            .unwrap_or_else(|| self.retry.delay(attempt));
                        tokio::time::sleep(delay.min(self.time_left(&method, what)?)).await;
                        attempt += 1;
                    }
                    Ok(r)
                        if !via_tls
                            && self.plain
                            && super::http::redirects_to_https(&r.headers, r.status) =>
                    {
                        via_tls = true;
                    }
                    Ok(r) => return Ok(r),
                }
            }
        }
    }

    /// Runs one future of this client's requests to completion (verify's prefetch runs many
    /// at once in one, at most [`limits::CONCURRENT_REQUESTS`] in flight).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }

    /// Answers a 401 challenge: Basic with the docker config's credentials, or a Bearer
    /// token from the realm.
    async fn authenticate(&self, headers: &HeaderMap) -> Result<()> {
        let registry = &self.reference.registry;
        let header = headers
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let challenge = parse_challenge(header).ok_or_else(|| {
            Error::msg(format!(
                "{registry} asked for authentication without a challenge"
            ))
        })?;
        let value = match challenge.scheme.as_str() {
            "basic" => match &self.creds {
                Some(Credentials::Basic { username, password }) => basic_header(username, password),
                _ => {
                    return Err(Error::msg(format!(
                        "{registry} requires a login: run `docker login {registry}` (the \
                         docker config at $DOCKER_CONFIG or ~/.docker has no credentials for it)"
                    )));
                }
            },
            "bearer" => {
                let token = self.fetch_token(&challenge.params).await?;
                format!("Bearer {token}")
            }
            other => {
                return Err(Error::msg(format!(
                    "{registry} asks for unsupported authentication scheme `{other}`"
                )));
            }
        };
        let mut v = HeaderValue::from_str(&value)
            .map_err(|_| Error::msg(format!("{registry} returned an unusable token")))?;
        v.set_sensitive(true);
        *self.authorization.lock().unwrap() = Some(v);
        Ok(())
    }

    async fn fetch_token(
        &self,
        params: &std::collections::BTreeMap<String, String>,
    ) -> Result<String> {
        let realm = params.get("realm").map(String::as_str).unwrap_or("");
        let what = "a token";
        // Within the read and time budgets like every request (a realm dripping its answer
        // must not outlast `--timeout`).
        self.within_budget(&Method::GET, what)?;
        let left = limits::deadline(SMALL_BODY_MAX, 0).min(self.time_left(&Method::GET, what)?);
        let fetch = super::auth::fetch_token(
            self.client_for(realm)?,
            &self.reference.registry,
            &self.reference.repository,
            self.creds.as_ref(),
            params,
            &self.received,
        );
        match tokio::time::timeout(left, fetch).await {
            Ok(token) => token,
            Err(_) => {
                self.time_left(&Method::GET, what)?;
                Err(Error::msg(format!(
                    "{}: the token service did not answer in time",
                    self.what(&Method::GET, what)
                )))
            }
        }
    }

    fn unexpected(&self, method: &Method, what: &str, r: &Resp) -> Error {
        let body = String::from_utf8_lossy(&r.body);
        let body: String = body.chars().take(300).collect();
        Error::msg(format!(
            "{}: registry answered {} {}",
            self.what(method, what),
            r.status,
            body.trim()
        ))
    }
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn retry_after(h: &HeaderMap) -> Option<Duration> {
    header_str(h, "retry-after")?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_uses_http_and_others_https() {
        let Ok(super::super::reference::Reference::Registry(r)) =
            super::super::reference::Reference::parse("127.0.0.1:5000/a:b")
        else {
            panic!()
        };
        let c = RegistryClient::with_credentials(&r, &Options::default(), None).unwrap();
        assert!(c.base.starts_with("http://"));
        let Ok(super::super::reference::Reference::Registry(r)) =
            super::super::reference::Reference::parse("ghcr.io/a/b:c")
        else {
            panic!()
        };
        let c = RegistryClient::with_credentials(&r, &Options::default(), None).unwrap();
        assert!(c.base.starts_with("https://"));
        let c = RegistryClient::with_credentials(
            &r,
            &Options {
                plain_http: true,
                ..Options::default()
            },
            None,
        )
        .unwrap();
        assert!(c.base.starts_with("http://"));
    }

    /// A registry on 127.0.0.1 that answers every request with `status` and `body`.
    fn answering(status: &'static str, body: &'static [u8]) -> RegistryClient {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf);
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = c.write_all(head.as_bytes());
                let _ = c.write_all(body);
            }
        });
        let Ok(super::super::reference::Reference::Registry(r)) =
            super::super::reference::Reference::parse(&format!("{addr}/app:v1"))
        else {
            panic!()
        };
        let opts = Options {
            retry: crate::oci::retry::RetryPolicy {
                attempts: 1,
                ..Default::default()
            },
            ..Options::default()
        };
        RegistryClient::with_credentials(&r, &opts, None).unwrap()
    }

    #[test]
    fn only_a_missing_api_is_no_referrers_api() {
        let subject = Digest::of(b"x");
        assert!(matches!(
            answering("404 Not Found", b"{}").referrers_api(&subject),
            Ok(None)
        ));
        for (status, body) in [
            ("500 Internal Server Error", &b"{}"[..]),
            ("403 Forbidden", &b"{}"[..]),
            ("200 OK", &b"not an index"[..]),
        ] {
            let got = answering(status, body).referrers_api(&subject);
            assert!(got.is_err(), "{status}: {got:?}");
        }
        let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        assert!(matches!(
            answering("200 OK", index).referrers_api(&subject),
            Ok(Some(_))
        ));
    }

    /// Every body byte counts, a 404's too, and once more than the budget arrived no
    /// request is sent (nor retried).
    #[test]
    fn past_its_read_budget_a_client_sends_nothing() {
        let c = answering("404 Not Found", &[b' '; 100]);
        c.limit_reads(150);
        assert!(matches!(c.get_manifest("v1"), Ok(None)));
        assert!(matches!(c.get_manifest("v1"), Ok(None)));
        assert_eq!(c.received().load(std::sync::atomic::Ordering::Relaxed), 200);
        let err = c.get_manifest("v1").unwrap_err().to_string();
        assert!(err.contains("not sent: read more than 150 bytes"), "{err}");
    }
}
