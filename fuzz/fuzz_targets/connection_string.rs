//! The connection string parser of `storage-facade`, on any text.
//!
//! Twice per input: as given, where it must not panic; and with the values of every
//! `AccountKey` and `SharedAccessSignature` part replaced by sentinel secrets (followed by
//! what the part held, so that both valid and broken secrets are tried), where no output
//! (the config's `Debug`, the auth choice, the endpoint, the error's `Display`, `Debug` and
//! sources) may contain a sentinel.

#![no_main]

use std::fmt::Write as _;

use libfuzzer_sys::fuzz_target;
use storage_facade::StorageConfig;

/// Base64 of 64 bytes: a well-formed account key, recognisable in any output.
const SENTINEL_KEY: &str =
    "U0VOVElORUxLRVktU0VOVElORUxLRVktU0VOVElORUxLRVktU0VOVElORUxLRVktU0VOVElORUxLRVktU0VOVA==";
/// What must never be seen of the key: any 16 characters of it would do, these are its start.
const KEY_MARK: &str = "U0VOVElORUxLRVkt";
const SAS_PREFIX: &str = "sv=2024-11-04&sp=r&sig=SENTINELSASSIG";
const SAS_MARK: &str = "SENTINELSASSIG";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = outputs(text);
    if text.to_ascii_uppercase().contains("SENTINEL") || text.contains(KEY_MARK) {
        return;
    }
    let with_secrets = with_sentinels(text);
    let seen = outputs(&with_secrets);
    for mark in [KEY_MARK, SAS_MARK] {
        assert!(
            !seen.contains(mark),
            "a secret leaked: {mark} in {seen:?} from {with_secrets:?}"
        );
    }
});

/// Every text a caller can get out of parsing `text`.
fn outputs(text: &str) -> String {
    match StorageConfig::from_connection_string(text) {
        Ok(config) => {
            let choice = config.auth_choice();
            format!(
                "{config:?} {choice} {choice:?} {} {:?} {:?}",
                config.blob_endpoint(),
                config.account(),
                config.auth()
            )
        }
        Err(error) => {
            let mut out = format!("{error} {error:?}");
            let mut source = std::error::Error::source(&error);
            while let Some(inner) = source {
                let _ = write!(out, " {inner} {inner:?}");
                source = inner.source();
            }
            out
        }
    }
}

/// `text` with the value of each key and SAS part prefixed by a sentinel secret.
fn with_sentinels(text: &str) -> String {
    let parts: Vec<String> = text
        .split(';')
        .map(|part| {
            let Some((name, value)) = part.split_once('=') else {
                return part.to_owned();
            };
            if name.trim().eq_ignore_ascii_case("AccountKey") {
                format!("{name}={SENTINEL_KEY}{}", value.trim())
            } else if name.trim().eq_ignore_ascii_case("SharedAccessSignature") {
                format!("{name}={SAS_PREFIX}{}", value.trim())
            } else {
                part.to_owned()
            }
        })
        .collect();
    parts.join(";")
}
