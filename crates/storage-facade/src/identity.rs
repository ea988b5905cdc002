//! The managed identity as a bearer token source for blob-rest: the one place where the two
//! lower crates meet.

use futures_util::future::BoxFuture;

use blob_rest::{BearerToken, TokenError, TokenProvider};
use imds_token::ManagedIdentity;

/// The resource Azure Storage tokens are issued for. IMDS wants the resource, never a
/// `/.default` scope; imds-token converts it for the endpoints that want a scope.
pub const STORAGE_RESOURCE: &str = "https://storage.azure.com";

/// Hands out the managed identity's tokens for Azure Storage to a
/// [`blob_rest::BlobServiceClient`].
///
/// Every request asks for a token (a cheap cache read in imds-token while the token is fresh),
/// so tokens are refreshed as they near expiry; a 401 from the service drops the cached token
/// so that the retry gets a new one.
#[derive(Debug, Clone)]
pub struct ManagedIdentityTokenProvider {
    identity: ManagedIdentity,
}

impl ManagedIdentityTokenProvider {
    /// A provider over `identity` (clones of a `ManagedIdentity` share one cache).
    pub fn new(identity: ManagedIdentity) -> Self {
        Self { identity }
    }

    /// The identity tokens come from.
    pub fn identity(&self) -> &ManagedIdentity {
        &self.identity
    }
}

impl TokenProvider for ManagedIdentityTokenProvider {
    fn token(&self) -> BoxFuture<'_, Result<BearerToken, TokenError>> {
        Box::pin(async move {
            let token = self.identity.token(STORAGE_RESOURCE).await?;
            Ok(BearerToken::new(token.secret().to_owned()))
        })
    }

    fn invalidate(&self) {
        self.identity.invalidate(STORAGE_RESOURCE);
    }
}
