//! Container operations.

use std::fmt;

use http::{HeaderMap, HeaderValue, Method};

use crate::client::{BlobClient, BlobServiceClient};
use crate::error::{Error, ErrorKind};
use crate::names::check_container_name;
use crate::pipeline::Request;

/// Who may read a container's blobs without any credential
/// (`x-ms-blob-public-access`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PublicAccess {
    /// Nobody: every request needs a credential (the default).
    #[default]
    None,
    /// Anyone may read blobs whose URL they know, but not list the container.
    Blob,
    /// Anyone may read blobs and list the container.
    Container,
}

/// A client for one container.
#[derive(Clone)]
pub struct ContainerClient {
    pub(crate) service: BlobServiceClient,
    pub(crate) name: String,
}

impl ContainerClient {
    pub(crate) fn new(service: BlobServiceClient, name: &str) -> Self {
        Self {
            service,
            name: name.to_owned(),
        }
    }

    /// The container's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A client for the blob `name` in this container. The name is checked when an operation
    /// is called.
    pub fn blob(&self, name: &str) -> BlobClient {
        BlobClient::new(self.clone(), name)
    }

    /// Creates the container, private (no public access). Fails with
    /// [`ErrorKind::AlreadyExists`] if it exists.
    ///
    /// [Create Container](https://learn.microsoft.com/rest/api/storageservices/create-container)
    pub async fn create(&self) -> Result<(), Error> {
        self.create_with_public_access(PublicAccess::None).await
    }

    /// Creates the container with the given public read access. Many accounts forbid public
    /// access (the service then answers 409 `PublicAccessNotPermitted`).
    ///
    /// [Create Container](https://learn.microsoft.com/rest/api/storageservices/create-container)
    pub async fn create_with_public_access(&self, access: PublicAccess) -> Result<(), Error> {
        let mut headers = HeaderMap::new();
        let value = match access {
            PublicAccess::None => None,
            PublicAccess::Blob => Some("blob"),
            PublicAccess::Container => Some("container"),
        };
        if let Some(value) = value {
            headers.insert("x-ms-blob-public-access", HeaderValue::from_static(value));
        }
        self.send("Create Container", Method::PUT, headers).await
    }

    /// Creates the container unless it exists. Returns whether it was created.
    pub async fn create_if_not_exists(&self) -> Result<bool, Error> {
        match self.create().await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes the container and every blob in it. The service removes it in the background:
    /// for a while afterwards a container of the same name cannot be created
    /// (`ContainerBeingDeleted`).
    ///
    /// [Delete Container](https://learn.microsoft.com/rest/api/storageservices/delete-container)
    pub async fn delete(&self) -> Result<(), Error> {
        self.send("Delete Container", Method::DELETE, HeaderMap::new())
            .await
    }

    async fn send(
        &self,
        operation: &'static str,
        method: Method,
        headers: HeaderMap,
    ) -> Result<(), Error> {
        let context = || format!("{operation} {}", self.name.escape_debug());
        check_container_name(&self.name).map_err(|e| e.with_context(context()))?;
        let url = self
            .service
            .inner
            .endpoint
            .resource_url(&self.name, None, &[("restype", "container")])
            .map_err(|e| e.with_context(context()))?;
        let request = Request {
            operation,
            method,
            url,
            headers,
            body: None,
            container: self.name.clone(),
            blob: None,
            create_only: false,
        };
        self.service.inner.pipeline.send(request).await?;
        Ok(())
    }
}

impl fmt::Debug for ContainerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContainerClient")
            .field("endpoint", &self.service.inner.endpoint)
            .field("name", &self.name)
            .finish()
    }
}
