//! Minting the access tokens the local endpoint hands out.
//!
//! Azurite's `--oauth basic` mode decodes the bearer token as a JWT and checks its claims
//! (`aud`, `iss`, `iat`, `nbf`, `exp`) without verifying the signature, because it has no
//! tenant keys to verify against. We still sign with HS256 under a key made per process, so the
//! token is a well-formed JWT that any JWT parser accepts, and so that nobody mistakes it for an
//! unsigned token that would also pass elsewhere.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The audience Blob Storage expects in a token: the storage resource.
pub const STORAGE_AUDIENCE: &str = "https://storage.azure.com";

/// The tenant that the local endpoint pretends to belong to. Any GUID works; this one is fixed
/// so that logs from different runs are easy to compare.
pub const LOCAL_TENANT_ID: &str = "72f988bf-0000-4000-8000-00000000d3a1";

/// The object id of the pretend managed identity.
pub const LOCAL_OBJECT_ID: &str = "0b1e8c55-0000-4000-8000-0000000ca11e";

/// The claims that go into a minted token, with the values Azurite checks.
#[derive(Debug, Clone)]
pub struct Claims {
    /// `aud`: the resource the token is for.
    pub audience: String,
    /// `tid` and the tenant part of `iss`.
    pub tenant_id: String,
    /// `oid` and `sub`: who the token speaks for.
    pub object_id: String,
    /// `appid`: the client id of the identity.
    pub client_id: String,
    /// `iat` and `nbf`.
    pub issued_at: SystemTime,
    /// `exp`.
    pub expires_at: SystemTime,
}

impl Claims {
    /// Claims for a storage token valid from now for `lifetime`.
    pub fn storage(lifetime: Duration) -> Self {
        let now = SystemTime::now();
        Self {
            audience: STORAGE_AUDIENCE.to_owned(),
            tenant_id: LOCAL_TENANT_ID.to_owned(),
            object_id: LOCAL_OBJECT_ID.to_owned(),
            client_id: crate::LOCAL_CLIENT_ID.to_owned(),
            issued_at: now,
            expires_at: now + lifetime,
        }
    }
}

/// A storage token (audience `https://storage.azure.com`, issuer `https://sts.windows.net/..`)
/// that is valid from now for `lifetime`.
pub fn mint_storage_jwt(lifetime: Duration) -> String {
    mint(&Claims::storage(lifetime))
}

/// Mints a JWT with the given claims, signed with this process's HS256 key.
pub fn mint(claims: &Claims) -> String {
    let header = serde_json::json!({ "alg": "HS256", "typ": "JWT" });
    let issued_at = unix_seconds(claims.issued_at);
    let payload = serde_json::json!({
        "aud": claims.audience,
        "iss": format!("https://sts.windows.net/{}/", claims.tenant_id),
        "iat": issued_at,
        // Real tokens are valid from a few minutes before they are issued, to absorb clock
        // skew between the issuer and the resource; Azurite compares nbf with its own clock.
        "nbf": issued_at.saturating_sub(300),
        "exp": unix_seconds(claims.expires_at),
        "oid": claims.object_id,
        "sub": claims.object_id,
        "tid": claims.tenant_id,
        "appid": claims.client_id,
        "idtyp": "app",
        "ver": "1.0",
        // A random token id, so that two tokens minted in the same second differ.
        "uti": format!("{:016x}", fastrand::u64(..)),
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_key()).expect("HMAC takes any key size");
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The HS256 key of this process: random, never written anywhere.
fn signing_key() -> &'static [u8] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| std::array::from_fn(|_| fastrand::u8(..)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_part(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn minted_token_has_the_claims_azurite_checks() {
        let token = mint_storage_jwt(Duration::from_secs(3600));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "a JWT has three parts");

        let header = decode_part(parts[0]);
        assert_eq!(header["alg"], "HS256");
        assert_eq!(header["typ"], "JWT");

        let claims = decode_part(parts[1]);
        assert_eq!(claims["aud"], "https://storage.azure.com");
        assert_eq!(
            claims["iss"],
            format!("https://sts.windows.net/{LOCAL_TENANT_ID}/")
        );
        let iat = claims["iat"].as_u64().unwrap();
        assert_eq!(claims["nbf"].as_u64().unwrap(), iat - 300);
        assert_eq!(claims["exp"].as_u64().unwrap(), iat + 3600);
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 32);
    }

    #[test]
    fn two_tokens_differ() {
        let a = mint_storage_jwt(Duration::from_secs(60));
        let b = mint_storage_jwt(Duration::from_secs(60));
        assert_ne!(a, b);
    }
}
