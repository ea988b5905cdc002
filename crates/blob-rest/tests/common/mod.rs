//! Helpers shared by the wiremock tests: a pinned clock that records waits instead of
//! sleeping, fixed request ids, clients pointed at a mock server, scripted responses.

// Each test binary uses only some of these helpers, and `pub` is how they reach it.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use blob_rest::{
    AccountKey, BlobServiceClient, ClientOptions, Clock, Credential, Endpoint, RetryPolicy,
    SharedKeyCredential,
};
use futures_util::future::BoxFuture;
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

pub const DEV_ACCOUNT: &str = "devstoreaccount1";
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
pub const DATE: &str = "Tue, 02 Dec 2025 10:30:00 GMT";
pub const REQUEST_ID: &str = "00000000-0000-4000-8000-000000000001";

/// A clock pinned at [`DATE`] that moves forward only by the waits asked of it, and records
/// them, so retry tests assert exact backoff without sleeping.
pub struct TestClock {
    start: SystemTime,
    waits: Mutex<Vec<Duration>>,
}

impl TestClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: httpdate::parse_http_date(DATE).unwrap(),
            waits: Mutex::new(Vec::new()),
        })
    }

    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().unwrap().clone()
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        self.start + self.waits.lock().unwrap().iter().sum::<Duration>()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.waits.lock().unwrap().push(duration);
        Box::pin(async {})
    }
}

/// Retries with millisecond backoff ceilings.
pub fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(8),
        total_deadline: Duration::from_secs(60),
    }
}

/// Options with the test clock, fixed request ids and fast retries.
pub fn options(clock: &Arc<TestClock>) -> ClientOptions {
    ClientOptions::default()
        .clock(Arc::clone(clock) as Arc<dyn Clock>)
        .client_request_ids(Arc::new(|| REQUEST_ID.to_owned()))
        .retry(fast_retry(4))
}

pub fn endpoint(server: &MockServer) -> Endpoint {
    Endpoint::parse(&format!("{}/{DEV_ACCOUNT}", server.uri())).unwrap()
}

pub fn shared_key() -> Credential {
    Credential::SharedKey(SharedKeyCredential::new(
        DEV_ACCOUNT,
        AccountKey::from_base64(DEV_KEY).unwrap(),
    ))
}

pub fn client(
    server: &MockServer,
    credential: Credential,
    options: ClientOptions,
) -> BlobServiceClient {
    BlobServiceClient::new(endpoint(server), credential, options).unwrap()
}

/// A SharedKey client with the pinned clock.
pub fn shared_key_client(server: &MockServer, clock: &Arc<TestClock>) -> BlobServiceClient {
    client(server, shared_key(), options(clock))
}

/// Answers with the given responses in turn, repeating the last one.
pub struct Sequence {
    responses: Vec<ResponseTemplate>,
    next: AtomicUsize,
}

pub fn sequence(responses: Vec<ResponseTemplate>) -> Sequence {
    Sequence {
        responses,
        next: AtomicUsize::new(0),
    }
}

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        self.responses[i.min(self.responses.len() - 1)].clone()
    }
}

/// A storage error response with a code header and an XML body.
pub fn storage_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-ms-error-code", code)
        .insert_header("x-ms-request-id", "req-123")
        .set_body_raw(
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code>\
                 <Message>{message}\nRequestId:req-123\nTime:2025-12-02T10:30:00Z</Message></Error>"
            ),
            "application/xml",
        )
}

pub fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).map(|v| v.to_str().unwrap())
}

pub async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

/// A server that answers every PUT with 201 and an ETag: uploads whose requests a test reads
/// back afterwards.
pub async fn server_accepting_puts() -> MockServer {
    let server = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("PUT"))
        .respond_with(ResponseTemplate::new(201).insert_header("etag", "\"0x1\""))
        .mount(&server)
        .await;
    server
}
