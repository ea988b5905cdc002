//! Downloads are checked against the MD5 the service reports; a mismatch is the last item of
//! the stream, an error naming both hashes, never data handed back as good.

mod common;

use blob_rest::{ErrorKind, GetBlobOptions};
use common::{requests, shared_key_client, TestClock};
use futures_util::StreamExt;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// MD5("hello") and MD5("hellp"), base64, computed with Python's hashlib.
const MD5_HELLO: &str = "XUFAKrxLKna5cZ2REBfFkg==";
const MD5_HELLP: &str = "yYMZBIPfFn0qOEFGPCqTQQ==";

async fn blob_server(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

async fn get(
    server: &MockServer,
    options: GetBlobOptions,
) -> Result<blob_rest::GetBlobResponse, blob_rest::Error> {
    let clock = TestClock::new();
    shared_key_client(server, &clock)
        .container("photos")
        .blob("cat.jpg")
        .get(options)
        .await
}

#[tokio::test]
async fn whole_blob_matching_its_md5_is_returned() {
    let server = blob_server(
        ResponseTemplate::new(200)
            .insert_header("content-md5", MD5_HELLO)
            .set_body_bytes(&b"hello"[..]),
    )
    .await;
    let response = get(&server, GetBlobOptions::new()).await.unwrap();
    assert!(response.body.is_md5_checked());
    assert_eq!(response.properties.content_md5.map(|m| m[0]), Some(0x5d));
    assert_eq!(&response.collect().await.unwrap()[..], b"hello");
}

#[tokio::test]
async fn corrupt_whole_blob_ends_the_stream_with_an_integrity_error() {
    let server = blob_server(
        ResponseTemplate::new(200)
            .insert_header("content-md5", MD5_HELLO)
            .set_body_bytes(&b"hellp"[..]),
    )
    .await;
    let mut body = get(&server, GetBlobOptions::new()).await.unwrap().body;
    let mut data = Vec::new();
    let mut last_error = None;
    while let Some(item) = body.next().await {
        match item {
            Ok(chunk) => {
                assert!(last_error.is_none(), "no data after the error");
                data.extend_from_slice(&chunk);
            }
            Err(e) => last_error = Some(e),
        }
    }
    assert_eq!(data, b"hellp");
    let err = last_error.expect("the stream must end with an error");
    assert_eq!(err.kind(), ErrorKind::Integrity);
    let text = err.to_string();
    assert!(
        text.contains(MD5_HELLO) && text.contains(MD5_HELLP),
        "{text}"
    );
    assert!(text.starts_with("Get Blob photos/cat.jpg: "), "{text}");

    let err = get(&server, GetBlobOptions::new())
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity);
}

#[tokio::test]
async fn blob_without_md5_is_returned_unchecked() {
    let server = blob_server(ResponseTemplate::new(200).set_body_bytes(&b"hello"[..])).await;
    let response = get(&server, GetBlobOptions::new()).await.unwrap();
    assert!(!response.body.is_md5_checked());
    assert_eq!(&response.collect().await.unwrap()[..], b"hello");
}

#[tokio::test]
async fn range_md5_is_checked_when_asked_for() {
    let range = || GetBlobOptions::new().range(10, 5).check_range_md5();
    let good = blob_server(
        ResponseTemplate::new(206)
            .insert_header("content-range", "bytes 10-14/50")
            .insert_header("content-md5", MD5_HELLO)
            .set_body_bytes(&b"hello"[..]),
    )
    .await;
    assert_eq!(
        &get(&good, range()).await.unwrap().collect().await.unwrap()[..],
        b"hello"
    );

    let corrupt = blob_server(
        ResponseTemplate::new(206)
            .insert_header("content-range", "bytes 10-14/50")
            .insert_header("content-md5", MD5_HELLO)
            .set_body_bytes(&b"hellp"[..]),
    )
    .await;
    let err = get(&corrupt, range())
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity);

    let missing = blob_server(
        ResponseTemplate::new(206)
            .insert_header("content-range", "bytes 10-14/50")
            .set_body_bytes(&b"hello"[..]),
    )
    .await;
    let err = get(&missing, range()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity);
    assert!(err.to_string().contains("sent no Content-MD5"), "{err}");
}

#[tokio::test]
async fn range_md5_needs_a_short_range_and_sends_nothing_otherwise() {
    let server = blob_server(ResponseTemplate::new(206)).await;
    for options in [
        GetBlobOptions::new().check_range_md5(),
        GetBlobOptions::new().range_from(5).check_range_md5(),
        GetBlobOptions::new()
            .range(0, 4 * 1024 * 1024 + 1)
            .check_range_md5(),
        GetBlobOptions::new().range(0, 0),
    ] {
        let err = get(&server, options).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn an_unreadable_md5_header_is_an_error() {
    let server = blob_server(
        ResponseTemplate::new(200)
            .insert_header("content-md5", "not-an-md5")
            .set_body_bytes(&b"hello"[..]),
    )
    .await;
    let err = get(&server, GetBlobOptions::new()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity);
    assert!(err.to_string().contains("not a base64 MD5"), "{err}");
}

/// Serves one raw HTTP response on 127.0.0.1 and closes the connection, for answers that
/// wiremock cannot produce (a body shorter than its Content-Length).
async fn raw_server(response: &'static [u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0_u8; 16 * 1024];
        let _ = socket.read(&mut request).await;
        socket.write_all(response).await.unwrap();
        socket.shutdown().await.unwrap();
    });
    format!("http://{address}/devstoreaccount1")
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_a_transport_error() {
    let url =
        raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello")
            .await;
    let clock = TestClock::new();
    let service = blob_rest::BlobServiceClient::new(
        blob_rest::Endpoint::parse(&url).unwrap(),
        common::shared_key(),
        common::options(&clock),
    )
    .unwrap();
    let response = service
        .container("photos")
        .blob("cat.jpg")
        .get(GetBlobOptions::new())
        .await
        .unwrap();
    assert_eq!(response.body.content_length(), Some(10));
    let err = response.collect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(
        err.to_string().contains("the download broke after 5 bytes"),
        "{err}"
    );
}
