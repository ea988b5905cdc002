//! Bad configuration and bad input: clear errors, no panic, and no request sent.

mod common;

use blob_rest::{
    AccountKey, BearerToken, BlobServiceClient, ClientOptions, Credential, Endpoint, ErrorKind,
    GetBlobOptions, PutBlobOptions, SharedKeyCredential, StaticTokenProvider,
};
use common::{requests, shared_key_client, TestClock, DEV_KEY};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn bearer() -> Credential {
    Credential::bearer(StaticTokenProvider::new(BearerToken::new("t".to_owned())))
}

#[test]
fn bearer_over_plain_http_is_refused_unless_loopback() {
    let remote = Endpoint::parse("http://myaccount.blob.core.windows.net").unwrap();
    let err = BlobServiceClient::new(remote, bearer(), ClientOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(
        err.to_string(),
        "refusing to send a bearer token over plain http:// to \
         http://myaccount.blob.core.windows.net: anyone on the network path could read and \
         reuse it; use an https:// endpoint (plain http is only allowed to a loopback emulator)"
    );
    let sas = blob_rest::SasToken::parse("sv=2024-11-04&sig=abc").unwrap();
    let remote = Endpoint::parse("http://myaccount.blob.core.windows.net").unwrap();
    let err =
        BlobServiceClient::new(remote, Credential::Sas(sas), ClientOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("refusing to send a shared access signature over plain http://"),
        "{err}"
    );
    for ok in [
        "http://127.0.0.1:10000/devstoreaccount1",
        "http://localhost:10000/devstoreaccount1",
        "https://myaccount.blob.core.windows.net",
    ] {
        let endpoint = Endpoint::parse(ok).unwrap();
        assert!(
            BlobServiceClient::new(endpoint, bearer(), ClientOptions::default()).is_ok(),
            "{ok}"
        );
    }
}

#[test]
fn key_and_account_mistakes() {
    let err = AccountKey::from_base64("this is not base64!").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.to_string()
            .starts_with("the account key is not valid base64"),
        "{err}"
    );

    let key = AccountKey::from_base64(DEV_KEY).unwrap();
    let endpoint = Endpoint::parse("http://127.0.0.1:10000/devstoreaccount1").unwrap();
    let empty = Credential::SharedKey(SharedKeyCredential::new("", key.clone()));
    let err =
        BlobServiceClient::new(endpoint.clone(), empty, ClientOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.to_string()
            .starts_with("the storage account name is empty"),
        "{err}"
    );

    let other = Credential::SharedKey(SharedKeyCredential::new("otheraccount", key));
    let err = BlobServiceClient::new(endpoint, other, ClientOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("is for account \"otheraccount\""),
        "{err}"
    );

    let err = Endpoint::for_account("", blob_rest::PUBLIC_CLOUD_SUFFIX).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let err = Endpoint::for_account("Not_Valid", blob_rest::PUBLIC_CLOUD_SUFFIX).unwrap_err();
    assert!(
        err.to_string().contains("lower-case letters and digits"),
        "{err}"
    );
}

#[test]
fn malformed_endpoints() {
    for (input, expected) in [
        ("", "the blob endpoint is empty"),
        ("::not a url::", "not a valid absolute URL"),
        ("file:///tmp/x", "must start with https://"),
        ("http://127.0.0.1:10000", "cannot tell the storage account"),
        ("http://127.0.0.1:10000/a/b", "path beyond the account"),
        (
            "https://acct.blob.core.windows.net/#frag",
            "query string or fragment",
        ),
    ] {
        let err = Endpoint::parse(input).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{input}");
        assert!(err.to_string().contains(expected), "{input}: {err}");
    }
}

#[test]
fn bad_certificates_are_a_config_error() {
    let endpoint = Endpoint::parse("https://127.0.0.1:10001/devstoreaccount1").unwrap();
    let options = ClientOptions::default().add_root_certificates_pem(b"not a certificate".to_vec());
    let err = BlobServiceClient::new(endpoint, bearer(), options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("PEM"), "{err}");
}

#[tokio::test]
async fn bad_names_and_metadata_are_refused_before_sending() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let service = shared_key_client(&server, &clock);

    let err = service.container("Bad_Name").create().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string()
            .starts_with("Create Container Bad_Name: the container name"),
        "{err}"
    );

    let long = "x".repeat(1025);
    let bad_blobs = [long.as_str(), "", "a/../b", "tab\there", "nul\0"];
    for name in bad_blobs {
        let err = service
            .container("photos")
            .blob(name)
            .get(GetBlobOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name:?}");
    }

    let blob = service.container("photos").blob("ok.txt");
    for options in [
        PutBlobOptions::new().metadata("has-hyphen", "v"),
        PutBlobOptions::new().metadata("9lives", "v"),
        PutBlobOptions::new().metadata("k", "non-ascii é"),
        PutBlobOptions::new().metadata("k", "two  spaces"),
        PutBlobOptions::new().metadata("k", "a").metadata("K", "b"),
        PutBlobOptions::new().cache_control(" padded"),
        PutBlobOptions::new().content_type("text/plain\r\nx-injected: 1"),
    ] {
        let err = blob.put(&b"x"[..], options).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(
            err.to_string().starts_with("Put Blob photos/ok.txt: "),
            "{err}"
        );
    }
    assert!(
        requests(&server).await.is_empty(),
        "nothing may be sent for bad input"
    );
}

/// A clock outside what an HTTP date can express (before 1970 or after 9999).
struct FixedClock(std::time::SystemTime);

impl blob_rest::Clock for FixedClock {
    fn now(&self) -> std::time::SystemTime {
        self.0
    }
}

#[tokio::test]
async fn a_clock_outside_http_dates_is_an_error_not_a_panic() {
    use std::time::{Duration, UNIX_EPOCH};
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let endpoint = Endpoint::parse(&format!("{}/devstoreaccount1", server.uri())).unwrap();
    let credential = Credential::SharedKey(SharedKeyCredential::new(
        "devstoreaccount1",
        AccountKey::from_base64(DEV_KEY).unwrap(),
    ));
    for (now, words) in [
        (UNIX_EPOCH - Duration::from_secs(1), "before 1970"),
        (
            UNIX_EPOCH + Duration::from_secs(253_402_300_800),
            "after the year 9999",
        ),
    ] {
        let options = ClientOptions::default().clock(std::sync::Arc::new(FixedClock(now)));
        let blob = BlobServiceClient::new(endpoint.clone(), credential.clone(), options)
            .unwrap()
            .container("photos")
            .blob("a.txt");
        let error = blob.get_properties().await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Config);
        assert!(
            error
                .to_string()
                .contains(&format!("the clock says it is {words}")),
            "{error}"
        );
    }
    assert!(requests(&server).await.is_empty());
}
