//! URLs of stored files to put in web pages and emails: signed and expiring for private
//! containers, plain for public ones, optionally on a custom domain (a CDN).
//!
//! Which signature a URL gets follows from the storage's authentication:
//! - a shared key signs a **service SAS** locally;
//! - a managed identity (or any bearer token provider) gets a **user delegation key** from the
//!   service, cached and reused, and signs a **user delegation SAS** with it (at most 7 days);
//! - a SAS token or anonymous access cannot sign anything: asking for a signed URL is a
//!   [`ErrorKind::Config`] error. The app's own SAS token is deliberately not handed out in
//!   URLs: it would share the app's permissions and lifetime with every visitor.
//!
//! `docs/urls.md` has the details (pinned version, string-to-sign, limits).

use std::time::{Duration, SystemTime};

use blob_rest::{BlobUrl, SasOptions, SasPermissions};
use tracing::Instrument as _;
use url::Url;

use crate::config::{quote, AuthMethod};
use crate::error::{Error, ErrorKind, Result};
use crate::storage::Storage;

/// What a URL from [`Storage::url_with`] allows, for how long, and how it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlOptions {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Signed {
        expiry: Expiry,
        start: Option<SystemTime>,
        permissions: SasPermissions,
        content_type: Option<String>,
        content_disposition: Option<String>,
    },
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    In(Duration),
    At(SystemTime),
}

impl UrlOptions {
    /// A signed, read-only URL valid for `lifetime` from now.
    pub fn expires_in(lifetime: Duration) -> Self {
        Self::signed(Expiry::In(lifetime))
    }

    /// A signed, read-only URL valid until `expiry`.
    pub fn expires_at(expiry: SystemTime) -> Self {
        Self::signed(Expiry::At(expiry))
    }

    fn signed(expiry: Expiry) -> Self {
        Self {
            kind: Kind::Signed {
                expiry,
                start: None,
                permissions: SasPermissions::read_only(),
                content_type: None,
                content_disposition: None,
            },
        }
    }

    /// A plain URL without signature, for containers with public read access. It never
    /// expires and needs no credential to make.
    pub fn public() -> Self {
        Self { kind: Kind::Plain }
    }

    /// When a signed URL starts to work. By default it works at once (no start is signed, so
    /// clock differences do not matter).
    pub fn starts_at(mut self, start: SystemTime) -> Self {
        if let Kind::Signed { start: s, .. } = &mut self.kind {
            *s = Some(start);
        }
        self
    }

    /// Also allow uploading through the URL (`PUT` with `x-ms-blob-type: BlockBlob`),
    /// creating or replacing the blob: permissions read, create and write. (Like the other
    /// signing options, it has no effect on a [`public`](Self::public) URL.)
    pub fn write(self) -> Self {
        self.with_permissions(SasPermissions::read_only().with_create().with_write())
    }

    /// Allow creating the blob through the URL but not replacing an existing one:
    /// permissions read and create.
    pub fn create_only(self) -> Self {
        self.with_permissions(SasPermissions::read_only().with_create())
    }

    fn with_permissions(mut self, new: SasPermissions) -> Self {
        if let Kind::Signed { permissions, .. } = &mut self.kind {
            *permissions = new;
        }
        self
    }

    /// The `Content-Type` a download through the signed URL gets, whatever is stored.
    pub fn content_type(mut self, value: impl Into<String>) -> Self {
        if let Kind::Signed { content_type, .. } = &mut self.kind {
            *content_type = Some(value.into());
        }
        self
    }

    /// The `Content-Disposition` a download through the signed URL gets, e.g.
    /// `attachment; filename="report.pdf"` to make browsers save the file.
    pub fn content_disposition(mut self, value: impl Into<String>) -> Self {
        if let Kind::Signed {
            content_disposition,
            ..
        } = &mut self.kind
        {
            *content_disposition = Some(value.into());
        }
        self
    }

    /// Refuses a content type override that cannot become a response header, with advice
    /// for a content type (blob-rest's own refusal advises on file names, which only the
    /// content disposition holds).
    fn check_content_type(&self, action: &str) -> Result<()> {
        let Kind::Signed {
            content_type: Some(value),
            ..
        } = &self.kind
        else {
            return Ok(());
        };
        if value.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{action}: the SAS content type override {} must be printable ASCII (it \
                 becomes a response header), such as text/plain",
                quote(value)
            ),
        ))
    }

    fn sas_options(&self) -> Option<SasOptions> {
        let Kind::Signed {
            expiry,
            start,
            permissions,
            content_type,
            content_disposition,
        } = &self.kind
        else {
            return None;
        };
        let mut options = match *expiry {
            Expiry::In(lifetime) => SasOptions::expires_in(lifetime),
            Expiry::At(at) => SasOptions::expires_at(at),
        }
        .permissions(*permissions);
        if let Some(start) = start {
            options = options.starts_at(*start);
        }
        if let Some(value) = content_type {
            options = options.content_type(value.clone());
        }
        if let Some(value) = content_disposition {
            options = options.content_disposition(value.clone());
        }
        Some(options)
    }
}

impl Storage {
    /// A signed, read-only URL of the blob `name`, valid for `expires_in`; see
    /// [`Storage::url_with`].
    pub async fn url(&self, name: &str, expires_in: Duration) -> Result<BlobUrl> {
        self.url_with(name, UrlOptions::expires_in(expires_in))
            .await
    }

    /// A URL of the blob `name` (relative to the location prefix) as `options` say. The blob
    /// need not exist yet (a write URL is for uploading it). With a custom domain configured,
    /// the URL is on that domain. The result's `Debug` hides the signature; `as_str()` gives
    /// the URL.
    pub async fn url_with(&self, name: &str, options: UrlOptions) -> Result<BlobUrl> {
        let name = self.resolve(name)?;
        let action = format!(
            "cannot make a URL for {} in container {}",
            quote(&name.full),
            quote(self.container())
        );
        let span =
            tracing::info_span!("storage_url", container = self.container(), blob = %name.full);
        let container = self.container_client();
        let url = match options.sas_options() {
            None => container
                .blob_url(&name.full)
                .map_err(|e| Error::from_blob(&action, e))?,
            Some(sas) => {
                self.check_can_sign(&action)?;
                options.check_content_type(&action)?;
                container
                    .blob_sas_url(&name.full, &sas)
                    .instrument(span)
                    .await
                    .map_err(|e| Error::from_blob(&action, e))?
            }
        };
        match self.custom_domain() {
            Some(origin) => url
                .with_origin(origin)
                .map_err(|e| Error::from_blob(&action, e)),
            None => Ok(url),
        }
    }

    /// Refuses, with what to do instead, auth methods that hold nothing to sign with.
    fn check_can_sign(&self, action: &str) -> Result<()> {
        let why = match self.auth_choice().method() {
            AuthMethod::SharedAccessSignature => {
                "the storage authenticates with a SAS token, which cannot sign new URLs (and \
                 is not handed out itself: visitors would get the app's own permissions and \
                 lifetime)"
            }
            AuthMethod::Anonymous => "the storage has no credential to sign with",
            _ => return Ok(()),
        };
        Err(Error::new(
            ErrorKind::Config,
            format!(
                "{action}: {why}. Configure an account key or a managed identity to get signed \
                 URLs, or ask for a plain URL (UrlOptions::public(), `azblob url --public`) if \
                 the container allows public read access"
            ),
        ))
    }
}

/// Checks a custom domain (`cdn.example.com`, `https://cdn.example.com` or
/// `https://cdn.example.com/media`) and returns it as the origin URLs are moved to. Plain
/// `http://` is accepted only for a loopback host, since signed URLs would travel in clear.
pub(crate) fn parse_custom_domain(domain: &str) -> Result<Url> {
    let text = domain.trim();
    // The value is never quoted back: it may hold a password (`user:password@`) or a SAS in
    // its query.
    let bad = |why: &str| {
        Error::config(format!(
            "the custom domain {why}; give a host name such as cdn.example.com, or an https \
             URL such as https://cdn.example.com/media"
        ))
    };
    if text.is_empty() {
        return Err(bad("is empty"));
    }
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("https://{text}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| bad(&format!("is not a valid URL ({e})")))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("has a query or fragment (`?` or `#` part)"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("has a user name or password"));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(bad("has no host")),
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(bad(
            "is plain http, which would send signed URLs in clear text over the network",
        )),
        other => Err(bad(&format!(
            "has the scheme {other}://, which is not http(s)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_domains_are_checked() {
        assert_eq!(
            parse_custom_domain(" cdn.example.com ").unwrap().as_str(),
            "https://cdn.example.com/"
        );
        assert_eq!(
            parse_custom_domain("https://cdn.example.com/media/")
                .unwrap()
                .as_str(),
            "https://cdn.example.com/media/"
        );
        assert!(parse_custom_domain("http://127.0.0.1:8080").is_ok());
        for (bad, why) in [
            ("", "empty"),
            ("http://cdn.example.com", "clear text"),
            ("ftp://cdn.example.com", "not http(s)"),
            ("https://cdn.example.com/?sig=x", "query"),
            ("https://u:p@cdn.example.com", "user name"),
        ] {
            let err = parse_custom_domain(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(err.to_string().contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn custom_domain_errors_never_echo_a_password_or_query() {
        let tail = "; give a host name such as cdn.example.com, or an https URL such as \
                    https://cdn.example.com/media";
        for (bad, why) in [
            (
                "https://admin:SENTINELpw@cdn.example.com",
                "has a user name or password",
            ),
            (
                "https://cdn.example.com/media?sig=SENTINELsig",
                "has a query or fragment (`?` or `#` part)",
            ),
            (
                "http://admin:SENTINELpw@cdn.example.com",
                "has a user name or password",
            ),
            (
                "ftp://cdn.example.com/?sig=SENTINELsig",
                "has a query or fragment (`?` or `#` part)",
            ),
            (
                "https://admin:SENTINELpw@[::1",
                "is not a valid URL (invalid IPv6 address)",
            ),
        ] {
            let err = parse_custom_domain(bad).unwrap_err();
            assert_eq!(err.to_string(), format!("the custom domain {why}{tail}"));
            let debug = format!("{err:?}");
            assert!(!err.to_string().contains("SENTINEL"), "{err}");
            assert!(!debug.contains("SENTINEL"), "{debug}");
            assert!(!debug.contains("admin"), "{debug}");
        }
    }

    #[test]
    fn options_map_to_sas_options() {
        let hour = Duration::from_secs(3600);
        assert_eq!(
            UrlOptions::expires_in(hour).sas_options(),
            Some(SasOptions::expires_in(hour))
        );
        assert_eq!(
            UrlOptions::expires_in(hour)
                .write()
                .content_type("image/png")
                .content_disposition("inline")
                .sas_options(),
            Some(
                SasOptions::expires_in(hour)
                    .permissions(SasPermissions::read_only().with_create().with_write())
                    .content_type("image/png")
                    .content_disposition("inline")
            )
        );
        assert_eq!(UrlOptions::public().write().sas_options(), None);
    }
}
