//! Managed identity access tokens for Azure: from a VM's instance metadata service (IMDS),
//! App Service or Functions, or AKS workload identity; cached, refreshed before they expire,
//! and fetched once however many tasks ask.
//!
//! ```no_run
//! # async fn run() -> Result<(), imds_token::Error> {
//! use imds_token::ManagedIdentity;
//!
//! // Picks the source from the environment; sends nothing yet.
//! let identity = ManagedIdentity::from_env()?;
//! println!("using {}", identity.source());
//!
//! let token = identity.token("https://storage.azure.com").await?;
//! let header = format!("Bearer {}", token.secret());
//! # drop(header);
//! # Ok(())
//! # }
//! ```
//!
//! What this crate promises:
//!
//! - **A valid token or a clear error.** Tokens are refreshed ahead of expiry (half-life for
//!   day-long tokens, five minutes before expiry for others) and never handed out in their
//!   last seconds. If a refresh fails while the old token is still valid, the old token is
//!   used and the refresh is retried after a backoff.
//! - **One request for many callers.** Concurrent callers on a cold or stale cache share one
//!   request; reads of a fresh token take no lock.
//! - **No hang off Azure.** Connecting times out after a second by default and gives
//!   [`ErrorKind::NoIdentity`]; a later call tries again.
//! - **Azure's retry guidance.** 404, 429 and 5xx retried with jittered exponential backoff,
//!   `Retry-After` honoured, 410 retried for 70 seconds, all within a deadline.
//! - **No secret in output.** Tokens, identity headers and client assertions never appear in
//!   `Debug`, `Display`, errors or logs, and are zeroized on drop.
//!
//! The sources, the order in which [`ManagedIdentity::from_env`] picks one, the cache and the
//! retry policy are described in `docs/identity.md`.

mod cache;
mod chain;
mod clock;
mod environment;
mod error;
mod identity;
mod resource;
mod response;
mod retry;
mod selector;
mod sources;
mod token;
mod transport;

// Public only so that the fuzz targets in `fuzz/` can reach crate-private parsers.
#[doc(hidden)]
pub mod fuzzing;

pub use chain::SourceChoice;
pub use clock::{Clock, ManualClock, SystemClock};
pub use environment::Environment;
pub use error::{Error, ErrorKind};
pub use identity::{ManagedIdentity, ManagedIdentityBuilder};
pub use selector::UserAssignedId;
pub use sources::SourceKind;
pub use token::AccessToken;
