//! The account-level client, which owns the HTTP connection pool and the credential.

use std::fmt;
use std::sync::Arc;

use crate::auth::Credential;
use crate::client::ContainerClient;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::options::{ClientOptions, Clock};
use crate::pipeline::Pipeline;
use crate::sas::DelegationKeyCache;

/// A client for one storage account's Blob service. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct BlobServiceClient {
    pub(crate) inner: Arc<ServiceInner>,
}

pub(crate) struct ServiceInner {
    pub(crate) endpoint: Endpoint,
    pub(crate) pipeline: Pipeline,
    /// What SAS URLs are signed with (the pipeline authorizes requests with its own copy).
    pub(crate) credential: Credential,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) delegation_keys: DelegationKeyCache,
}

impl BlobServiceClient {
    /// A client for `endpoint`, authorizing with `credential`.
    ///
    /// Fails with [`ErrorKind::Config`](crate::ErrorKind::Config) when the credential cannot
    /// be used with the endpoint (a shared key for another account, a bearer token over plain
    /// HTTP to a host that is not loopback) or the extra certificates are not PEM.
    pub fn new(
        endpoint: Endpoint,
        credential: Credential,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        let clock = Arc::clone(&options.clock);
        let pipeline = Pipeline::new(&endpoint, credential.clone(), options)?;
        Ok(Self {
            inner: Arc::new(ServiceInner {
                endpoint,
                pipeline,
                credential,
                clock,
                delegation_keys: DelegationKeyCache::default(),
            }),
        })
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// A client for the container `name`. The name is checked when an operation is called.
    pub fn container(&self, name: &str) -> ContainerClient {
        ContainerClient::new(self.clone(), name)
    }
}

impl fmt::Debug for BlobServiceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobServiceClient")
            .field("endpoint", &self.inner.endpoint)
            .finish_non_exhaustive()
    }
}
