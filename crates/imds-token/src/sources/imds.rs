//! The instance metadata service (IMDS) of Azure VMs and scale sets.
//!
//! <https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#get-a-token-using-http>:
//! `GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=...`
//! with `Metadata: true` (which a server-side request forgery cannot add). It takes a resource,
//! never a scope, and a user-assigned identity as `client_id`, `object_id` or `msi_res_id`.

use reqwest::header::HeaderValue;
use url::Url;

use super::{endpoint_url, without_query};
use crate::error::Error;
use crate::resource::Resource;
use crate::selector::UserAssignedId;

/// Where IMDS answers on every Azure VM.
pub(crate) const DEFAULT_HOST: &str = "http://169.254.169.254";
/// Appended to the host, or to `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
pub(crate) const TOKEN_PATH: &str = "/metadata/identity/oauth2/token";
const API_VERSION: &str = "2018-02-01";

#[derive(Debug)]
pub(crate) struct Imds {
    token_url: Url,
    endpoint: String,
    identity: Option<UserAssignedId>,
}

impl Imds {
    /// IMDS at `base` (`http://169.254.169.254`, or a stand-in such as
    /// `http://127.0.0.1:8080`); `origin` names where `base` came from.
    pub(crate) fn new(
        base: &str,
        origin: &str,
        identity: Option<UserAssignedId>,
    ) -> Result<Self, Error> {
        let base = endpoint_url(base, origin)?;
        if base.query().is_some() {
            return Err(Error::config(format!(
                "{origin} must be a base URL such as http://127.0.0.1:8080, without a query; \
                 {TOKEN_PATH} is appended to it"
            )));
        }
        let mut token_url = base;
        let path = format!("{}{TOKEN_PATH}", token_url.path().trim_end_matches('/'));
        token_url.set_path(&path);
        Ok(Self {
            endpoint: without_query(&token_url),
            token_url,
            identity,
        })
    }

    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(crate) fn request(
        &self,
        http: &reqwest::Client,
        resource: Resource<'_>,
    ) -> reqwest::RequestBuilder {
        let mut url = self.token_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("api-version", API_VERSION)
                .append_pair("resource", resource.resource());
            if let Some(identity) = &self.identity {
                query.append_pair(identity.imds_parameter(), identity.value());
            }
        }
        http.get(url)
            .header("Metadata", HeaderValue::from_static("true"))
    }
}
