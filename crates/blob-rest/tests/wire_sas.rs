//! SAS URLs against a mock service: the exact Get User Delegation Key request and body, the key
//! reused for many URLs and fetched again only near its expiry or for a longer SAS, the exact
//! URLs of both kinds (signatures computed independently with python3's `hmac`), and the
//! refusals that send nothing.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use blob_rest::{
    BearerToken, BlobServiceClient, BlobUrlKind, ClientOptions, Clock, Credential, ErrorKind,
    PublicAccess, SasOptions, SasPermissions, SasToken, StaticTokenProvider,
};
use common::{client, endpoint, header, requests, shared_key, storage_error, DATE, REQUEST_ID};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
const OID: &str = "11111111-2222-3333-4444-555555555555";
const TID: &str = "66666666-7777-8888-9999-000000000000";
/// base64 of the 32 bytes 0x00..0x1f.
const KEY_VALUE: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A clock the test moves by hand.
struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    /// At [`DATE`] and a quarter of a second, as a real clock would be: fractions must not
    /// change what is signed or which key is used.
    fn new() -> Arc<Self> {
        let date = httpdate::parse_http_date(DATE).unwrap() + Duration::from_millis(250);
        Arc::new(Self(Mutex::new(date)))
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

/// Answers Get User Delegation Key as the service does: a key for exactly the asked window.
struct EchoKey;

impl Respond for EchoKey {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body = String::from_utf8(request.body.clone()).unwrap();
        let field = |name: &str| {
            let open = format!("<{name}>");
            let start = body.find(&open).unwrap() + open.len();
            let end = body.find(&format!("</{name}>")).unwrap();
            body[start..end].to_owned()
        };
        ResponseTemplate::new(200).set_body_raw(
            format!(
                "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><UserDelegationKey>\
                 <SignedOid>{OID}</SignedOid><SignedTid>{TID}</SignedTid>\
                 <SignedStart>{}</SignedStart><SignedExpiry>{}</SignedExpiry>\
                 <SignedService>b</SignedService><SignedVersion>2024-11-04</SignedVersion>\
                 <Value>{KEY_VALUE}</Value></UserDelegationKey>",
                field("Start"),
                field("Expiry")
            ),
            "application/xml",
        )
    }
}

async fn key_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/devstoreaccount1/"))
        .and(query_param("restype", "service"))
        .and(query_param("comp", "userdelegationkey"))
        .respond_with(EchoKey)
        .mount(&server)
        .await;
    server
}

fn bearer_client(server: &MockServer, clock: &Arc<ManualClock>) -> BlobServiceClient {
    let provider = StaticTokenProvider::new(BearerToken::new("tok-123".to_owned()));
    let options = ClientOptions::default()
        .clock(Arc::clone(clock) as Arc<dyn Clock>)
        .client_request_ids(Arc::new(|| REQUEST_ID.to_owned()));
    client(server, Credential::bearer(provider), options)
}

/// The `KeyInfo` bodies of the key requests received, in order.
async fn key_requests(server: &MockServer) -> Vec<String> {
    requests(server)
        .await
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).unwrap())
        .collect()
}

fn key_info(start: &str, expiry: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><KeyInfo><Start>{start}</Start>\
         <Expiry>{expiry}</Expiry></KeyInfo>"
    )
}

#[tokio::test]
async fn one_exact_key_request_signs_many_urls() {
    let server = key_server().await;
    let clock = ManualClock::new();
    let service = bearer_client(&server, &clock);
    let photos = service.container("photos");

    let url = photos
        .blob_sas_url("a b.jpg", &SasOptions::expires_in(HOUR))
        .await
        .unwrap();
    for name in ["c+d.jpg", "é/f#g.png", "h%i.txt"] {
        photos
            .blob_sas_url(name, &SasOptions::expires_in(HOUR))
            .await
            .unwrap();
    }

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1, "one key for four URLs");
    let r = &sent[0];
    assert_eq!(r.method.as_str(), "POST");
    assert_eq!(r.url.path(), "/devstoreaccount1/");
    assert_eq!(
        r.url.query(),
        Some("restype=service&comp=userdelegationkey")
    );
    assert_eq!(header(r, "authorization"), Some("Bearer tok-123"));
    assert_eq!(header(r, "x-ms-version"), Some("2024-11-04"));
    assert_eq!(header(r, "x-ms-date"), Some(DATE));
    assert_eq!(header(r, "x-ms-client-request-id"), Some(REQUEST_ID));
    assert_eq!(
        header(r, "content-type"),
        Some("application/xml; charset=utf-8")
    );
    // Starts five minutes in the past for clock skew, lasts a day.
    let body = key_info("2025-12-02T10:25:00Z", "2025-12-03T10:30:00Z");
    assert_eq!(
        header(r, "content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(String::from_utf8(r.body.clone()).unwrap(), body);

    // The URL, with a signature computed independently:
    // base64(hmac(bytes(range(32)), string_to_sign, sha256)).
    assert_eq!(url.kind(), BlobUrlKind::UserDelegationSas);
    assert_eq!(
        url.as_str(),
        format!(
            "{}/devstoreaccount1/photos/a%20b.jpg?sv=2022-11-02&spr=https%2Chttp\
             &se=2025-12-02T11%3A30%3A00Z&skoid={OID}&sktid={TID}\
             &skt=2025-12-02T10%3A25%3A00Z&ske=2025-12-03T10%3A30%3A00Z&sks=b&skv=2024-11-04\
             &sr=b&sp=r&sig=lBaYerzBzrEiOUPZCmyB0Vt40Ac9RQwxJyt%2FfQAQVOw%3D",
            server.uri()
        )
    );
    assert_eq!(
        url.expires_on(),
        Some(httpdate::parse_http_date("Tue, 02 Dec 2025 11:30:00 GMT").unwrap())
    );
    let debug = format!("{url:?}");
    assert!(
        debug.contains("sig=<redacted>") && !debug.contains("lBaYerzBzrEiOUPZ"),
        "{debug}"
    );
}

#[tokio::test]
async fn the_key_is_fetched_again_only_near_its_expiry_or_for_a_longer_sas() {
    let server = key_server().await;
    let clock = ManualClock::new();
    let photos = bearer_client(&server, &clock).container("photos");
    let url = |name: &'static str, lifetime: Duration| {
        let photos = photos.clone();
        async move {
            photos
                .blob_sas_url(name, &SasOptions::expires_in(lifetime))
                .await
                .unwrap()
        }
    };
    url("a", HOUR).await;
    assert_eq!(requests(&server).await.len(), 1);

    // 23 h 54 min later six minutes of the key are left: still reused for a 1-minute SAS.
    clock.advance(Duration::from_secs(24 * 3600 - 6 * 60));
    url("b", Duration::from_secs(60)).await;
    assert_eq!(requests(&server).await.len(), 1);
    // But not for a SAS that outlives it.
    url("c", Duration::from_secs(10 * 60)).await;
    assert_eq!(requests(&server).await.len(), 2);

    // Two minutes later the first key would have less than five minutes left, but the cache
    // holds the second one now, fetched at 10:24 on the 3rd and valid until the 4th.
    clock.advance(Duration::from_secs(2 * 60));
    url("d", HOUR).await;
    assert_eq!(requests(&server).await.len(), 2);

    // A 3-day SAS needs a key that lasts as long; a 1-hour one then reuses it.
    url("e", 3 * DAY).await;
    url("f", HOUR).await;
    assert_eq!(
        key_requests(&server).await,
        [
            key_info("2025-12-02T10:25:00Z", "2025-12-03T10:30:00Z"),
            key_info("2025-12-03T10:19:00Z", "2025-12-04T10:24:00Z"),
            key_info("2025-12-03T10:21:00Z", "2025-12-06T10:26:00Z"),
        ]
    );

    // Three days later the third key (until the 6th, 10:26) has nothing left: a new one.
    clock.advance(3 * DAY);
    url("g", HOUR).await;
    assert_eq!(requests(&server).await.len(), 4);
}

#[tokio::test]
async fn concurrent_urls_on_a_cold_cache_share_one_key_request() {
    let server = key_server().await;
    let clock = ManualClock::new();
    let photos = bearer_client(&server, &clock).container("photos");
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let photos = photos.clone();
            tokio::spawn(async move {
                photos
                    .blob_sas_url(&format!("img-{i}.jpg"), &SasOptions::expires_in(HOUR))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().kind(), BlobUrlKind::UserDelegationSas);
    }
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn more_than_seven_days_is_refused_before_asking() {
    let server = key_server().await;
    let clock = ManualClock::new();
    let photos = bearer_client(&server, &clock).container("photos");
    let err = photos
        .blob_sas_url("a", &SasOptions::expires_in(8 * DAY))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("at most 7 days"), "{err}");
    // Exactly seven days is fine.
    photos
        .blob_sas_url("a", &SasOptions::expires_in(7 * DAY))
        .await
        .unwrap();
    assert_eq!(
        key_requests(&server).await,
        [key_info("2025-12-02T10:25:00Z", "2025-12-09T10:30:00Z")]
    );
}

#[tokio::test]
async fn a_refused_key_request_says_which_role_is_missing_and_is_not_cached() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(storage_error(
            403,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        ))
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let photos = bearer_client(&server, &clock).container("photos");
    for _ in 0..2 {
        let err = photos
            .blob_sas_url("a.jpg", &SasOptions::expires_in(HOUR))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionMissing);
        let text = err.to_string();
        assert!(
            text.starts_with("Get User Delegation Key (account devstoreaccount1)"),
            "{text}"
        );
        assert!(
            text.contains("needed for a SAS URL of photos/a.jpg"),
            "{text}"
        );
        assert!(text.contains("Storage Blob Data"), "{text}");
    }
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn a_malformed_key_answer_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>captive portal</html>"))
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let err = bearer_client(&server, &clock)
        .container("photos")
        .blob_sas_url("a.jpg", &SasOptions::expires_in(HOUR))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Other);
    assert!(err.to_string().contains("no SignedOid"), "{err}");
}

#[tokio::test]
async fn a_service_sas_is_signed_locally() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    let options = ClientOptions::default().clock(Arc::clone(&clock) as Arc<dyn Clock>);
    let service = client(&server, shared_key(), options);
    let url = service
        .container("photos")
        .blob_sas_url(
            "a b+c.jpg",
            &SasOptions::expires_in(HOUR)
                .permissions(SasPermissions::read_only().with_create().with_write())
                .content_type("image/jpeg"),
        )
        .await
        .unwrap();
    assert!(requests(&server).await.is_empty());
    assert_eq!(url.kind(), BlobUrlKind::ServiceSas);
    // Signature: base64(hmac(b64decode(DEV_KEY), string_to_sign, sha256)).
    assert_eq!(
        url.as_str(),
        format!(
            "{}/devstoreaccount1/photos/a%20b%2Bc.jpg?sv=2022-11-02&spr=https%2Chttp\
             &se=2025-12-02T11%3A30%3A00Z&sr=b&sp=rcw&rsct=image%2Fjpeg&sig=Uxv23CULkJpezkczcUx7Qw%2Fu9ZdaWyLCoTl4qmQkVCc%3D",
            server.uri()
        )
    );
}

#[tokio::test]
async fn nothing_to_sign_with_is_a_config_error() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    let sas = SasToken::parse("sv=2022-11-02&sp=r&sig=SENTINELSIG%2B%3D").unwrap();
    for credential in [Credential::Sas(sas), Credential::Anonymous] {
        let options = ClientOptions::default().clock(Arc::clone(&clock) as Arc<dyn Clock>);
        let photos = client(&server, credential, options).container("photos");
        let err = photos
            .blob_sas_url("a.jpg", &SasOptions::expires_in(HOUR))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let text = format!("{err} {err:?}");
        assert!(text.contains("no key to sign with"), "{text}");
        assert!(!text.contains("SENTINELSIG"), "{text}");
        // A plain URL needs nothing.
        assert_eq!(
            photos.blob_url("a b.jpg").unwrap().as_str(),
            format!("{}/devstoreaccount1/photos/a%20b.jpg", server.uri())
        );
    }
    assert!(requests(&server).await.is_empty());
    // The endpoint helper is what the URLs start with.
    assert!(endpoint(&server).to_string().starts_with(&server.uri()));
}

#[tokio::test]
async fn a_public_container_is_created_with_its_access_level() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let clock = common::TestClock::new();
    let service = common::shared_key_client(&server, &clock);
    for access in [
        PublicAccess::Blob,
        PublicAccess::Container,
        PublicAccess::None,
    ] {
        service
            .container("public-assets")
            .create_with_public_access(access)
            .await
            .unwrap();
    }
    let sent = requests(&server).await;
    let levels: Vec<Option<&str>> = sent
        .iter()
        .map(|r| header(r, "x-ms-blob-public-access"))
        .collect();
    assert_eq!(levels, [Some("blob"), Some("container"), None]);
    assert_eq!(sent[0].url.path(), "/devstoreaccount1/public-assets");
    assert_eq!(sent[0].url.query(), Some("restype=container"));
    assert!(header(&sent[0], "authorization")
        .unwrap()
        .starts_with("SharedKey devstoreaccount1:"));
}
