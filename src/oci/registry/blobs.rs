//! Blobs: existence checks, bounded reads checked against their digest, and uploads (POST,
//! then one monolithic PUT).

use super::*;

impl RegistryClient {
    /// True when the repository has the blob.
    pub fn blob_exists(&self, digest: &Digest) -> Result<bool> {
        let what = format!("blob {digest}");
        let r = self.send(
            Method::HEAD,
            &self.repo_url(&format!("blobs/{digest}")),
            &[],
            None,
            (true, SMALL_BODY_MAX),
            &what,
        )?;
        match r.status {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.unexpected(&Method::HEAD, &what, &r)),
        }
    }

    /// Fetches a blob of `size` bytes (its descriptor's): never reads past `size`, and checks
    /// the digest computed while the bytes streamed in.
    pub fn get_blob(&self, digest: &Digest, size: u64) -> Result<Vec<u8>> {
        self.find_blob(digest, size)?.ok_or_else(|| {
            Error::msg(format!(
                "{}: the registry does not have it",
                self.what(&Method::GET, &format!("blob {digest}"))
            ))
        })
    }

    /// Like [`RegistryClient::get_blob`], but `None` when the registry answers 404.
    pub fn find_blob(&self, digest: &Digest, size: u64) -> Result<Option<Vec<u8>>> {
        self.rt.block_on(self.find_blob_async(digest, size))
    }

    /// [`RegistryClient::find_blob`], to run with others ([`RegistryClient::block_on`]).
    pub async fn find_blob_async(&self, digest: &Digest, size: u64) -> Result<Option<Vec<u8>>> {
        let what = format!("blob {digest}");
        let r = self
            .get_async(&format!("blobs/{digest}"), None, &what, size)
            .await?;
        if r.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !r.status.is_success() {
            return Err(self.unexpected(&Method::GET, &what, &r));
        }
        if r.body.len() as u64 != size || r.digest != *digest {
            return Err(Error::with_source(
                self.what(&Method::GET, &what),
                RegistryError::DigestMismatch {
                    expected: *digest,
                    actual: r.digest,
                    detail: format!(" ({} bytes, the descriptor says {size})", r.body.len()),
                },
            ));
        }
        Ok(Some(r.body))
    }

    /// Uploads a blob unless the repository has it already (HEAD), as POST then PUT. The
    /// whole sequence is retried (not the PUT alone, whose upload session a dropped
    /// connection may have consumed).
    pub fn push_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        let what = format!("blob {digest}");
        let mut last = None;
        for attempt in 0..self.retry.attempts {
            if attempt > 0 {
                std::thread::sleep(self.retry.delay(attempt - 1));
            }
            if self.blob_exists(&digest)? {
                return Ok(digest);
            }
            match self.upload_once(bytes, &digest, &what) {
                Ok(()) => return Ok(digest),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::msg(format!("uploading {what} failed"))))
    }

    fn upload_once(&self, bytes: &[u8], digest: &Digest, what: &str) -> Result<()> {
        let r = self.send(
            Method::POST,
            &self.repo_url("blobs/uploads/"),
            &[("Content-Length", "0".to_owned())],
            Some(b""),
            (true, SMALL_BODY_MAX),
            what,
        )?;
        if r.status != StatusCode::ACCEPTED {
            return Err(self.unexpected(&Method::POST, what, &r));
        }
        let location = header_str(&r.headers, "location").ok_or_else(|| {
            Error::msg(format!(
                "{}: no upload location",
                self.what(&Method::POST, what)
            ))
        })?;
        let mut url = Url::parse(&self.base)
            .and_then(|b| b.join(&location))
            .map_err(|_| {
                Error::msg(format!(
                    "{}: unusable upload location",
                    self.what(&Method::POST, what)
                ))
            })?;
        url.query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let r = self.send(
            Method::PUT,
            url.as_str(),
            &[("Content-Type", "application/octet-stream".to_owned())],
            Some(bytes),
            (false, SMALL_BODY_MAX),
            what,
        )?;
        if r.status != StatusCode::CREATED {
            return Err(self.unexpected(&Method::PUT, what, &r));
        }
        Ok(())
    }
}
