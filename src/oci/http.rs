//! The HTTP clients of [`super::registry::RegistryClient`]: bounded redirects, and for a
//! plain-HTTP registry no TLS roots (loading the system's costs milliseconds per run).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::limits;
use crate::error::{Error, Result};

/// The HTTP client: bounded redirects (reqwest drops `Authorization` when a redirect leaves
/// the host, tested in tests/it/hostile_registry.rs). `plain`: no TLS roots, and a redirect to
/// HTTPS is not followed but answered (see `RegistryClient::client_for`).
pub(super) fn client(plain: bool) -> Result<reqwest::Client> {
    let limited = reqwest::redirect::Policy::limited(limits::REDIRECTS_MAX);
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(60))
        .user_agent(concat!("cargo-provenance/", env!("CARGO_PKG_VERSION")));
    b = if plain {
        b.tls_certs_only([])
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.url().scheme() == "https" {
                    attempt.stop()
                } else {
                    limited.redirect(attempt)
                }
            }))
    } else {
        b.redirect(limited)
    };
    b.build()
        .map_err(|e| Error::msg(format!("setting up the HTTP client: {e}")))
}

/// True for a redirect whose `Location` is an HTTPS URL.
pub(super) fn redirects_to_https(h: &HeaderMap, status: StatusCode) -> bool {
    status.is_redirection()
        && h.get("location")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|l| l.starts_with("https:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_redirect_to_https_switches_clients() {
        let mut h = HeaderMap::new();
        h.insert("location", "https://cdn.example/blob".parse().unwrap());
        assert!(redirects_to_https(&h, StatusCode::TEMPORARY_REDIRECT));
        assert!(!redirects_to_https(&h, StatusCode::OK));
        h.insert("location", "/v2/r/blobs/x".parse().unwrap());
        assert!(!redirects_to_https(&h, StatusCode::FOUND));
        assert!(client(true).is_ok() && client(false).is_ok());
    }
}
