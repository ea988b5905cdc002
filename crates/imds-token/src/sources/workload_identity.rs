//! AKS workload identity: a Kubernetes-issued token exchanged with Microsoft Entra.
//!
//! <https://learn.microsoft.com/azure/aks/workload-identity-overview> and the client
//! credentials flow with a federated assertion,
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#third-case-access-token-request-with-a-federated-credential>:
//! `POST <authority>/<tenant>/oauth2/v2.0/token`, form-encoded, with the projected service
//! account token as `client_assertion` and the *scope* (`<resource>/.default`).
//!
//! Kubernetes rotates the projected token file, so it is read again for every request: a
//! copy kept in memory would expire within hours.

use std::path::PathBuf;

use reqwest::header::{HeaderValue, CONTENT_TYPE};
use url::Url;
use zeroize::Zeroizing;

use super::{endpoint_url, without_query};
use crate::error::Error;
use crate::resource::Resource;
use crate::transport::RequestSecrets;

/// The public cloud's authority, used when `AZURE_AUTHORITY_HOST` is not set.
pub(crate) const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com/";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The most of the federated token file read: a projected service account token is a JWT of
/// one to a few KiB, so anything this large is the wrong file.
const MAX_ASSERTION_BYTES: u64 = 64 * 1024;

#[derive(Debug)]
pub(crate) struct WorkloadIdentity {
    token_url: Url,
    endpoint: String,
    client_id: String,
    token_file: PathBuf,
}

impl WorkloadIdentity {
    pub(crate) fn new(
        authority_host: &str,
        authority_origin: &str,
        tenant_id: &str,
        client_id: String,
        token_file: PathBuf,
    ) -> Result<Self, Error> {
        let authority = endpoint_url(authority_host, authority_origin)?;
        if authority.query().is_some() {
            return Err(Error::config(format!(
                "{authority_origin} must be a base URL such as {DEFAULT_AUTHORITY_HOST}, \
                 without a query"
            )));
        }
        // The client assertion is a credential: it must not cross a network in clear text.
        // Plain http is allowed on loopback only, for local stand-ins in tests.
        let loopback = match authority.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        if authority.scheme() != "https" && !loopback {
            return Err(Error::config(format!(
                "{authority_origin} must be an https:// URL (plain http is only allowed on \
                 127.0.0.1 or localhost), such as {DEFAULT_AUTHORITY_HOST}; got {authority}"
            )));
        }
        let tenant_ok = !tenant_id.is_empty()
            && tenant_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !tenant_ok {
            return Err(Error::config(format!(
                "the tenant id {tenant_id:?} is not a tenant GUID or domain name: set \
                 AZURE_TENANT_ID to the directory (tenant) id of the workload identity"
            )));
        }
        let mut token_url = authority;
        let path = format!(
            "{}/{tenant_id}/oauth2/v2.0/token",
            token_url.path().trim_end_matches('/')
        );
        token_url.set_path(&path);
        Ok(Self {
            endpoint: without_query(&token_url),
            token_url,
            client_id,
            token_file,
        })
    }

    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(crate) async fn request(
        &self,
        http: &reqwest::Client,
        resource: Resource<'_>,
    ) -> Result<(reqwest::RequestBuilder, RequestSecrets), Error> {
        let assertion = self.read_assertion().await?;
        let mut secrets = RequestSecrets::default();
        secrets.add(&assertion);
        let body = Zeroizing::new(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("client_assertion", assertion.trim())
                .append_pair("client_assertion_type", ASSERTION_TYPE)
                .append_pair("client_id", &self.client_id)
                .append_pair("grant_type", "client_credentials")
                .append_pair("scope", &resource.scope())
                .finish(),
        );
        // NOTE (2026-12): reqwest takes the body as its own bytes, which are not zeroized
        // after sending; our copies (file contents, form) are.
        let request = http
            .post(self.token_url.clone())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .body(body.as_bytes().to_vec());
        Ok((request, secrets))
    }

    async fn read_assertion(&self) -> Result<Zeroizing<String>, Error> {
        use tokio::io::AsyncReadExt as _;

        let path = self.token_file.display();
        let unreadable = |error: std::io::Error| {
            Error::config(format!(
                "cannot read the federated token file {path}: {error}; on AKS, check that \
                 the pod has the azure.workload.identity/use label and that its service \
                 account is annotated with the identity's client id"
            ))
            .with_source(error)
        };
        // The refresh holds the cache's lock while it reads, so a read must end quickly:
        // a FIFO with no writer would block every caller, and a device such as /dev/zero
        // would fill memory. Kubernetes projects a regular file (behind symlinks, which
        // `metadata` follows) holding a JWT of a few KiB.
        let metadata = tokio::fs::metadata(&self.token_file)
            .await
            .map_err(unreadable)?;
        if !metadata.is_file() {
            return Err(Error::config(format!(
                "the federated token file {path} is not a regular file; point \
                 AZURE_FEDERATED_TOKEN_FILE at the service account token Kubernetes projects"
            )));
        }
        let file = tokio::fs::File::open(&self.token_file)
            .await
            .map_err(unreadable)?;
        let mut bytes = Zeroizing::new(Vec::new());
        file.take(MAX_ASSERTION_BYTES + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(unreadable)?;
        if bytes.len() as u64 > MAX_ASSERTION_BYTES {
            return Err(Error::config(format!(
                "the federated token file {path} is larger than {} KiB; it should hold only \
                 the service account token Kubernetes projects there",
                MAX_ASSERTION_BYTES / 1024
            )));
        }
        let contents = match String::from_utf8(std::mem::take(&mut *bytes)) {
            Ok(text) => Zeroizing::new(text),
            Err(error) => {
                // Zeroize the bytes the error hands back before reporting it.
                drop(Zeroizing::new(error.into_bytes()));
                return Err(Error::config(format!(
                    "the federated token file {path} is not UTF-8 text; it should hold the \
                     service account token Kubernetes projects there"
                )));
            }
        };
        if contents.trim().is_empty() {
            return Err(Error::config(format!(
                "the federated token file {path} is empty; it should hold the service \
                 account token Kubernetes projects there"
            )));
        }
        Ok(contents)
    }
}
