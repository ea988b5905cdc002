//! Where the running Azurite is, as `cargo xtask test` tells the suite.

use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

/// Azurite's well-known development account.
pub const DEV_ACCOUNT: &str = "devstoreaccount1";

/// The development account's key, published in Azure's documentation. Not a secret.
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The endpoints of the Azurite that `cargo xtask test` started.
#[derive(Debug, Clone)]
pub struct Azurite {
    /// Plain HTTP, SharedKey: `http://127.0.0.1:10000/devstoreaccount1`.
    pub http_endpoint: String,
    /// HTTPS with `--oauth basic`, for bearer tokens: `https://127.0.0.1:10001/devstoreaccount1`.
    pub https_endpoint: String,
    /// The PEM file of the HTTPS flavour's self-signed certificate.
    pub ca_cert: PathBuf,
}

impl Azurite {
    /// Reads the endpoints from `AZURITE_BLOB_HTTP`, `AZURITE_BLOB_HTTPS` and `AZURITE_CA_CERT`.
    ///
    /// # Panics
    ///
    /// When one is missing: the suite only means something against a running Azurite, so it
    /// fails rather than pass without having tested anything.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!(
                    "{name} is not set: the Azurite suite runs against the Azurite that \
                     `cargo xtask test` starts; run `cargo xtask test` (or start it with \
                     `cargo xtask azurite start` and export the variables it prints)"
                )
            })
        };
        Self {
            http_endpoint: var("AZURITE_BLOB_HTTP"),
            https_endpoint: var("AZURITE_BLOB_HTTPS"),
            ca_cert: PathBuf::from(var("AZURITE_CA_CERT")),
        }
    }

    /// The PEM bytes of the HTTPS flavour's certificate.
    ///
    /// # Panics
    ///
    /// When the file cannot be read.
    pub fn ca_cert_pem(&self) -> Vec<u8> {
        std::fs::read(&self.ca_cert)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", self.ca_cert.display()))
    }

    /// `scheme://host:port` of the HTTP flavour, without the account path.
    pub fn http_origin(&self) -> String {
        origin(&self.http_endpoint)
    }
}

fn origin(endpoint: &str) -> String {
    let after_scheme = endpoint.find("://").map_or(0, |i| i + 3);
    match endpoint[after_scheme..].find('/') {
        Some(slash) => endpoint[..after_scheme + slash].to_owned(),
        None => endpoint.to_owned(),
    }
}

/// A container name no other test uses: tests run in parallel against one Azurite.
pub fn unique_container(prefix: &str) -> String {
    format!("{prefix}-{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff)
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `len` bytes of seeded pseudo-random content.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_strips_the_account_path() {
        assert_eq!(
            origin("http://127.0.0.1:10000/devstoreaccount1"),
            "http://127.0.0.1:10000"
        );
        assert_eq!(origin("http://127.0.0.1:10000"), "http://127.0.0.1:10000");
    }
}
