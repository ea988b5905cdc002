//! App Service and Azure Functions.
//!
//! <https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference>:
//! the platform sets `IDENTITY_ENDPOINT` (a URL on the sandbox's loopback) and
//! `IDENTITY_HEADER` (a secret that proves the caller runs inside the app). `GET
//! <endpoint>?api-version=2019-08-01&resource=...` with the secret in `X-IDENTITY-HEADER`; a
//! user-assigned identity as `client_id`, `object_id` or `mi_res_id`.

use reqwest::header::HeaderValue;
use url::Url;

use super::{endpoint_url, without_query};
use crate::error::Error;
use crate::resource::Resource;
use crate::selector::UserAssignedId;
use crate::token::SecretString;
use crate::transport::RequestSecrets;

const API_VERSION: &str = "2019-08-01";

#[derive(Debug)]
pub(crate) struct AppService {
    token_url: Url,
    endpoint: String,
    identity_header: SecretString,
    identity: Option<UserAssignedId>,
}

impl AppService {
    pub(crate) fn new(
        endpoint: &str,
        endpoint_origin: &str,
        identity_header: SecretString,
        header_origin: &str,
        identity: Option<UserAssignedId>,
    ) -> Result<Self, Error> {
        let token_url = endpoint_url(endpoint, endpoint_origin)?;
        if identity_header.expose().trim().is_empty()
            || HeaderValue::from_str(identity_header.expose()).is_err()
        {
            // The value is a secret: say what is wrong with it, never what it is.
            return Err(Error::config(format!(
                "{header_origin} must be the non-empty secret App Service gives the app, in \
                 printable ASCII; the value given is not"
            )));
        }
        Ok(Self {
            endpoint: without_query(&token_url),
            token_url,
            identity_header,
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
    ) -> (reqwest::RequestBuilder, RequestSecrets) {
        let mut url = self.token_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("api-version", API_VERSION)
                .append_pair("resource", resource.resource());
            if let Some(identity) = &self.identity {
                query.append_pair(identity.app_service_parameter(), identity.value());
            }
        }
        // Checked in `new`, so this cannot fail; a sensitive value is left out of hyper's logs.
        let mut header = HeaderValue::from_str(self.identity_header.expose())
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        header.set_sensitive(true);
        let mut secrets = RequestSecrets::default();
        secrets.add(self.identity_header.expose());
        (http.get(url).header("X-IDENTITY-HEADER", header), secrets)
    }
}
