//! A local managed identity endpoint for development against Azurite. **Not for production.**
//!
//! On an Azure VM an app gets its access tokens from the instance metadata service (IMDS) at
//! `169.254.169.254`. Off Azure there is no such service, so the demo and the integration suite
//! start this one on `127.0.0.1` and point the app at it with
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST`, exactly as the official SDKs allow. The app's code and
//! configuration stay the same as on a VM: an account name and no key.
//!
//! The tokens are JWTs with audience `https://storage.azure.com` and a `sts.windows.net` issuer:
//! what Azurite's `--oauth basic` mode checks. They grant nothing anywhere else.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let endpoint = local_identity::LocalIdentityServer::start(Default::default()).await?;
//! std::env::set_var("AZURE_POD_IDENTITY_AUTHORITY_HOST", endpoint.base_url());
//! # Ok(()) }
//! ```

mod jwt;
mod server;

pub use jwt::{mint, mint_storage_jwt, Claims, LOCAL_OBJECT_ID, LOCAL_TENANT_ID, STORAGE_AUDIENCE};
pub use server::{LocalIdentityServer, Options, TOKEN_PATH};

/// The client id of the pretend user-assigned identity; requests may select it with `client_id`.
pub const LOCAL_CLIENT_ID: &str = "5e1f0000-0000-4000-8000-00000000c11d";

/// The resource id of the pretend identity; requests may select it with `msi_res_id`.
pub const LOCAL_RESOURCE_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/\
resourceGroups/local/providers/Microsoft.ManagedIdentity/userAssignedIdentities/local";
