//! A blob's URL as handed to someone else: plain, or carrying a SAS.

use std::fmt;
use std::time::SystemTime;

use url::Url;
use zeroize::Zeroizing;

use crate::error::Error;

/// Which kind of URL a [`BlobUrl`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobUrlKind {
    /// No signature: it works only for containers with public read access.
    Plain,
    /// Signed with the account key (service SAS).
    ServiceSas,
    /// Signed with a user delegation key obtained with a bearer token (user delegation SAS).
    UserDelegationSas,
}

/// A URL to one blob. When signed, whoever holds it can use it until it expires, so it is a
/// secret: `Debug` shows it with the signature replaced by `<redacted>`, there is no
/// `Display`, and the text is zeroized on drop. [`as_str`](Self::as_str) gives the real URL.
#[derive(Clone)]
pub struct BlobUrl {
    url: Zeroizing<String>,
    /// Length of the endpoint's base (`https://acct.blob.core.windows.net` or
    /// `http://127.0.0.1:10000/devstoreaccount1`) at the start of `url`.
    base_len: usize,
    kind: BlobUrlKind,
    expires_on: Option<SystemTime>,
}

impl BlobUrl {
    /// `url` must start with the endpoint base `base` (without trailing `/`).
    pub(crate) fn new(
        url: &Url,
        base: &Url,
        kind: BlobUrlKind,
        expires_on: Option<SystemTime>,
    ) -> Self {
        let base = base.as_str().trim_end_matches('/');
        debug_assert!(url.as_str().starts_with(base));
        Self {
            url: Zeroizing::new(url.as_str().to_owned()),
            base_len: base.len(),
            kind,
            expires_on,
        }
    }

    /// The URL, signature included.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Which kind of URL this is.
    pub fn kind(&self) -> BlobUrlKind {
        self.kind
    }

    /// When a signed URL stops working (`None` for a plain URL).
    pub fn expires_on(&self) -> Option<SystemTime> {
        self.expires_on
    }

    /// The same URL on another origin, such as a CDN or custom domain in front of the account:
    /// the endpoint part (`https://acct.blob.core.windows.net`, or
    /// `http://127.0.0.1:10000/devstoreaccount1` for a path-style endpoint) is replaced by
    /// `origin`, and `/<container>/<blob>?<sas>` is kept as it is.
    ///
    /// `origin` is an `http`/`https` URL without query or fragment; a path in it is kept as a
    /// prefix (`https://cdn.example.com/media`).
    pub fn with_origin(&self, origin: &Url) -> Result<Self, Error> {
        if !matches!(origin.scheme(), "http" | "https")
            || origin.host().is_none()
            || origin.query().is_some()
            || origin.fragment().is_some()
            || !origin.username().is_empty()
            || origin.password().is_some()
        {
            return Err(Error::config(format!(
                "the origin {origin} cannot replace the storage endpoint in URLs: give an \
                 http(s) URL with a host, such as https://cdn.example.com, and no query, \
                 fragment, user or password"
            )));
        }
        let origin = origin.as_str().trim_end_matches('/');
        let rest = &self.url[self.base_len..];
        Ok(Self {
            url: Zeroizing::new(format!("{origin}{rest}")),
            base_len: origin.len(),
            kind: self.kind,
            expires_on: self.expires_on,
        })
    }

    /// The URL with the value of `sig` replaced, for logs and `Debug`.
    pub fn redacted(&self) -> String {
        let Some((path, query)) = self.url.split_once('?') else {
            return self.url.to_string();
        };
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("sig", _)) => "sig=<redacted>".to_owned(),
                _ => pair.to_owned(),
            })
            .collect();
        format!("{path}?{}", query.join("&"))
    }
}

impl fmt::Debug for BlobUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobUrl")
            .field("url", &self.redacted())
            .field("kind", &self.kind)
            .field("expires_on", &self.expires_on)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(url: &str, base: &str) -> BlobUrl {
        BlobUrl::new(
            &Url::parse(url).unwrap(),
            &Url::parse(base).unwrap(),
            BlobUrlKind::ServiceSas,
            None,
        )
    }

    #[test]
    fn debug_hides_the_signature() {
        let url = signed(
            "https://acct1.blob.core.windows.net/c/a%20b?sv=2022-11-02&sp=r&sig=SECRET%2BSIG%3D",
            "https://acct1.blob.core.windows.net",
        );
        let debug = format!("{url:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(
            debug.contains(
                "https://acct1.blob.core.windows.net/c/a%20b?sv=2022-11-02&sp=r&sig=<redacted>"
            ),
            "{debug}"
        );
        assert!(url.as_str().ends_with("sig=SECRET%2BSIG%3D"));
    }

    #[test]
    fn another_origin_replaces_the_endpoint_part() {
        let path_style = signed(
            "http://127.0.0.1:10000/devstoreaccount1/c/a%20b?sv=1&sig=x",
            "http://127.0.0.1:10000/devstoreaccount1",
        );
        let cdn = Url::parse("https://cdn.example.com/").unwrap();
        assert_eq!(
            path_style.with_origin(&cdn).unwrap().as_str(),
            "https://cdn.example.com/c/a%20b?sv=1&sig=x"
        );
        let account = signed(
            "https://acct1.blob.core.windows.net/c/x.jpg?sv=1&sig=x",
            "https://acct1.blob.core.windows.net/",
        );
        let prefixed = Url::parse("https://cdn.example.com:8443/media").unwrap();
        assert_eq!(
            account.with_origin(&prefixed).unwrap().as_str(),
            "https://cdn.example.com:8443/media/c/x.jpg?sv=1&sig=x"
        );
        let bad = Url::parse("https://cdn.example.com/?a=b").unwrap();
        assert!(account.with_origin(&bad).is_err());
    }
}
