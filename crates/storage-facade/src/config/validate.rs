//! Checks of single values (account and container names, keys, SAS tokens, endpoints, metadata
//! names), shared by every way of building a config. Each check takes the label of where the
//! value came from (`AZURE_STORAGE_KEY`, `connection string field AccountKey`, ...) so that the
//! message points at the exact place to fix. Secret values are never echoed.

use base64::Engine as _;
use zeroize::Zeroize as _;

use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;

/// The decoded length of every storage account key (512 bits).
const ACCOUNT_KEY_BYTES: usize = 64;

/// Container names Azure reserves for special purposes; they break the general rule on purpose.
const RESERVED_CONTAINERS: [&str; 2] = ["$root", "$web"];

/// A value made safe to quote in a message: control characters escaped, long values cut.
pub(crate) fn quote(value: &str) -> String {
    const MAX_CHARS: usize = 64;
    let mut shown: String = value.chars().take(MAX_CHARS).collect::<String>();
    if value.chars().count() > MAX_CHARS {
        shown.push_str("...");
    }
    format!("`{}`", shown.escape_debug())
}

/// Storage account names: 3 to 24 lowercase ASCII letters and digits.
///
/// A value longer than a valid name, or with `=` or `;`, is not quoted back: it may be a key
/// or connection string pasted into the wrong variable. The message then says only what is
/// wrong with it.
pub(crate) fn account_name(label: &str, value: &str) -> Result<String> {
    const MAX_LEN: usize = 24;
    let chars = value.chars().count();
    let bad_length = !(3..=MAX_LEN).contains(&value.len());
    let bad_char = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit()));
    if !bad_length && bad_char.is_none() {
        return Ok(value.to_owned());
    }
    let hide = chars > MAX_LEN || value.contains(['=', ';']);
    let message = if hide {
        let mut problems = Vec::new();
        if bad_length {
            problems.push(format!("it has {chars} characters"));
        }
        if bad_char.is_some() {
            problems
                .push("it contains characters other than lowercase letters and digits".to_owned());
        }
        format!(
            "{label} is not a valid storage account name ({}; the value is not shown, as it \
             may be a key or connection string: those belong in AZURE_STORAGE_KEY or \
             AZURE_STORAGE_CONNECTION_STRING): use 3 to 24 lowercase letters and digits",
            problems.join(", and ")
        )
    } else {
        let problem = match bad_char {
            Some(c) if !bad_length => format!("it contains {}", quote(&c.to_string())),
            _ => format!("it has {chars} characters"),
        };
        format!(
            "{label} {} is not a valid storage account name ({problem}): use 3 to 24 lowercase \
             letters and digits",
            quote(value)
        )
    };
    Err(Error::config(message))
}

/// Container names: 3 to 63 lowercase letters, digits and single hyphens, starting and ending
/// with a letter or digit (plus the reserved `$root` and `$web`).
pub(crate) fn container_name(label: &str, value: &str) -> Result<String> {
    if RESERVED_CONTAINERS.contains(&value) {
        return Ok(value.to_owned());
    }
    let problem = if value.len() < 3 || value.len() > 63 {
        Some(format!("it has {} characters", value.chars().count()))
    } else if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        Some(format!("it contains {}", quote(&c.to_string())))
    } else if value.starts_with('-') || value.ends_with('-') {
        Some("it starts or ends with a hyphen".to_owned())
    } else if value.contains("--") {
        Some("it has two hyphens in a row".to_owned())
    } else {
        None
    };
    match problem {
        None => Ok(value.to_owned()),
        Some(problem) => Err(Error::config(format!(
            "{label} {} is not a valid container name ({problem}): use 3 to 63 lowercase \
             letters, digits and single hyphens, starting and ending with a letter or digit",
            quote(value)
        ))),
    }
}

/// An account key: base64 of exactly 64 bytes. Surrounding whitespace (a pasted newline) is
/// tolerated; nothing of the key is ever quoted back.
pub(crate) fn account_key(label: &str, value: &str) -> Result<Secret> {
    let value = value.trim();
    let fix = "copy key1 or key2 from the storage account's Access keys page";
    if value.is_empty() {
        return Err(Error::config(format!("{label} is empty: {fix}")));
    }
    let mut decoded = base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|_| Error::config(format!("{label} is not valid base64: {fix}")))?;
    let length = decoded.len();
    // The decoded bytes are the key itself: wipe them; blob-rest decodes its own copy.
    decoded.zeroize();
    if length != ACCOUNT_KEY_BYTES {
        return Err(Error::config(format!(
            "{label} decodes to {length} bytes, but a storage account key has \
             {ACCOUNT_KEY_BYTES} (88 base64 characters): {fix}"
        )));
    }
    Ok(Secret::new(value.to_owned()))
}

/// A SAS token: the query string of a signed URL, with or without its leading `?`.
pub(crate) fn sas_token(label: &str, value: &str) -> Result<Secret> {
    let token = value.trim();
    let token = token.strip_prefix('?').unwrap_or(token);
    let has_signature = token
        .split('&')
        .any(|pair| pair.starts_with("sig=") && pair.len() > 4);
    let empty_signature = token.split('&').any(|pair| pair == "sig=" || pair == "sig");
    if !has_signature && empty_signature {
        return Err(Error::config(format!(
            "{label} has an empty `sig=` parameter: paste the whole token, signature included, \
             such as `sv=...&se=...&sp=...&sig=...`"
        )));
    }
    if !has_signature {
        return Err(Error::config(format!(
            "{label} is not a SAS token (it has no `sig=` parameter): paste the whole token, \
             such as `sv=...&se=...&sp=...&sig=...`"
        )));
    }
    Ok(Secret::new(token.to_owned()))
}

/// A blob endpoint URL, returned without trailing `/`.
///
/// Only the scheme, host, port and path are allowed: user info could carry a password and a
/// query could carry a SAS, and neither must end up in logs, so both are refused (unquoted).
pub(crate) fn blob_endpoint(label: &str, value: &str) -> Result<String> {
    let trimmed = value.trim().trim_end_matches('/');
    let example = "such as https://<account>.blob.core.windows.net or, for an emulator, \
                   http://127.0.0.1:10000/<account>";
    let url = url::Url::parse(trimmed).map_err(|error| {
        Error::config(format!("{label} is not a URL ({error}): give it {example}"))
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(Error::config(format!(
            "{label} must start with https:// or http://: give it {example}"
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config(format!(
            "{label} has no host name: give it {example}"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(format!(
            "{label} must not contain a user name or password: give it {example}"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "{label} has a `?` or `#` part: give only the endpoint, and a SAS token separately \
             (AZURE_STORAGE_SAS_TOKEN or the connection string's SharedAccessSignature)"
        )));
    }
    Ok(trimmed.to_owned())
}

/// The domain after `<account>.blob.`; a leading `.` and trailing `/` are tolerated.
pub(crate) fn endpoint_suffix(label: &str, value: &str) -> Result<String> {
    let suffix = value.trim().trim_start_matches('.').trim_end_matches('/');
    let valid = !suffix.is_empty()
        && suffix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !valid {
        return Err(Error::config(format!(
            "{label} {} is not a domain name: give only the part after `<account>.blob.`, \
             such as core.windows.net",
            quote(value)
        )));
    }
    Ok(suffix.to_owned())
}

/// User metadata names follow C# identifier rules (the service sends them as `x-ms-meta-*`
/// headers and refuses others); values must be printable ASCII to fit in a header.
pub(crate) fn metadata(name: &str, value: &str) -> Result<()> {
    let mut chars = name.chars();
    let valid_name = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(Error::config(format!(
            "metadata name {} is not valid: use ASCII letters, digits and underscores, \
             starting with a letter or underscore",
            quote(name)
        )));
    }
    if !value.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
        return Err(Error::config(format!(
            "metadata value of {} has characters an HTTP header cannot carry: use printable \
             ASCII (percent-encode anything else)",
            quote(name)
        )));
    }
    Ok(())
}

/// A header value the facade sends and SharedKey signs (content type, cache control): printable
/// ASCII without a tab, no surrounding or doubled spaces (Azure and Azurite sign those
/// differently). Checked before any request, so a save refused here creates nothing.
pub(crate) fn header_text(what: &str, value: &str) -> Result<()> {
    let problem = if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        "is not printable ASCII (or holds a tab)"
    } else if value.trim() != value {
        "starts or ends with a space"
    } else if value.contains("  ") {
        "contains a run of spaces"
    } else {
        return Ok(());
    };
    Err(Error::new(
        ErrorKind::InvalidInput,
        format!(
            "the {what} {} {problem}: give printable ASCII with single spaces, such as \
             image/jpeg",
            quote(value)
        ),
    ))
}
