//! Shared access signatures this client creates: URLs that let anyone holding them read (or
//! write) one blob until they expire, without any other credential.
//!
//! Two kinds, chosen by the client's credential:
//! - a **service SAS**, signed with the account key
//!   ([Create a service SAS](https://learn.microsoft.com/rest/api/storageservices/create-service-sas));
//! - a **user delegation SAS**, signed with a user delegation key that a bearer token (a managed
//!   identity) obtains from the service
//!   ([Create a user delegation SAS](https://learn.microsoft.com/rest/api/storageservices/create-user-delegation-sas)).
//!
//! Both are signed for one pinned version, [`SAS_VERSION`], whose string-to-sign layouts are
//! written out in `service.rs` and `user_delegation.rs`. What both share:
//! - the canonical resource is `/blob/<account>/<container>/<blob>` with the raw blob name (never
//!   percent-encoded), and the account once, also on path-style emulator endpoints;
//! - values are signed raw and percent-encoded exactly once in the query (`sig` holds `+`, `/`
//!   and `=`);
//! - `spr=https`, except for a loopback emulator over plain HTTP (`spr=https,http`); no SAS is
//!   made for a remote plain-HTTP endpoint, where it would travel in clear text.

mod blob_url;
mod service;
mod user_delegation;

use std::fmt;
use std::time::{Duration, SystemTime};

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::endpoint::Endpoint;
use crate::error::Error;

pub use blob_url::{BlobUrl, BlobUrlKind};
pub(crate) use service::sign_service_sas;
pub use user_delegation::UserDelegationKey;
pub(crate) use user_delegation::{sign_user_delegation_sas, DelegationKeyCache};

/// The signed version (`sv`) of every SAS this crate creates. It fixes the string-to-sign
/// layout (the one of 2020-12-06 and later, before 2025-07-05) and is accepted by the service
/// and by Azurite 3.35.0.
pub const SAS_VERSION: &str = "2022-11-02";

/// The longest a user delegation key, and so a user delegation SAS, may be valid: the service
/// refuses keys that expire more than seven days from now.
pub const MAX_USER_DELEGATION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a SAS allows on its blob (`sp`). Read only unless more is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SasPermissions {
    /// One bit per entry of [`PERMISSION_LETTERS`].
    bits: u8,
}

/// The permission letters this crate signs, in the order the service requires (`racwd...`).
const PERMISSION_LETTERS: [char; 4] = ['r', 'c', 'w', 'd'];

impl Default for SasPermissions {
    fn default() -> Self {
        Self::read_only()
    }
}

impl SasPermissions {
    /// Read the content, properties and metadata (`r`).
    pub fn read_only() -> Self {
        Self::none().with_read()
    }

    /// No permission at all; add some with the `with_` methods.
    pub fn none() -> Self {
        Self { bits: 0 }
    }

    /// Adds read (`r`).
    pub fn with_read(self) -> Self {
        self.with(0)
    }

    /// Adds create (`c`): write a new blob, but not replace an existing one.
    pub fn with_create(self) -> Self {
        self.with(1)
    }

    /// Adds write (`w`): create or replace the blob's content, properties and metadata.
    pub fn with_write(self) -> Self {
        self.with(2)
    }

    /// Adds delete (`d`).
    pub fn with_delete(self) -> Self {
        self.with(3)
    }

    fn with(mut self, index: u8) -> Self {
        self.bits |= 1 << index;
        self
    }

    /// The `sp` value, letters in the order the service requires.
    pub fn as_signed(&self) -> String {
        PERMISSION_LETTERS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.bits & (1 << i) != 0)
            .map(|(_, letter)| *letter)
            .collect()
    }
}

/// When a SAS stops working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    /// This long after "now" by the client's clock.
    In(Duration),
    /// At this instant.
    At(SystemTime),
}

/// What a SAS URL allows and for how long; see [`ContainerClient::blob_sas_url`].
///
/// [`ContainerClient::blob_sas_url`]: crate::ContainerClient::blob_sas_url
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SasOptions {
    expiry: Expiry,
    start: Option<SystemTime>,
    permissions: SasPermissions,
    content_type: Option<String>,
    content_disposition: Option<String>,
}

impl SasOptions {
    /// A read-only SAS valid for `lifetime` from now (by the client's clock).
    pub fn expires_in(lifetime: Duration) -> Self {
        Self::with_expiry(Expiry::In(lifetime))
    }

    /// A read-only SAS valid until `expiry`.
    pub fn expires_at(expiry: SystemTime) -> Self {
        Self::with_expiry(Expiry::At(expiry))
    }

    fn with_expiry(expiry: Expiry) -> Self {
        Self {
            expiry,
            start: None,
            permissions: SasPermissions::read_only(),
            content_type: None,
            content_disposition: None,
        }
    }

    /// When the SAS starts to work (`st`). By default none is signed, so the SAS works at once
    /// whatever the difference between this machine's clock and the service's.
    pub fn starts_at(mut self, start: SystemTime) -> Self {
        self.start = Some(start);
        self
    }

    /// What the SAS allows (default: read only).
    pub fn permissions(mut self, permissions: SasPermissions) -> Self {
        self.permissions = permissions;
        self
    }

    /// The `Content-Type` the service sends when the blob is downloaded through this SAS
    /// (`rsct`), whatever is stored.
    pub fn content_type(mut self, value: impl Into<String>) -> Self {
        self.content_type = Some(value.into());
        self
    }

    /// The `Content-Disposition` the service sends when the blob is downloaded through this
    /// SAS (`rscd`), e.g. `attachment; filename="report.pdf"` to make browsers save it.
    pub fn content_disposition(mut self, value: impl Into<String>) -> Self {
        self.content_disposition = Some(value.into());
        self
    }

    /// The start (if any) and expiry, checked, with `now` from the client's clock. Both are
    /// cut to whole seconds, as they are signed, so that comparing them with a key's times
    /// (also whole seconds) agrees with what the service will see.
    pub(crate) fn window(
        &self,
        now: SystemTime,
    ) -> Result<(Option<SystemTime>, SystemTime), Error> {
        let expiry = match self.expiry {
            Expiry::In(lifetime) => {
                if lifetime.is_zero() {
                    return Err(Error::invalid_input(
                        "a SAS lifetime of zero was asked for: give a positive lifetime, such \
                         as one hour",
                    ));
                }
                now.checked_add(lifetime).ok_or_else(|| {
                    Error::invalid_input("the SAS lifetime reaches beyond the year 9999")
                })?
            }
            Expiry::At(expiry) => expiry,
        };
        let expiry = whole_seconds(expiry);
        let explicit_start = self.start.map(whole_seconds);
        let start = explicit_start.unwrap_or(now);
        if expiry <= start {
            return Err(Error::invalid_input(
                "the SAS would expire before it starts: give an expiry after the start (or \
                 after now when no start is given)",
            ));
        }
        Ok((explicit_start, expiry))
    }

    /// The fields of this SAS that do not depend on the signing key.
    pub(crate) fn fields(
        &self,
        endpoint: &Endpoint,
        container: &str,
        blob: &str,
        start: Option<SystemTime>,
        expiry: SystemTime,
    ) -> Result<SasFields, Error> {
        let permissions = self.permissions.as_signed();
        if permissions.is_empty() {
            return Err(Error::invalid_input(
                "the SAS grants no permission: allow at least read, create or write",
            ));
        }
        for (what, value) in [
            ("content type", &self.content_type),
            ("content disposition", &self.content_disposition),
        ] {
            // The service sends these back as response headers, which carry ASCII only.
            if value
                .as_deref()
                .is_some_and(|v| v.chars().any(|c| c != ' ' && !c.is_ascii_graphic()))
            {
                return Err(Error::invalid_input(format!(
                    "the SAS {what} override must be printable ASCII (it becomes a response \
                     header); for a file name with other letters use the RFC 6266 form \
                     filename*=UTF-8''<percent-encoded name>"
                )));
            }
        }
        Ok(SasFields {
            permissions,
            start: start.map(format_time).transpose()?,
            expiry: format_time(expiry)?,
            canonical_resource: format!("/blob/{}/{container}/{blob}", endpoint.account()),
            protocol: signed_protocol(endpoint)?,
            content_disposition: self.content_disposition.clone(),
            content_type: self.content_type.clone(),
        })
    }
}

/// The values of a blob SAS that both kinds sign, as strings ready to sign (raw, not
/// percent-encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SasFields {
    /// `sp`.
    pub(crate) permissions: String,
    /// `st`, when one is signed.
    pub(crate) start: Option<String>,
    /// `se`.
    pub(crate) expiry: String,
    /// `/blob/<account>/<container>/<raw blob name>`.
    pub(crate) canonical_resource: String,
    /// `spr`.
    pub(crate) protocol: &'static str,
    /// `rscd`.
    pub(crate) content_disposition: Option<String>,
    /// `rsct`.
    pub(crate) content_type: Option<String>,
}

/// The signed resource (`sr`): always one blob.
pub(crate) const SIGNED_RESOURCE_BLOB: &str = "b";

/// `spr`: HTTPS only, except plain HTTP to a loopback emulator. A SAS for a remote plain-HTTP
/// endpoint is refused: it would cross the network readable by anyone on the path.
fn signed_protocol(endpoint: &Endpoint) -> Result<&'static str, Error> {
    if endpoint.is_https() {
        Ok("https")
    } else if endpoint.is_loopback() {
        Ok("https,http")
    } else {
        Err(Error::config(format!(
            "refusing to create a SAS URL for the plain http:// endpoint {endpoint}: anyone on \
             the network path could read and reuse it; use an https:// endpoint (plain http is \
             only allowed to a loopback emulator)"
        )))
    }
}

/// `instant` without its fraction of a second (times before 1970 are left alone: formatting
/// refuses them).
fn whole_seconds(instant: SystemTime) -> SystemTime {
    match instant.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) => SystemTime::UNIX_EPOCH + Duration::from_secs(since.as_secs()),
        Err(_) => instant,
    }
}

/// A SAS time: ISO 8601 in UTC to the second, `2025-12-02T10:30:00Z`, the form the service
/// documents for `st`, `se`, `skt` and `ske`.
pub(crate) fn format_time(instant: SystemTime) -> Result<String, Error> {
    let out_of_range =
        || Error::invalid_input("a SAS time must fall between the years 1970 and 9999");
    let seconds = instant
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .and_then(|since| i64::try_from(since.as_secs()).ok())
        .ok_or_else(out_of_range)?;
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|datetime| {
            datetime
                .format(format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
                ))
                .ok()
        })
        .ok_or_else(out_of_range)
}

/// Parses an ISO 8601 UTC time as the service sends it (with or without fractions).
pub(crate) fn parse_time(text: &str) -> Option<SystemTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .ok()
        .map(SystemTime::from)
}

/// The query of a SAS, built in order, each name and value percent-encoded exactly once.
/// `Debug` hides the signature.
pub(crate) struct SasQuery {
    pairs: Vec<(&'static str, String)>,
}

impl SasQuery {
    pub(crate) fn new() -> Self {
        Self { pairs: Vec::new() }
    }

    pub(crate) fn push(&mut self, name: &'static str, value: impl Into<String>) {
        self.pairs.push((name, value.into()));
    }

    pub(crate) fn push_opt(&mut self, name: &'static str, value: Option<&String>) {
        if let Some(value) = value {
            self.push(name, value.clone());
        }
    }

    /// `name=value&...`, encoded once.
    pub(crate) fn encode(&self) -> zeroize::Zeroizing<String> {
        let mut out = zeroize::Zeroizing::new(String::new());
        for (name, value) in &self.pairs {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(name);
            out.push('=');
            out.push_str(&crate::encoding::encode_component(value));
        }
        out
    }
}

impl Drop for SasQuery {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        for (_, value) in &mut self.pairs {
            value.zeroize();
        }
    }
}

impl fmt::Debug for SasQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SasQuery")
            .field(
                "parameters",
                &self.pairs.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn at(text: &str) -> SystemTime {
        parse_time(text).unwrap()
    }

    #[test]
    fn permissions_are_signed_in_the_service_order() {
        assert_eq!(SasPermissions::default().as_signed(), "r");
        let all = SasPermissions::none()
            .with_delete()
            .with_write()
            .with_create()
            .with_read();
        assert_eq!(all.as_signed(), "rcwd");
        assert_eq!(SasPermissions::none().with_write().as_signed(), "w");
    }

    #[test]
    fn times_are_whole_seconds_in_utc() {
        let t = at("2025-12-02T10:30:00.987Z");
        assert_eq!(format_time(t).unwrap(), "2025-12-02T10:30:00Z");
        assert_eq!(
            parse_time("2025-12-02T10:30:00Z"),
            Some(at("2025-12-02T10:30:00Z"))
        );
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn windows_are_checked() {
        let now = at("2025-12-02T10:30:00Z");
        let (start, expiry) = SasOptions::expires_in(Duration::from_secs(3600))
            .window(now)
            .unwrap();
        assert_eq!(start, None);
        assert_eq!(expiry, at("2025-12-02T11:30:00Z"));
        // Fractions of a second are cut, as the signed form has none.
        let (start, expiry) = SasOptions::expires_in(Duration::from_secs(3600))
            .starts_at(at("2025-12-02T10:00:00.999Z"))
            .window(now + Duration::from_millis(750))
            .unwrap();
        assert_eq!(start, Some(at("2025-12-02T10:00:00Z")));
        assert_eq!(expiry, at("2025-12-02T11:30:00Z"));

        let err = SasOptions::expires_in(Duration::ZERO)
            .window(now)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = SasOptions::expires_at(at("2025-12-02T10:00:00Z"))
            .window(now)
            .unwrap_err();
        assert!(err.to_string().contains("expire before it starts"), "{err}");

        // An explicit start in the past makes an already expired SAS possible (for tests of
        // refusal), but never one that ends before it starts.
        let (start, expiry) = SasOptions::expires_at(at("2025-12-02T10:00:00Z"))
            .starts_at(at("2025-12-02T09:00:00Z"))
            .window(now)
            .unwrap();
        assert_eq!(start, Some(at("2025-12-02T09:00:00Z")));
        assert_eq!(expiry, at("2025-12-02T10:00:00Z"));
    }

    #[test]
    fn fields_use_the_raw_name_and_the_account_once() {
        let endpoint = Endpoint::parse("http://127.0.0.1:10000/devstoreaccount1").unwrap();
        let fields = SasOptions::expires_in(Duration::from_secs(60))
            .fields(
                &endpoint,
                "photos",
                "a b+c%d#e/été",
                None,
                at("2025-12-02T11:30:00Z"),
            )
            .unwrap();
        assert_eq!(
            fields.canonical_resource,
            "/blob/devstoreaccount1/photos/a b+c%d#e/été"
        );
        assert_eq!(fields.protocol, "https,http");
        let https = Endpoint::parse("https://acct1.blob.core.windows.net").unwrap();
        let fields = SasOptions::expires_in(Duration::from_secs(60))
            .fields(&https, "photos", "x", None, at("2025-12-02T11:30:00Z"))
            .unwrap();
        assert_eq!(fields.protocol, "https");
        assert_eq!(fields.canonical_resource, "/blob/acct1/photos/x");
    }

    #[test]
    fn remote_plain_http_and_bad_overrides_are_refused() {
        let remote = Endpoint::parse("http://acct1.blob.core.windows.net").unwrap();
        let options = SasOptions::expires_in(Duration::from_secs(60));
        let expiry = at("2025-12-02T11:30:00Z");
        let err = options
            .fields(&remote, "photos", "x", None, expiry)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("https://"), "{err}");

        let local = Endpoint::parse("http://127.0.0.1:10000/devstoreaccount1").unwrap();
        for bad in [
            "attachment;\nfilename=x",
            "attachment; filename=\"été.pdf\"",
        ] {
            let err = options
                .clone()
                .content_disposition(bad)
                .fields(&local, "photos", "x", None, expiry)
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.to_string().contains("filename*=UTF-8''"), "{err}");
        }
        let err = options
            .permissions(SasPermissions::none())
            .fields(&local, "photos", "x", None, expiry)
            .unwrap_err();
        assert!(err.to_string().contains("no permission"), "{err}");
    }

    #[test]
    fn query_values_are_encoded_once_and_hidden_from_debug() {
        let mut query = SasQuery::new();
        query.push("se", "2025-12-02T11:30:00Z");
        query.push("rscd", "attachment; filename=\"100% été.txt\"");
        query.push("sig", "ab+c/d=");
        assert_eq!(
            query.encode().as_str(),
            "se=2025-12-02T11%3A30%3A00Z&rscd=attachment%3B%20filename%3D%22100%25%20%C3%A9t%C3%A9.txt%22\
             &sig=ab%2Bc%2Fd%3D"
        );
        let debug = format!("{query:?}");
        assert!(
            debug.contains("\"sig\"") && !debug.contains("ab+c"),
            "{debug}"
        );
    }
}
