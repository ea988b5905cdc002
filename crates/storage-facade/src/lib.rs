//! Application storage on Azure Blob Storage: a [`Storage`] an app saves, opens and deletes
//! files through, configured in code or from the environment the way Azure's tools read it,
//! and authenticated by the machine's managed identity when no key is given.
//!
//! This crate joins `blob-rest` (the REST client) and `imds-token` (managed identity tokens).
//! `docs/configuration.md` lists every setting, the precedence between them, the name rules
//! and the overwrite policy.
//!
//! ```no_run
//! use storage_facade::{Auth, SaveOptions, Storage, StorageConfig};
//!
//! # async fn example() -> storage_facade::Result<()> {
//! // On an Azure VM: AZURE_STORAGE_ACCOUNT=photos AZURE_STORAGE_CONTAINER=images, no key.
//! let storage = Storage::from_env()?;
//! println!("auth: {}", storage.auth_choice());
//!
//! // Or entirely in code.
//! let config = StorageConfig::new("photos", Auth::managed_identity())?
//!     .with_container("images")?
//!     .with_location("uploads")?;
//! let storage = Storage::new(config)?;
//!
//! let stored = storage
//!     .save_with("cat.jpg", std::fs::read("cat.jpg").unwrap(), SaveOptions::new())
//!     .await?; // "cat.jpg", or "cat_Ab3dE9x.jpg" if that name was taken
//! let bytes = storage.read(&stored).await?;
//! assert_eq!(storage.size(&stored).await?, bytes.len() as u64);
//! storage.delete(&stored).await?;
//! # Ok(())
//! # }
//! ```

mod config;
mod content;
mod error;
mod identity;
mod list;
mod names;
mod reader;
mod rename;
mod secret;
mod storage;
mod transfer;
mod url;

pub use config::{Auth, AuthChoice, AuthMethod, StorageConfig};
pub use content::{Content, ProgressFn, SaveOptions};
pub use error::{Error, ErrorKind, Result};
pub use identity::{ManagedIdentityTokenProvider, STORAGE_RESOURCE};
pub use list::FileEntry;
pub use reader::{BlobReader, Properties, ReadOptions};
pub use storage::Storage;
pub use transfer::{DownloadOptions, TransferOptions};
pub use url::UrlOptions;

pub use blob_rest::{BlobUrl, BlobUrlKind, ClientOptions, RetryPolicy};
