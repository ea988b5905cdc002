//! The token sources: where a token comes from and how to ask for it.
//!
//! Each source lives in its own file and only builds its request; sending it, retrying and
//! reading the answer are shared (`transport`, `retry`, `response`), so every source gets the
//! same proxy, timeout and retry behaviour.

mod app_service;
pub(crate) mod imds;
mod static_token;
pub(crate) mod workload_identity;

use std::fmt;

use url::Url;

pub(crate) use app_service::AppService;
pub(crate) use imds::Imds;
pub(crate) use static_token::StaticToken;
pub(crate) use workload_identity::WorkloadIdentity;

use crate::error::Error;
use crate::resource::Resource;
use crate::transport::RequestSecrets;

/// Which kind of source a [`ManagedIdentity`](crate::ManagedIdentity) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SourceKind {
    /// The instance metadata service of a VM or scale set.
    Imds,
    /// App Service or Functions (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`).
    AppService,
    /// AKS workload identity (a federated token exchanged with Microsoft Entra).
    WorkloadIdentity,
    /// A token given in code.
    Static,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Imds => "IMDS",
            Self::AppService => "App Service managed identity",
            Self::WorkloadIdentity => "AKS workload identity",
            Self::Static => "static token",
        })
    }
}

/// A configured source.
#[derive(Debug)]
pub(crate) enum Source {
    Imds(Imds),
    AppService(AppService),
    WorkloadIdentity(WorkloadIdentity),
    Static(StaticToken),
}

impl Source {
    pub(crate) fn kind(&self) -> SourceKind {
        match self {
            Self::Imds(_) => SourceKind::Imds,
            Self::AppService(_) => SourceKind::AppService,
            Self::WorkloadIdentity(_) => SourceKind::WorkloadIdentity,
            Self::Static(_) => SourceKind::Static,
        }
    }

    /// The HTTP method of its requests, for logs.
    pub(crate) fn method(&self) -> &'static str {
        match self {
            Self::Imds(_) | Self::AppService(_) => "GET",
            Self::WorkloadIdentity(_) => "POST",
            Self::Static(_) => "NONE",
        }
    }

    /// Where requests go, for messages and logs: the URL without its query.
    pub(crate) fn endpoint(&self) -> &str {
        match self {
            Self::Imds(imds) => imds.endpoint(),
            Self::AppService(app_service) => app_service.endpoint(),
            Self::WorkloadIdentity(workload) => workload.endpoint(),
            Self::Static(_) => "(given in code)",
        }
    }

    /// The request for one attempt. The workload identity source reads its token file here,
    /// so that every attempt sends the file's current contents.
    pub(crate) async fn request(
        &self,
        http: &reqwest::Client,
        resource: Resource<'_>,
    ) -> Result<(reqwest::RequestBuilder, RequestSecrets), Error> {
        match self {
            Self::Imds(imds) => Ok((imds.request(http, resource), RequestSecrets::default())),
            Self::AppService(app_service) => Ok(app_service.request(http, resource)),
            Self::WorkloadIdentity(workload) => workload.request(http, resource).await,
            Self::Static(_) => Err(Error::config(
                "a static token source sends no request; this is a bug in imds-token",
            )),
        }
    }
}

/// Reads an endpoint URL from configuration; `origin` names where it came from, so that the
/// message says what to fix.
pub(crate) fn endpoint_url(text: &str, origin: &str) -> Result<Url, Error> {
    let url = Url::parse(text.trim()).map_err(|error| {
        Error::config(format!(
            "{origin} is not a URL ({error}): give an http:// or https:// URL such as \
             http://127.0.0.1:8080"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Error::config(format!(
            "{origin} must be an http:// or https:// URL with a host, such as \
             http://127.0.0.1:8080; got {url}"
        )));
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(format!(
            "{origin} must not carry a #fragment or user:password@; got a URL that does"
        )));
    }
    Ok(url)
}

/// The URL without its query, for messages.
pub(crate) fn without_query(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.into()
}
