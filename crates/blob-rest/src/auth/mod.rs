//! How requests are authorized: SharedKey, bearer tokens, SAS, or not at all.
//!
//! Each credential lives in its own file; every type that holds a secret prints a placeholder
//! in `Debug` and wipes its memory on drop.

mod bearer;
mod sas;
mod shared_key;

use std::fmt;
use std::sync::Arc;

pub use bearer::{BearerToken, StaticTokenProvider, TokenError, TokenProvider};
pub use sas::SasToken;
pub use shared_key::{AccountKey, SharedKeyCredential};

/// The way a client authorizes its requests.
#[derive(Clone)]
pub enum Credential {
    /// Sign every request with the account key
    /// ([Authorize with Shared Key](https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key)).
    SharedKey(SharedKeyCredential),
    /// Send `Authorization: Bearer <token>`, asking the provider for a token before every
    /// attempt. Only over HTTPS, or plain HTTP to a loopback emulator.
    Bearer(Arc<dyn TokenProvider>),
    /// Append a shared access signature to every request URL.
    Sas(SasToken),
    /// No authorization: for containers with public read access.
    Anonymous,
}

impl Credential {
    /// A bearer credential from any token provider.
    pub fn bearer(provider: impl TokenProvider) -> Self {
        Self::Bearer(Arc::new(provider))
    }

    /// Short name of the credential kind, for logs and diagnostics.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::SharedKey(_) => "shared key",
            Self::Bearer(_) => "bearer token",
            Self::Sas(_) => "shared access signature",
            Self::Anonymous => "anonymous",
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SharedKey(c) => f.debug_tuple("SharedKey").field(c).finish(),
            Self::Bearer(_) => f.write_str("Bearer(<token provider>)"),
            Self::Sas(s) => f.debug_tuple("Sas").field(s).finish(),
            Self::Anonymous => f.write_str("Anonymous"),
        }
    }
}
