//! Shared helpers for the integration suite that runs against a real Azurite.
//!
//! `cargo xtask test` starts Azurite and tells the suite where it is through environment
//! variables; [`azurite`] reads them and fails with a clear message when they are missing, so
//! that running the suite without Azurite fails loudly instead of passing vacuously.

pub mod azurite;
mod configs;
pub mod fault_proxy;

pub use azurite::{random_bytes, sha256_hex, unique_container, Azurite, DEV_ACCOUNT, DEV_KEY};
pub use configs::azblob;
