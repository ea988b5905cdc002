//! The two ways the suite reaches Azurite through the facade and the CLI: SharedKey over the
//! HTTP flavour, and a managed identity (through a local identity endpoint) over the HTTPS one.

use std::process::Command;

use storage_facade::{Auth, StorageConfig};

use crate::azurite::{Azurite, DEV_KEY};

impl Azurite {
    /// A facade config for `container` on the HTTP flavour, signed with the development key.
    ///
    /// # Panics
    ///
    /// When the endpoint or container name is refused, which would be a bug in the suite.
    pub fn shared_key_config(&self, container: &str) -> StorageConfig {
        StorageConfig::with_endpoint(&self.http_endpoint, Auth::shared_key(DEV_KEY).unwrap())
            .unwrap()
            .with_container(container)
            .unwrap()
    }

    /// A facade config for `container` on the HTTPS flavour that authenticates as an app on
    /// an Azure VM does: a managed identity, asked of the IMDS-speaking endpoint at
    /// `identity_url` (a `local_identity::LocalIdentityServer`), and no key anywhere.
    ///
    /// # Panics
    ///
    /// When the identity endpoint, the Azurite endpoint or the container name is refused.
    pub fn managed_identity_config(&self, identity_url: &str, container: &str) -> StorageConfig {
        // An empty environment: what the machine running the suite has set must not pick
        // another identity source.
        let managed = imds_token::ManagedIdentity::builder()
            .environment(imds_token::Environment::empty())
            .imds_endpoint(identity_url)
            .build()
            .unwrap();
        StorageConfig::with_endpoint(&self.https_endpoint, Auth::managed_identity_with(managed))
            .unwrap()
            .with_container(container)
            .unwrap()
            .with_root_certificates_file(&self.ca_cert)
    }
}

/// The `azblob` binary that `cargo xtask test` built and named in `AZBLOB_BIN`, with an empty
/// environment but `PATH`: only what each test sets configures the tool.
///
/// # Panics
///
/// When `AZBLOB_BIN` is not set.
pub fn azblob() -> Command {
    let bin = std::env::var_os("AZBLOB_BIN").unwrap_or_else(|| {
        panic!(
            "AZBLOB_BIN is not set: run the suite through `cargo xtask test`, which builds azblob"
        )
    });
    let mut command = Command::new(bin);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}
