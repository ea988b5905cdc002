//! blob-rest against a real Azurite: awkward blob names round-trip byte-exact over SharedKey
//! (plain HTTP) and bearer tokens (HTTPS with `--oauth basic`), plus range reads, properties,
//! conditional writes and error kinds.
//!
//! `cargo xtask test` starts Azurite and sets AZURITE_BLOB_HTTP, AZURITE_BLOB_HTTPS and
//! AZURITE_CA_CERT. Without them these tests fail and say so: they never pass silently.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use blob_rest::{
    AccountKey, BearerToken, BlobServiceClient, Body, ClientOptions, ContainerClient, Credential,
    Endpoint, ErrorKind, GetBlobOptions, PutBlobOptions, SharedKeyCredential, TokenError,
    TokenProvider,
};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

const DEV_ACCOUNT: &str = "devstoreaccount1";
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Blob names that broke other clients: reserved URL characters, encodings that look like
/// encodings, non-ASCII letters, separators in odd places, the longest allowed name.
fn awkward_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "plain.txt",
        "with space.txt",
        "many   spaces  .txt",
        "plus+sign.txt",
        "+leading plus",
        "percent%literal.txt",
        "%20already-encoded-looking%2F.txt",
        "hash#tag.txt",
        "question?mark.txt",
        "amp&and=equals.txt",
        "semi;colon,comma.txt",
        "at@sign:colon.txt",
        "brackets[1](2){3}.txt",
        "quote'single\"double.txt",
        "tilde~dash-under_score.txt",
        "dollar$caret^pipe|back`tick.txt",
        "dots...in..name.txt.",
        "naïve café/résumé.pdf",
        "日本語/ファイル.bin",
        "emoji 😀/🐱 cat.png",
        "mixed/ÄÖÜ ß/x y+z=w&v#u?.dat",
        "trailing/slash/",
        "deep/a/b/c/d/e/f/g/h/i/j/k/l/m.txt",
        "double//slash.txt",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    names.push(format!("{}.txt", "n".repeat(1020)));
    names
}

/// Content for the i-th name: sizes from empty to a few hundred KiB, derived from the name.
fn content_for(i: usize, name: &str) -> Bytes {
    let len = match i % 4 {
        0 => 0,
        1 => 17,
        2 => 4096 + i,
        _ => 300_000 + i,
    };
    let seed: Vec<u8> = name.bytes().chain([i.to_le_bytes()[0]]).collect();
    Bytes::from(seed.iter().cycle().take(len).copied().collect::<Vec<u8>>())
}

fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!(
            "{name} is not set: these tests need a running Azurite; run them with \
             `cargo xtask test`, which starts Azurite and sets AZURITE_BLOB_HTTP, \
             AZURITE_BLOB_HTTPS and AZURITE_CA_CERT"
        ),
    }
}

fn dev_key() -> AccountKey {
    AccountKey::from_base64(DEV_KEY).expect("the development key is valid")
}

fn shared_key_service() -> BlobServiceClient {
    let endpoint = Endpoint::parse(&env("AZURITE_BLOB_HTTP")).expect("AZURITE_BLOB_HTTP");
    let credential = Credential::SharedKey(SharedKeyCredential::new(DEV_ACCOUNT, dev_key()));
    BlobServiceClient::new(endpoint, credential, ClientOptions::default()).expect("client")
}

fn https_options() -> ClientOptions {
    let path = env("AZURITE_CA_CERT");
    let pem =
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading AZURITE_CA_CERT {path}: {e}"));
    ClientOptions::default().add_root_certificates_pem(pem)
}

/// Mints a fresh token for every request, like a managed identity cache would hand out.
/// When `expired_first` is set, it hands out an expired token until `invalidate` is called.
#[derive(Default)]
struct LocalTokens {
    minted: AtomicUsize,
    invalidated: AtomicUsize,
    expired_first: AtomicBool,
}

impl TokenProvider for LocalTokens {
    fn token(&self) -> BoxFuture<'_, Result<BearerToken, TokenError>> {
        Box::pin(async move {
            self.minted.fetch_add(1, Ordering::SeqCst);
            let token = if self.expired_first.load(Ordering::SeqCst) {
                let mut claims = local_identity::Claims::storage(Duration::from_secs(3600));
                claims.issued_at = SystemTime::now() - Duration::from_secs(7200);
                claims.expires_at = SystemTime::now() - Duration::from_secs(3600);
                local_identity::mint(&claims)
            } else {
                local_identity::mint_storage_jwt(Duration::from_secs(3600))
            };
            Ok(BearerToken::new(token))
        })
    }

    fn invalidate(&self) {
        self.invalidated.fetch_add(1, Ordering::SeqCst);
        self.expired_first.store(false, Ordering::SeqCst);
    }
}

fn bearer_service(tokens: Arc<LocalTokens>) -> BlobServiceClient {
    let endpoint = Endpoint::parse(&env("AZURITE_BLOB_HTTPS")).expect("AZURITE_BLOB_HTTPS");
    assert!(
        endpoint.is_https(),
        "AZURITE_BLOB_HTTPS must be an https:// URL"
    );
    BlobServiceClient::new(endpoint, Credential::Bearer(tokens), https_options()).expect("client")
}

/// A fresh container, so that runs and tests do not see each other's blobs.
async fn fresh_container(service: &BlobServiceClient, prefix: &str) -> ContainerClient {
    let name = format!("{prefix}-{:016x}", fastrand::u64(..));
    let container = service.container(&name);
    assert!(container
        .create_if_not_exists()
        .await
        .expect("create container"));
    assert!(!container
        .create_if_not_exists()
        .await
        .expect("second create is not an error"));
    container
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

async fn round_trip_awkward_names(service: &BlobServiceClient, prefix: &str) {
    let container = fresh_container(service, prefix).await;
    let names = awkward_names();
    assert!(names.len() >= 20);
    for (i, name) in names.iter().enumerate() {
        let content = content_for(i, name);
        let blob = container.blob(name);
        let options = PutBlobOptions::new()
            .content_type("application/x-test")
            .cache_control("max-age=60")
            .metadata("Index", i.to_string())
            .metadata("a_b", "under score")
            .metadata("a1", "digit");
        blob.put(content.clone(), options)
            .await
            .unwrap_or_else(|e| panic!("put {name:?}: {e}"));

        let properties = blob
            .get_properties()
            .await
            .unwrap_or_else(|e| panic!("head {name:?}: {e}"));
        assert_eq!(properties.content_length, content.len() as u64, "{name:?}");
        assert_eq!(
            properties.content_type.as_deref(),
            Some("application/x-test")
        );
        assert_eq!(properties.cache_control.as_deref(), Some("max-age=60"));
        let md5: [u8; 16] = md5_of(&content);
        assert_eq!(properties.content_md5, Some(md5), "{name:?}");
        assert_eq!(properties.metadata.get("index"), Some(&i.to_string()));
        assert_eq!(
            properties.metadata.get("a_b").map(String::as_str),
            Some("under score")
        );

        let download = blob
            .get(GetBlobOptions::new())
            .await
            .unwrap_or_else(|e| panic!("get {name:?}: {e}"));
        assert!(
            download.body.is_md5_checked(),
            "{name:?}: whole downloads are checked"
        );
        let bytes = download
            .collect()
            .await
            .unwrap_or_else(|e| panic!("read {name:?}: {e}"));
        assert_eq!(sha256(&bytes), sha256(&content), "{name:?}");

        if content.len() > 10 {
            let range = blob
                .get(GetBlobOptions::new().range(3, 7).check_range_md5())
                .await
                .unwrap_or_else(|e| panic!("range {name:?}: {e}"));
            assert_eq!(range.range, Some((3, 9)));
            assert_eq!(range.properties.content_length, content.len() as u64);
            assert_eq!(
                range.collect().await.unwrap(),
                content.slice(3..10),
                "{name:?}"
            );
        }
    }
    // Every name is still there, with its own content, after all others were written.
    for (i, name) in names.iter().enumerate() {
        let blob = container.blob(name);
        let bytes = blob
            .get(GetBlobOptions::new())
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(sha256(&bytes), sha256(&content_for(i, name)), "{name:?}");
        blob.delete()
            .await
            .unwrap_or_else(|e| panic!("delete {name:?}: {e}"));
        let gone = blob.get_properties().await.unwrap_err();
        assert_eq!(gone.kind(), ErrorKind::NotFound, "{name:?}: {gone}");
    }
    container.delete().await.expect("delete container");
}

fn md5_of(bytes: &[u8]) -> [u8; 16] {
    md5::Md5::digest(bytes).into()
}

#[tokio::test]
async fn shared_key_round_trips_awkward_names() {
    round_trip_awkward_names(&shared_key_service(), "sk-names").await;
}

#[tokio::test]
async fn bearer_round_trips_awkward_names() {
    let tokens = Arc::new(LocalTokens::default());
    round_trip_awkward_names(&bearer_service(Arc::clone(&tokens)), "bearer-names").await;
    // A token was asked for every request, never captured once.
    assert!(tokens.minted.load(Ordering::SeqCst) > 100);
}

#[tokio::test]
async fn bearer_expired_token_is_dropped_and_replaced_once() {
    let tokens = Arc::new(LocalTokens::default());
    let service = bearer_service(Arc::clone(&tokens));
    let container = fresh_container(&service, "bearer-expired").await;
    tokens.expired_first.store(true, Ordering::SeqCst);
    let blob = container.blob("after expiry.txt");
    blob.put(&b"still works"[..], PutBlobOptions::new())
        .await
        .expect("put after 401");
    assert_eq!(tokens.invalidated.load(Ordering::SeqCst), 1);
    let bytes = blob
        .get(GetBlobOptions::new())
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"still works");
    container.delete().await.unwrap();
}

#[tokio::test]
async fn stream_upload_range_reads_and_properties() {
    let service = shared_key_service();
    let container = fresh_container(&service, "sk-stream").await;
    let chunks: Vec<Bytes> = (0..64_u8)
        .map(|i| Bytes::from(vec![i; 16 * 1024]))
        .collect();
    let content: Bytes = chunks
        .iter()
        .flat_map(|c| c.iter().copied())
        .collect::<Vec<u8>>()
        .into();
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let blob = container.blob("streamed/one MiB.bin");
    let put = blob
        .put(
            Body::stream(content.len() as u64, stream),
            PutBlobOptions::new().content_md5(md5_of(&content)),
        )
        .await
        .expect("stream upload");
    assert_eq!(put.content_md5, Some(md5_of(&content)));

    // Range from an offset to the end, read chunk by chunk.
    let mut range = blob
        .get(GetBlobOptions::new().range_from(1_000_000))
        .await
        .unwrap();
    assert_eq!(range.range, Some((1_000_000, content.len() as u64 - 1)));
    let mut tail = Vec::new();
    while let Some(chunk) = range.body.next().await {
        tail.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(&tail[..], &content[1_000_000..]);

    let properties = blob.get_properties().await.unwrap();
    assert_eq!(properties.content_length, content.len() as u64);
    assert_eq!(properties.blob_type.as_deref(), Some("BlockBlob"));
    assert!(properties.etag.is_some() && properties.last_modified.is_some());
    container.delete().await.unwrap();
}

#[tokio::test]
async fn conditional_writes_and_error_kinds() {
    let service = shared_key_service();
    let container = fresh_container(&service, "sk-conditions").await;
    let blob = container.blob("only once.txt");
    let first = blob
        .put(&b"first"[..], PutBlobOptions::new().if_not_exists())
        .await
        .expect("create-only write of a new blob");
    let again = blob
        .put(&b"second"[..], PutBlobOptions::new().if_not_exists())
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::AlreadyExists, "{again}");

    let stale = blob
        .put(
            &b"third"[..],
            PutBlobOptions::new().if_match("\"0x8D0000000000000\""),
        )
        .await
        .unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::PreconditionFailed, "{stale}");
    let etag = first.etag.expect("Put Blob returns an ETag");
    blob.put(&b"fourth"[..], PutBlobOptions::new().if_match(etag))
        .await
        .expect("write with the current ETag");
    let bytes = blob
        .get(GetBlobOptions::new())
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"fourth");

    let missing = container.blob("missing.txt");
    let err = missing.get(GetBlobOptions::new()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.code(), Some("BlobNotFound"), "{err}");
    let err = missing.get_properties().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(
        err.code(),
        Some("BlobNotFound"),
        "HEAD has the code in a header: {err}"
    );
    let err = missing.delete().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    container.delete().await.unwrap();
}

#[tokio::test]
async fn wrong_key_is_an_authentication_error_without_secrets() {
    let endpoint = Endpoint::parse(&env("AZURITE_BLOB_HTTP")).unwrap();
    // A valid-looking key that is not the account's.
    let other =
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODkrLw==";
    let credential = Credential::SharedKey(SharedKeyCredential::new(
        DEV_ACCOUNT,
        AccountKey::from_base64(other).unwrap(),
    ));
    let service = BlobServiceClient::new(endpoint, credential, ClientOptions::default()).unwrap();
    let err = service.container("anything").create().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AuthenticationFailed, "{err}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));
    let text = format!("{err} {err:?}");
    assert!(!text.contains(other), "{text}");
}

#[tokio::test]
async fn metadata_names_with_underscores_and_digits_are_signed_in_service_order() {
    // Byte order and the service's order differ for these names; Azurite agrees with the
    // service for C# identifiers, so a wrong order would be a 403 here.
    let service = shared_key_service();
    let container = fresh_container(&service, "sk-metadata").await;
    let blob = container.blob("meta.txt");
    let options = PutBlobOptions::new()
        .metadata("foo_bar", "1")
        .metadata("foo2_bar", "2")
        .metadata("a_b", "3")
        .metadata("a1", "4")
        .metadata("ab", "5")
        .metadata("_x", "6")
        .metadata("Z9", "7")
        .metadata("a__", "8")
        .metadata("a_1", "9");
    blob.put(&b"m"[..], options)
        .await
        .expect("put with awkward metadata names");
    let properties = blob.get_properties().await.unwrap();
    let names: Vec<&str> = properties.metadata.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["_x", "a1", "a_1", "a__", "a_b", "ab", "foo2_bar", "foo_bar", "z9"]
    );
    container.delete().await.unwrap();
}
