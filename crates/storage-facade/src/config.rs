//! Where the account is, how to authenticate, which container: a [`StorageConfig`], built in
//! code, from a connection string or from the environment the way Azure's own tools read it.
//!
//! Every constructor validates what it is given and says what to fix; nothing here sends a
//! request. The precedence between environment variables is written once, in [`env`].

mod connection_string;
mod env;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::secret::Secret;

pub(crate) use validate::{
    header_text as validate_header_text, metadata as validate_metadata, quote,
};

/// The emulator's well-known account, published in Azure's documentation.
pub(crate) const DEVELOPMENT_ACCOUNT: &str = "devstoreaccount1";
/// The emulator's well-known account key (public, not a secret).
const DEVELOPMENT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// Where Azurite serves the well-known account's blobs.
const DEVELOPMENT_BLOB_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";
/// The public cloud's domain; sovereign clouds use another `EndpointSuffix`.
const DEFAULT_ENDPOINT_SUFFIX: &str = "core.windows.net";

/// How a [`Storage`](crate::Storage) authenticates. Secrets inside are never shown: `Debug`
/// prints only the method.
#[derive(Clone)]
pub struct Auth {
    kind: AuthKind,
}

#[derive(Clone)]
pub(crate) enum AuthKind {
    SharedKey(Secret),
    Sas(Secret),
    ManagedIdentity { client_id: Option<String> },
    Identity(imds_token::ManagedIdentity),
    Provider(Arc<dyn blob_rest::TokenProvider>),
    Anonymous,
}

impl Auth {
    /// Shared Key with the account's base64 key (key1 or key2 from the portal).
    pub fn shared_key(base64_key: &str) -> Result<Self> {
        let key = validate::account_key("account key", base64_key)?;
        Ok(Self {
            kind: AuthKind::SharedKey(key),
        })
    }

    /// A shared access signature: the query string of a signed URL, with or without `?`.
    pub fn sas(token: &str) -> Result<Self> {
        let token = validate::sas_token("SAS token", token)?;
        Ok(Self {
            kind: AuthKind::Sas(token),
        })
    }

    /// The managed identity the platform offers (on a VM, its system-assigned identity).
    pub fn managed_identity() -> Self {
        Self {
            kind: AuthKind::ManagedIdentity { client_id: None },
        }
    }

    /// A user-assigned managed identity, chosen by its client id.
    pub fn user_assigned_identity(client_id: &str) -> Result<Self> {
        let client_id = client_id.trim();
        if client_id.is_empty() {
            return Err(Error::config(
                "managed identity client id is empty: give the identity's client id, or use \
                 the system-assigned identity",
            ));
        }
        Ok(Self {
            kind: AuthKind::ManagedIdentity {
                client_id: Some(client_id.to_owned()),
            },
        })
    }

    /// A managed identity built in code, e.g. pointed at a local identity endpoint with
    /// `ManagedIdentity::builder().imds_endpoint(...)`: nothing is read from the environment.
    pub fn managed_identity_with(identity: imds_token::ManagedIdentity) -> Self {
        Self {
            kind: AuthKind::Identity(identity),
        }
    }

    /// Bearer tokens from any provider (tokens obtained elsewhere, a test provider).
    pub fn token_provider(provider: Arc<dyn blob_rest::TokenProvider>) -> Self {
        Self {
            kind: AuthKind::Provider(provider),
        }
    }

    /// No credentials: only blobs in public containers can be read.
    pub fn anonymous() -> Self {
        Self {
            kind: AuthKind::Anonymous,
        }
    }

    /// Which method this is, without its secret.
    pub fn method(&self) -> AuthMethod {
        match &self.kind {
            AuthKind::SharedKey(_) => AuthMethod::SharedKey,
            AuthKind::Sas(_) => AuthMethod::SharedAccessSignature,
            AuthKind::ManagedIdentity { client_id } => AuthMethod::ManagedIdentity {
                client_id: client_id.clone(),
            },
            AuthKind::Identity(identity) => AuthMethod::ManagedIdentity {
                client_id: match identity.source().identity() {
                    Some(imds_token::UserAssignedId::ClientId(id)) => Some(id.clone()),
                    _ => None,
                },
            },
            AuthKind::Provider(_) => AuthMethod::TokenProvider,
            AuthKind::Anonymous => AuthMethod::Anonymous,
        }
    }

    pub(crate) fn kind(&self) -> &AuthKind {
        &self.kind
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Auth({})", self.method())
    }
}

/// An authentication method, without any secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// Shared Key: every request signed with the account key.
    SharedKey,
    /// A shared access signature appended to every request.
    SharedAccessSignature,
    /// Bearer tokens from the managed identity; a client id selects a user-assigned one.
    ManagedIdentity {
        /// The user-assigned identity's client id, if one was chosen.
        client_id: Option<String>,
    },
    /// Bearer tokens from a provider given in code.
    TokenProvider,
    /// No credentials.
    Anonymous,
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SharedKey => f.write_str("shared key (account key)"),
            Self::SharedAccessSignature => f.write_str("shared access signature (SAS token)"),
            Self::ManagedIdentity { client_id: None } => f.write_str("managed identity"),
            Self::ManagedIdentity {
                client_id: Some(id),
            } => {
                write!(f, "managed identity (user-assigned, client id {id})")
            }
            Self::TokenProvider => f.write_str("bearer tokens from a provider given in code"),
            Self::Anonymous => f.write_str("anonymous (public containers only)"),
        }
    }
}

/// Which authentication a config chose and why, safe to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthChoice {
    method: AuthMethod,
    reason: String,
    ignored: Vec<String>,
}

impl AuthChoice {
    /// The chosen method.
    pub fn method(&self) -> &AuthMethod {
        &self.method
    }

    /// Why it was chosen, such as `AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY are set`.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Settings that were present but not used because something higher in the precedence
    /// list won (names of environment variables).
    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }
}

impl fmt::Display for AuthChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, because {}", self.method, self.reason)?;
        if !self.ignored.is_empty() {
            write!(f, " (not used: {})", self.ignored.join(", "))?;
        }
        Ok(())
    }
}

/// Where the blob endpoint comes from.
#[derive(Debug, Clone)]
enum EndpointSource {
    /// `<scheme>://<account>.blob.<suffix>`.
    Account {
        scheme: &'static str,
        suffix: String,
    },
    /// A full URL, without trailing `/`.
    Explicit(String),
}

/// Defaults applied to every save unless the save says otherwise.
#[derive(Debug, Clone, Default)]
pub(crate) struct SaveDefaults {
    pub(crate) content_type: Option<String>,
    pub(crate) cache_control: Option<String>,
    pub(crate) metadata: Vec<(String, String)>,
}

/// Everything a [`Storage`](crate::Storage) needs: endpoint, auth, container, location prefix,
/// overwrite policy and save defaults. `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    account: Option<String>,
    endpoint: EndpointSource,
    auth: Auth,
    reason: String,
    ignored: Vec<String>,
    container: Option<String>,
    location: String,
    root_certificates_file: Option<PathBuf>,
    custom_domain: Option<String>,
    overwrite: bool,
    defaults: SaveDefaults,
    client_options: Option<blob_rest::ClientOptions>,
}

impl StorageConfig {
    /// An account in the public cloud (`https://<account>.blob.core.windows.net`).
    pub fn new(account: &str, auth: Auth) -> Result<Self> {
        let account = validate::account_name("account", account)?;
        let endpoint = EndpointSource::Account {
            scheme: "https",
            suffix: DEFAULT_ENDPOINT_SUFFIX.to_owned(),
        };
        Ok(Self::assemble(
            Some(account),
            endpoint,
            auth,
            "it was configured in code",
        ))
    }

    /// An account at an explicit blob endpoint: an emulator
    /// (`http://127.0.0.1:10000/devstoreaccount1`), a sovereign cloud or a private endpoint.
    /// A trailing `/` is tolerated.
    pub fn with_endpoint(blob_endpoint: &str, auth: Auth) -> Result<Self> {
        let url = validate::blob_endpoint("blob endpoint", blob_endpoint)?;
        Ok(Self::assemble(
            None,
            EndpointSource::Explicit(url),
            auth,
            "it was configured in code",
        ))
    }

    /// The emulator's well-known account (`devstoreaccount1` at
    /// `http://127.0.0.1:10000/devstoreaccount1` with its published key), as
    /// `UseDevelopmentStorage=true` means.
    pub fn development_storage() -> Self {
        Self::assemble(
            Some(DEVELOPMENT_ACCOUNT.to_owned()),
            EndpointSource::Explicit(DEVELOPMENT_BLOB_ENDPOINT.to_owned()),
            Auth {
                kind: AuthKind::SharedKey(Secret::new(DEVELOPMENT_KEY.to_owned())),
            },
            "the emulator's well-known development account was asked for",
        )
    }

    /// Parses an Azure Storage connection string; see `docs/configuration.md` for the fields.
    pub fn from_connection_string(connection_string: &str) -> Result<Self> {
        connection_string::parse(connection_string, "the connection string")
    }

    /// Reads the process environment; see [`StorageConfig::from_lookup`] for the rules.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the environment through `lookup` (a variable name to its value), so that tests
    /// and embedders need not touch the process environment. Empty values count as unset.
    ///
    /// Precedence, first match wins:
    /// 1. `AZURE_STORAGE_CONNECTION_STRING`: everything comes from it.
    /// 2. `AZURE_STORAGE_ACCOUNT` + `AZURE_STORAGE_KEY`: shared key.
    /// 3. `AZURE_STORAGE_ACCOUNT` + `AZURE_STORAGE_SAS_TOKEN`: SAS.
    /// 4. `AZURE_STORAGE_ACCOUNT` alone: managed identity (`AZURE_CLIENT_ID` picks a
    ///    user-assigned one).
    ///
    /// `AZURE_STORAGE_BLOB_ENDPOINT` (or `AZURE_STORAGE_ENDPOINT`) sets the endpoint for 2-4,
    /// `AZURE_STORAGE_CONTAINER` the container and `SSL_CERT_FILE` extra root certificates
    /// for all.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        env::from_lookup(&lookup)
    }

    fn assemble(
        account: Option<String>,
        endpoint: EndpointSource,
        auth: Auth,
        reason: &str,
    ) -> Self {
        Self {
            account,
            endpoint,
            auth,
            reason: reason.to_owned(),
            ignored: Vec::new(),
            container: None,
            location: String::new(),
            root_certificates_file: None,
            custom_domain: None,
            overwrite: false,
            defaults: SaveDefaults::default(),
            client_options: None,
        }
    }

    /// Sets the container the storage works in (checked against Azure's naming rules).
    pub fn with_container(mut self, container: &str) -> Result<Self> {
        self.container = Some(validate::container_name("container", container)?);
        Ok(self)
    }

    /// Sets a location prefix: every blob name is taken relative to it, and no name may climb
    /// out of it. The prefix follows the same rules as blob names; empty means none.
    pub fn with_location(mut self, location: &str) -> Result<Self> {
        self.location = crate::names::normalize_location(location)?;
        Ok(self)
    }

    /// Replaces the blob endpoint (a trailing `/` is tolerated).
    pub fn with_blob_endpoint(mut self, blob_endpoint: &str) -> Result<Self> {
        let url = validate::blob_endpoint("blob endpoint", blob_endpoint)?;
        self.endpoint = EndpointSource::Explicit(url);
        Ok(self)
    }

    /// Trusts the certificates of this PEM file in addition to the system's roots (for an
    /// emulator's self-signed certificate). The file is read when the storage is built.
    pub fn with_root_certificates_file(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.root_certificates_file = Some(pem_file.into());
        self
    }

    /// Hands out URLs ([`Storage::url`](crate::Storage::url)) on this domain instead of the
    /// account endpoint, e.g. a CDN in front of the account: `cdn.example.com`,
    /// `https://cdn.example.com` or `https://cdn.example.com/media` (a path is kept as a
    /// prefix). Requests of the storage itself still go to the account endpoint. Plain
    /// `http://` is accepted for a loopback host only.
    pub fn with_custom_domain(mut self, domain: &str) -> Result<Self> {
        let url = crate::url::parse_custom_domain(domain)?;
        self.custom_domain = Some(url.as_str().to_owned());
        Ok(self)
    }

    /// The HTTP client's options (retry policy, connect, response and read timeouts, clock,
    /// request ids) instead of blob-rest's defaults. The certificates of
    /// [`StorageConfig::with_root_certificates_file`] (or `SSL_CERT_FILE`) are trusted in
    /// addition to any these options already hold.
    pub fn with_client_options(mut self, options: blob_rest::ClientOptions) -> Self {
        self.client_options = Some(options);
        self
    }

    /// The retry policy of every request (default: [`blob_rest::RetryPolicy::default`], 4
    /// attempts within 2 minutes); the other client options stay as they are.
    pub fn with_retry_policy(mut self, policy: blob_rest::RetryPolicy) -> Self {
        let options = self.client_options.take().unwrap_or_default();
        self.client_options = Some(options.retry(policy));
        self
    }

    /// The HTTP client's options, if set with [`StorageConfig::with_client_options`] or
    /// [`StorageConfig::with_retry_policy`] (else blob-rest's defaults are used).
    pub fn client_options(&self) -> Option<&blob_rest::ClientOptions> {
        self.client_options.as_ref()
    }

    /// `false` (the default): a save never replaces a blob; it picks a free name instead.
    /// `true`: a save replaces whatever blob has the name.
    pub fn with_overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Content type for saves that give none, instead of guessing from the name's extension.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.defaults.content_type = Some(content_type.into());
        self
    }

    /// `Cache-Control` stored with every save that gives none.
    pub fn with_cache_control(mut self, cache_control: impl Into<String>) -> Self {
        self.defaults.cache_control = Some(cache_control.into());
        self
    }

    /// Adds a user metadata pair stored with every save (a save's own pairs win on a name
    /// clash). Names follow C# identifier rules, values must be printable ASCII.
    pub fn with_metadata(mut self, name: &str, value: &str) -> Result<Self> {
        validate::metadata(name, value)?;
        self.defaults
            .metadata
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self.defaults
            .metadata
            .push((name.to_owned(), value.to_owned()));
        Ok(self)
    }

    /// The account name, when it is known from the config (an explicit endpoint may carry it
    /// instead).
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// The blob endpoint URL, without trailing `/`.
    pub fn blob_endpoint(&self) -> String {
        match &self.endpoint {
            EndpointSource::Explicit(url) => url.clone(),
            EndpointSource::Account { scheme, suffix } => {
                let account = self.account.as_deref().unwrap_or_default();
                format!("{scheme}://{account}.blob.{suffix}")
            }
        }
    }

    /// The container, if one was configured.
    pub fn container(&self) -> Option<&str> {
        self.container.as_deref()
    }

    /// The location prefix (normalized, without leading or trailing `/`; empty for none).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The PEM file of extra trusted root certificates, if any.
    pub fn root_certificates_file(&self) -> Option<&Path> {
        self.root_certificates_file.as_deref()
    }

    /// The custom domain of handed-out URLs, if one is set (as a URL).
    pub fn custom_domain(&self) -> Option<&str> {
        self.custom_domain.as_deref()
    }

    /// Whether saves replace existing blobs.
    pub fn overwrite(&self) -> bool {
        self.overwrite
    }

    /// The authentication.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Which authentication was chosen and why, safe to print.
    pub fn auth_choice(&self) -> AuthChoice {
        AuthChoice {
            method: self.auth.method(),
            reason: self.reason.clone(),
            ignored: self.ignored.clone(),
        }
    }

    #[cfg(test)]
    pub(crate) fn defaults(&self) -> &SaveDefaults {
        &self.defaults
    }

    pub(crate) fn into_defaults(self) -> SaveDefaults {
        self.defaults
    }
}

#[cfg(test)]
mod tests;
