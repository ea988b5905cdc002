//! User delegation SAS: a blob SAS signed with a user delegation key, which a bearer token (a
//! managed identity) obtains from the service. No account key is involved.
//!
//! References: [Get User Delegation Key](https://learn.microsoft.com/rest/api/storageservices/get-user-delegation-key)
//! and [Create a user delegation SAS](https://learn.microsoft.com/rest/api/storageservices/create-user-delegation-sas).
//!
//! The string-to-sign of versions 2020-12-06 and later, before 2025-07-05 (so of the pinned
//! [`SAS_VERSION`]) has twenty-four lines, joined by `\n`, without a trailing newline:
//!
//! ```text
//! signedPermissions                 sp
//! signedStart                       st (empty when not signed)
//! signedExpiry                      se
//! canonicalizedResource             /blob/<account>/<container>/<raw blob name>
//! signedKeyObjectId                 skoid   (the key's SignedOid)
//! signedKeyTenantId                 sktid   (SignedTid)
//! signedKeyStart                    skt     (SignedStart, as the service wrote it)
//! signedKeyExpiry                   ske     (SignedExpiry, as the service wrote it)
//! signedKeyService                  sks     (SignedService, "b")
//! signedKeyVersion                  skv     (SignedVersion)
//! signedAuthorizedUserObjectId      (empty)
//! signedUnauthorizedUserObjectId    (empty)
//! signedCorrelationId               (empty)
//! signedIP                          (empty)
//! signedProtocol                    spr
//! signedVersion                     sv
//! signedResource                    sr = b
//! signedSnapshotTime                (empty)
//! signedEncryptionScope             (empty)
//! rscc                              (empty)
//! rscd                              content disposition override, or empty
//! rsce                              (empty)
//! rscl                              (empty)
//! rsct                              content type override, or empty
//! ```
//!
//! Azurite 3.35.0 checks the same layout (`generateBlobSASBlobSASSignatureWithUDK20201206`).
//!
//! Keys are cached per service client: a key is reused for every SAS whose window it covers
//! while more than [`REFRESH_MARGIN`] of its life is left, so a page full of image URLs costs
//! one key request, not one per URL. A new key starts [`CLOCK_SKEW`] in the past (so that a
//! service whose clock is a little behind ours accepts it at once) and lasts
//! [`DEFAULT_KEY_LIFETIME`], or up to the SAS's expiry when that is later, never more than the
//! seven days the service allows.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::auth::Credential;
use crate::body::Body;
use crate::client::BlobServiceClient;
use crate::error::Error;
use crate::pipeline::Request;
use crate::sas::{
    format_time, parse_time, SasFields, SasQuery, MAX_USER_DELEGATION_LIFETIME, SAS_VERSION,
    SIGNED_RESOURCE_BLOB,
};
use crate::xml_body::{read_capped, walk, Node};

/// How far in the past a new key starts, for clocks that disagree a little.
pub(crate) const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// A cached key is not used once less than this is left of its life.
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// How long a new key lasts when the SAS it is fetched for ends sooner.
pub(crate) const DEFAULT_KEY_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Largest Get User Delegation Key answer read (a real one is well under 1 KiB).
const MAX_KEY_RESPONSE_BYTES: usize = 64 * 1024;

const OPERATION: &str = "Get User Delegation Key";

/// A user delegation key: what the service returned from Get User Delegation Key.
///
/// The key value is a secret: `Debug` prints a placeholder and it is zeroized on drop. The
/// other fields are signed into every SAS made with the key and appear in its query.
#[derive(Clone)]
pub struct UserDelegationKey {
    signed_oid: String,
    signed_tid: String,
    signed_start: String,
    signed_expiry: String,
    signed_service: String,
    signed_version: String,
    value: Zeroizing<Vec<u8>>,
    starts_on: SystemTime,
    expires_on: SystemTime,
}

impl UserDelegationKey {
    /// The object id of the identity that obtained the key (`skoid`).
    pub fn signed_object_id(&self) -> &str {
        &self.signed_oid
    }

    /// The tenant of that identity (`sktid`).
    pub fn signed_tenant_id(&self) -> &str {
        &self.signed_tid
    }

    /// When the key starts to be valid.
    pub fn starts_on(&self) -> SystemTime {
        self.starts_on
    }

    /// When the key, and every SAS signed with it, stops being valid.
    pub fn expires_on(&self) -> SystemTime {
        self.expires_on
    }

    /// The service version that created the key (`skv`).
    pub fn signed_version(&self) -> &str {
        &self.signed_version
    }

    /// Whether a SAS valid from `start` to `expiry` can be signed with this key at `now`.
    fn covers(&self, start: SystemTime, expiry: SystemTime, now: SystemTime) -> bool {
        self.starts_on <= start
            && self.expires_on >= expiry
            && self
                .expires_on
                .duration_since(now)
                .is_ok_and(|left| left > REFRESH_MARGIN)
    }

    fn hmac_sha256_base64(&self, message: &[u8]) -> Zeroizing<String> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.value).expect("HMAC takes any key");
        mac.update(message);
        Zeroizing::new(STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for UserDelegationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserDelegationKey")
            .field("signed_oid", &self.signed_oid)
            .field("signed_tid", &self.signed_tid)
            .field("signed_start", &self.signed_start)
            .field("signed_expiry", &self.signed_expiry)
            .field("signed_service", &self.signed_service)
            .field("signed_version", &self.signed_version)
            .field("value", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The `KeyInfo` request body.
pub(crate) fn key_info_body(start: &str, expiry: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <KeyInfo><Start>{start}</Start><Expiry>{expiry}</Expiry></KeyInfo>"
    )
}

/// Parses the `UserDelegationKey` answer.
pub(crate) fn parse_key(body: &[u8]) -> Result<UserDelegationKey, Error> {
    let mut fields: [Option<String>; 6] = Default::default();
    let mut value: Option<Zeroizing<String>> = None;
    let names = [
        "SignedOid",
        "SignedTid",
        "SignedStart",
        "SignedExpiry",
        "SignedService",
        "SignedVersion",
    ];
    walk(body, |node| {
        if let Node::Close(path, text) = node {
            if path.len() != 2 || path[0] != "UserDelegationKey" {
                return;
            }
            if path[1] == "Value" {
                value = Some(Zeroizing::new(text.trim().to_owned()));
            } else if let Some(i) = names.iter().position(|n| *n == path[1]) {
                fields[i] = Some(text.trim().to_owned());
            }
        }
    })?;
    let missing = |name: &str| {
        Error::unexpected(format!(
            "the user delegation key answer has no {name}: it is not a UserDelegationKey \
             document"
        ))
    };
    let [oid, tid, start, expiry, service, version] = fields;
    let field =
        |v: Option<String>, name: &str| v.filter(|v| !v.is_empty()).ok_or_else(|| missing(name));
    let (oid, tid) = (field(oid, names[0])?, field(tid, names[1])?);
    let (signed_start, signed_expiry) = (field(start, names[2])?, field(expiry, names[3])?);
    let (service, version) = (field(service, names[4])?, field(version, names[5])?);
    let value = value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing("Value"))?;
    let value = Zeroizing::new(
        STANDARD
            .decode(value.as_bytes())
            .map_err(|_| Error::unexpected("the user delegation key's Value is not base64"))?,
    );
    let time = |text: &str, name: &str| {
        parse_time(text).ok_or_else(|| {
            Error::unexpected(format!(
                "the user delegation key's {name} {text:?} is not an ISO 8601 UTC time"
            ))
        })
    };
    Ok(UserDelegationKey {
        starts_on: time(&signed_start, "SignedStart")?,
        expires_on: time(&signed_expiry, "SignedExpiry")?,
        signed_oid: oid,
        signed_tid: tid,
        signed_start,
        signed_expiry,
        signed_service: service,
        signed_version: version,
        value,
    })
}

impl BlobServiceClient {
    /// Asks the service for a user delegation key valid from `start` to `expiry` (at most
    /// seven days from now). Needs a bearer credential; the identity needs a data role that
    /// includes `generateUserDelegationKey`, such as Storage Blob Data Reader or Contributor.
    ///
    /// [`ContainerClient::blob_sas_url`](crate::ContainerClient::blob_sas_url) calls this
    /// itself and caches the key; call it directly only to sign SASs some other way.
    ///
    /// [Get User Delegation Key](https://learn.microsoft.com/rest/api/storageservices/get-user-delegation-key)
    pub async fn get_user_delegation_key(
        &self,
        start: SystemTime,
        expiry: SystemTime,
    ) -> Result<UserDelegationKey, Error> {
        let inner = &self.inner;
        let context = || format!("{OPERATION} for account {}", inner.endpoint.account());
        if !matches!(inner.credential, Credential::Bearer(_)) {
            return Err(Error::config(format!(
                "a user delegation key can only be obtained with a bearer token (Microsoft \
                 Entra ID, e.g. a managed identity), not with a {}",
                inner.credential.kind_name()
            ))
            .with_context(context()));
        }
        let now = inner.clock.now();
        if expiry <= start {
            return Err(
                Error::invalid_input("the key would expire before it starts")
                    .with_context(context()),
            );
        }
        if expiry.duration_since(now).unwrap_or_default() > MAX_USER_DELEGATION_LIFETIME {
            return Err(Error::invalid_input(
                "a user delegation key can be valid for at most 7 days from now",
            )
            .with_context(context()));
        }
        let (start, expiry) = (format_time(start)?, format_time(expiry)?);
        let mut url = inner.endpoint.url().clone();
        let path = format!("{}/", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url.set_query(Some("restype=service&comp=userdelegationkey"));
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        );
        let request = Request {
            operation: OPERATION,
            method: Method::POST,
            url,
            headers,
            body: Some(Body::from(key_info_body(&start, &expiry).into_bytes())),
            container: format!("(account {})", inner.endpoint.account()),
            blob: None,
            create_only: false,
        };
        let response = inner.pipeline.send(request).await?;
        let body = read_capped(response, MAX_KEY_RESPONSE_BYTES)
            .await
            .map_err(|e| e.with_context(context()))?;
        let key = parse_key(&body).map_err(|e| e.with_context(context()))?;
        tracing::debug!(
            starts_on = %key.signed_start,
            expires_on = %key.signed_expiry,
            "obtained a user delegation key"
        );
        Ok(key)
    }
}

/// The user delegation key of one service client, shared by its clones.
#[derive(Default)]
pub(crate) struct DelegationKeyCache {
    /// Held across a fetch, so concurrent callers on a cold or stale cache make one request.
    slot: tokio::sync::Mutex<Option<Arc<UserDelegationKey>>>,
}

impl DelegationKeyCache {
    /// A key that can sign a SAS valid from `start` (now when `None`) to `expiry`: the cached
    /// one when it covers that window with time to spare, else a new one.
    pub(crate) async fn key_for(
        &self,
        service: &BlobServiceClient,
        start: Option<SystemTime>,
        expiry: SystemTime,
    ) -> Result<Arc<UserDelegationKey>, Error> {
        let now = service.inner.clock.now();
        // Past the year 9999 the formatting of the times fails with a clear error anyway.
        let latest = now.checked_add(MAX_USER_DELEGATION_LIFETIME).unwrap_or(now);
        if expiry > latest {
            return Err(Error::invalid_input(
                "a user delegation SAS can be valid for at most 7 days from now (the longest \
                 a user delegation key lasts): ask for a shorter lifetime",
            )
            .with_context("sign a user delegation SAS".to_owned()));
        }
        let sas_start = start.unwrap_or(now);
        let key_start = sas_start.min(now.checked_sub(CLOCK_SKEW).unwrap_or(now));
        if now.duration_since(key_start).unwrap_or_default() > MAX_USER_DELEGATION_LIFETIME {
            return Err(Error::invalid_input(
                "a user delegation SAS cannot start more than 7 days ago",
            )
            .with_context("sign a user delegation SAS".to_owned()));
        }
        let mut slot = self.slot.lock().await;
        if let Some(key) = slot.as_ref().filter(|k| k.covers(sas_start, expiry, now)) {
            return Ok(Arc::clone(key));
        }
        let key_expiry = expiry
            .max(now.checked_add(DEFAULT_KEY_LIFETIME).unwrap_or(now))
            .min(latest);
        let key = Arc::new(
            service
                .get_user_delegation_key(key_start, key_expiry)
                .await?,
        );
        if !key.covers(sas_start, expiry, now) && key.expires_on < expiry {
            return Err(Error::unexpected(
                "the service returned a user delegation key that expires before the SAS \
                 asked for",
            ));
        }
        *slot = Some(Arc::clone(&key));
        Ok(key)
    }
}

/// The user delegation SAS string-to-sign of `fields` with `key`.
pub(crate) fn user_delegation_string_to_sign(
    fields: &SasFields,
    key: &UserDelegationKey,
) -> String {
    [
        fields.permissions.as_str(),
        fields.start.as_deref().unwrap_or_default(),
        fields.expiry.as_str(),
        fields.canonical_resource.as_str(),
        key.signed_oid.as_str(),
        key.signed_tid.as_str(),
        key.signed_start.as_str(),
        key.signed_expiry.as_str(),
        key.signed_service.as_str(),
        key.signed_version.as_str(),
        "",
        "",
        "",
        "",
        fields.protocol,
        SAS_VERSION,
        SIGNED_RESOURCE_BLOB,
        "",
        "",
        "",
        fields.content_disposition.as_deref().unwrap_or_default(),
        "",
        "",
        fields.content_type.as_deref().unwrap_or_default(),
    ]
    .join("\n")
}

/// The query of a user delegation SAS for `fields`, signed with `key`.
pub(crate) fn sign_user_delegation_sas(fields: &SasFields, key: &UserDelegationKey) -> SasQuery {
    let to_sign = Zeroizing::new(user_delegation_string_to_sign(fields, key));
    let signature = key.hmac_sha256_base64(to_sign.as_bytes());
    let mut query = SasQuery::new();
    query.push("sv", SAS_VERSION);
    query.push("spr", fields.protocol);
    query.push_opt("st", fields.start.as_ref());
    query.push("se", fields.expiry.clone());
    query.push("skoid", key.signed_oid.clone());
    query.push("sktid", key.signed_tid.clone());
    query.push("skt", key.signed_start.clone());
    query.push("ske", key.signed_expiry.clone());
    query.push("sks", key.signed_service.clone());
    query.push("skv", key.signed_version.clone());
    query.push("sr", SIGNED_RESOURCE_BLOB);
    query.push("sp", fields.permissions.clone());
    query.push_opt("rscd", fields.content_disposition.as_ref());
    query.push_opt("rsct", fields.content_type.as_ref());
    query.push("sig", signature.as_str());
    query
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    /// A key as the service answers it; the value is base64 of 32 bytes `0x00..0x1f`.
    const KEY_XML: &str = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><UserDelegationKey>\
        <SignedOid>11111111-2222-3333-4444-555555555555</SignedOid>\
        <SignedTid>66666666-7777-8888-9999-000000000000</SignedTid>\
        <SignedStart>2025-12-02T10:25:00Z</SignedStart>\
        <SignedExpiry>2025-12-03T10:30:00Z</SignedExpiry>\
        <SignedService>b</SignedService><SignedVersion>2024-11-04</SignedVersion>\
        <Value>AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=</Value></UserDelegationKey>";

    fn fields() -> SasFields {
        SasFields {
            permissions: "r".to_owned(),
            start: None,
            expiry: "2025-12-02T11:30:00Z".to_owned(),
            canonical_resource: "/blob/acct1/photos/a b+c%d#e/été.jpg".to_owned(),
            protocol: "https",
            content_disposition: None,
            content_type: None,
        }
    }

    #[test]
    fn request_body_is_the_documented_key_info() {
        assert_eq!(
            key_info_body("2025-12-02T10:25:00Z", "2025-12-03T10:30:00Z"),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><KeyInfo><Start>2025-12-02T10:25:00Z\
             </Start><Expiry>2025-12-03T10:30:00Z</Expiry></KeyInfo>"
        );
    }

    #[test]
    fn parses_the_key_and_hides_its_value() {
        let key = parse_key(KEY_XML.as_bytes()).unwrap();
        assert_eq!(
            key.signed_object_id(),
            "11111111-2222-3333-4444-555555555555"
        );
        assert_eq!(
            key.signed_tenant_id(),
            "66666666-7777-8888-9999-000000000000"
        );
        assert_eq!(key.signed_version(), "2024-11-04");
        assert_eq!(
            key.value.as_slice(),
            (0u8..32).collect::<Vec<_>>().as_slice()
        );
        assert_eq!(
            key.expires_on(),
            parse_time("2025-12-03T10:30:00Z").unwrap()
        );
        let debug = format!("{key:?}");
        assert!(
            debug.contains("<redacted>") && !debug.contains("AAECAw"),
            "{debug}"
        );
    }

    #[test]
    fn incomplete_keys_are_errors() {
        let without_value = KEY_XML.replace(
            "<Value>AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=</Value>",
            "",
        );
        let err = parse_key(without_value.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Other);
        assert!(err.to_string().contains("no Value"), "{err}");
        let bad_time = KEY_XML.replace("2025-12-03T10:30:00Z", "tomorrow");
        assert!(parse_key(bad_time.as_bytes()).is_err());
        assert!(parse_key(b"<Error><Code>x</Code></Error>").is_err());
    }

    #[test]
    fn covers_only_windows_inside_the_key_with_time_to_spare() {
        let key = parse_key(KEY_XML.as_bytes()).unwrap();
        let t = |s: &str| parse_time(s).unwrap();
        let now = t("2025-12-02T10:30:00Z");
        assert!(key.covers(now, t("2025-12-02T11:30:00Z"), now));
        assert!(!key.covers(now, t("2025-12-03T11:30:00Z"), now));
        assert!(!key.covers(t("2025-12-02T10:00:00Z"), t("2025-12-02T11:30:00Z"), now));
        let late = t("2025-12-03T10:26:00Z");
        assert!(!key.covers(late, t("2025-12-03T10:29:00Z"), late));
    }

    // Expected signatures computed independently with python3:
    // base64(hmac.new(bytes(range(32)), string_to_sign.encode(), sha256).digest())

    #[test]
    fn read_only_sas() {
        let key = parse_key(KEY_XML.as_bytes()).unwrap();
        let fields = fields();
        assert_eq!(
            user_delegation_string_to_sign(&fields, &key),
            "r\n\n2025-12-02T11:30:00Z\n/blob/acct1/photos/a b+c%d#e/été.jpg\n\
             11111111-2222-3333-4444-555555555555\n66666666-7777-8888-9999-000000000000\n\
             2025-12-02T10:25:00Z\n2025-12-03T10:30:00Z\nb\n2024-11-04\n\n\n\n\nhttps\n\
             2022-11-02\nb\n\n\n\n\n\n\n"
        );
        assert_eq!(
            sign_user_delegation_sas(&fields, &key).encode().as_str(),
            "sv=2022-11-02&spr=https&se=2025-12-02T11%3A30%3A00Z\
             &skoid=11111111-2222-3333-4444-555555555555\
             &sktid=66666666-7777-8888-9999-000000000000&skt=2025-12-02T10%3A25%3A00Z\
             &ske=2025-12-03T10%3A30%3A00Z&sks=b&skv=2024-11-04&sr=b&sp=r\
             &sig=uRMgTV4oiguOccda2BnV5ObdXyeaDO04ndSt%2FIBR%2Fs0%3D"
        );
    }

    #[test]
    fn write_sas_with_start_and_overrides() {
        let key = parse_key(KEY_XML.as_bytes()).unwrap();
        let fields = SasFields {
            permissions: "rcw".to_owned(),
            start: Some("2025-12-02T10:25:00Z".to_owned()),
            content_disposition: Some("inline".to_owned()),
            content_type: Some("text/plain; charset=utf-8".to_owned()),
            ..fields()
        };
        assert_eq!(
            user_delegation_string_to_sign(&fields, &key),
            "rcw\n2025-12-02T10:25:00Z\n2025-12-02T11:30:00Z\n\
             /blob/acct1/photos/a b+c%d#e/été.jpg\n\
             11111111-2222-3333-4444-555555555555\n66666666-7777-8888-9999-000000000000\n\
             2025-12-02T10:25:00Z\n2025-12-03T10:30:00Z\nb\n2024-11-04\n\n\n\n\nhttps\n\
             2022-11-02\nb\n\n\n\ninline\n\n\ntext/plain; charset=utf-8"
        );
        let query = sign_user_delegation_sas(&fields, &key).encode();
        assert!(
            query.ends_with("&sr=b&sp=rcw&rscd=inline&rsct=text%2Fplain%3B%20charset%3Dutf-8&sig=%2FxV6s6YsAZVhHA1OEmpbXwUfCmSZ%2Bdw6BD81EjfWZe0%3D"),
            "{}",
            query.as_str()
        );
    }
}
