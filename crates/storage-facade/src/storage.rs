//! The [`Storage`] an app holds: save, open, read, delete, exists, size, properties.

use std::fmt;
use std::sync::{Arc, Mutex};

use blob_rest::{
    AccountKey, BlobClient, BlobServiceClient, ClientOptions, ContainerClient, Credential,
    Endpoint, GetBlobOptions, PutBlobOptions, PutCondition, SasToken, SharedKeyCredential,
};
use bytes::Bytes;
use tracing::Instrument as _;

use crate::config::{
    validate_header_text, validate_metadata, AuthChoice, AuthKind, SaveDefaults, StorageConfig,
};
use crate::content::{Content, SaveOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::ManagedIdentityTokenProvider;
use crate::names::{self, BlobName, MAX_NAME_CHARS};
use crate::reader::{BlobReader, Properties, ReadOptions};
use crate::rename::alternative_name;
use crate::transfer::Attempt;

/// The line that starts a certificate in a PEM file.
const PEM_CERTIFICATE: &[u8] = b"-----BEGIN CERTIFICATE-----";

/// How many names a create-only save tries (the asked-for one and 7 alternatives) before it
/// gives up: with 7 random characters a second collision means something is wrong.
const MAX_SAVE_ATTEMPTS: usize = 8;

/// What a save stores when neither the caller nor the extension says otherwise.
const FALLBACK_CONTENT_TYPE: &str = "application/octet-stream";

/// Files in one container of one storage account, as an app sees them.
///
/// Cheap to clone: clones share the HTTP connections, the token cache and the "container
/// exists" check.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

struct Inner {
    container: ContainerClient,
    endpoint: String,
    account: String,
    location: String,
    overwrite: bool,
    defaults: SaveDefaults,
    choice: AuthChoice,
    identity: Option<imds_token::ManagedIdentity>,
    /// Origin that replaces the endpoint in URLs handed out (a CDN), if any.
    custom_domain: Option<url::Url>,
    container_checked: tokio::sync::OnceCell<()>,
    rng: Mutex<fastrand::Rng>,
}

impl Storage {
    /// Builds the storage from a config. Sends no request; fails with
    /// [`ErrorKind::Config`] when the config cannot work (no container, an unreadable
    /// certificate file, a credential the endpoint refuses).
    pub fn new(config: StorageConfig) -> Result<Self> {
        let Some(container) = config.container().map(str::to_owned) else {
            return Err(Error::config(
                "no container configured: set AZURE_STORAGE_CONTAINER or call \
                 StorageConfig::with_container",
            ));
        };
        let endpoint = Endpoint::parse(&config.blob_endpoint())
            .map_err(|e| Error::config(format!("the blob endpoint cannot be used: {e}")))?;
        let account = config.account().unwrap_or(endpoint.account()).to_owned();

        let mut options: ClientOptions = config.client_options().cloned().unwrap_or_default();
        if let Some(path) = config.root_certificates_file() {
            let pem = std::fs::read(path).map_err(|error| {
                Error::config(format!(
                    "the root certificate file {} (SSL_CERT_FILE) cannot be read ({error}): fix \
                     the path or unset SSL_CERT_FILE",
                    path.display()
                ))
                .with_source(error)
            })?;
            // Checked here so that the message names the variable and the file.
            if !pem
                .windows(PEM_CERTIFICATE.len())
                .any(|window| window == PEM_CERTIFICATE)
            {
                return Err(Error::config(format!(
                    "SSL_CERT_FILE names {}, which holds no PEM certificate (no `-----BEGIN \
                     CERTIFICATE-----` line): point it at a PEM file of the certificates to \
                     trust, or unset it",
                    path.display()
                )));
            }
            options = options.add_root_certificates_pem(pem);
        }

        let mut identity = None;
        let credential = match config.auth().kind() {
            AuthKind::SharedKey(key) => {
                let key = AccountKey::from_base64(key.expose())
                    .map_err(|e| Error::config(format!("the account key cannot be used: {e}")))?;
                Credential::SharedKey(SharedKeyCredential::new(&account, key))
            }
            AuthKind::Sas(token) => Credential::Sas(
                SasToken::parse(token.expose())
                    .map_err(|e| Error::config(format!("the SAS token cannot be used: {e}")))?,
            ),
            AuthKind::ManagedIdentity { client_id } => {
                let mut builder = imds_token::ManagedIdentity::builder();
                if let Some(client_id) = client_id {
                    builder = builder.client_id(client_id);
                }
                let built = builder.build().map_err(|e| {
                    Error::from_identity("the managed identity cannot be set up", e)
                })?;
                identity = Some(built.clone());
                Credential::bearer(ManagedIdentityTokenProvider::new(built))
            }
            AuthKind::Identity(built) => {
                identity = Some(built.clone());
                Credential::bearer(ManagedIdentityTokenProvider::new(built.clone()))
            }
            AuthKind::Provider(provider) => Credential::Bearer(Arc::clone(provider)),
            AuthKind::Anonymous => Credential::Anonymous,
        };
        let custom_domain = config
            .custom_domain()
            .map(crate::url::parse_custom_domain)
            .transpose()?;
        let service = BlobServiceClient::new(endpoint, credential, options)
            .map_err(|e| Error::from_blob("the storage client cannot be set up", e))?;

        Ok(Self {
            inner: Arc::new(Inner {
                container: service.container(&container),
                endpoint: config.blob_endpoint(),
                account,
                location: config.location().to_owned(),
                overwrite: config.overwrite(),
                choice: config.auth_choice(),
                identity,
                custom_domain,
                container_checked: tokio::sync::OnceCell::new(),
                rng: Mutex::new(fastrand::Rng::new()),
                // Last: it consumes the config.
                defaults: config.into_defaults(),
            }),
        })
    }

    /// [`Storage::new`] from [`StorageConfig::from_env`].
    pub fn from_env() -> Result<Self> {
        Self::new(StorageConfig::from_env()?)
    }

    /// Saves `content` under `name` and returns the name it was stored under, relative to
    /// the location prefix. Unless overwriting is on, an existing blob is never replaced: the
    /// content goes to a free name such as `cat_Ab3dE9x.jpg` instead.
    pub async fn save(&self, name: &str, content: impl Into<Content>) -> Result<String> {
        self.save_with(name, content, SaveOptions::new()).await
    }

    /// [`Storage::save`] with per-save options (content type, cache control, metadata,
    /// overwrite, progress).
    pub async fn save_with(
        &self,
        name: &str,
        content: impl Into<Content>,
        options: SaveOptions,
    ) -> Result<String> {
        let name = self.resolve(name)?;
        let span =
            tracing::info_span!("storage_save", container = self.container(), blob = %name.full);
        self.save_resolved(name, content.into(), options)
            .instrument(span)
            .await
    }

    async fn save_resolved(
        &self,
        name: BlobName,
        mut content: Content,
        options: SaveOptions,
    ) -> Result<String> {
        let put_options = self.put_options(&name, &options)?;
        let overwrite = options.overwrite.unwrap_or(self.inner.overwrite);
        let put_options = put_options.condition(match &options.if_match {
            Some(etag) => PutCondition::IfMatch(etag.clone()),
            None if overwrite => PutCondition::Overwrite,
            None => PutCondition::IfNotExists,
        });
        self.ensure_container().await?;

        let mut candidate = name.clone();
        for attempt in 1..=MAX_SAVE_ATTEMPTS {
            let action = self.action("save", &candidate.full);
            let threshold = options.transfer.single_put_threshold;
            let Some(upload) = content.upload(options.progress.as_ref(), threshold).await? else {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "{}: a blob of that name exists, and the content was a stream that \
                         cannot be sent again under another name: save from a file or bytes, \
                         or turn overwriting on",
                        self.action("save", &name.full)
                    ),
                ));
            };
            let put = put_options.clone();
            match self
                .put_content(&candidate.full, upload, put, &options)
                .await?
            {
                Attempt::Stored => {
                    tracing::debug!(stored = %candidate.full, attempt, "saved");
                    return Ok(candidate.relative);
                }
                // NOTE (2026-12): when blob-rest retries a create-only put whose first
                // response was lost, the blob it finds may be our own write; we then store a
                // second copy under another name. Comparing the stored MD5 with the content's
                // would tell the two apart for in-memory content.
                Attempt::NameTaken => {
                    tracing::info!(taken = %candidate.full, attempt, "name taken, trying another");
                    candidate = self.alternative(&name)?;
                }
                Attempt::Failed(error) => return Err(Error::from_blob(&action, error)),
            }
        }
        Err(Error::new(
            ErrorKind::AlreadyExists,
            format!(
                "{}: the name and {} alternatives are all taken: choose another name",
                self.action("save", &name.full),
                MAX_SAVE_ATTEMPTS - 1
            ),
        ))
    }

    /// Opens a blob for streaming reads: its properties at once, its content as a stream of
    /// chunks checked against the stored MD5 at the end.
    pub async fn open(&self, name: &str) -> Result<BlobReader> {
        self.open_with(name, ReadOptions::new()).await
    }

    /// [`Storage::open`] with conditions: with [`ReadOptions::if_match`], a blob whose ETag
    /// changed fails with [`ErrorKind::PreconditionFailed`] instead of being read.
    pub async fn open_with(&self, name: &str, options: ReadOptions) -> Result<BlobReader> {
        let name = self.resolve(name)?;
        let action = self.action("read", &name.full);
        let span =
            tracing::info_span!("storage_open", container = self.container(), blob = %name.full);
        let mut get = GetBlobOptions::new();
        if let Some(etag) = options.if_match {
            get = get.if_match(etag);
        }
        let response = self
            .blob(&name.full)
            .get(get)
            .instrument(span)
            .await
            .map_err(|e| Self::not_found_or(&action, e))?;
        Ok(BlobReader::new(response, action))
    }

    /// Reads a whole blob into memory (checked against its stored MD5).
    pub async fn read(&self, name: &str) -> Result<Bytes> {
        self.open(name).await?.collect().await
    }

    /// [`Storage::read`] with conditions, see [`Storage::open_with`].
    pub async fn read_with(&self, name: &str, options: ReadOptions) -> Result<Bytes> {
        self.open_with(name, options).await?.collect().await
    }

    /// Deletes a blob. A blob that does not exist counts as deleted.
    pub async fn delete(&self, name: &str) -> Result<()> {
        let name = self.resolve(name)?;
        let span =
            tracing::info_span!("storage_delete", container = self.container(), blob = %name.full);
        match self.blob(&name.full).delete().instrument(span).await {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == blob_rest::ErrorKind::NotFound => {
                tracing::debug!(blob = %name.full, "already absent");
                Ok(())
            }
            Err(error) => Err(Error::from_blob(&self.action("delete", &name.full), error)),
        }
    }

    /// Whether a blob of that name exists.
    pub async fn exists(&self, name: &str) -> Result<bool> {
        match self.properties(name).await {
            Ok(_) => Ok(true),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The size of a blob in bytes.
    pub async fn size(&self, name: &str) -> Result<u64> {
        Ok(self.properties(name).await?.content_length)
    }

    /// A blob's properties and metadata, without its content.
    pub async fn properties(&self, name: &str) -> Result<Properties> {
        let name = self.resolve(name)?;
        let action = self.action("read the properties of", &name.full);
        let span = tracing::info_span!("storage_properties", container = self.container(), blob = %name.full);
        self.blob(&name.full)
            .get_properties()
            .instrument(span)
            .await
            .map(Properties::from)
            .map_err(|e| Self::not_found_or(&action, e))
    }

    /// The full blob name a name is stored under (location prefix included), after the
    /// name rules; fails as a save would on a refused name.
    pub fn blob_name(&self, name: &str) -> Result<String> {
        Ok(self.resolve(name)?.full)
    }

    /// Which authentication the storage uses and why, safe to print.
    pub fn auth_choice(&self) -> &AuthChoice {
        &self.inner.choice
    }

    /// For a managed identity: which token source (IMDS, App Service, workload identity) was
    /// chosen, for which identity, and why.
    pub fn identity_source(&self) -> Option<&imds_token::SourceChoice> {
        self.inner
            .identity
            .as_ref()
            .map(imds_token::ManagedIdentity::source)
    }

    /// The container.
    pub fn container(&self) -> &str {
        self.inner.container.name()
    }

    /// The storage account name.
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// The blob endpoint URL.
    pub fn blob_endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The location prefix (empty for none).
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    pub(crate) fn resolve(&self, name: &str) -> Result<BlobName> {
        names::resolve(&self.inner.location, name)
    }

    /// The blob-rest client of the container.
    pub(crate) fn container_client(&self) -> &ContainerClient {
        &self.inner.container
    }

    /// The origin that replaces the endpoint in URLs handed out, if one is configured.
    pub(crate) fn custom_domain(&self) -> Option<&url::Url> {
        self.inner.custom_domain.as_ref()
    }

    pub(crate) fn blob(&self, full_name: &str) -> BlobClient {
        self.inner.container.blob(full_name)
    }

    pub(crate) fn action(&self, verb: &str, full_name: &str) -> String {
        format!(
            "cannot {verb} {} in container {}",
            crate::config::quote(full_name),
            crate::config::quote(self.container())
        )
    }

    /// Creates the container on the first save, once per storage. Missing permission to
    /// create containers (a container-scoped SAS, a role on the container only) is not an
    /// error here: the container may well exist, and the upload reports it if it does not.
    async fn ensure_container(&self) -> Result<()> {
        let container = &self.inner.container;
        self.inner
            .container_checked
            .get_or_try_init(|| async {
                match container.create_if_not_exists().await {
                    Ok(created) => {
                        tracing::debug!(container = container.name(), created, "container ready");
                        Ok(())
                    }
                    Err(error)
                        if matches!(
                            error.kind(),
                            blob_rest::ErrorKind::PermissionMissing
                                | blob_rest::ErrorKind::AuthenticationFailed
                        ) =>
                    {
                        tracing::debug!(container = container.name(), %error, "cannot create the container; assuming it exists");
                        Ok(())
                    }
                    Err(error) => Err(Error::from_blob(
                        &format!(
                            "cannot create container {}",
                            crate::config::quote(container.name())
                        ),
                        error,
                    )),
                }
            })
            .await
            .map(|&()| ())
    }

    /// The content type, cache control and metadata of a save, checked before any request.
    fn put_options(&self, name: &BlobName, options: &SaveOptions) -> Result<PutBlobOptions> {
        let relative = name.relative.as_str();
        let refused = |error: Error| {
            Error::new(
                error.kind(),
                format!("{}: {}", self.action("save", &name.full), error.message()),
            )
        };
        let defaults = &self.inner.defaults;
        let content_type = options
            .content_type
            .clone()
            .or_else(|| defaults.content_type.clone())
            .or_else(|| {
                mime_guess::from_path(relative)
                    .first_raw()
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| FALLBACK_CONTENT_TYPE.to_owned());
        validate_header_text("content type", &content_type).map_err(refused)?;
        let mut put = PutBlobOptions::new().content_type(content_type);
        if let Some(cache_control) = options
            .cache_control
            .as_ref()
            .or(defaults.cache_control.as_ref())
        {
            validate_header_text("cache control", cache_control).map_err(refused)?;
            put = put.cache_control(cache_control.clone());
        }
        let mut metadata: Vec<(String, String)> = defaults
            .metadata
            .iter()
            .filter(|(name, _)| {
                !options
                    .metadata
                    .iter()
                    .any(|(own, _)| own.eq_ignore_ascii_case(name))
            })
            .cloned()
            .collect();
        metadata.extend(options.metadata.iter().cloned());
        for (name, value) in metadata {
            validate_metadata(&name, &value)?;
            put = put.metadata(name, value);
        }
        Ok(put)
    }

    fn alternative(&self, name: &BlobName) -> Result<BlobName> {
        let location_chars = self.inner.location.chars().count();
        let relative = {
            let mut rng = self
                .inner
                .rng
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            alternative_name(&name.relative, location_chars, MAX_NAME_CHARS, &mut rng)
        };
        let Some(relative) = relative else {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "{}: a blob of that name exists, and the name is too long to add a random \
                     part: choose another name",
                    self.action("save", &name.full)
                ),
            ));
        };
        Ok(BlobName {
            full: names::join(&self.inner.location, &relative),
            relative,
        })
    }

    /// A not-found error that says whether the blob or the whole container is missing.
    pub(crate) fn not_found_or(action: &str, error: blob_rest::Error) -> Error {
        if error.code() == Some("ContainerNotFound") {
            let message = format!(
                "{action}: the container does not exist (the first save creates it, or create \
                 it in the portal)"
            );
            return Error::new(ErrorKind::NotFound, message).with_source(error);
        }
        if error.kind() == blob_rest::ErrorKind::NotFound {
            return Error::new(ErrorKind::NotFound, format!("{action}: no such blob"))
                .with_source(error);
        }
        Error::from_blob(action, error)
    }
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Storage")
            .field("endpoint", &self.inner.endpoint)
            .field("container", &self.container())
            .field("location", &self.inner.location)
            .field("auth", self.inner.choice.method())
            .finish_non_exhaustive()
    }
}
