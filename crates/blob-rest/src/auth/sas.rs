//! Shared access signature (SAS) tokens given to the client as ready-made query strings.
//!
//! A SAS is appended to each request URL; it is never put into a URL that is logged. Values
//! are decoded once when parsed and encoded exactly once when sent, so a token pasted either
//! raw or already percent-encoded reaches the service with its `sig` intact (`sig` contains
//! `+`, `/` and `=`, which must arrive as `%2B`, `%2F` and `%3D`).

use std::fmt;

use percent_encoding::percent_decode_str;
use zeroize::Zeroizing;

use crate::encoding::encode_component;
use crate::error::Error;

/// A SAS query string (`sv=...&se=...&sig=...`), kept secret.
///
/// `Debug` lists the parameter names only; values are zeroized when the token is dropped.
#[derive(Clone)]
pub struct SasToken {
    params: Vec<(String, Zeroizing<String>)>,
}

impl SasToken {
    /// Parses a SAS query string, with or without a leading `?`.
    ///
    /// Errors name the problem but never repeat a value.
    pub fn parse(token: &str) -> Result<Self, Error> {
        let trimmed = token.trim();
        let query = trimmed.strip_prefix('?').unwrap_or(trimmed);
        if query.is_empty() {
            return Err(Error::config(
                "the SAS token is empty: paste the query string that starts with \"sv=\"",
            ));
        }
        let mut params: Vec<(String, Zeroizing<String>)> = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let Some((raw_name, raw_value)) = part.split_once('=') else {
                return Err(Error::config(
                    "the SAS token has a parameter without '=': paste the whole query string \
                     as generated, e.g. \"sv=...&se=...&sig=...\"",
                ));
            };
            let name = percent_decode_str(raw_name)
                .decode_utf8_lossy()
                .into_owned();
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(Error::config(
                    "the SAS token has a parameter with an empty or malformed name",
                ));
            }
            if params.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                return Err(Error::config(format!(
                    "the SAS token has the parameter \"{name}\" more than once"
                )));
            }
            let value = Zeroizing::new(
                percent_decode_str(raw_value)
                    .decode_utf8_lossy()
                    .into_owned(),
            );
            params.push((name, value));
        }
        if !params.iter().any(|(n, v)| n == "sig" && !v.is_empty()) {
            return Err(Error::config(
                "the SAS token has no \"sig\" parameter: paste the whole token, including its \
                 signature",
            ));
        }
        Ok(Self { params })
    }

    /// Appends the token to an already encoded query string.
    pub(crate) fn append_to_query(&self, query: &mut String) {
        for (name, value) in &self.params {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&encode_component(name));
            query.push('=');
            query.push_str(&encode_component(value));
        }
    }

    /// The signature, in the forms it could take in a message echoed back by a server, so that
    /// error texts can be scrubbed of it.
    pub(crate) fn secret_forms(&self) -> Vec<String> {
        self.params
            .iter()
            .filter(|(n, _)| n == "sig")
            .flat_map(|(_, v)| [v.to_string(), encode_component(v)])
            .collect()
    }
}

impl fmt::Debug for SasToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SasToken")
            .field(
                "parameters",
                &self
                    .params
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("values", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn encodes_values_exactly_once_whether_pasted_raw_or_encoded() {
        let encoded = SasToken::parse("?sv=2024-11-04&sr=b&sp=r&sig=ab%2Bc%2Fd%3D").unwrap();
        let raw = SasToken::parse("sv=2024-11-04&sr=b&sp=r&sig=ab+c/d=").unwrap();
        for token in [encoded, raw] {
            let mut query = String::from("comp=block");
            token.append_to_query(&mut query);
            assert_eq!(
                query,
                "comp=block&sv=2024-11-04&sr=b&sp=r&sig=ab%2Bc%2Fd%3D"
            );
        }
    }

    #[test]
    fn colon_in_times_is_encoded() {
        let token = SasToken::parse("se=2030-01-01T00:00:00Z&sig=x").unwrap();
        let mut query = String::new();
        token.append_to_query(&mut query);
        assert_eq!(query, "se=2030-01-01T00%3A00%3A00Z&sig=x");
    }

    #[test]
    fn refuses_tokens_without_signature() {
        let err = SasToken::parse("sv=2024-11-04&sp=r").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("no \"sig\""), "{err}");
    }

    #[test]
    fn refuses_malformed_tokens_without_echoing_values() {
        let err = SasToken::parse("sv=1&sig=SECRETSIG&sig=SECRETSIG").unwrap_err();
        assert!(err.to_string().contains("more than once"));
        assert!(!err.to_string().contains("SECRETSIG"));
        let err = SasToken::parse("?").unwrap_err();
        assert!(err.to_string().contains("empty"));
        let err = SasToken::parse("sv=1&SECRETSIG").unwrap_err();
        assert!(!err.to_string().contains("SECRETSIG"));
    }

    #[test]
    fn debug_shows_names_only() {
        let token = SasToken::parse("sv=2024-11-04&sig=SECRETSIG").unwrap();
        let debug = format!("{token:?}");
        assert!(debug.contains("\"sig\""));
        assert!(!debug.contains("SECRETSIG"));
    }
}
