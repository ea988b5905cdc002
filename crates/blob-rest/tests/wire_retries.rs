//! Retry sequences against scripted answers. The test clock records every wait instead of
//! sleeping, so the assertions are on the exact waits the policy chose.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use blob_rest::{
    BearerToken, Body, ClientOptions, Credential, ErrorKind, GetBlobOptions, PutBlobOptions,
    RetryPolicy, TokenError, TokenProvider,
};
use common::{header, options, requests, sequence, shared_key_client, storage_error, TestClock};
use futures_util::future::BoxFuture;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn scripted(responses: Vec<ResponseTemplate>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(sequence(responses))
        .mount(&server)
        .await;
    server
}

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_bytes(&b"data"[..])
}

async fn get(
    server: &MockServer,
    options: ClientOptions,
) -> Result<bytes::Bytes, blob_rest::Error> {
    common::client(server, common::shared_key(), options)
        .container("photos")
        .blob("cat.jpg")
        .get(GetBlobOptions::new())
        .await?
        .collect()
        .await
}

#[tokio::test]
async fn busy_with_retry_after_then_success_waits_as_asked_and_re_signs() {
    let server = scripted(vec![
        storage_error(503, "ServerBusy", "The server is busy.").insert_header("retry-after", "2"),
        ok(),
    ])
    .await;
    let clock = TestClock::new();
    assert_eq!(&get(&server, options(&clock)).await.unwrap()[..], b"data");
    assert_eq!(clock.waits(), [Duration::from_secs(2)]);
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    // Fresh date and signature on the retry, same client request id.
    assert_eq!(
        header(&sent[0], "x-ms-date"),
        Some("Tue, 02 Dec 2025 10:30:00 GMT")
    );
    assert_eq!(
        header(&sent[1], "x-ms-date"),
        Some("Tue, 02 Dec 2025 10:30:02 GMT")
    );
    assert_ne!(
        header(&sent[0], "authorization"),
        header(&sent[1], "authorization")
    );
    assert_eq!(
        header(&sent[0], "x-ms-client-request-id"),
        header(&sent[1], "x-ms-client-request-id")
    );
}

#[tokio::test]
async fn retry_after_in_milliseconds_is_preferred() {
    let server = scripted(vec![
        ResponseTemplate::new(429)
            .insert_header("x-ms-retry-after-ms", "1500")
            .insert_header("retry-after", "9"),
        ok(),
    ])
    .await;
    let clock = TestClock::new();
    get(&server, options(&clock)).await.unwrap();
    assert_eq!(clock.waits(), [Duration::from_millis(1500)]);
}

#[tokio::test]
async fn two_server_errors_then_success_back_off_with_jitter() {
    let server = scripted(vec![
        storage_error(500, "InternalError", "oops"),
        storage_error(500, "InternalError", "oops"),
        ok(),
    ])
    .await;
    let clock = TestClock::new();
    get(&server, options(&clock)).await.unwrap();
    assert_eq!(requests(&server).await.len(), 3);
    let waits = clock.waits();
    assert_eq!(waits.len(), 2);
    // Full jitter below a ceiling of base * 2^(n-1): 1 ms, then 2 ms.
    assert!(waits[0] <= Duration::from_millis(1), "{waits:?}");
    assert!(waits[1] <= Duration::from_millis(2), "{waits:?}");
}

#[tokio::test]
async fn not_implemented_is_not_retried() {
    for status in [501, 505, 400, 403, 404] {
        let server = scripted(vec![ResponseTemplate::new(status), ok()]).await;
        let clock = TestClock::new();
        let err = get(&server, options(&clock)).await.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        assert_eq!(requests(&server).await.len(), 1, "{status}");
        assert!(clock.waits().is_empty());
    }
}

#[tokio::test]
async fn every_retryable_status_is_retried() {
    for status in [408, 429, 500, 502, 503, 504] {
        let server = scripted(vec![ResponseTemplate::new(status), ok()]).await;
        let clock = TestClock::new();
        get(&server, options(&clock)).await.unwrap();
        assert_eq!(requests(&server).await.len(), 2, "{status}");
    }
}

#[tokio::test]
async fn attempts_are_bounded() {
    let server = scripted(vec![storage_error(503, "ServerBusy", "busy")]).await;
    let clock = TestClock::new();
    let err = get(&server, options(&clock).retry(common::fast_retry(3)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerBusy);
    assert_eq!(err.code(), Some("ServerBusy"));
    assert!(
        err.to_string().ends_with("; gave up after 3 attempts"),
        "{err}"
    );
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn deadline_stops_retries_before_a_long_wait() {
    let server = scripted(vec![
        ResponseTemplate::new(503).insert_header("retry-after", "100"),
        ok(),
    ])
    .await;
    let clock = TestClock::new();
    let policy = RetryPolicy {
        total_deadline: Duration::from_secs(30),
        ..common::fast_retry(5)
    };
    let err = get(&server, options(&clock).retry(policy))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerBusy);
    assert!(
        err.to_string()
            .contains("would pass the total retry deadline of 30s"),
        "{err}"
    );
    assert_eq!(requests(&server).await.len(), 1);
    assert!(
        clock.waits().is_empty(),
        "no wait started that could not end in time"
    );
}

#[tokio::test]
async fn deadline_counts_time_already_spent() {
    let server = scripted(vec![
        ResponseTemplate::new(503).insert_header("retry-after", "20"),
        ResponseTemplate::new(503).insert_header("retry-after", "20"),
        ok(),
    ])
    .await;
    let clock = TestClock::new();
    let policy = RetryPolicy {
        total_deadline: Duration::from_secs(30),
        ..common::fast_retry(5)
    };
    let err = get(&server, options(&clock).retry(policy))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("gave up after 2 attempts"),
        "{err}"
    );
    assert_eq!(clock.waits(), [Duration::from_secs(20)]);
}

#[tokio::test]
async fn stream_body_is_not_replayed_after_sending() {
    let server = scripted(vec![
        storage_error(503, "ServerBusy", "busy"),
        ResponseTemplate::new(201),
    ])
    .await;
    let clock = TestClock::new();
    let stream =
        futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"abc"))]);
    let err = shared_key_client(&server, &clock)
        .container("photos")
        .blob("s")
        .put(Body::stream(3, stream), PutBlobOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerBusy);
    assert!(
        err.to_string()
            .contains("stream that was already (partly) sent"),
        "{err}"
    );
    assert_eq!(requests(&server).await.len(), 1);
    // The same content in memory is retried.
    let server = scripted(vec![
        storage_error(503, "ServerBusy", "busy"),
        ResponseTemplate::new(201),
    ])
    .await;
    shared_key_client(&server, &clock)
        .container("photos")
        .blob("s")
        .put(&b"abc"[..], PutBlobOptions::new())
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].body, b"abc");
}

#[tokio::test]
async fn stream_of_wrong_length_fails_without_retry() {
    let server = scripted(vec![ResponseTemplate::new(201)]).await;
    let clock = TestClock::new();
    let stream =
        futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"abc"))]);
    let err = shared_key_client(&server, &clock)
        .container("photos")
        .blob("s")
        .put(Body::stream(5, stream), PutBlobOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(
        err.to_string()
            .contains("ended after 3 of its declared 5 bytes"),
        "{err}"
    );
    assert!(clock.waits().is_empty());
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    // Bind and drop a listener to get a port where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint =
        blob_rest::Endpoint::parse(&format!("http://127.0.0.1:{port}/devstoreaccount1")).unwrap();
    let clock = TestClock::new();
    let service = blob_rest::BlobServiceClient::new(
        endpoint,
        common::shared_key(),
        options(&clock).retry(common::fast_retry(3)),
    )
    .unwrap();
    let err = service.container("photos").create().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    let text = err.to_string();
    assert!(
        text.starts_with("Create Container photos: the request failed before a response arrived"),
        "{text}"
    );
    assert!(text.ends_with("gave up after 3 attempts"), "{text}");
    assert_eq!(clock.waits().len(), 2);
}

#[tokio::test]
async fn response_timeout_is_a_retried_transport_error() {
    let server = scripted(vec![ok().set_delay(Duration::from_millis(400))]).await;
    let clock = TestClock::new();
    let options = options(&clock)
        .retry(common::fast_retry(2))
        .response_timeout(Duration::from_millis(50));
    let err = get(&server, options).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(
        err.to_string()
            .contains("no response within the response timeout of 50ms"),
        "{err}"
    );
    assert_eq!(clock.waits().len(), 1);
}

/// Hands out numbered tokens and counts invalidations.
#[derive(Default)]
struct CountingTokens {
    issued: AtomicUsize,
    invalidated: AtomicUsize,
}

impl TokenProvider for CountingTokens {
    fn token(&self) -> BoxFuture<'_, Result<BearerToken, TokenError>> {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        Box::pin(async move { Ok(BearerToken::new(format!("token-{n}"))) })
    }

    fn invalidate(&self) {
        self.invalidated.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn bearer_401_invalidates_and_retries_once() {
    let server = scripted(vec![
        storage_error(
            401,
            "InvalidAuthenticationInfo",
            "Lifetime validation failed. The token is expired.",
        ),
        ok(),
    ])
    .await;
    let clock = TestClock::new();
    let tokens = Arc::new(CountingTokens::default());
    let service = common::client(&server, Credential::Bearer(tokens.clone()), options(&clock));
    let bytes = service
        .container("photos")
        .blob("cat.jpg")
        .get(GetBlobOptions::new())
        .await
        .unwrap();
    assert_eq!(&bytes.collect().await.unwrap()[..], b"data");
    assert_eq!(tokens.invalidated.load(Ordering::SeqCst), 1);
    let sent = requests(&server).await;
    assert_eq!(header(&sent[0], "authorization"), Some("Bearer token-1"));
    assert_eq!(header(&sent[1], "authorization"), Some("Bearer token-2"));
    assert!(
        clock.waits().is_empty(),
        "the renewed token is tried at once"
    );
}

#[tokio::test]
async fn bearer_401_twice_gives_up() {
    let server = scripted(vec![storage_error(
        401,
        "InvalidAuthenticationInfo",
        "bad token",
    )])
    .await;
    let clock = TestClock::new();
    let tokens = Arc::new(CountingTokens::default());
    let service = common::client(&server, Credential::Bearer(tokens.clone()), options(&clock));
    let err = service.container("photos").create().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AuthenticationFailed);
    assert_eq!(requests(&server).await.len(), 2);
    assert_eq!(tokens.invalidated.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn shared_key_401_is_not_retried() {
    let server = scripted(vec![ResponseTemplate::new(401), ok()]).await;
    let clock = TestClock::new();
    let err = get(&server, options(&clock)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AuthenticationFailed);
    assert_eq!(requests(&server).await.len(), 1);
}

/// A provider that cannot produce a token.
struct FailingTokens;

impl TokenProvider for FailingTokens {
    fn token(&self) -> BoxFuture<'_, Result<BearerToken, TokenError>> {
        Box::pin(async { Err("no managed identity endpoint answered".into()) })
    }
}

#[tokio::test]
async fn token_provider_failure_is_reported_without_sending() {
    let server = scripted(vec![ok()]).await;
    let clock = TestClock::new();
    let service = common::client(&server, Credential::bearer(FailingTokens), options(&clock));
    let err = service.container("photos").create().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AuthenticationFailed);
    assert_eq!(
        err.to_string(),
        "Create Container photos: the token provider could not produce a bearer token: no \
         managed identity endpoint answered"
    );
    assert!(requests(&server).await.is_empty());
}
