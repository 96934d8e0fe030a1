//! Keyless signing (`--keyless`): an ephemeral ECDSA P-256 key held in memory only, a Fulcio
//! certificate for the OIDC identity, a Rekor v1 `dsse` entry (signed entry timestamp,
//! inclusion proof, checkpoint) and, when the signing config lists a TSA, an RFC 3161
//! timestamp for every signature, in a Sigstore bundle v0.3 carrying the certificate.
//!
//! Nothing is returned that our own keyless verify ([`crate::verify::keyless`]) would reject:
//! each bundle is verified against the trusted root (`--trusted-root`, else the shipped
//! public-good root) with the identity the token names before the caller writes a byte.
//! [`KeylessSigner::prepare`] signs everything a build attests at once (one certificate,
//! the log entries concurrently), so that a failing service fails the build before any
//! signed file is written, attached or pushed. See docs/signatures.md.

pub mod entry;
pub mod services;
pub mod tlog;
pub mod token;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sigstore_crypto::KeyPair;
use sigstore_oidc::IdentityToken;
use sigstore_types::{DerCertificate, DsseEnvelope, DsseSignature, KeyId, PayloadBytes};

use super::{SignedBundle, Signer, pae};
use crate::error::{Error, Result};
use crate::formats::bundle::Bundle;
use crate::formats::intoto::PAYLOAD_TYPE;
use crate::util::digest::Digest;
use crate::verify::keyless::{IdentityPolicy, KeylessTrust, SigstoreRoot, identity::Matcher};
pub use services::Services;
pub use token::{Secrets, TokenSource};

/// `--identity-token`, `--signing-config`, `--trusted-root`.
#[derive(Debug, Clone, Default)]
pub struct KeylessOptions {
    /// `--identity-token TOKEN|@FILE`.
    pub identity_token: Option<String>,
    /// `--signing-config FILE`.
    pub signing_config: Option<PathBuf>,
    /// `--trusted-root FILE`.
    pub trusted_root: Option<PathBuf>,
}

/// Where the time of the last [`KeylessSigner::prepare`] went.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Timings {
    /// Statements signed.
    pub signatures: usize,
    /// Waiting for the token (GitHub's endpoint), ms.
    pub token_ms: f64,
    /// Waiting for Fulcio, ms.
    pub fulcio_ms: f64,
    /// Waiting for Rekor and the TSA (all entries concurrently), ms.
    pub log_ms: f64,
    /// Our own work: the key, the signatures, the bundles and their verification, ms.
    pub own_ms: f64,
    /// Of which: verifying the bundles against the trusted root, ms.
    pub verify_ms: f64,
    /// Of which: generating the ephemeral key, ms.
    pub key_ms: f64,
}

impl std::fmt::Display for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} signature(s): token {:.1} ms, Fulcio {:.1} ms, Rekor+TSA {:.1} ms (concurrent), \
             our own work {:.1} ms (of which the ephemeral key {:.1} ms, verifying the bundles {:.1} ms)",
            self.signatures,
            self.token_ms,
            self.fulcio_ms,
            self.log_ms,
            self.own_ms,
            self.key_ms,
            self.verify_ms
        )
    }
}

struct State {
    token: Option<IdentityToken>,
    secrets: Secrets,
    signed: HashMap<Digest, SignedBundle>,
    timings: Timings,
}

/// Signs keyless. Its `Debug` shows no secret.
pub struct KeylessSigner {
    services: Services,
    source: TokenSource,
    root: Arc<SigstoreRoot>,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
    /// The certificate identity the token asks for, and the token's issuer.
    identity: Option<String>,
    issuer: String,
    state: Mutex<State>,
}

impl std::fmt::Debug for KeylessSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeylessSigner")
            .field("services", &self.services)
            .field("token_source", &self.source)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl KeylessSigner {
    /// Reads the signing config and the trusted root, finds the token (`var` reads the
    /// environment) and fetches it once, so that a missing or expired token fails before
    /// anything is built.
    pub fn start(opts: &KeylessOptions, var: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let services = Services::load(opts.signing_config.as_deref())?;
        let root = Arc::new(SigstoreRoot::load(opts.trusted_root.as_deref())?);
        let source = TokenSource::detect(opts.identity_token.as_deref(), var)?.ok_or_else(|| {
            Error::msg(
                "--keyless needs an OIDC identity token: pass --identity-token TOKEN|@FILE, set \
                 SIGSTORE_ID_TOKEN, or run in GitHub Actions with `permissions: id-token: write`",
            )
        })?;
        let (http, rt) = http_client()?;
        let mut secrets = source.secrets();
        let token = rt.block_on(source.token(&http, None, &mut secrets))?;
        let identity = token::expected_san(&token);
        let issuer = token.issuer().to_owned();
        Ok(KeylessSigner {
            services,
            source,
            root,
            http,
            rt,
            identity,
            issuer,
            state: Mutex::new(State {
                token: Some(token),
                secrets,
                signed: HashMap::new(),
                timings: Timings::default(),
            }),
        })
    }

    /// The certificate identity the token asks Fulcio for (on GitHub Actions
    /// `https://github.com/OWNER/REPO/.github/workflows/FILE@REF`), when it can be told.
    pub fn identity(&self) -> Option<&str> {
        self.identity.as_deref()
    }

    /// The token's issuer (the certificate's OIDC issuer).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The services in use.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Where the time of the signing went.
    pub fn timings(&self) -> Timings {
        self.lock().timings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sign_all(&self, statements: &[&[u8]]) -> Result<()> {
        let started = Instant::now();
        let (cached, mut secrets) = {
            let s = self.lock();
            (s.token.clone(), s.secrets.clone())
        };
        let todo: Vec<&[u8]> = {
            let s = self.lock();
            let mut seen = std::collections::HashSet::new();
            statements
                .iter()
                .copied()
                .filter(|b| {
                    let d = Digest::of(b);
                    !s.signed.contains_key(&d) && seen.insert(d)
                })
                .collect()
        };
        if todo.is_empty() {
            return Ok(());
        }
        let result = self.rt.block_on(async {
            let t0 = Instant::now();
            let token = self
                .source
                .token(&self.http, cached.as_ref(), &mut secrets)
                .await?;
            let token_wait = t0.elapsed();
            let k0 = Instant::now();
            let key = KeyPair::generate_ecdsa_p256()
                .map_err(|e| Error::msg(format!("generating the ephemeral key: {e}")))?;
            let key_time = k0.elapsed();
            let t1 = Instant::now();
            let cert =
                services::certificate(&self.http, &self.services.fulcio, &token, &key).await?;
            let fulcio_wait = t1.elapsed();
            self.check_identity(&cert)?;
            let signed = self.log_all(&key, &cert, &todo).await?;
            Ok::<_, Error>((token, signed, token_wait, fulcio_wait, key_time))
        });
        let (token, logged, token_wait, fulcio_wait, key_time) =
            result.map_err(|e| Error::msg(secrets.redact(&e.to_string())))?;
        let log_wait = logged.1;
        let verifying = Instant::now();
        let mut bundles = Vec::with_capacity(logged.0.len());
        for (statement, bundle) in todo.iter().zip(logged.0) {
            let signed = self.checked(statement, bundle)?;
            bundles.push((Digest::of(statement), signed));
        }
        let verify_wait = verifying.elapsed();
        let mut s = self.lock();
        s.token = Some(token);
        s.secrets = secrets;
        s.signed.extend(bundles);
        let total = started.elapsed();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        s.timings = Timings {
            signatures: todo.len(),
            token_ms: ms(token_wait),
            fulcio_ms: ms(fulcio_wait),
            log_ms: ms(log_wait),
            own_ms: ms(total.saturating_sub(token_wait + fulcio_wait + log_wait)),
            verify_ms: ms(verify_wait),
            key_ms: ms(key_time),
        };
        Ok(())
    }

    /// The certificate must be for the identity the token names.
    fn check_identity(&self, cert: &DerCertificate) -> Result<()> {
        let info = sigstore_crypto::x509::parse_certificate_info(cert).map_err(|e| {
            Error::msg(format!(
                "Fulcio ({}): the certificate does not parse: {e}",
                self.services.fulcio
            ))
        })?;
        let san = info
            .identity
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        if let Some(want) = &self.identity
            && &san != want
        {
            return Err(Error::msg(format!(
                "Fulcio ({}): the certificate is for `{san}`, the identity token for `{want}`",
                self.services.fulcio
            )));
        }
        Ok(())
    }

    /// Signs each statement with `key`, logs the signatures in Rekor and timestamps them,
    /// all concurrently; returns the bundles (in order) and the time spent waiting.
    async fn log_all(
        &self,
        key: &KeyPair,
        cert: &DerCertificate,
        statements: &[&[u8]],
    ) -> Result<(Vec<Bundle>, Duration)> {
        let mut envelopes = Vec::with_capacity(statements.len());
        for st in statements {
            let sig = key
                .sign(&pae(PAYLOAD_TYPE, st))
                .map_err(|e| Error::msg(format!("signing with the ephemeral key: {e}")))?;
            envelopes.push(DsseEnvelope::new(
                PAYLOAD_TYPE,
                PayloadBytes::from_bytes(st),
                DsseSignature::new(sig, KeyId::default()),
            ));
        }
        let t = Instant::now();
        let calls = envelopes.iter().map(|env| self.log_one(env, cert));
        let results = futures_join_all(calls).await;
        let waited = t.elapsed();
        let bundles = results.into_iter().collect::<Result<Vec<_>>>()?;
        Ok((bundles, waited))
    }

    async fn log_one(&self, env: &DsseEnvelope, cert: &DerCertificate) -> Result<Bundle> {
        let rekor = services::log_dsse(&self.http, &self.services.rekor, env, cert);
        let tsa = async {
            match &self.services.tsa {
                Some(url) => services::timestamp(&self.http, url, &env.signature.sig)
                    .await
                    .map(Some),
                None => Ok(None),
            }
        };
        let (logged, ts) = tokio::join!(rekor, tsa);
        let (entry, tlog) = logged?;
        let sent = entry::Sent {
            payload: env.payload.as_bytes(),
            signature: env.signature.sig.as_bytes(),
            cert_pem: &cert.to_pem(),
        };
        entry::check(entry.body.as_bytes(), &sent).map_err(|why| {
            Error::msg(format!(
                "Rekor ({}): its answer is not about this signature: {why}",
                self.services.rekor
            ))
        })?;
        let mut b =
            sigstore_bundle::BundleV03::with_certificate_and_dsse(cert.clone(), env.clone())
                .with_tlog_entry(tlog);
        if let Some(ts) = ts? {
            b = b.with_rfc3161_timestamp(ts);
        }
        let json = b
            .into_bundle()
            .to_json()
            .map_err(|e| Error::msg(format!("serialising the keyless bundle: {e}")))?;
        Bundle::parse(json.as_bytes(), "the keyless bundle")
    }

    /// The bundle, verified by our own keyless verify against the trusted root with the
    /// token's identity and issuer; a failed check names the service it concerns.
    fn checked(&self, statement: &[u8], bundle: Bundle) -> Result<SignedBundle> {
        let signed = SignedBundle::new(bundle)?;
        let subject = first_subject(statement)?;
        let identity = match &self.identity {
            Some(id) => Matcher::Exact(id.clone()),
            None => Matcher::Regexp(regex::Regex::new(".*").expect("valid")),
        };
        let trust = KeylessTrust {
            policy: IdentityPolicy {
                identity,
                issuer: Matcher::Exact(self.issuer.clone()),
                github: Default::default(),
            },
            root: self.root.clone(),
            time_threshold: 1,
        };
        let artifact = crate::verify::bundle::Artifact::Digest(subject);
        let report = crate::verify::keyless::verify_bundle(
            "the keyless bundle",
            &signed.bytes,
            &artifact,
            &trust,
        )?;
        if let Some(c) = report.failures().next() {
            let service = match c.check.as_str() {
                "certificate-chain" | "sct" | "certificate-identity" => {
                    format!("Fulcio ({})", self.services.fulcio)
                }
                "tlog-entry" | "tlog-promise" | "tlog-inclusion" => {
                    format!("Rekor ({})", self.services.rekor)
                }
                "timestamp" => format!("TSA ({})", self.services.tsa.as_deref().unwrap_or("-")),
                _ => "Sigstore".to_owned(),
            };
            return Err(Error::msg(format!(
                "{service}: what it returned does not verify against the trusted root {}: \
                 {}: {}; nothing signed was written",
                self.root.name, c.check, c.reason
            )));
        }
        Ok(signed)
    }
}

/// The first subject's sha256 of an in-toto statement.
fn first_subject(statement: &[u8]) -> Result<Digest> {
    let v: serde_json::Value = serde_json::from_slice(statement)
        .map_err(|e| Error::with_source("the statement to sign is not JSON", e))?;
    let hex = v["subject"][0]["digest"]["sha256"]
        .as_str()
        .ok_or_else(|| {
            Error::msg(format!(
                "the statement to sign ({}) has no sha256 subject: a keyless bundle is verified \
             before it is written, and a statement about nothing cannot be",
                v["predicateType"]
            ))
        })?;
    format!("sha256:{hex}").parse()
}

/// Whether a statement names a sha256 subject, so that its keyless bundle can be verified
/// (BuildKit's statements get one before they are signed: `build::buildkit`).
pub fn binds_a_subject(statement: &[u8]) -> bool {
    first_subject(statement).is_ok()
}

/// Runs the futures concurrently on this task; results in order.
async fn futures_join_all<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futs.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

impl Signer for KeylessSigner {
    fn sign_statement(&self, statement: &[u8]) -> Result<SignedBundle> {
        let d = Digest::of(statement);
        if let Some(b) = self.lock().signed.get(&d) {
            return Ok(b.clone());
        }
        self.sign_all(&[statement])?;
        self.lock()
            .signed
            .get(&d)
            .cloned()
            .ok_or_else(|| Error::msg("keyless signing returned no bundle"))
    }

    fn prepare(&self, statements: &[&[u8]]) -> Result<()> {
        self.sign_all(statements)
    }

    fn prepare_report(&self) -> Option<String> {
        Some(self.timings().to_string())
    }

    fn signs(&self, statement: &[u8]) -> bool {
        binds_a_subject(statement)
    }

    fn keyless_identity(&self) -> Option<(String, String)> {
        self.identity()
            .map(|i| (i.to_owned(), self.issuer().to_owned()))
    }
}

/// The HTTP client (30 s per request, our user agent) and the single-threaded runtime the
/// keyless and transparency-log signers talk to Fulcio, Rekor and the TSA with.
pub(crate) fn http_client() -> Result<(reqwest::Client, tokio::runtime::Runtime)> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("cargo-provenance/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::with_source("building the HTTP client", e))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::with_source("starting the async runtime", e))?;
    Ok((http, rt))
}
