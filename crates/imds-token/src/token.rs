//! The access token handed to callers: a secret with an expiry.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

/// What `Debug` and `Display` print instead of a secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// `at` as an HTTP date, for logs and messages. `httpdate` panics for times before 1970 or
/// after the year 9999, which an identity endpoint's `expires_on` (or a caller of
/// [`AccessToken::new`]) can ask for: those are named in words instead.
pub(crate) fn http_date(at: SystemTime) -> String {
    /// 10000-01-01T00:00:00Z, the first moment an HTTP date cannot express.
    const YEAR_10000: Duration = Duration::from_secs(253_402_300_800);
    match at.duration_since(UNIX_EPOCH) {
        Ok(since) if since < YEAR_10000 => httpdate::fmt_http_date(at),
        Ok(_) => "after the year 9999".to_owned(),
        Err(_) => "before 1970".to_owned(),
    }
}

/// A bearer token for one resource, with the moment it stops being accepted.
///
/// The token text is a secret: `Debug` and `Display` print a placeholder, and the memory holding
/// it is overwritten with zeros when the last clone is dropped. Clones share one copy of the
/// text, so handing a cached token to many callers costs no allocation and leaves no extra
/// copies of the secret behind.
#[derive(Clone)]
pub struct AccessToken {
    secret: Arc<Zeroizing<String>>,
    expires_on: SystemTime,
}

impl AccessToken {
    /// Wraps a token obtained elsewhere, valid until `expires_on`.
    pub fn new(secret: impl Into<String>, expires_on: SystemTime) -> Self {
        Self {
            secret: Arc::new(Zeroizing::new(secret.into())),
            expires_on,
        }
    }

    pub(crate) fn from_secret(secret: Zeroizing<String>, expires_on: SystemTime) -> Self {
        Self {
            secret: Arc::new(secret),
            expires_on,
        }
    }

    /// The same token in an allocation of its own, so that clones of the two do not share a
    /// reference count (see the cache's read path).
    pub(crate) fn duplicate(&self) -> Self {
        Self::new(self.secret().to_owned(), self.expires_on)
    }

    /// The token text, to put after `Bearer ` in an `Authorization` header.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// When the token expires.
    pub fn expires_on(&self) -> SystemTime {
        self.expires_on
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &REDACTED)
            .field("expires_on", &http_date(self.expires_on))
            .finish()
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "access token {REDACTED} (expires {})",
            http_date(self.expires_on)
        )
    }
}

/// A secret string that is not a token, such as App Service's identity header: printed as a
/// placeholder, zeroized on drop.
#[derive(Clone)]
pub(crate) struct SecretString(Zeroizing<String>);

impl SecretString {
    pub(crate) fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn debug_and_display_hide_the_secret() {
        let token = AccessToken::new(
            "eyJ-sentinel",
            UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        );
        let shown = format!("{token:?} {token} {token:#?}");
        assert!(!shown.contains("sentinel"), "{shown}");
        assert!(shown.contains(REDACTED), "{shown}");
        assert!(shown.contains("Fri, 15 Jan 2027 08:00:00 GMT"), "{shown}");
        assert_eq!(token.secret(), "eyJ-sentinel");
        assert_eq!(
            token.expires_on(),
            UNIX_EPOCH + Duration::from_secs(1_800_000_000)
        );
    }

    #[test]
    fn expiries_no_http_date_can_express_are_shown_in_words() {
        // Found by fuzzing the token response parser: `"expires_on": "910736404056800551"`
        // made the token's Debug (and the "token obtained" log line) panic inside httpdate.
        let far = AccessToken::new(
            "t",
            UNIX_EPOCH + Duration::from_secs(910_736_404_056_800_551),
        );
        assert_eq!(
            format!("{far:?} / {far}"),
            "AccessToken { secret: \"<redacted>\", expires_on: \"after the year 9999\" } / \
             access token <redacted> (expires after the year 9999)"
        );
        let early = AccessToken::new("t", UNIX_EPOCH - Duration::from_secs(1));
        assert_eq!(
            early.to_string(),
            "access token <redacted> (expires before 1970)"
        );
        let last = UNIX_EPOCH + Duration::from_secs(253_402_300_799);
        assert_eq!(http_date(last), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn secret_string_hides_its_value() {
        let header = SecretString::new("header-sentinel".to_owned());
        assert_eq!(format!("{header:?}"), REDACTED);
        assert_eq!(header.expose(), "header-sentinel");
    }
}
