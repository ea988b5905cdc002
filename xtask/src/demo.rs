//! `cargo xtask demo [FILE]`: the main job, end to end, on one machine.
//!
//! An app on an Azure VM stores a user's photo in Blob Storage with no key anywhere: it asks
//! the VM's managed identity endpoint for a token and sends that. Here the same app (the
//! `photo_app` example of `storage-facade`) runs unchanged against local stand-ins:
//!
//! 1. Azurite over HTTPS with `--oauth basic`, which accepts bearer tokens;
//! 2. a managed identity endpoint on 127.0.0.1 speaking the IMDS protocol (`local-identity`);
//! 3. the app, configured only by its environment: the account name, the blob endpoint, the
//!    identity endpoint's address and the emulator's certificate. No key, no token.
//!
//! With `AZURE_STORAGE_CONNECTION_STRING=UseDevelopmentStorage=true` in the environment it
//! takes the key path instead: Azurite over HTTP and SharedKey, as a developer box would.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use local_identity::{LocalIdentityServer, Options};

use crate::azurite::{self, Flavour, Ports, RunningAzurite};
use crate::cmd;
use crate::error::Error;

/// The container the demo stores into.
const CONTAINER: &str = "demo-photos";

/// Where `UseDevelopmentStorage=true` points: Azurite's customary HTTP port.
const DEVELOPMENT_BLOB_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";
/// The emulator's well-known account key, published in Azure's documentation (not a secret).
const DEVELOPMENT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// How the demo app authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// HTTPS Azurite with OAuth, a local managed identity endpoint, and no key: the main job.
    ManagedIdentity,
    /// HTTP Azurite and the emulator's well-known key, as a developer box would.
    DevelopmentKey,
}

impl Auth {
    /// The key path when `AZURE_STORAGE_CONNECTION_STRING` asks for development storage.
    pub(crate) fn from_env() -> Self {
        let development = std::env::var("AZURE_STORAGE_CONNECTION_STRING").is_ok_and(|s| {
            s.to_ascii_lowercase()
                .contains("usedevelopmentstorage=true")
        });
        if development {
            Auth::DevelopmentKey
        } else {
            Auth::ManagedIdentity
        }
    }
}

/// The variables through which an app could be handed a secret or a different identity. The
/// demo clears them so that what it shows is exactly what it claims: the app has no key.
const CLEARED: [&str; 10] = [
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_ENDPOINT",
    "AZURE_CLIENT_ID",
    "AZURE_FEDERATED_TOKEN_FILE",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "MSI_ENDPOINT",
    "MSI_SECRET",
];

/// Runs the demo with `file`, or the picture bundled in `assets/`.
pub(crate) fn run(file: Option<PathBuf>, ports: Ports, auth: Auth) -> Result<(), Error> {
    let photo = match file {
        Some(file) => file,
        None => cmd::workspace_root().join("assets/demo-landscape.png"),
    };
    if !photo.is_file() {
        return Err(Error::Demo(format!(
            "{} is not a readable file; pass the path of an image: cargo xtask demo PATH",
            photo.display()
        )));
    }
    // Build the app first, so that its compile time does not count in what the demo shows.
    cmd::run(&mut cmd::cargo([
        "build",
        "--quiet",
        "-p",
        "storage-facade",
        "--example",
        "photo_app",
    ]))?;

    match auth {
        Auth::DevelopmentKey => run_with_key(&photo, ports),
        Auth::ManagedIdentity => run_with_managed_identity(&photo, ports),
    }
}

/// The managed identity path: HTTPS Azurite, the local identity endpoint, and no key.
fn run_with_managed_identity(photo: &Path, ports: Ports) -> Result<(), Error> {
    println!("Starting Azurite (HTTPS, OAuth) and a local managed identity endpoint...");
    let started = Instant::now();
    let azurite = azurite::start(&[Flavour::Https], ports)?;
    let (endpoint, cert) = https_endpoint(&azurite)?;

    // The identity endpoint runs on a tokio runtime of its own, for as long as the app runs.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::Demo(format!("cannot start a tokio runtime: {e}")))?;
    let identity = runtime
        .block_on(LocalIdentityServer::start(Options::default()))
        .map_err(|e| Error::Demo(format!("cannot start the local identity endpoint: {e}")))?;
    println!(
        "  Azurite          {endpoint}\n  identity         {} (IMDS protocol)\n  ready in         {:.1} s\n",
        identity.base_url(),
        started.elapsed().as_secs_f64()
    );

    println!("The app, configured like one on an Azure VM (account name, no key):");
    let mut app = app_command(photo);
    app.env("AZURE_STORAGE_ACCOUNT", "devstoreaccount1")
        .env("AZURE_STORAGE_CONTAINER", CONTAINER)
        // Off Azure the blob endpoint and the identity endpoint are ours; on a VM both are
        // found from the account name and the fixed IMDS address.
        .env("AZURE_STORAGE_BLOB_ENDPOINT", &endpoint)
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", identity.base_url())
        .env("SSL_CERT_FILE", &cert);
    for (name, value) in [
        ("AZURE_STORAGE_ACCOUNT", "devstoreaccount1".to_owned()),
        ("AZURE_STORAGE_CONTAINER", CONTAINER.to_owned()),
        ("AZURE_STORAGE_BLOB_ENDPOINT", endpoint.clone()),
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", identity.base_url()),
        ("SSL_CERT_FILE", cmd::relative(&cert).display().to_string()),
    ] {
        println!("  {name}={value}");
    }
    println!();
    let outcome = cmd::run(&mut app);
    let tokens = identity.tokens_issued();
    runtime.block_on(identity.stop());
    azurite.stop()?;
    outcome.map_err(|e| Error::Demo(format!("the app failed: {e}")))?;

    println!(
        "\nDone: the photo went up and came back identical, authenticated by a managed identity \
         token ({tokens} token request{} to the identity endpoint), with no key anywhere.",
        if tokens == 1 { "" } else { "s" }
    );
    Ok(())
}

/// The key path: HTTP Azurite and the emulator's well-known key.
fn run_with_key(photo: &Path, ports: Ports) -> Result<(), Error> {
    println!("The key path: Azurite over HTTP and the emulator's well-known account key.");
    let azurite = azurite::start(&[Flavour::Http], ports)?;
    let endpoint = azurite
        .blob_endpoint(Flavour::Http)
        .ok_or_else(|| Error::Demo("Azurite's HTTP flavour did not come up".into()))?;
    println!("  Azurite          {endpoint}\n");
    let connection_string = development_connection_string(endpoint);
    println!("The app, configured with a development connection string:");
    println!("  AZURE_STORAGE_CONNECTION_STRING={connection_string}");
    println!("  AZURE_STORAGE_CONTAINER={CONTAINER}\n");
    let mut app = app_command(photo);
    app.env("AZURE_STORAGE_CONNECTION_STRING", &connection_string)
        .env("AZURE_STORAGE_CONTAINER", CONTAINER);
    let outcome = cmd::run(&mut app);
    azurite.stop()?;
    outcome.map_err(|e| Error::Demo(format!("the app failed: {e}")))?;
    println!("\nDone: the photo went up and came back identical, signed with SharedKey.");
    Ok(())
}

/// `UseDevelopmentStorage=true` when Azurite listens where that shorthand points; otherwise
/// the same well-known account and key at the port it does listen on.
fn development_connection_string(endpoint: &str) -> String {
    if endpoint == DEVELOPMENT_BLOB_ENDPOINT {
        "UseDevelopmentStorage=true".to_owned()
    } else {
        format!("AccountName=devstoreaccount1;AccountKey={DEVELOPMENT_KEY};BlobEndpoint={endpoint}")
    }
}

fn https_endpoint(azurite: &RunningAzurite) -> Result<(String, PathBuf), Error> {
    let endpoint = azurite.blob_endpoint(Flavour::Https);
    let cert = azurite.ca_cert();
    match (endpoint, cert) {
        (Some(endpoint), Some(cert)) => Ok((endpoint.to_owned(), cert.to_path_buf())),
        _ => Err(Error::Demo(
            "Azurite's HTTPS flavour did not come up".into(),
        )),
    }
}

/// The built `photo_app` with a clean environment: nothing that could carry a key.
fn app_command(photo: &Path) -> Command {
    let exe = cmd::target_dir().join("debug/examples/photo_app");
    let mut app = Command::new(exe);
    app.arg(photo);
    for name in CLEARED {
        app.env_remove(name);
    }
    app
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_path_follows_azurite_to_another_port() {
        assert_eq!(
            development_connection_string("http://127.0.0.1:10000/devstoreaccount1"),
            "UseDevelopmentStorage=true"
        );
        assert_eq!(
            development_connection_string("http://127.0.0.1:20000/devstoreaccount1"),
            format!(
                "AccountName=devstoreaccount1;AccountKey={DEVELOPMENT_KEY};\
                 BlobEndpoint=http://127.0.0.1:20000/devstoreaccount1"
            )
        );
    }
}
