//! Downloads whose connection breaks mid-body are resumed: a new Get Blob for exactly the
//! missing bytes, with `If-Match` on the first response's ETag, within the retry budget, and
//! the content checks cover the stitched whole.
//!
//! wiremock cannot cut a body short, so these tests script a tiny raw HTTP server on
//! 127.0.0.1 that answers one request per connection and records each request's head. The
//! expected signature was computed independently with Python's hmac module; the MD5s with
//! Python's hashlib.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use blob_rest::{BlobServiceClient, ClientOptions, Endpoint, ErrorKind, GetBlobOptions};
use common::{fast_retry, options, shared_key, TestClock, DATE, REQUEST_ID};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ETAG: &str = "\"0x8DD0000000000A1\"";
/// MD5 of "0123456789" and of "01234X6789", base64.
const MD5_DIGITS: &str = "eB5eJF1ptWaXm4bijSPyxw==";
const MD5_CORRUPT: &str = "Df44YW5bvpDaPIOagjFb3w==";
/// MD5 of "klmnop", base64.
const MD5_KLMNOP: &str = "o6NH7GILfHaREiBm65bS7g==";

/// The head of one request the raw server received.
struct RawRequest {
    line: String,
    headers: HashMap<String, String>,
}

impl RawRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// Answers one request per connection with `answers` in turn, then stops listening.
struct RawServer {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl RawServer {
    async fn start(answers: Vec<Vec<u8>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/devstoreaccount1", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&heads);
        tokio::spawn(async move {
            for answer in answers {
                let (mut socket, _) = listener.accept().await.unwrap();
                let head = read_head(&mut socket).await;
                recorded.lock().unwrap().push(head);
                socket.write_all(&answer).await.unwrap();
                socket.shutdown().await.unwrap();
            }
        });
        Self { url, heads }
    }

    fn requests(&self) -> Vec<RawRequest> {
        let heads = self.heads.lock().unwrap();
        heads
            .iter()
            .map(|head| {
                let mut lines = head.split("\r\n");
                let line = lines.next().unwrap().to_owned();
                let headers = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                RawRequest { line, headers }
            })
            .collect()
    }

    fn client(&self, options: ClientOptions) -> BlobServiceClient {
        BlobServiceClient::new(Endpoint::parse(&self.url).unwrap(), shared_key(), options).unwrap()
    }
}

/// Reads a request head (a GET has no body), at most 64 KiB.
async fn read_head(socket: &mut tokio::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut buffer = [0_u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        let n = socket.read(&mut buffer).await.unwrap();
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8(head).unwrap()
}

/// A response announcing `length` bytes of body and sending `body`, which is cut short when
/// it holds fewer; the connection is closed after it either way.
fn response(status: &str, headers: &[(&str, &str)], length: usize, body: &[u8]) -> Vec<u8> {
    let mut head = vec![
        format!("HTTP/1.1 {status}"),
        format!("Content-Length: {length}"),
        "Connection: close".to_owned(),
    ];
    head.extend(
        headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}")),
    );
    let mut out = format!("{}\r\n\r\n", head.join("\r\n")).into_bytes();
    out.extend_from_slice(body);
    out
}

/// The first response of a whole-blob read of "0123456789", cut after `body`.
fn whole_cut(body: &[u8]) -> Vec<u8> {
    let headers = [("ETag", ETAG), ("Content-MD5", MD5_DIGITS)];
    response("200 OK", &headers, 10, body)
}

/// A 206 carrying `body` from `first` on, out of a 10-byte blob, cut when shorter than
/// `length`.
fn partial(first: u64, length: usize, body: &[u8]) -> Vec<u8> {
    let range = format!("bytes {first}-{}/10", first + length as u64 - 1);
    let headers = [("ETag", ETAG), ("Content-Range", range.as_str())];
    response("206 Partial Content", &headers, length, body)
}

fn blob_error(status: &str, code: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code>\
         <Message>Injected for the test.</Message></Error>"
    );
    let headers = [
        ("x-ms-error-code", code),
        ("Content-Type", "application/xml"),
    ];
    response(status, &headers, body.len(), body.as_bytes())
}

/// A 503 asking the client to wait `ms` milliseconds.
fn busy(ms: u64) -> Vec<u8> {
    let mut answer = blob_error("503 Server Busy", "ServerBusy");
    let end_of_head = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let header = format!("\r\nx-ms-retry-after-ms: {ms}");
    answer.splice(end_of_head..end_of_head, header.into_bytes());
    answer
}

fn deadline_of_10_seconds() -> blob_rest::RetryPolicy {
    blob_rest::RetryPolicy {
        total_deadline: Duration::from_secs(10),
        ..fast_retry(8)
    }
}

/// Reads the stream to its end: the data, and the error that ended it if one did.
async fn drain(mut body: blob_rest::BlobStream) -> (Vec<u8>, Option<blob_rest::Error>) {
    let mut data = Vec::new();
    while let Some(item) = body.next().await {
        match item {
            Ok(chunk) => data.extend_from_slice(&chunk),
            Err(e) => {
                assert!(body.next().await.is_none(), "nothing follows an error");
                return (data, Some(e));
            }
        }
    }
    (data, None)
}

async fn get(
    server: &RawServer,
    options: ClientOptions,
    get: GetBlobOptions,
) -> blob_rest::BlobStream {
    get_blob(server, "cat.jpg", options, get).await
}

async fn get_blob(
    server: &RawServer,
    name: &str,
    options: ClientOptions,
    get: GetBlobOptions,
) -> blob_rest::BlobStream {
    logs();
    server
        .client(options)
        .container("photos")
        .blob(name)
        .get(get)
        .await
        .unwrap()
        .body
}

/// The tracing output of every test in this file. The subscriber is installed before the
/// first request of any test: installing it while other threads register the client's
/// callsites could leave them cached as disabled.
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        captured
    })
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_cut_whole_blob_download_is_resumed_with_range_and_if_match() {
    let server = RawServer::start(vec![whole_cut(b"01234"), partial(5, 5, b"56789")]).await;
    let clock = TestClock::new();
    let body = get(&server, options(&clock), GetBlobOptions::new()).await;
    assert_eq!(body.content_length(), Some(10));
    assert!(body.is_md5_checked());
    let (data, error) = drain(body).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(data, b"0123456789");

    let sent = server.requests();
    assert_eq!(sent.len(), 2);
    let first = &sent[0];
    assert_eq!(first.line, "GET /devstoreaccount1/photos/cat.jpg HTTP/1.1");
    assert_eq!(first.header("x-ms-range"), None);
    assert_eq!(first.header("if-match"), None);
    let resume = &sent[1];
    assert_eq!(resume.line, "GET /devstoreaccount1/photos/cat.jpg HTTP/1.1");
    assert_eq!(resume.header("x-ms-range"), Some("bytes=5-9"));
    assert_eq!(resume.header("if-match"), Some(ETAG));
    assert_eq!(resume.header("x-ms-client-request-id"), Some(REQUEST_ID));
    assert_eq!(resume.header("x-ms-date"), Some(DATE));
    assert_eq!(resume.header("x-ms-version"), Some("2024-11-04"));
    assert_eq!(resume.header("x-ms-range-get-content-md5"), None);
    assert_eq!(
        resume.header("authorization"),
        Some("SharedKey devstoreaccount1:MqMaVkGiO6Em9Xe4gQ5mOF9MxSjA5LBmjC6AbtVeH4I=")
    );
    // One backoff wait, within the policy's first ceiling (1 ms).
    let waits = clock.waits();
    assert_eq!(waits.len(), 1);
    assert!(waits[0] <= Duration::from_millis(1), "{waits:?}");
}

#[tokio::test]
async fn a_cut_range_read_is_resumed_and_checked_against_the_range_md5() {
    // Bytes 10..=15 of a 50-byte blob are "klmnop"; the first answer carries "klm".
    let range = |first: u64, last: u64| format!("bytes {first}-{last}/50");
    let first_range = range(10, 15);
    let first = response(
        "206 Partial Content",
        &[
            ("ETag", ETAG),
            ("Content-Range", &first_range),
            ("Content-MD5", MD5_KLMNOP),
        ],
        6,
        b"klm",
    );
    let rest_range = range(13, 15);
    let rest = response(
        "206 Partial Content",
        &[("ETag", ETAG), ("Content-Range", &rest_range)],
        3,
        b"nop",
    );
    let server = RawServer::start(vec![first, rest]).await;
    let clock = TestClock::new();
    let options_get = GetBlobOptions::new().range(10, 6).check_range_md5();
    let body = get(&server, options(&clock), options_get).await;
    assert!(body.is_md5_checked());
    let (data, error) = drain(body).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(data, b"klmnop");

    let sent = server.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].header("x-ms-range"), Some("bytes=10-15"));
    assert_eq!(sent[0].header("x-ms-range-get-content-md5"), Some("true"));
    assert_eq!(sent[1].header("x-ms-range"), Some("bytes=13-15"));
    assert_eq!(sent[1].header("if-match"), Some(ETAG));
    // The service computes a range MD5 only for the range asked; the stitched bytes are
    // checked against the first one, so the resume does not ask again.
    assert_eq!(sent[1].header("x-ms-range-get-content-md5"), None);
}

#[tokio::test]
async fn a_blob_changed_before_the_resume_ends_the_download_with_a_clear_error() {
    let answers = vec![
        whole_cut(b"01234"),
        blob_error("412 Precondition Failed", "ConditionNotMet"),
    ];
    let server = RawServer::start(answers).await;
    let clock = TestClock::new();
    let (data, error) = drain(get(&server, options(&clock), GetBlobOptions::new()).await).await;
    assert_eq!(data, b"01234");
    let error = error.expect("the download must fail");
    assert_eq!(error.kind(), ErrorKind::PreconditionFailed);
    assert_eq!(error.code(), Some("ConditionNotMet"));
    let text = error.to_string();
    assert!(
        text.starts_with("Get Blob photos/cat.jpg: HTTP 412"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "the blob changed during the download: it no longer has the ETag {ETAG}"
        )),
        "{text}"
    );
    assert!(text.contains("the 5 bytes received"), "{text}");
    // A 412 is not retried.
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn resumes_stop_when_the_attempts_are_used_up() {
    let answers = vec![whole_cut(b"01"), partial(2, 8, b"23"), partial(4, 6, b"45")];
    let server = RawServer::start(answers).await;
    let clock = TestClock::new();
    let options = options(&clock).retry(fast_retry(3));
    let (data, error) = drain(get(&server, options, GetBlobOptions::new()).await).await;
    assert_eq!(data, b"012345");
    let error = error.expect("the download must fail");
    assert_eq!(error.kind(), ErrorKind::Transport);
    let text = error.to_string();
    assert!(
        text.starts_with("Get Blob photos/cat.jpg: the download broke after 6 bytes"),
        "{text}"
    );
    assert!(text.ends_with("; gave up after 3 attempts"), "{text}");
    let sent = server.requests();
    let ranges: Vec<_> = sent.iter().map(|r| r.header("x-ms-range")).collect();
    assert_eq!(ranges, [None, Some("bytes=2-9"), Some("bytes=4-9")]);
    assert_eq!(clock.waits().len(), 2);
}

#[tokio::test]
async fn a_resume_gives_up_when_its_wait_would_pass_the_deadline() {
    let server = RawServer::start(vec![whole_cut(b"01234"), busy(20_000)]).await;
    let clock = TestClock::new();
    let options = options(&clock).retry(deadline_of_10_seconds());
    let (data, error) = drain(get(&server, options, GetBlobOptions::new()).await).await;
    assert_eq!(data, b"01234");
    let error = error.expect("the download must fail");
    assert_eq!(error.kind(), ErrorKind::ServerBusy);
    let text = error.to_string();
    assert!(
        text.contains("the download broke after 5 bytes and asking for the rest failed"),
        "{text}"
    );
    assert!(
        text.contains("waiting 20s more would pass the total retry deadline of 10s"),
        "{text}"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn the_deadline_of_a_resume_counts_from_the_break() {
    // 9 s of waiting before the first response, 5 s more after the break: past 10 s counted
    // from the first attempt, but well within them counted from the break.
    let answers = vec![
        busy(9_000),
        whole_cut(b"01234"),
        busy(5_000),
        partial(5, 5, b"56789"),
    ];
    let server = RawServer::start(answers).await;
    let clock = TestClock::new();
    let options = options(&clock).retry(deadline_of_10_seconds());
    let (data, error) = drain(get(&server, options, GetBlobOptions::new()).await).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(data, b"0123456789");
    let waits = clock.waits();
    assert_eq!(waits.len(), 3);
    assert_eq!(waits[0], Duration::from_secs(9));
    assert_eq!(waits[2], Duration::from_secs(5));
}

#[tokio::test]
async fn a_resume_request_meeting_a_503_is_retried_like_any_attempt() {
    let answers = vec![
        whole_cut(b"01234"),
        blob_error("503 Server Busy", "ServerBusy"),
        partial(5, 5, b"56789"),
    ];
    let server = RawServer::start(answers).await;
    let clock = TestClock::new();
    let (data, error) = drain(get(&server, options(&clock), GetBlobOptions::new()).await).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(data, b"0123456789");
    let sent = server.requests();
    let ranges: Vec<_> = sent.iter().map(|r| r.header("x-ms-range")).collect();
    assert_eq!(ranges, [None, Some("bytes=5-9"), Some("bytes=5-9")]);
    assert!(sent[1..].iter().all(|r| r.header("if-match") == Some(ETAG)));
    // Backoff before the resume (retry 1, up to 1 ms) and after the 503 (retry 2, up to 2 ms).
    let waits = clock.waits();
    assert_eq!(waits.len(), 2);
    assert!(waits[1] <= Duration::from_millis(2), "{waits:?}");
}

#[tokio::test]
async fn stitched_content_that_fails_the_stored_md5_is_an_integrity_error() {
    let answers = vec![whole_cut(b"01234"), partial(5, 5, b"X6789")];
    let server = RawServer::start(answers).await;
    let clock = TestClock::new();
    let (data, error) = drain(get(&server, options(&clock), GetBlobOptions::new()).await).await;
    assert_eq!(data, b"01234X6789");
    let error = error.expect("the download must fail");
    assert_eq!(error.kind(), ErrorKind::Integrity);
    let text = error.to_string();
    assert!(
        text.contains(MD5_DIGITS) && text.contains(MD5_CORRUPT),
        "{text}"
    );
    assert!(text.contains("the 10 bytes received"), "{text}");
}

#[tokio::test]
async fn a_resume_answered_with_the_whole_blob_is_not_stitched() {
    let whole = response("200 OK", &[("ETag", ETAG)], 10, b"0123456789");
    let server = RawServer::start(vec![whole_cut(b"01234"), whole]).await;
    let clock = TestClock::new();
    let (data, error) = drain(get(&server, options(&clock), GetBlobOptions::new()).await).await;
    assert_eq!(data, b"01234");
    let error = error.expect("the download must fail");
    assert_eq!(error.kind(), ErrorKind::Transport);
    assert!(
        error.to_string().contains(
            "the request for the rest from offset 5 was answered with HTTP 200 OK without a \
             Content-Range; not stitched together"
        ),
        "{error}"
    );
}

#[tokio::test]
async fn a_download_without_an_etag_is_not_resumed() {
    let cut = response("200 OK", &[], 10, b"01234");
    let server = RawServer::start(vec![cut]).await;
    let clock = TestClock::new();
    let (data, error) = drain(get(&server, options(&clock), GetBlobOptions::new()).await).await;
    assert_eq!(data, b"01234");
    let text = error.expect("the download must fail").to_string();
    assert!(text.contains("the download broke after 5 bytes"), "{text}");
    assert!(
        text.contains("not resumed: the response carried no ETag"),
        "{text}"
    );
    assert_eq!(server.requests().len(), 1);
    assert!(clock.waits().is_empty());
}

#[tokio::test]
async fn each_resume_is_logged_in_the_request_span() {
    let answers = vec![
        whole_cut(b"01234"),
        partial(5, 5, b"56"),
        partial(7, 3, b"789"),
    ];
    let server = RawServer::start(answers).await;
    let clock = TestClock::new();
    let body = get_blob(
        &server,
        "logged.bin",
        options(&clock),
        GetBlobOptions::new(),
    )
    .await;
    let (data, error) = drain(body).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(data, b"0123456789");

    let logs = String::from_utf8(logs().0.lock().unwrap().clone()).unwrap();
    let resumes: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("logged.bin") && l.contains("asking for the rest"))
        .collect();
    assert_eq!(resumes.len(), 2, "{logs}");
    assert!(resumes[0].contains("blob_request{"), "{}", resumes[0]);
    assert!(resumes[0].contains(&format!("client_request_id={REQUEST_ID}")));
    assert!(
        resumes[0].contains("attempt=2 offset=5 received=5"),
        "{}",
        resumes[0]
    );
    assert!(
        resumes[1].contains("attempt=3 offset=7 received=7"),
        "{}",
        resumes[1]
    );
}
