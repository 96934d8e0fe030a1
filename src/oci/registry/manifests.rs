//! Manifests: fetched by tag or digest (checked against the digest), and pushed as the exact
//! bytes we hashed, conditionally with `If-Match` where the caller asks.

use super::*;

impl RegistryClient {
    /// Fetches a manifest by tag or digest; `None` when the registry does not have it.
    /// A manifest fetched by digest is checked against it.
    pub fn get_manifest(&self, reference: &str) -> Result<Option<FetchedManifest>> {
        self.rt.block_on(self.get_manifest_async(reference))
    }

    /// [`RegistryClient::get_manifest`], to run with others ([`RegistryClient::block_on`]).
    pub async fn get_manifest_async(&self, reference: &str) -> Result<Option<FetchedManifest>> {
        let what = format!("manifest {reference}");
        let r = self
            .get_async(
                &format!("manifests/{reference}"),
                Some(MANIFEST_ACCEPT),
                &what,
                MANIFEST_MAX,
            )
            .await?;
        if r.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !r.status.is_success() {
            return Err(self.unexpected(&Method::GET, &what, &r));
        }
        let digest = r.digest;
        if let Ok(expected) = reference.parse::<Digest>()
            && expected != digest
        {
            return Err(Error::with_source(
                self.what(&Method::GET, &what),
                RegistryError::DigestMismatch {
                    expected,
                    actual: digest,
                    detail: String::new(),
                },
            ));
        }
        let content_type = header_str(&r.headers, "content-type")
            .map(|s| s.split(';').next().unwrap_or("").trim().to_owned());
        let media_type = content_type
            .clone()
            .filter(|s| is_manifest_type(s))
            .or_else(|| {
                serde_json::from_slice::<serde_json::Value>(&r.body)
                    .ok()
                    .and_then(|v| v.get("mediaType")?.as_str().map(str::to_owned))
            })
            .unwrap_or_else(|| MEDIA_TYPE_MANIFEST.to_owned());
        Ok(Some(FetchedManifest {
            etag: header_str(&r.headers, "etag"),
            content_type,
            bytes: r.body,
            media_type,
            digest,
        }))
    }

    /// PUTs manifest bytes exactly as given under `reference` (a tag or their digest).
    /// `if_match` makes it conditional; `retry` allows blind retries (only safe when the
    /// bytes are the same on every attempt and nobody else writes the same name).
    pub fn put_manifest(
        &self,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
        if_match: Option<&str>,
        retry: bool,
    ) -> Result<PutOutcome> {
        match self.put_manifest_classified(reference, bytes, media_type, if_match, retry)? {
            PutOutcome::Rejected(message) => Err(Error::msg(message)),
            other => Ok(other),
        }
    }

    /// Like [`RegistryClient::put_manifest`], but a definitive refusal (4xx) is
    /// [`PutOutcome::Rejected`] rather than an error, so that callers looping on transient
    /// failures can stop at once.
    pub fn put_manifest_classified(
        &self,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
        if_match: Option<&str>,
        retry: bool,
    ) -> Result<PutOutcome> {
        let what = format!("manifest {reference}");
        let mut headers = vec![("Content-Type", media_type.to_owned())];
        if let Some(tag) = if_match {
            headers.push(("If-Match", tag.to_owned()));
        }
        let r = self.send(
            Method::PUT,
            &self.repo_url(&format!("manifests/{reference}")),
            &headers,
            Some(bytes),
            (retry, SMALL_BODY_MAX),
            &what,
        )?;
        if r.status == StatusCode::PRECONDITION_FAILED {
            return Ok(PutOutcome::PreconditionFailed);
        }
        if r.status.is_client_error()
            && r.status != StatusCode::REQUEST_TIMEOUT
            && r.status != StatusCode::TOO_MANY_REQUESTS
        {
            return Ok(PutOutcome::Rejected(
                self.unexpected(&Method::PUT, &what, &r).to_string(),
            ));
        }
        if !r.status.is_success() {
            return Err(self.unexpected(&Method::PUT, &what, &r));
        }
        if let Some(d) = header_str(&r.headers, "docker-content-digest")
            && d != Digest::of(bytes).to_string()
        {
            return Err(Error::msg(format!(
                "{}: the registry stored it as {d}, not as the bytes we sent",
                self.what(&Method::PUT, &what)
            )));
        }
        Ok(PutOutcome::Stored {
            oci_subject: header_str(&r.headers, "oci-subject"),
        })
    }
}

/// True for the manifest and index media types we accept.
fn is_manifest_type(s: &str) -> bool {
    [
        MEDIA_TYPE_MANIFEST,
        MEDIA_TYPE_INDEX,
        MEDIA_TYPE_DOCKER_LIST,
        MEDIA_TYPE_DOCKER_MANIFEST,
    ]
    .contains(&s)
}
