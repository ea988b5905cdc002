//! Application storage on Azure Blob Storage: a [`Storage`] an app saves, opens and deletes
//! files through, configured in code or from the environment the way Azure's tools read it,
//! and authenticated by the machine's managed identity when no key is given.
//!
//! This crate joins `blob-rest` (the REST client) and `imds-token` (managed identity tokens).
//! `docs/configuration.md` lists every setting, the precedence between them, the name rules
//! and the overwrite policy.

mod config;
mod content;
mod error;
mod identity;
mod names;
mod rename;
mod secret;
mod storage;

pub use config::{Auth, AuthChoice, AuthMethod, StorageConfig};
pub use content::{Content, ProgressFn, SaveOptions};
pub use error::{Error, ErrorKind, Result};
pub use identity::{ManagedIdentityTokenProvider, STORAGE_RESOURCE};
pub use storage::{BlobReader, Properties, Storage};
