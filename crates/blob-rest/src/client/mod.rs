//! The clients: service, container and blob, from the outside in.

mod blob;
mod container;
mod service;

pub use blob::BlobClient;
pub use container::ContainerClient;
pub use service::BlobServiceClient;
