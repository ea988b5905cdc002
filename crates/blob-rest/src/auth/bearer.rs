//! Bearer (Microsoft Entra ID) tokens and the provider seam that hands them out.
//!
//! The client never captures a token string: it asks its [`TokenProvider`] before every
//! attempt, so a provider that refreshes (such as a managed identity cache) keeps requests
//! working past a token's expiry.

use std::fmt;

use futures_util::future::BoxFuture;
use zeroize::Zeroizing;

/// An access token for `https://storage.azure.com`.
///
/// `Debug` prints a placeholder; the value is zeroized when the token is dropped.
#[derive(Clone)]
pub struct BearerToken(Zeroizing<String>);

impl BearerToken {
    /// Wraps a raw access token (a JWT, without the `Bearer ` prefix).
    pub fn new(token: String) -> Self {
        Self(Zeroizing::new(token))
    }

    /// The raw token, to be sent in an `Authorization: Bearer` header and nowhere else.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// The error a [`TokenProvider`] returns when it cannot produce a token.
///
/// Its `Display` text ends up in this crate's errors and logs, so providers must not put a
/// token or other secret in it.
pub type TokenError = Box<dyn std::error::Error + Send + Sync>;

/// Anything that can hand out a current bearer token for Azure Storage.
pub trait TokenProvider: Send + Sync + 'static {
    /// A token valid for at least the next request. Called before every attempt.
    fn token(&self) -> BoxFuture<'_, Result<BearerToken, TokenError>>;

    /// Called when the service answered 401 to the last token, before asking for a new one:
    /// a caching provider drops its cached token here.
    fn invalidate(&self) {}
}

/// A provider that always hands out the same token.
///
/// Meant for tests and for callers who obtain tokens elsewhere and build a new client when
/// the token changes; it cannot refresh anything, so `invalidate` does nothing.
#[derive(Clone)]
pub struct StaticTokenProvider {
    token: BearerToken,
}

impl StaticTokenProvider {
    /// A provider handing out `token`.
    pub fn new(token: BearerToken) -> Self {
        Self { token }
    }
}

impl fmt::Debug for StaticTokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticTokenProvider")
            .field("token", &self.token)
            .finish()
    }
}

impl TokenProvider for StaticTokenProvider {
    fn token(&self) -> BoxFuture<'_, Result<BearerToken, TokenError>> {
        let token = self.token.clone();
        Box::pin(async move { Ok(token) })
    }
}
