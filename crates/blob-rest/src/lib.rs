//! A small Azure Blob Storage REST client.
//!
//! It speaks the Blob service's REST API directly (one pinned [`API_VERSION`]) and knows
//! nothing about identity endpoints: it authorizes requests with a shared key, a SAS, or a
//! bearer token from any [`TokenProvider`] (such as a managed identity cache in another
//! crate). Operations: Create Container, Delete Container, Put Blob (block blob), Get Blob
//! (whole or a range, as a checked stream), Get Blob Properties and Delete Blob.
//!
//! What it guarantees:
//! - SharedKey signatures are computed over the exact URL that is sent, so any blob name
//!   works (spaces, `+`, `%`, `#`, `?`, non-ASCII letters...).
//! - Retries of transient failures re-sign every attempt; see [`RetryPolicy`].
//! - Uploads carry `Content-MD5`; downloads are checked against the stored MD5, and a
//!   mismatch is an error, never data handed back as good.
//! - No key, signature, token or SAS signature appears in any `Debug` or `Display` output,
//!   error or log line.
//!
//! ```no_run
//! use blob_rest::{
//!     AccountKey, BlobServiceClient, ClientOptions, Credential, Endpoint, GetBlobOptions,
//!     PutBlobOptions, SharedKeyCredential,
//! };
//!
//! # async fn example() -> Result<(), blob_rest::Error> {
//! // Azurite's well-known development account.
//! let endpoint = Endpoint::parse("http://127.0.0.1:10000/devstoreaccount1")?;
//! let key = AccountKey::from_base64(
//!     "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
//! )?;
//! let credential = Credential::SharedKey(SharedKeyCredential::new("devstoreaccount1", key));
//! let service = BlobServiceClient::new(endpoint, credential, ClientOptions::default())?;
//!
//! let container = service.container("photos");
//! container.create_if_not_exists().await?;
//! let blob = container.blob("2025/cat picture.jpg");
//! blob.put(b"not really a jpeg".to_vec(), PutBlobOptions::new().content_type("image/jpeg"))
//!     .await?;
//! let bytes = blob.get(GetBlobOptions::new()).await?.collect().await?;
//! assert_eq!(&bytes[..], b"not really a jpeg");
//! blob.delete().await?;
//! # Ok(())
//! # }
//! ```

mod auth;
mod body;
mod client;
mod encoding;
mod endpoint;
mod error;
mod models;
mod names;
mod options;
mod pipeline;
mod properties;
mod sas;
pub mod signing;
mod transfer;
mod xml_body;

// Public only so that `benches/blob-bench` can time the signing path; not part of the API.
#[doc(hidden)]
pub mod benching;

// Public only so that the fuzz targets in `fuzz/` can reach crate-private parsers.
#[doc(hidden)]
pub mod fuzzing;

pub use auth::{
    AccountKey, BearerToken, Credential, SasToken, SharedKeyCredential, StaticTokenProvider,
    TokenError, TokenProvider,
};
pub use body::{BlobStream, Body};
pub use client::{
    BlobClient, BlobItem, BlobServiceClient, BlockId, ContainerClient, ListBlobsOptions,
    ListBlobsPage, PublicAccess, MAX_BLOCKS, MAX_BLOCK_SIZE, MAX_LIST_RESULTS,
};
pub use endpoint::{Endpoint, PUBLIC_CLOUD_SUFFIX};
pub use error::{Error, ErrorKind};
pub use models::{
    BlobProperties, BlobRange, GetBlobOptions, GetBlobResponse, PutBlobOptions, PutBlobResponse,
    PutCondition,
};
pub use options::{ClientOptions, Clock, RequestIdGenerator, RetryPolicy, SystemClock};
pub use sas::{
    BlobUrl, BlobUrlKind, SasOptions, SasPermissions, UserDelegationKey,
    MAX_USER_DELEGATION_LIFETIME, SAS_VERSION,
};
pub use transfer::{DownloadOptions, Downloaded, TransferProgress, UploadOptions};

/// The `x-ms-version` sent with every request. Azurite 3.35.0 accepts it when started with
/// `--skipApiVersionCheck`.
pub const API_VERSION: &str = "2024-11-04";
