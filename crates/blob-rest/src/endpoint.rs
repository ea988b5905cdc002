//! Where the Blob service of an account lives.
//!
//! Two URL shapes exist:
//! - account URLs, `https://<account>.blob.<suffix>` with the suffix `core.windows.net` in the
//!   public cloud and others in sovereign clouds;
//! - path-style URLs, where the account is the first path segment, as emulators use them:
//!   `http://127.0.0.1:10000/devstoreaccount1`.
//!
//! Reference: [Resource URI syntax](https://learn.microsoft.com/rest/api/storageservices/blob-service-rest-api).

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

use crate::encoding::{encode_component, encode_path};
use crate::error::Error;
use crate::names::check_account_name;

/// The public cloud's endpoint suffix.
pub const PUBLIC_CLOUD_SUFFIX: &str = "core.windows.net";

const ENDPOINT_EXAMPLES: &str =
    "e.g. https://myaccount.blob.core.windows.net or http://127.0.0.1:10000/devstoreaccount1";

/// A Blob service endpoint: a base URL and the account it belongs to.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Scheme, host, port and (path-style only) `/account`, without a trailing slash.
    base: Url,
    account: String,
    path_style: bool,
}

impl Endpoint {
    /// `https://<account>.blob.<suffix>`; `suffix` is e.g. [`PUBLIC_CLOUD_SUFFIX`].
    pub fn for_account(account: &str, suffix: &str) -> Result<Self, Error> {
        let account = account.trim();
        check_account_name(account)?;
        let suffix = suffix.trim().trim_matches('.');
        let suffix = suffix.strip_prefix("blob.").unwrap_or(suffix);
        if suffix.is_empty() || suffix.contains(['/', ':', '?', '#', '@']) {
            return Err(Error::config(format!(
                "the endpoint suffix {suffix:?} is not valid: give a DNS suffix such as \
                 \"{PUBLIC_CLOUD_SUFFIX}\", without scheme or path"
            )));
        }
        let base = Url::parse(&format!("https://{account}.blob.{suffix}")).map_err(|e| {
            Error::config(format!(
                "the endpoint suffix {suffix:?} does not give a valid host name ({e})"
            ))
        })?;
        Ok(Self {
            base,
            account: account.to_owned(),
            path_style: false,
        })
    }

    /// Parses a blob endpoint URL. The account is the first path segment when there is one
    /// (path-style, as emulators use), else the first label of the host name.
    pub fn parse(endpoint: &str) -> Result<Self, Error> {
        let text = endpoint.trim();
        if text.is_empty() {
            return Err(Error::config(format!(
                "the blob endpoint is empty: give the Blob service URL, {ENDPOINT_EXAMPLES}"
            )));
        }
        // The input is not echoed: a pasted URL may carry a SAS or a password.
        let url = Url::parse(text).map_err(|e| {
            Error::config(format!(
                "the blob endpoint is not a valid absolute URL ({e}): {ENDPOINT_EXAMPLES}"
            ))
        })?;
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(Error::config(format!(
                "the blob endpoint must start with https:// (or http:// for a local \
                 emulator), not {}://",
                url.scheme()
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::config(
                "the blob endpoint must not contain a user name or password",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::config(
                "the blob endpoint must not contain a query string or fragment: pass a SAS \
                 token as the credential instead of appending it to the endpoint",
            ));
        }
        let Some(host) = url.host() else {
            return Err(Error::config(format!(
                "the blob endpoint has no host name: {ENDPOINT_EXAMPLES}"
            )));
        };
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.filter(|seg| !seg.is_empty()).collect())
            .unwrap_or_default();
        let mut base = url.clone();
        base.set_path("");
        match segments.as_slice() {
            [] => {
                let account = match host {
                    Host::Domain(domain) if domain.contains('.') => {
                        domain.split('.').next().unwrap_or_default().to_owned()
                    }
                    _ => {
                        return Err(Error::config(format!(
                            "cannot tell the storage account from the blob endpoint {url}: \
                             for an emulator put the account in the path, e.g. \
                             {}://{}/devstoreaccount1",
                            url.scheme(),
                            host_and_port(&url)
                        )))
                    }
                };
                check_account_name(&account)?;
                Ok(Self {
                    base,
                    account,
                    path_style: false,
                })
            }
            [account] => {
                check_account_name(account)?;
                base.set_path(&format!("/{account}"));
                Ok(Self {
                    account: (*account).to_owned(),
                    base,
                    path_style: true,
                })
            }
            _ => Err(Error::config(format!(
                "the blob endpoint {url} has a path beyond the account: it should end at the \
                 host (https://myaccount.blob.core.windows.net) or at the account \
                 (http://127.0.0.1:10000/devstoreaccount1); containers and blobs are named \
                 separately"
            ))),
        }
    }

    /// The storage account name.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The base URL of the service, without a trailing slash on path-style endpoints.
    pub fn url(&self) -> &Url {
        &self.base
    }

    /// Whether the account is the first path segment (emulator style).
    pub fn is_path_style(&self) -> bool {
        self.path_style
    }

    /// Whether the endpoint uses HTTPS.
    pub fn is_https(&self) -> bool {
        self.base.scheme() == "https"
    }

    /// Whether the host is this machine (`localhost`, `127.0.0.0/8`, `::1`).
    pub fn is_loopback(&self) -> bool {
        match self.base.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            Some(Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
            None => false,
        }
    }

    /// The URL of a container, or of a blob in it, with an already encoded query.
    ///
    /// The blob name is percent-encoded exactly once (keeping `/`), and the result is checked
    /// to hold exactly that path, because it is what gets signed and sent.
    pub(crate) fn resource_url(
        &self,
        container: &str,
        blob: Option<&str>,
        query: &[(&str, &str)],
    ) -> Result<Url, Error> {
        let mut path = if self.path_style {
            format!("/{}/{}", self.account, encode_component(container))
        } else {
            format!("/{}", encode_component(container))
        };
        if let Some(blob) = blob {
            path.push('/');
            path.push_str(&encode_path(blob));
        }
        let mut url = self.base.clone();
        url.set_path(&path);
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
            .collect();
        if !query.is_empty() {
            url.set_query(Some(&query.join("&")));
        }
        if url.path() != path {
            return Err(Error::invalid_input(format!(
                "the blob name {:?} cannot be sent unchanged in a URL",
                blob.unwrap_or_default()
            )));
        }
        Ok(url)
    }
}

fn host_and_port(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => String::new(),
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.base.as_str())
            .field("account", &self.account)
            .field("path_style", &self.path_style)
            .finish()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base.as_str().trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn account_url_with_suffix() {
        let e = Endpoint::for_account("myaccount", "core.chinacloudapi.cn").unwrap();
        assert_eq!(
            e.to_string(),
            "https://myaccount.blob.core.chinacloudapi.cn"
        );
        assert!(!e.is_path_style() && e.is_https() && !e.is_loopback());
        let e = Endpoint::for_account("myaccount", ".blob.core.windows.net").unwrap();
        assert_eq!(e.to_string(), "https://myaccount.blob.core.windows.net");
        assert!(Endpoint::for_account("myaccount", "https://x").is_err());
        let err = Endpoint::for_account("", PUBLIC_CLOUD_SUFFIX).unwrap_err();
        assert!(err.to_string().contains("account name is empty"), "{err}");
    }

    #[test]
    fn parses_both_shapes() {
        let e = Endpoint::parse("http://127.0.0.1:10000/devstoreaccount1/").unwrap();
        assert_eq!(e.account(), "devstoreaccount1");
        assert!(e.is_path_style() && e.is_loopback() && !e.is_https());
        assert_eq!(e.to_string(), "http://127.0.0.1:10000/devstoreaccount1");
        let e = Endpoint::parse(" https://acct1.blob.core.windows.net/ ").unwrap();
        assert_eq!(e.account(), "acct1");
        assert!(!e.is_path_style());
        let e = Endpoint::parse("https://localhost:10001/devstoreaccount1").unwrap();
        assert!(e.is_loopback());
        let e = Endpoint::parse("http://[::1]:10000/devstoreaccount1").unwrap();
        assert!(e.is_loopback());
    }

    #[test]
    fn malformed_endpoints_get_clear_errors() {
        let cases = [
            ("", "endpoint is empty"),
            ("not a url", "not a valid absolute URL"),
            ("127.0.0.1:10000/devstoreaccount1", "https://"),
            ("ftp://acct.blob.core.windows.net", "not ftp://"),
            (
                "https://u:secretpw@acct.blob.core.windows.net",
                "user name or password",
            ),
            (
                "https://acct.blob.core.windows.net/?sv=1&sig=SECRETSIG",
                "pass a SAS token",
            ),
            ("http://127.0.0.1:10000", "put the account in the path"),
            (
                "http://127.0.0.1:10000/devstoreaccount1/photos",
                "path beyond the account",
            ),
            ("http://127.0.0.1:10000/Dev_Store", "not valid"),
        ];
        for (input, expected) in cases {
            let err = Endpoint::parse(input).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{input}");
            let text = err.to_string();
            assert!(text.contains(expected), "{input}: {text}");
            assert!(
                !text.contains("SECRETSIG") && !text.contains("secretpw"),
                "{text}"
            );
        }
    }

    #[test]
    fn resource_urls_encode_names_once() {
        let e = Endpoint::parse("http://127.0.0.1:10000/devstoreaccount1").unwrap();
        let url = e
            .resource_url(
                "photos",
                Some("a b+c%d#e?f&g=h/été/"),
                &[("comp", "block"), ("blockid", "AA+/==")],
            )
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:10000/devstoreaccount1/photos/a%20b%2Bc%25d%23e%3Ff%26g%3Dh/\
             %C3%A9t%C3%A9/?comp=block&blockid=AA%2B%2F%3D%3D"
        );
        let e = Endpoint::parse("https://acct1.blob.core.windows.net").unwrap();
        let url = e
            .resource_url("photos", None, &[("restype", "container")])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://acct1.blob.core.windows.net/photos?restype=container"
        );
    }
}
