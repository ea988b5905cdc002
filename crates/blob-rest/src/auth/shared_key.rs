//! SharedKey credentials: the storage account name and one of its two access keys.
//!
//! The key is only ever used as an HMAC-SHA256 key (see [`crate::signing`]). It is kept in
//! memory that is wiped on drop and is never printed.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::Error;

/// Length in bytes of a decoded storage account key. Azure issues 512-bit keys (88 base64
/// characters); Azurite's well-known development key has the same shape.
const ACCOUNT_KEY_LEN: usize = 64;

/// A storage account access key, decoded from its base64 form.
///
/// `Debug` prints a placeholder; the bytes are zeroized when the key is dropped.
#[derive(Clone)]
pub struct AccountKey {
    bytes: Zeroizing<Vec<u8>>,
}

impl AccountKey {
    /// Decodes an account key as shown in the Azure portal (`key1`/`key2`) or in a connection
    /// string's `AccountKey=` field. Surrounding whitespace is ignored.
    ///
    /// Errors never repeat the key, not even a part of it.
    pub fn from_base64(encoded: &str) -> Result<Self, Error> {
        let trimmed = encoded.trim();
        if trimmed.is_empty() {
            return Err(Error::config(
                "the account key is empty: copy key1 or key2 from the storage account's \
                 \"Access keys\" page",
            ));
        }
        let bytes = Zeroizing::new(STANDARD.decode(trimmed.as_bytes()).map_err(|_| {
            Error::config(format!(
                "the account key is not valid base64 ({} characters given): copy the whole \
                 key1 or key2 value, which is 88 characters long and ends with \"==\"",
                trimmed.chars().count()
            ))
        })?);
        if bytes.len() != ACCOUNT_KEY_LEN {
            return Err(Error::config(format!(
                "the account key decodes to {} bytes but storage account keys are \
                 {ACCOUNT_KEY_LEN} bytes (88 base64 characters): check that the whole key \
                 was copied",
                bytes.len()
            )));
        }
        Ok(Self { bytes })
    }

    /// Base64 of HMAC-SHA256 over `message`, keyed with this key.
    pub(crate) fn hmac_sha256_base64(&self, message: &[u8]) -> Zeroizing<String> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.bytes).expect("HMAC takes any key");
        mac.update(message);
        Zeroizing::new(STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountKey(<redacted>)")
    }
}

/// SharedKey credential: an account name and its [`AccountKey`].
///
/// The account name is checked against the endpoint when a client is built, so that a
/// mismatch is reported before any request is sent.
#[derive(Clone)]
pub struct SharedKeyCredential {
    account: String,
    key: AccountKey,
}

impl SharedKeyCredential {
    /// A credential for `account` signed with `key`.
    pub fn new(account: &str, key: AccountKey) -> Self {
        Self {
            account: account.trim().to_owned(),
            key,
        }
    }

    /// The storage account name this credential signs for.
    pub fn account(&self) -> &str {
        &self.account
    }

    pub(crate) fn key(&self) -> &AccountKey {
        &self.key
    }
}

impl fmt::Debug for SharedKeyCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedKeyCredential")
            .field("account", &self.account)
            .field("key", &self.key)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const DEV_KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    #[test]
    fn decodes_the_development_key() {
        let key = AccountKey::from_base64(&format!("  {DEV_KEY}\n")).unwrap();
        assert_eq!(key.bytes.len(), 64);
        assert_eq!(format!("{key:?}"), "AccountKey(<redacted>)");
    }

    #[test]
    fn refuses_non_base64_without_echoing_it() {
        let err = AccountKey::from_base64("not*base64!!secretpart").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let text = err.to_string();
        assert!(text.contains("not valid base64"), "{text}");
        assert!(!text.contains("secretpart"), "{text}");
    }

    #[test]
    fn refuses_a_truncated_key() {
        let err = AccountKey::from_base64(&DEV_KEY[..44]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("decodes to 33 bytes"), "{err}");
    }

    #[test]
    fn refuses_an_empty_key() {
        let err = AccountKey::from_base64("   ").unwrap_err();
        assert!(err.to_string().contains("account key is empty"), "{err}");
    }

    #[test]
    fn hmac_matches_an_independent_computation() {
        // Computed with python3: base64(hmac.new(b64decode(DEV_KEY), b"abc", sha256).digest())
        let key = AccountKey::from_base64(DEV_KEY).unwrap();
        assert_eq!(
            key.hmac_sha256_base64(b"abc").as_str(),
            "SIcX91U20N3KMshjCxCtQlOGY5e+vjvvAoYG97vklcc="
        );
    }
}
