//! Responses that break the rules, on GET and HEAD: a truncated error body, an endless one, a
//! body that is not XML, header values that are not UTF-8, and a `Content-Length` that lies
//! (longer or shorter than the body, unreadable, given twice). Each gives a clear error or
//! the right data, never a panic, an unbounded read, or wrong bytes handed back as good.
//!
//! wiremock cannot send most of these, so a tiny raw HTTP server on 127.0.0.1 answers each
//! accepted connection with one scripted answer.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use blob_rest::{BlobServiceClient, Endpoint, ErrorKind, GetBlobOptions};
use common::{fast_retry, options, shared_key, TestClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// MD5 of "helloEXTRA", base64 (the answers below also carry those of "hello" and "world").
const MD5_HELLO_EXTRA: &str = "1KY8GAHDbzPVC5RVbSWAuA==";

/// The most an endless answer writes before giving up on the client ever stopping.
const ENDLESS_LIMIT: u64 = 256 * 1024 * 1024;

/// What the server does on one connection, after reading one request head.
enum Answer {
    /// Writes the bytes and closes the connection.
    Close(&'static [u8]),
    /// Writes the bytes and keeps the connection open until the client closes it or sends
    /// another request, which gets no answer: what is left of the bytes is all it sees.
    KeepOpen(&'static [u8]),
    /// Writes the head, then body bytes without end (chunked or not), until the client goes
    /// away or [`ENDLESS_LIMIT`] is reached.
    Endless { head: &'static [u8], chunked: bool },
}

struct RawServer {
    url: String,
    tasks: JoinHandle<Vec<JoinHandle<()>>>,
    /// Bytes of endless bodies written.
    written: Arc<AtomicU64>,
}

impl RawServer {
    async fn start(answers: Vec<Answer>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/devstoreaccount1", listener.local_addr().unwrap());
        let written = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&written);
        let tasks = tokio::spawn(async move {
            let mut handlers = Vec::new();
            for answer in answers {
                let (socket, _) = listener.accept().await.unwrap();
                handlers.push(tokio::spawn(serve(socket, answer, Arc::clone(&counter))));
            }
            handlers
        });
        Self {
            url,
            tasks,
            written,
        }
    }

    fn client(&self, attempts: u32) -> BlobServiceClient {
        let clock = TestClock::new();
        BlobServiceClient::new(
            Endpoint::parse(&self.url).unwrap(),
            shared_key(),
            options(&clock).retry(fast_retry(attempts)),
        )
        .unwrap()
    }

    /// Waits until every scripted connection was served and closed; the bytes of endless
    /// bodies written.
    async fn finished(self) -> u64 {
        for handler in self.tasks.await.unwrap() {
            handler.await.unwrap();
        }
        self.written.load(Ordering::SeqCst)
    }
}

async fn serve(mut socket: TcpStream, answer: Answer, written: Arc<AtomicU64>) {
    if !read_head(&mut socket).await {
        return;
    }
    match answer {
        Answer::Close(bytes) => {
            let _ = socket.write_all(bytes).await;
            let _ = socket.shutdown().await;
        }
        Answer::KeepOpen(bytes) => {
            let _ = socket.write_all(bytes).await;
            read_head(&mut socket).await;
        }
        Answer::Endless { head, chunked } => {
            let _ = socket.write_all(head).await;
            let chunk = vec![b'x'; 64 * 1024];
            while written.load(Ordering::SeqCst) < ENDLESS_LIMIT {
                let sent = if chunked {
                    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                    framed.extend_from_slice(&chunk);
                    framed.extend_from_slice(b"\r\n");
                    socket.write_all(&framed).await
                } else {
                    socket.write_all(&chunk).await
                };
                if sent.is_err() {
                    break;
                }
                written.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            }
        }
    }
}

/// Reads one request head (GET and HEAD have no body); false when the client closed first.
async fn read_head(socket: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut buffer = [0_u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
    true
}

async fn get(client: &BlobServiceClient) -> Result<bytes::Bytes, blob_rest::Error> {
    client
        .container("photos")
        .blob("cat.jpg")
        .get(GetBlobOptions::new())
        .await?
        .collect()
        .await
}

/// One line of text that names what happened, for every error these tests expect.
fn assert_readable(error: &blob_rest::Error) {
    let text = error.to_string();
    assert!(!text.contains('\n') && text.len() < 2000, "{text}");
    assert!(
        text.starts_with("Get Blob") || text.starts_with("Get Blob Properties"),
        "{text}"
    );
}

#[tokio::test]
async fn a_truncated_error_body_keeps_what_arrived() {
    let server = RawServer::start(vec![Answer::Close(
        b"HTTP/1.1 404 The specified blob does not exist.\r\nContent-Length: 300\r\n\r\n\
          <?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code>\
          <Message>The specified blob does not ex",
    )])
    .await;
    let error = get(&server.client(4)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.code(), Some("BlobNotFound"));
    assert_eq!(
        error.message(),
        None,
        "the cut-off message is not guessed at"
    );
    assert_readable(&error);
    server.finished().await;
}

#[tokio::test]
async fn an_endless_error_body_is_read_only_up_to_its_cap() {
    for chunked in [false, true] {
        let head: &'static [u8] = if chunked {
            b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
        } else {
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 1099511627776\r\n\r\n"
        };
        let server = RawServer::start(vec![Answer::Endless { head, chunked }]).await;
        let error = get(&server.client(1)).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ServerBusy);
        assert_eq!(error.status().map(|s| s.as_u16()), Some(500));
        assert!(
            error
                .to_string()
                .contains("not a storage error document: \"xxxxxxxx"),
            "{error}"
        );
        assert_readable(&error);
        // The client stopped reading and closed the connection: the server's writes failed
        // long before its limit (what it wrote beyond the client's 64 KiB sat in socket
        // buffers).
        let written = server.finished().await;
        assert!(written < 32 * 1024 * 1024, "{written} bytes were taken");
    }
}

#[tokio::test]
async fn bodies_that_are_not_xml_give_a_short_excerpt() {
    let utf16: Vec<u8> = "\u{feff}<Error><Code>X</Code></Error>"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let bodies: Vec<(Vec<u8>, &str)> = vec![
        (
            b"\x00\xff\xfe\x01 binary".to_vec(),
            "\u{fffd}\u{fffd}  binary",
        ),
        (b"<<<<>>>> not xml".to_vec(), "<<<<>>>> not xml"),
        (
            b"<Error><Code>X</Cod></Error>".to_vec(),
            "<Error><Code>X</Cod></Error>",
        ),
        (
            b"{\"error\": \"json\"}".to_vec(),
            "{\\\"error\\\": \\\"json\\\"}",
        ),
        (utf16, "\u{fffd}\u{fffd}< E r r o r >"),
        // Entities are never expanded: a "billion laughs" document stays small.
        (
            b"<!DOCTYPE Error [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;\">]>\
              <Error><Code>&b;&b;&b;</Code></Error>"
                .to_vec(),
            "<!DOCTYPE Error [<!ENTITY a",
        ),
    ];
    for (body, excerpt) in bodies {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(400).set_body_bytes(body.clone()))
            .mount(&server)
            .await;
        let clock = TestClock::new();
        let client = common::shared_key_client(&server, &clock);
        let error = get(&client).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.code().is_none_or(|c| c.len() < 64), "{error}");
        assert!(
            error.to_string().contains(excerpt),
            "{excerpt:?} in {error}"
        );
        assert_readable(&error);
    }
}

#[tokio::test]
async fn header_values_that_are_not_utf8_are_read_lossily() {
    // GET and HEAD refusals whose only code is in a header of raw bytes.
    let refusal: &'static [u8] = b"HTTP/1.1 404 Not Found\r\nx-ms-error-code: Blob\xffNotFound\r\n\
                                   x-ms-request-id: \xfe\xff-1\r\nContent-Length: 0\r\n\r\n";
    let server = RawServer::start(vec![Answer::Close(refusal), Answer::Close(refusal)]).await;
    let client = server.client(1);
    let error = get(&client).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.code(), Some("Blob\u{fffd}NotFound"));
    assert_eq!(error.request_id(), Some("\u{fffd}\u{fffd}-1"));
    assert_readable(&error);
    let error = client
        .container("photos")
        .blob("cat.jpg")
        .get_properties()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.code(), Some("Blob\u{fffd}NotFound"));
    server.finished().await;

    // A successful HEAD with raw bytes in the properties.
    let server = RawServer::start(vec![Answer::Close(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: image/\xe9\r\n\
          ETag: \"0x8D\xff\"\r\nLast-Modified: \xff\xff\r\nx-ms-meta-place: caf\xe9\r\n\
          x-ms-blob-type: BlockBlob\r\n\r\n",
    )])
    .await;
    let properties = server
        .client(1)
        .container("photos")
        .blob("cat.jpg")
        .get_properties()
        .await
        .unwrap();
    assert_eq!(properties.content_length, 5);
    assert_eq!(properties.content_type.as_deref(), Some("image/\u{fffd}"));
    assert_eq!(properties.etag.as_deref(), Some("\"0x8D\u{fffd}\""));
    assert_eq!(properties.last_modified, None);
    assert_eq!(
        properties.metadata.get("place").map(String::as_str),
        Some("caf\u{fffd}")
    );
    server.finished().await;

    // A Content-MD5 of raw bytes cannot vouch for the content: an integrity error.
    let server = RawServer::start(vec![Answer::Close(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-MD5: \xff\xfe==\r\n\r\nhello",
    )])
    .await;
    let error = get(&server.client(1)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Integrity);
    assert!(error.to_string().contains("not a base64 MD5"), "{error}");
    server.finished().await;
}

#[tokio::test]
async fn a_body_longer_than_its_content_length_is_never_taken_as_data() {
    // The bytes past the declared length are not part of this answer: the download is the
    // declared 5 bytes, checked against their MD5.
    let server = RawServer::start(vec![
        Answer::KeepOpen(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-MD5: XUFAKrxLKna5cZ2REBfFkg==\r\n\
              \r\nhelloEXTRA GARBAGE",
        ),
        Answer::Close(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-MD5: fXkwN6B2AYZXSwKC8vQ15w==\r\n\
              Connection: close\r\n\r\nworld",
        ),
    ])
    .await;
    let client = server.client(4);
    assert_eq!(&get(&client).await.unwrap()[..], b"hello");
    // The next request never reads the leftover bytes as its answer: the connection that
    // holds them is dropped (or fails to parse and the request is sent again on a new one).
    assert_eq!(&get(&client).await.unwrap()[..], b"world");
    server.finished().await;

    // The declared 5 bytes do not match the MD5 the server gave for all it sent.
    let server = RawServer::start(vec![Answer::Close(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-MD5: 1KY8GAHDbzPVC5RVbSWAuA==\r\n\
          Connection: close\r\n\r\nhelloEXTRA",
    )])
    .await;
    let error = get(&server.client(1)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Integrity);
    assert!(error.to_string().contains(MD5_HELLO_EXTRA), "{error}");
    server.finished().await;
}

#[tokio::test]
async fn a_head_answer_with_a_body_does_not_poison_the_next_request() {
    // HEAD answers carry the blob's length and no body; this one sends a body anyway.
    let server = RawServer::start(vec![
        Answer::KeepOpen(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"e1\"\r\n\r\nhello"),
        Answer::Close(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-MD5: fXkwN6B2AYZXSwKC8vQ15w==\r\n\
              Connection: close\r\n\r\nworld",
        ),
    ])
    .await;
    let client = server.client(4);
    let blob = client.container("photos").blob("cat.jpg");
    let properties = blob.get_properties().await.unwrap();
    assert_eq!(properties.content_length, 5);
    assert_eq!(properties.etag.as_deref(), Some("\"e1\""));
    assert_eq!(&get(&client).await.unwrap()[..], b"world");
    server.finished().await;

    // A HEAD refusal announcing a body it does not send does not hang.
    let server = RawServer::start(vec![Answer::Close(
        b"HTTP/1.1 404 Not Found\r\nx-ms-error-code: BlobNotFound\r\nContent-Length: 215\r\n\r\n",
    )])
    .await;
    let error = server
        .client(1)
        .container("photos")
        .blob("cat.jpg")
        .get_properties()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    server.finished().await;
}

#[tokio::test]
async fn content_lengths_that_cannot_be_read_are_errors() {
    for answer in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\nhello"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 10\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nhello",
    ] {
        let server = RawServer::start(vec![Answer::Close(answer), Answer::Close(answer)]).await;
        let client = server.client(1);
        let error = get(&client).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Transport, "{error}");
        assert!(
            error
                .to_string()
                .contains("the request failed before a response arrived"),
            "{error}"
        );
        assert_readable(&error);
        let error = client
            .container("photos")
            .blob("cat.jpg")
            .get_properties()
            .await
            .unwrap_err();
        // HTTP clients do not check a HEAD answer's Content-Length (there is no body to
        // frame); the client does, rather than report a size of 0.
        assert_eq!(error.kind(), ErrorKind::Other, "{error}");
        assert!(
            error
                .to_string()
                .contains("no single readable Content-Length"),
            "{error}"
        );
        server.finished().await;
    }
}

#[tokio::test]
async fn a_refusal_whose_body_is_shorter_than_declared_is_retried_then_reported() {
    // 503s cut short, all four attempts: the retries happen and the error is the last one's.
    let cut: &'static [u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 400\r\n\
                               x-ms-error-code: ServerBusy\r\nx-ms-retry-after-ms: 1\r\n\r\n\
                               <Error><Code>ServerBusy</Code><Mess";
    let server = RawServer::start((0..4).map(|_| Answer::Close(cut)).collect()).await;
    let error = get(&server.client(4)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ServerBusy);
    assert_eq!(error.code(), Some("ServerBusy"));
    assert!(error.to_string().contains("4 attempts"), "{error}");
    server.finished().await;
}
