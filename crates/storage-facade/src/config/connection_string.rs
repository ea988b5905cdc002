//! Azure Storage connection strings: `Name=value` parts separated by `;`, as the portal, the
//! Azure CLI and the SDKs write them.
//!
//! Reference: <https://learn.microsoft.com/azure/storage/common/storage-configure-connection-string>
//!
//! Field names are matched without regard to letter case, blanks around parts and an empty
//! last part (a trailing `;`) are tolerated; unknown or repeated fields, empty values and
//! missing parts are errors that name the field. Values are split at the first `=` only, since
//! keys and SAS tokens contain `=` themselves.

use super::{validate, Auth, AuthKind, EndpointSource, StorageConfig, DEFAULT_ENDPOINT_SUFFIX};
use crate::error::{Error, Result};
use crate::secret::Secret;

const ACCOUNT_NAME: &str = "AccountName";
const ACCOUNT_KEY: &str = "AccountKey";
const PROTOCOL: &str = "DefaultEndpointsProtocol";
const ENDPOINT_SUFFIX: &str = "EndpointSuffix";
const BLOB_ENDPOINT: &str = "BlobEndpoint";
const SAS: &str = "SharedAccessSignature";
const DEVELOPMENT: &str = "UseDevelopmentStorage";

/// The fields this crate reads.
const FIELDS: [&str; 7] = [
    ACCOUNT_NAME,
    ACCOUNT_KEY,
    PROTOCOL,
    ENDPOINT_SUFFIX,
    BLOB_ENDPOINT,
    SAS,
    DEVELOPMENT,
];

/// Fields of other storage services: valid in a connection string (Azurite's own includes
/// them), accepted and not used by a blob client.
const OTHER_SERVICE_FIELDS: [&str; 3] = ["QueueEndpoint", "TableEndpoint", "FileEndpoint"];

/// The longest unknown field name quoted back; longer ones may be a pasted secret.
const MAX_QUOTED_NAME: usize = 40;

/// Parses `text`; `src` names it in messages (`the connection string`,
/// `AZURE_STORAGE_CONNECTION_STRING`).
pub(super) fn parse(text: &str, src: &str) -> Result<StorageConfig> {
    let fields = split(text, src)?;
    let get = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.expose())
    };
    let label = |name: &str| format!("{src} field {name}");

    if let Some(value) = get(DEVELOPMENT) {
        if !value.eq_ignore_ascii_case("true") {
            return Err(Error::config(format!(
                "{src} has {DEVELOPMENT}={}: it only accepts true; remove it to use a real \
                 account",
                validate::quote(value)
            )));
        }
        if let Some((other, _)) = fields
            .iter()
            .find(|(n, _)| *n != DEVELOPMENT && !OTHER_SERVICE_FIELDS.contains(n))
        {
            return Err(Error::config(format!(
                "{src} has {DEVELOPMENT}=true together with {other}: use one or the other"
            )));
        }
        let mut config = StorageConfig::development_storage();
        config.reason =
            format!("{src} says {DEVELOPMENT}=true (the emulator's well-known account)");
        return Ok(config);
    }

    let account = get(ACCOUNT_NAME)
        .map(|v| validate::account_name(&label(ACCOUNT_NAME), v))
        .transpose()?;
    let scheme = match get(PROTOCOL) {
        None => "https",
        Some(v) if v.eq_ignore_ascii_case("https") => "https",
        Some(v) if v.eq_ignore_ascii_case("http") => "http",
        Some(v) => {
            return Err(Error::config(format!(
                "{src} has {PROTOCOL}={}: use https (or http for an emulator)",
                validate::quote(v)
            )))
        }
    };
    let suffix = get(ENDPOINT_SUFFIX)
        .map(|v| validate::endpoint_suffix(&label(ENDPOINT_SUFFIX), v))
        .transpose()?
        .unwrap_or_else(|| DEFAULT_ENDPOINT_SUFFIX.to_owned());
    let explicit = get(BLOB_ENDPOINT)
        .map(|v| validate::blob_endpoint(&label(BLOB_ENDPOINT), v))
        .transpose()?;

    let (auth, reason) = match (get(ACCOUNT_KEY), get(SAS)) {
        (Some(_), Some(_)) => {
            return Err(Error::config(format!(
                "{src} has both {ACCOUNT_KEY} and {SAS}: keep one"
            )))
        }
        (Some(key), None) => {
            if account.is_none() {
                return Err(Error::config(format!(
                    "{src} has {ACCOUNT_KEY} but no {ACCOUNT_NAME}: add \
                     {ACCOUNT_NAME}=<storage account name>"
                )));
            }
            let key = validate::account_key(&label(ACCOUNT_KEY), key)?;
            (
                AuthKind::SharedKey(key),
                format!("{src} has an {ACCOUNT_KEY}"),
            )
        }
        (None, Some(token)) => {
            if account.is_none() && explicit.is_none() {
                return Err(Error::config(format!(
                    "{src} has {SAS} but neither {ACCOUNT_NAME} nor {BLOB_ENDPOINT}: add \
                     {ACCOUNT_NAME}=<storage account name>"
                )));
            }
            let token = validate::sas_token(&label(SAS), token)?;
            (AuthKind::Sas(token), format!("{src} has a {SAS}"))
        }
        (None, None) => {
            return Err(Error::config(format!(
                "{src} has neither {ACCOUNT_KEY} nor {SAS}: add one, or (for a managed \
                 identity) use AZURE_STORAGE_ACCOUNT alone instead of a connection string"
            )))
        }
    };
    let endpoint = match explicit {
        Some(url) => EndpointSource::Explicit(url),
        None => EndpointSource::Account { scheme, suffix },
    };
    Ok(StorageConfig::assemble(
        account,
        endpoint,
        Auth { kind: auth },
        &reason,
    ))
}

/// Splits into `(canonical field name, value)` pairs, refusing malformed, unknown, repeated
/// and empty parts. Values are held as secrets since the key and the SAS are among them.
fn split(text: &str, src: &str) -> Result<Vec<(&'static str, Secret)>> {
    let mut fields: Vec<(&'static str, Secret)> = Vec::new();
    for (index, part) in text.split(';').enumerate() {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let number = index + 1;
        let Some((name, value)) = part.split_once('=') else {
            return Err(Error::config(format!(
                "{src} has a part without `=` (part {number}): write each part as Name=value, \
                 separated by `;`"
            )));
        };
        let (name, value) = (name.trim(), value.trim());
        let Some(canonical) = FIELDS
            .iter()
            .chain(&OTHER_SERVICE_FIELDS)
            .find(|f| f.eq_ignore_ascii_case(name))
        else {
            return Err(unknown_field(src, name, number));
        };
        if fields.iter().any(|(n, _)| n == canonical) {
            return Err(Error::config(format!(
                "{src} has the field {canonical} twice: keep one"
            )));
        }
        if value.is_empty() {
            return Err(Error::config(format!(
                "{src} has an empty {canonical}: give it a value or remove it"
            )));
        }
        fields.push((canonical, Secret::new(value.to_owned())));
    }
    if fields.is_empty() {
        return Err(Error::config(format!(
            "{src} is empty: give it as AccountName=<name>;AccountKey=<key> (or \
             UseDevelopmentStorage=true for the emulator)"
        )));
    }
    Ok(fields)
}

fn unknown_field(src: &str, name: &str, number: usize) -> Error {
    let known = "the fields are AccountName, AccountKey, DefaultEndpointsProtocol, \
                 EndpointSuffix, BlobEndpoint, SharedAccessSignature and UseDevelopmentStorage \
                 (QueueEndpoint, TableEndpoint and FileEndpoint are accepted too, and not used)";
    // A part such as a pasted key (`abc...==`) splits at its padding: quoting its "name" would
    // print the key, so only short names made of letters are shown.
    let looks_like_name = !name.is_empty()
        && name.len() <= MAX_QUOTED_NAME
        && name.chars().all(|c| c.is_ascii_alphabetic());
    if looks_like_name {
        Error::config(format!(
            "{src} has an unknown field {}: {known}",
            validate::quote(name)
        ))
    } else {
        Error::config(format!(
            "{src} has an unknown field in part {number} (name not shown: it does not look \
             like a field name and may be a secret): {known}"
        ))
    }
}
