//! The clients: service, container and blob, from the outside in.

mod blob;
mod block_upload;
mod container;
mod list;
mod service;
mod urls;

pub use blob::BlobClient;
pub use block_upload::{BlockId, MAX_BLOCKS, MAX_BLOCK_SIZE};
pub use container::{ContainerClient, PublicAccess};
pub use list::{BlobItem, ListBlobsOptions, ListBlobsPage, MAX_LIST_RESULTS};
pub use service::BlobServiceClient;
