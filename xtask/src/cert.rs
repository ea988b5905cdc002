//! The self-signed TLS certificate for Azurite's HTTPS flavour.
//!
//! One certificate serves both as the server's certificate and as the CA that clients trust
//! (`AZURITE_CA_CERT`, or `SSL_CERT_FILE` for the facade). It is not a CA certificate
//! (no `basicConstraints: CA`), because rustls refuses a CA certificate used as a server's own.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DnType, KeyPair};

use crate::error::Error;

/// Where a generated certificate and its private key were written (both PEM).
#[derive(Debug, Clone)]
pub(crate) struct CertFiles {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

/// Generates a fresh certificate for `127.0.0.1` and `localhost` and writes `cert.pem` and
/// `key.pem` into `dir`, the key readable by its owner only.
pub(crate) fn generate_self_signed(dir: &Path) -> Result<CertFiles, Error> {
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    params.distinguished_name.push(
        DnType::CommonName,
        "Azurite on 127.0.0.1 (local development only)",
    );
    let key_pair = KeyPair::generate()?;
    let cert = params.self_signed(&key_pair)?;

    let files = CertFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    fs::write(&files.cert, cert.pem()).map_err(|e| Error::io("write", &files.cert, e))?;
    write_private(&files.key, key_pair.serialize_pem().as_bytes())?;
    Ok(files)
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), Error> {
    // Remove first: `mode` only applies when the file is created.
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("replace", path, e)),
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(contents))
        .map_err(|e| Error::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_a_pem_certificate_and_an_owner_only_key() {
        let dir = std::env::temp_dir().join(format!("xtask-cert-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let first = generate_self_signed(&dir).unwrap();
        let cert = fs::read_to_string(&first.cert).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
        let key = fs::read_to_string(&first.key).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
        let mode = fs::metadata(&first.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        // A second start replaces both with a new pair.
        let second = generate_self_signed(&dir).unwrap();
        assert_ne!(fs::read_to_string(&second.cert).unwrap(), cert);
        assert_eq!(
            fs::metadata(&second.key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
