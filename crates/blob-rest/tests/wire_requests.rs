//! The exact requests the client sends: path, query, headers (Authorization for a pinned
//! clock and request id) and body. Expected signatures were computed independently with
//! Python's hmac module from hand-written strings-to-sign.

mod common;

use blob_rest::{
    BearerToken, Credential, GetBlobOptions, PutBlobOptions, SasToken, StaticTokenProvider,
};
use common::{header, requests, shared_key_client, TestClock, DATE, REQUEST_ID};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn server_answering(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(status)
                .insert_header("etag", "\"0x8DD0000000000A1\"")
                .insert_header("last-modified", DATE)
                .insert_header("content-md5", "XUFAKrxLKna5cZ2REBfFkg==")
                .insert_header("x-ms-request-id", "req-1"),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn put_blob_sends_signed_headers_and_body() {
    let server = server_answering(201).await;
    let clock = TestClock::new();
    let service = shared_key_client(&server, &clock);
    let response = service
        .container("photos")
        .blob("my file.txt")
        .put(
            &b"hello"[..],
            PutBlobOptions::new().content_type("text/plain"),
        )
        .await
        .unwrap();
    assert_eq!(response.etag.as_deref(), Some("\"0x8DD0000000000A1\""));
    assert_eq!(response.request_id.as_deref(), Some("req-1"));
    assert_eq!(
        response.content_md5,
        Some(*b"\x5d\x41\x40\x2a\xbc\x4b\x2a\x76\xb9\x71\x9d\x91\x10\x17\xc5\x92")
    );

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(r.method.as_str(), "PUT");
    assert_eq!(r.url.path(), "/devstoreaccount1/photos/my%20file.txt");
    assert_eq!(r.url.query(), None);
    assert_eq!(header(r, "x-ms-blob-type"), Some("BlockBlob"));
    assert_eq!(header(r, "content-type"), Some("text/plain"));
    assert_eq!(header(r, "content-md5"), Some("XUFAKrxLKna5cZ2REBfFkg=="));
    assert_eq!(header(r, "content-length"), Some("5"));
    assert_eq!(header(r, "x-ms-date"), Some(DATE));
    assert_eq!(header(r, "x-ms-version"), Some("2024-11-04"));
    assert_eq!(header(r, "x-ms-client-request-id"), Some(REQUEST_ID));
    assert_eq!(
        header(r, "authorization"),
        Some("SharedKey devstoreaccount1:t/jz4U8Uo+suKNZAJouYjd/kZ71Ksg6jRoihzswkxT4=")
    );
    assert_eq!(r.body, b"hello");
}

#[tokio::test]
async fn put_blob_with_metadata_cache_control_and_encoded_name() {
    let server = server_answering(201).await;
    let clock = TestClock::new();
    let options = PutBlobOptions::new()
        .cache_control("max-age=60")
        .metadata("Z9", "w")
        .metadata("ab", "z")
        .metadata("a1", "y")
        .metadata("a_b", "x");
    shared_key_client(&server, &clock)
        .container("photos")
        .blob("dir/meta+data.txt")
        .put(b"hi".to_vec(), options)
        .await
        .unwrap();
    let sent = requests(&server).await;
    let r = &sent[0];
    assert_eq!(r.url.path(), "/devstoreaccount1/photos/dir/meta%2Bdata.txt");
    assert_eq!(header(r, "x-ms-blob-cache-control"), Some("max-age=60"));
    assert_eq!(header(r, "x-ms-meta-a_b"), Some("x"));
    assert_eq!(header(r, "x-ms-meta-z9"), Some("w"));
    assert_eq!(header(r, "content-md5"), Some("SfaKXIST7CwL9ImCHCH8Ow=="));
    assert_eq!(header(r, "content-type"), None);
    assert_eq!(
        header(r, "authorization"),
        Some("SharedKey devstoreaccount1:2mrFOVIRKRck+m3I6sZyZbTHL19QQHlnhiZfhDSa7xE=")
    );
    assert_eq!(r.body, b"hi");
}

#[tokio::test]
async fn create_only_put_sends_if_none_match() {
    let server = server_answering(201).await;
    let clock = TestClock::new();
    shared_key_client(&server, &clock)
        .container("photos")
        .blob("once.txt")
        .put(&b"hi"[..], PutBlobOptions::new().if_not_exists())
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(header(&sent[0], "if-none-match"), Some("*"));
    assert_eq!(
        header(&sent[0], "authorization"),
        Some("SharedKey devstoreaccount1:74nLeg2VU95eGabHaRdce5G5meHw+/M3QXkptA3PqOI=")
    );
}

#[tokio::test]
async fn get_range_with_md5_request() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(206)
                .insert_header("content-range", "bytes 0-4/100")
                .insert_header("content-md5", "XUFAKrxLKna5cZ2REBfFkg==")
                .set_body_bytes(&b"hello"[..]),
        )
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let response = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big.bin")
        .get(GetBlobOptions::new().range(0, 100).check_range_md5())
        .await
        .unwrap();
    assert_eq!(response.range, Some((0, 4)));
    assert_eq!(response.properties.content_length, 100);
    assert_eq!(&response.collect().await.unwrap()[..], b"hello");
    let sent = requests(&server).await;
    let r = &sent[0];
    assert_eq!(r.method.as_str(), "GET");
    assert_eq!(r.url.path(), "/devstoreaccount1/photos/big.bin");
    assert_eq!(header(r, "x-ms-range"), Some("bytes=0-99"));
    assert_eq!(header(r, "x-ms-range-get-content-md5"), Some("true"));
    assert_eq!(header(r, "range"), None);
    assert_eq!(header(r, "content-length"), None);
    assert_eq!(
        header(r, "authorization"),
        Some("SharedKey devstoreaccount1:oSX/EwwsO/nLrtq/sVWEbFG/ttuPw8kd0pnqRQi2+QI=")
    );
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn create_container_signs_an_empty_body() {
    let server = server_answering(201).await;
    let clock = TestClock::new();
    assert!(shared_key_client(&server, &clock)
        .container("photos")
        .create_if_not_exists()
        .await
        .unwrap());
    let sent = requests(&server).await;
    let r = &sent[0];
    assert_eq!(r.method.as_str(), "PUT");
    assert_eq!(r.url.path(), "/devstoreaccount1/photos");
    assert_eq!(r.url.query(), Some("restype=container"));
    assert_eq!(header(r, "content-length"), Some("0"));
    assert_eq!(
        header(r, "authorization"),
        Some("SharedKey devstoreaccount1:Q8vDF+7XAYObxn66YQCH9TdINHK8/JUgEwo/Nz+EVAY=")
    );
}

#[tokio::test]
async fn delete_and_head_requests() {
    let server = server_answering(202).await;
    let clock = TestClock::new();
    let service = shared_key_client(&server, &clock);
    service
        .container("photos")
        .blob("été #?.txt")
        .delete()
        .await
        .unwrap();
    service
        .container("photos")
        .blob("x.txt")
        .get_properties()
        .await
        .unwrap();
    service.container("photos").delete().await.unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent[0].method.as_str(), "DELETE");
    assert_eq!(
        sent[0].url.path(),
        "/devstoreaccount1/photos/%C3%A9t%C3%A9%20%23%3F.txt"
    );
    assert_eq!(
        header(&sent[0], "authorization"),
        Some("SharedKey devstoreaccount1:NTiQJl065b4Wr7YUrOP80ThxPUIg6Xx8ESPDWVYVHos=")
    );
    assert_eq!(sent[1].method.as_str(), "HEAD");
    assert_eq!(
        header(&sent[1], "authorization"),
        Some("SharedKey devstoreaccount1:9AKd5c5tJtoyGQsMCed0qphhQshH4fkm36qStJIowNU=")
    );
    assert_eq!(sent[2].method.as_str(), "DELETE");
    assert_eq!(sent[2].url.query(), Some("restype=container"));
}

#[tokio::test]
async fn awkward_names_are_encoded_exactly_once() {
    let server = server_answering(202).await;
    let clock = TestClock::new();
    let service = shared_key_client(&server, &clock);
    let cases = [
        ("a b", "a%20b"),
        ("a+b", "a%2Bb"),
        ("100%", "100%25"),
        ("%2F", "%252F"),
        ("#hash", "%23hash"),
        ("what?x=1&y=2", "what%3Fx%3D1%26y%3D2"),
        ("ÄÖÜ/日本", "%C3%84%C3%96%C3%9C/%E6%97%A5%E6%9C%AC"),
        ("dir/", "dir/"),
        ("a/b/c/d/e/f", "a/b/c/d/e/f"),
        ("semi;colon:at@", "semi%3Bcolon%3Aat%40"),
    ];
    for (name, _) in cases {
        service
            .container("photos")
            .blob(name)
            .delete()
            .await
            .unwrap();
    }
    let sent = requests(&server).await;
    for ((name, encoded), request) in cases.iter().zip(&sent) {
        assert_eq!(
            request.url.path(),
            format!("/devstoreaccount1/photos/{encoded}"),
            "{name}"
        );
        assert_eq!(request.url.query(), None, "{name}");
    }
}

#[tokio::test]
async fn bearer_and_sas_requests() {
    let server = server_answering(202).await;
    let clock = TestClock::new();
    let bearer = Credential::bearer(StaticTokenProvider::new(BearerToken::new(
        "eyJ0eXAi.token.value".to_owned(),
    )));
    let service = common::client(&server, bearer, common::options(&clock));
    service
        .container("photos")
        .blob("a b")
        .delete()
        .await
        .unwrap();

    let sas =
        SasToken::parse("?sv=2024-11-04&sr=b&sp=rd&se=2030-01-01T00:00:00Z&sig=ab+c/d=").unwrap();
    let service = common::client(&server, Credential::Sas(sas), common::options(&clock));
    service
        .container("photos")
        .blob("a b")
        .delete()
        .await
        .unwrap();

    let sent = requests(&server).await;
    assert_eq!(
        header(&sent[0], "authorization"),
        Some("Bearer eyJ0eXAi.token.value")
    );
    assert_eq!(header(&sent[0], "x-ms-version"), Some("2024-11-04"));
    assert_eq!(sent[0].url.query(), None);
    assert_eq!(header(&sent[1], "authorization"), None);
    assert_eq!(sent[1].url.path(), "/devstoreaccount1/photos/a%20b");
    assert_eq!(
        sent[1].url.query(),
        Some("sv=2024-11-04&sr=b&sp=rd&se=2030-01-01T00%3A00%3A00Z&sig=ab%2Bc%2Fd%3D")
    );
}

#[tokio::test]
async fn stream_body_is_sent_with_its_declared_length() {
    let server = server_answering(201).await;
    let clock = TestClock::new();
    let chunks = vec![
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"hel")),
        Ok(bytes::Bytes::from_static(b"lo")),
    ];
    shared_key_client(&server, &clock)
        .container("photos")
        .blob("streamed")
        .put(
            blob_rest::Body::stream(5, futures_util::stream::iter(chunks)),
            PutBlobOptions::new(),
        )
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent[0].body, b"hello");
    assert_eq!(header(&sent[0], "content-length"), Some("5"));
    // No MD5 for a stream unless the caller gives one.
    assert_eq!(header(&sent[0], "content-md5"), None);
}
