//! URLs of blobs to hand to others: plain ones for public containers, and SAS URLs signed
//! with whatever the client holds (the account key, or a bearer token's delegation key).

use crate::auth::Credential;
use crate::client::ContainerClient;
use crate::error::Error;
use crate::names::{check_blob_name, check_container_name};
use crate::sas::{sign_service_sas, sign_user_delegation_sas, BlobUrl, BlobUrlKind, SasOptions};

impl ContainerClient {
    /// A URL that lets anyone holding it use the blob `blob` as `options` allow, until it
    /// expires, with no other credential.
    ///
    /// - With a shared key: a service SAS, signed locally, no request sent.
    /// - With a bearer token: a user delegation SAS, signed with a user delegation key that is
    ///   fetched once and cached by the service client (see
    ///   [`BlobServiceClient::get_user_delegation_key`](crate::BlobServiceClient::get_user_delegation_key));
    ///   such a SAS lasts at most 7 days.
    /// - With a SAS or no credential there is nothing to sign with: an
    ///   [`ErrorKind::Config`](crate::ErrorKind::Config) error.
    ///
    /// The URL is always `https`, except for a loopback emulator over plain HTTP; a SAS URL
    /// for a remote `http://` endpoint is refused.
    pub async fn blob_sas_url(&self, blob: &str, options: &SasOptions) -> Result<BlobUrl, Error> {
        let context = || format!("create a SAS URL for {}/{}", self.name, blob.escape_debug());
        check_container_name(&self.name)
            .and_then(|()| check_blob_name(blob))
            .map_err(|e| e.with_context(context()))?;
        let inner = &self.service.inner;
        let (start, expiry) = options
            .window(inner.clock.now())
            .map_err(|e| e.with_context(context()))?;
        let fields = options
            .fields(&inner.endpoint, &self.name, blob, start, expiry)
            .map_err(|e| e.with_context(context()))?;
        let (query, kind) = match &inner.credential {
            Credential::SharedKey(key) => (sign_service_sas(&fields, key), BlobUrlKind::ServiceSas),
            Credential::Bearer(_) => {
                let key = inner
                    .delegation_keys
                    .key_for(&self.service, start, expiry)
                    .await
                    .map_err(|e| {
                        // The key request's own context ("Get User Delegation Key ...") stays.
                        e.with_note(format!(
                            "needed for a SAS URL of {}/{}",
                            self.name,
                            blob.escape_debug()
                        ))
                    })?;
                (
                    sign_user_delegation_sas(&fields, &key),
                    BlobUrlKind::UserDelegationSas,
                )
            }
            Credential::Sas(_) | Credential::Anonymous => {
                return Err(Error::config(format!(
                    "the client holds {} and no key to sign with: a SAS URL needs a shared key \
                     (service SAS) or a bearer token such as a managed identity (user \
                     delegation SAS); for a container with public read access, ask for a \
                     plain URL instead",
                    match inner.credential {
                        Credential::Sas(_) => "a SAS token",
                        _ => "no credential",
                    }
                ))
                .with_context(context()));
            }
        };
        let mut url = inner
            .endpoint
            .resource_url(&self.name, Some(blob), &[])
            .map_err(|e| e.with_context(context()))?;
        url.set_query(Some(&query.encode()));
        Ok(BlobUrl::new(&url, inner.endpoint.url(), kind, Some(expiry)))
    }

    /// The plain URL of the blob `blob`, without any signature: it works for anyone only when
    /// the container allows public read access. No request is sent.
    pub fn blob_url(&self, blob: &str) -> Result<BlobUrl, Error> {
        let context = || format!("make the URL of {}/{}", self.name, blob.escape_debug());
        check_container_name(&self.name)
            .and_then(|()| check_blob_name(blob))
            .map_err(|e| e.with_context(context()))?;
        let endpoint = &self.service.inner.endpoint;
        let url = endpoint
            .resource_url(&self.name, Some(blob), &[])
            .map_err(|e| e.with_context(context()))?;
        Ok(BlobUrl::new(&url, endpoint.url(), BlobUrlKind::Plain, None))
    }
}
