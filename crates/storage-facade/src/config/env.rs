//! The environment, read with Azure CLI conventions. **The precedence list lives here**, and
//! `docs/configuration.md` repeats it:
//!
//! 1. `AZURE_STORAGE_CONNECTION_STRING` set: everything comes from it; the other storage
//!    variables below (account, key, SAS token, endpoint) are not used.
//! 2. `AZURE_STORAGE_ACCOUNT` and `AZURE_STORAGE_KEY`: shared key.
//! 3. `AZURE_STORAGE_ACCOUNT` and `AZURE_STORAGE_SAS_TOKEN`: shared access signature.
//! 4. `AZURE_STORAGE_ACCOUNT` alone: managed identity; `AZURE_CLIENT_ID` selects a
//!    user-assigned one.
//! 5. None of these: an error saying what to set.
//!
//! For 2 to 4 the endpoint is `AZURE_STORAGE_BLOB_ENDPOINT` (also read as
//! `AZURE_STORAGE_ENDPOINT`), else `https://<account>.blob.core.windows.net`. In every case
//! `AZURE_STORAGE_CONTAINER` is the default container and `SSL_CERT_FILE` names a PEM file of
//! extra trusted root certificates. A variable set to an empty (or blank) value counts as unset.

use super::{validate, Auth, AuthKind, EndpointSource, StorageConfig, DEFAULT_ENDPOINT_SUFFIX};
use crate::error::{Error, Result};

pub(crate) const CONNECTION_STRING: &str = "AZURE_STORAGE_CONNECTION_STRING";
pub(crate) const ACCOUNT: &str = "AZURE_STORAGE_ACCOUNT";
pub(crate) const KEY: &str = "AZURE_STORAGE_KEY";
pub(crate) const SAS_TOKEN: &str = "AZURE_STORAGE_SAS_TOKEN";
pub(crate) const BLOB_ENDPOINT: &str = "AZURE_STORAGE_BLOB_ENDPOINT";
/// object_store's name for the same setting.
pub(crate) const ENDPOINT_ALIAS: &str = "AZURE_STORAGE_ENDPOINT";
pub(crate) const CONTAINER: &str = "AZURE_STORAGE_CONTAINER";
pub(crate) const CLIENT_ID: &str = "AZURE_CLIENT_ID";
pub(crate) const ROOT_CERTIFICATES: &str = "SSL_CERT_FILE";

pub(super) fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<StorageConfig> {
    let get = |name: &str| {
        lookup(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    };

    let mut config = match get(CONNECTION_STRING) {
        Some(text) => {
            let mut config = super::connection_string::parse(&text, CONNECTION_STRING)?;
            config.ignored = [ACCOUNT, KEY, SAS_TOKEN, BLOB_ENDPOINT, ENDPOINT_ALIAS]
                .into_iter()
                .filter(|name| get(name).is_some())
                .map(str::to_owned)
                .collect();
            config
        }
        None => from_variables(&get)?,
    };

    if let Some(container) = get(CONTAINER) {
        config.container = Some(validate::container_name(CONTAINER, &container)?);
    }
    if let Some(path) = get(ROOT_CERTIFICATES) {
        config.root_certificates_file = Some(path.into());
    }
    Ok(config)
}

/// Cases 2 to 4 of the precedence list.
fn from_variables(get: &dyn Fn(&str) -> Option<String>) -> Result<StorageConfig> {
    let (key, sas) = (get(KEY), get(SAS_TOKEN));
    let Some(account) = get(ACCOUNT) else {
        let given = [(KEY, &key), (SAS_TOKEN, &sas)]
            .into_iter()
            .find(|(_, v)| v.is_some());
        return Err(match given {
            Some((name, _)) => Error::config(format!(
                "{name} is set but {ACCOUNT} is not: set {ACCOUNT} to the storage account name"
            )),
            None => Error::config(format!(
                "no storage account configured: set {ACCOUNT} to the storage account name (alone \
                 it uses the managed identity; add {KEY} or {SAS_TOKEN} for a key or SAS), or \
                 set {CONNECTION_STRING}"
            )),
        });
    };
    let account = validate::account_name(ACCOUNT, &account)?;

    let mut ignored = Vec::new();
    let (auth, reason) = if let Some(key) = key {
        if sas.is_some() {
            ignored.push(SAS_TOKEN.to_owned());
        }
        let key = validate::account_key(KEY, &key)?;
        (
            AuthKind::SharedKey(key),
            format!("{ACCOUNT} and {KEY} are set"),
        )
    } else if let Some(sas) = sas {
        let token = validate::sas_token(SAS_TOKEN, &sas)?;
        (
            AuthKind::Sas(token),
            format!("{ACCOUNT} and {SAS_TOKEN} are set"),
        )
    } else {
        let client_id = get(CLIENT_ID);
        let reason = match client_id {
            Some(_) => format!(
                "{ACCOUNT} is set without {KEY}, {SAS_TOKEN} or {CONNECTION_STRING}, and \
                 {CLIENT_ID} selects a user-assigned identity"
            ),
            None => format!("{ACCOUNT} is set without {KEY}, {SAS_TOKEN} or {CONNECTION_STRING}"),
        };
        (AuthKind::ManagedIdentity { client_id }, reason)
    };

    let endpoint = match (get(BLOB_ENDPOINT), get(ENDPOINT_ALIAS)) {
        (None, None) => EndpointSource::Account {
            scheme: "https",
            suffix: DEFAULT_ENDPOINT_SUFFIX.to_owned(),
        },
        (Some(url), None) => {
            EndpointSource::Explicit(validate::blob_endpoint(BLOB_ENDPOINT, &url)?)
        }
        (None, Some(url)) => {
            EndpointSource::Explicit(validate::blob_endpoint(ENDPOINT_ALIAS, &url)?)
        }
        (Some(url), Some(alias)) => {
            let url = validate::blob_endpoint(BLOB_ENDPOINT, &url)?;
            let alias = validate::blob_endpoint(ENDPOINT_ALIAS, &alias)?;
            if url != alias {
                return Err(Error::config(format!(
                    "{BLOB_ENDPOINT} and {ENDPOINT_ALIAS} are both set, to different \
                     endpoints: unset one of them"
                )));
            }
            EndpointSource::Explicit(url)
        }
    };

    let mut config = StorageConfig::assemble(Some(account), endpoint, Auth { kind: auth }, &reason);
    config.ignored = ignored;
    Ok(config)
}
