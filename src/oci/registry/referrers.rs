//! The OCI 1.1 referrers API, its pages followed on the same registry only.

use super::*;

impl RegistryClient {
    /// The referrers API: `Some(index)` when `GET /v2/<name>/referrers/<digest>` answers
    /// 200 with an index, `None` when the registry has no such API (404 and kin). Pages
    /// (`Link: <...>; rel="next"`) are followed on the same registry, at most
    /// [`limits::REFERRERS_PAGES_MAX`] of them.
    /// Its entries are read one by one ([`IndexEntries`]): one that does not parse is
    /// counted, not fatal.
    pub fn referrers_api(&self, subject: &Digest) -> Result<Option<IndexEntries>> {
        self.rt.block_on(self.referrers_api_async(subject))
    }

    /// [`RegistryClient::referrers_api`], to run with others ([`RegistryClient::block_on`]).
    pub async fn referrers_api_async(&self, subject: &Digest) -> Result<Option<IndexEntries>> {
        let what = format!("referrers of {subject}");
        let accept = [("Accept", MEDIA_TYPE_INDEX.to_owned())];
        let mut url = self.repo_url(&format!("referrers/{subject}"));
        let mut all: Option<IndexEntries> = None;
        let mut read = 0u64;
        for _ in 0..limits::REFERRERS_PAGES_MAX {
            let r = self
                .send_async(
                    Method::GET,
                    &url,
                    &accept,
                    None,
                    (true, MANIFEST_MAX),
                    &what,
                )
                .await?;
            // Registries without the API answer 404 (the spec), some 400, 405, 406 or 501;
            // any other failure is an error, not "no API": a listing that silently came back
            // empty would make push and discover skip attestations.
            if all.is_none() && NO_REFERRERS_API.contains(&r.status) {
                return Ok(None);
            }
            if r.status != StatusCode::OK {
                return Err(self.unexpected(&Method::GET, &what, &r));
            }
            read += r.body.len() as u64;
            if read > MANIFEST_MAX {
                return Err(Error::msg(format!(
                    "{what}: the registry sent more than {} of referrers listing over its \
                     pages: refused (that is thousands of referrers; the registry may be \
                     hostile)",
                    limits::size_words(MANIFEST_MAX)
                )));
            }
            let page = IndexEntries::parse(&r.body).map_err(|e| {
                Error::msg(format!(
                    "{what}: the registry sent an index that does not parse: {e}"
                ))
            })?;
            match &mut all {
                None => all = Some(page),
                Some(a) => a.extend(page),
            }
            match next_link(&r.headers) {
                None => return Ok(all),
                Some(next) => url = self.same_registry(&next, &what)?,
            }
        }
        Err(Error::msg(format!(
            "{what}: the registry sent more than {} pages of referrers: refused",
            limits::REFERRERS_PAGES_MAX
        )))
    }

    /// `next` (absolute or relative) resolved against the registry, refused when it leaves it.
    fn same_registry(&self, next: &str, what: &str) -> Result<String> {
        let base = Url::parse(&self.base)
            .map_err(|_| Error::msg(format!("{what}: unusable registry address")))?;
        let url = base
            .join(next)
            .map_err(|_| Error::msg(format!("{what}: the registry sent an unusable next page")))?;
        if url.origin() != base.origin() {
            return Err(Error::msg(format!(
                "{what}: the registry's next page is on another host ({}): refused",
                url.host_str().unwrap_or("?")
            )));
        }
        Ok(url.to_string())
    }
}

/// Answers that mean "no referrers API" (see [`RegistryClient::referrers_api`]).
const NO_REFERRERS_API: [StatusCode; 5] = [
    StatusCode::NOT_FOUND,
    StatusCode::BAD_REQUEST,
    StatusCode::METHOD_NOT_ALLOWED,
    StatusCode::NOT_ACCEPTABLE,
    StatusCode::NOT_IMPLEMENTED,
];

/// The target of a `Link: <URL>; rel="next"` header.
fn next_link(h: &HeaderMap) -> Option<String> {
    h.get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|link| {
            let (target, params) = link.split_once(';')?;
            let next = params
                .split(';')
                .any(|p| p.trim().trim_start_matches("rel=").trim_matches('"') == "next");
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            next.then(|| target.to_owned())
        })
}
