//! The clients: service, container and blob, from the outside in.

mod blob;
mod block_upload;
mod container;
mod service;

pub use blob::BlobClient;
pub use block_upload::{BlockId, MAX_BLOCKS, MAX_BLOCK_SIZE};
pub use container::ContainerClient;
pub use service::BlobServiceClient;
