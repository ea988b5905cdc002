//! Large transfers on the wire: the exact Put Block and Put Block List requests (ids, XML,
//! MD5 headers, signatures), per-block retries, the single Put Blob below the threshold, and
//! parallel range downloads with `If-Match`, resumes and MD5 checks. Expected signatures were
//! computed independently with Python's hmac module from hand-written strings-to-sign.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use blob_rest::{BlockId, DownloadOptions, ErrorKind, PutBlobOptions, UploadOptions};
use common::{header, requests, server_accepting_puts, shared_key_client, TestClock};
use md5::{Digest as _, Md5};
use wiremock::matchers::{body_bytes, method, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PATH: &str = "/devstoreaccount1/photos/big%20file.bin";

fn md5_b64(bytes: &[u8]) -> String {
    STANDARD.encode(Md5::digest(bytes))
}

fn query(request: &Request) -> &str {
    request.url.query().unwrap_or_default()
}

/// The block id of a Put Block request, decoded from its query.
fn block_id(request: &Request) -> String {
    request
        .url
        .query_pairs()
        .find(|(name, _)| name == "blockid")
        .map(|(_, value)| value.into_owned())
        .expect("a Put Block request names its block")
}

#[tokio::test]
async fn put_block_and_put_block_list_are_signed_as_the_reference_says() {
    let server = server_accepting_puts().await;
    let clock = TestClock::new();
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let id = BlockId::numbered([7; 8], 42);
    blob.put_block(&id, bytes::Bytes::from_static(b"abcd"))
        .await
        .unwrap();
    let options = PutBlobOptions::new()
        .content_type("application/octet-stream")
        .metadata("a_b", "x")
        .content_md5(Md5::digest(b"abcd").into())
        .if_not_exists();
    let committed = blob.put_block_list(&[id], options).await.unwrap();
    assert_eq!(committed.etag.as_deref(), Some("\"0x1\""));
    assert_eq!(committed.content_md5, Some(Md5::digest(b"abcd").into()));

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    let block = &sent[0];
    assert_eq!(block.url.path(), PATH);
    assert_eq!(query(block), "comp=block&blockid=BwcHBwcHBwcAAAAq");
    assert_eq!(
        header(block, "content-md5"),
        Some("4vxxTEcn7pOV8yTNLn8zHw==")
    );
    assert_eq!(header(block, "content-length"), Some("4"));
    assert_eq!(header(block, "x-ms-blob-type"), None);
    assert_eq!(
        header(block, "authorization"),
        Some("SharedKey devstoreaccount1:hNeE0EY7ETuTKhRBeDxZJEwJSB1PwsIKhw05FDbYAeU=")
    );
    assert_eq!(block.body, b"abcd");

    let list = &sent[1];
    assert_eq!(list.url.path(), PATH);
    assert_eq!(query(list), "comp=blocklist");
    assert_eq!(
        String::from_utf8(list.body.clone()).unwrap(),
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>BwcHBwcHBwcAAAAq</Latest>\
         </BlockList>"
    );
    assert_eq!(
        header(list, "content-md5"),
        Some("UvVf2yNmeel47qDrTFO/bQ==")
    );
    assert_eq!(
        header(list, "x-ms-blob-content-md5"),
        Some("4vxxTEcn7pOV8yTNLn8zHw==")
    );
    assert_eq!(
        header(list, "x-ms-blob-content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(header(list, "content-type"), None);
    assert_eq!(header(list, "x-ms-meta-a_b"), Some("x"));
    assert_eq!(header(list, "if-none-match"), Some("*"));
    assert_eq!(
        header(list, "authorization"),
        Some("SharedKey devstoreaccount1:HQJyCEykCbvW1/a7QqkVKWyZFjwXcQll3ArTDcztH34=")
    );
}

#[tokio::test]
async fn an_upload_above_the_threshold_is_staged_in_blocks_and_committed_in_order() {
    let server = server_accepting_puts().await;
    let clock = TestClock::new();
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let content = b"abcdefghij";
    let reported = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&reported);
    let upload = UploadOptions::new()
        .block_size(4)
        .single_put_threshold(4)
        .max_in_flight(2)
        .progress(move |n| seen.lock().unwrap().push(n));
    let options = PutBlobOptions::new()
        .content_type("video/mp4")
        .cache_control("max-age=60");
    let committed = blob
        .upload_reader(&content[..], &upload, options)
        .await
        .unwrap();
    assert_eq!(committed.content_md5, Some(Md5::digest(content).into()));

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 4, "three blocks and the list");
    let (blocks, list) = sent.split_at(3);
    let mut staged = Vec::new();
    for block in blocks {
        assert_eq!(block.url.path(), PATH);
        assert!(
            query(block).starts_with("comp=block&blockid="),
            "{}",
            query(block)
        );
        assert_eq!(
            header(block, "content-md5"),
            Some(md5_b64(&block.body).as_str())
        );
        let id = block_id(block);
        assert_eq!(id.len(), 16, "{id}");
        let raw = STANDARD.decode(&id).unwrap();
        let index = u32::from_be_bytes(raw[8..].try_into().unwrap());
        staged.push((index, raw[..8].to_vec(), id, block.body.clone()));
    }
    staged.sort();
    let bodies: Vec<&[u8]> = staged.iter().map(|s| s.3.as_slice()).collect();
    assert_eq!(bodies, [&b"abcd"[..], b"efgh", b"ij"]);
    assert_eq!(staged.iter().map(|s| s.0).collect::<Vec<_>>(), [0, 1, 2]);
    let uploads: BTreeSet<_> = staged.iter().map(|s| s.1.clone()).collect();
    assert_eq!(uploads.len(), 1, "one upload id for all blocks");

    let list = &list[0];
    assert_eq!(query(list), "comp=blocklist");
    let expected_xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>{}</Latest>\
         <Latest>{}</Latest><Latest>{}</Latest></BlockList>",
        staged[0].2, staged[1].2, staged[2].2
    );
    assert_eq!(String::from_utf8(list.body.clone()).unwrap(), expected_xml);
    assert_eq!(
        header(list, "content-md5"),
        Some(md5_b64(expected_xml.as_bytes()).as_str())
    );
    assert_eq!(
        header(list, "x-ms-blob-content-md5"),
        Some(md5_b64(content).as_str())
    );
    assert_eq!(header(list, "x-ms-blob-content-type"), Some("video/mp4"));
    assert_eq!(header(list, "x-ms-blob-cache-control"), Some("max-age=60"));
    assert_eq!(header(list, "if-none-match"), None);

    let mut reported = reported.lock().unwrap().clone();
    reported.sort_unstable();
    assert_eq!(reported.last(), Some(&10));
    assert_eq!(reported.len(), 3);
}

/// Blocks of a few MiB are hashed off the runtime's workers, the whole blob's hash one block
/// behind the reader: every block must still carry its own MD5, and the list the MD5 of all
/// blocks in their order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_hashed_on_the_blocking_pool_keep_their_own_and_the_whole_md5() {
    let server = server_accepting_puts().await;
    let clock = TestClock::new();
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    // Five blocks of 1 MiB and a short sixth, each different, so an out-of-order hash of
    // the whole blob would not match.
    let block: u64 = 1024 * 1024;
    let content: Vec<u8> = (0..5 * block + 1234)
        .map(|i| u8::try_from((i * 7 + i / block) % 251).unwrap())
        .collect();
    let upload = UploadOptions::new()
        .block_size(block)
        .single_put_threshold(block)
        .max_in_flight(3);
    let committed = blob
        .upload_reader(&content[..], &upload, PutBlobOptions::new())
        .await
        .unwrap();
    assert_eq!(committed.content_md5, Some(Md5::digest(&content).into()));

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 7, "six blocks and the list");
    let (blocks, list) = sent.split_at(6);
    let mut staged: Vec<(u32, Vec<u8>)> = blocks
        .iter()
        .map(|request| {
            assert_eq!(
                header(request, "content-md5"),
                Some(md5_b64(&request.body).as_str()),
                "block {}",
                block_id(request)
            );
            let raw = STANDARD.decode(block_id(request)).unwrap();
            let index = u32::from_be_bytes(raw[8..].try_into().unwrap());
            (index, request.body.clone())
        })
        .collect();
    staged.sort();
    let joined: Vec<u8> = staged.into_iter().flat_map(|(_, body)| body).collect();
    assert_eq!(joined, content);
    assert_eq!(
        header(&list[0], "x-ms-blob-content-md5"),
        Some(md5_b64(&content).as_str())
    );
}

#[tokio::test]
async fn a_block_refused_with_503_is_sent_again_alone() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(query_param("comp", "block"))
        .and(body_bytes(&b"efgh"[..]))
        .respond_with(ResponseTemplate::new(503).insert_header("x-ms-error-code", "ServerBusy"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201))
        .with_priority(2)
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let upload = UploadOptions::new()
        .block_size(4)
        .single_put_threshold(4)
        .max_in_flight(1);
    blob.upload_reader(&b"abcdefghij"[..], &upload, PutBlobOptions::new())
        .await
        .unwrap();

    let sent = requests(&server).await;
    let bodies: Vec<&[u8]> = sent.iter().map(|r| r.body.as_slice()).collect();
    assert_eq!(bodies[..4], [&b"abcd"[..], b"efgh", b"efgh", b"ij"]);
    assert_eq!(
        block_id(&sent[1]),
        block_id(&sent[2]),
        "the retry stages the same block"
    );
    assert_eq!(query(&sent[4]), "comp=blocklist");
    assert_eq!(sent.len(), 5);
    assert_eq!(clock.waits().len(), 1, "one backoff before the retry");
}

#[tokio::test]
async fn a_block_that_keeps_failing_fails_the_upload_without_commit() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(query_param("comp", "block"))
        .and(body_bytes(&b"efgh"[..]))
        .respond_with(ResponseTemplate::new(400).insert_header("x-ms-error-code", "InvalidBlockId"))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201))
        .with_priority(2)
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let upload = UploadOptions::new()
        .block_size(4)
        .single_put_threshold(4)
        .max_in_flight(1);
    let error = blob
        .upload_reader(&b"abcdefghij"[..], &upload, PutBlobOptions::new())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert_eq!(error.code(), Some("InvalidBlockId"));
    assert!(
        error
            .to_string()
            .starts_with("Put Block photos/big file.bin: HTTP 400"),
        "{error}"
    );
    let sent = requests(&server).await;
    assert!(
        sent.iter().all(|r| query(r) != "comp=blocklist"),
        "nothing committed"
    );
}

#[tokio::test]
async fn content_up_to_the_threshold_goes_in_one_put_blob() {
    let server = server_accepting_puts().await;
    let clock = TestClock::new();
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let upload = UploadOptions::new().block_size(4).single_put_threshold(10);
    let stream = futures_util::stream::iter(vec![
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"abcde")),
        Ok(bytes::Bytes::from_static(b"fghij")),
    ]);
    blob.upload_stream(stream, &upload, PutBlobOptions::new())
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(query(&sent[0]), "");
    assert_eq!(header(&sent[0], "x-ms-blob-type"), Some("BlockBlob"));
    assert_eq!(
        header(&sent[0], "content-md5"),
        Some(md5_b64(b"abcdefghij").as_str())
    );
    assert_eq!(sent[0].body, b"abcdefghij");
}

#[tokio::test]
async fn a_file_is_uploaded_in_blocks_read_from_disk() {
    let server = server_accepting_puts().await;
    let clock = TestClock::new();
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let dir = std::env::temp_dir().join(format!("wire-blocks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("upload.bin");
    let content: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let upload = UploadOptions::new()
        .block_size(300)
        .single_put_threshold(100)
        .max_in_flight(3);
    blob.upload_file(&path, &upload, PutBlobOptions::new())
        .await
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let sent = requests(&server).await;
    let mut blocks: Vec<_> = sent
        .iter()
        .filter(|r| query(r).starts_with("comp=block&"))
        .map(|r| (block_id(r), r.body.clone()))
        .collect();
    blocks.sort();
    let sizes: Vec<usize> = blocks.iter().map(|b| b.1.len()).collect();
    assert_eq!(sizes, [300, 300, 300, 100]);
    let joined: Vec<u8> = blocks.into_iter().flat_map(|b| b.1).collect();
    assert_eq!(joined, content);
}

#[test]
fn block_size_grows_for_files_that_need_more_than_50000_blocks() {
    let options = UploadOptions::new().block_size(8 * 1024 * 1024);
    let mib = 1024 * 1024;
    assert_eq!(
        options.effective_block_size(Some(100 * 1024 * mib)),
        8 * mib
    );
    assert_eq!(options.effective_block_size(None), 8 * mib);
    // 500 GiB / 50,000 = 10.24 MiB, rounded up to whole MiB.
    assert_eq!(
        options.effective_block_size(Some(500 * 1024 * mib)),
        11 * mib
    );
}

/// Serves `content` as a blob: ranges from `x-ms-range`, `If-Match` checked against `etag`.
struct RangeServer {
    content: Vec<u8>,
    etag: &'static str,
    stored_md5: Option<String>,
}

impl Respond for RangeServer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if let Some(wanted) = header(request, "if-match") {
            if wanted != self.etag {
                return ResponseTemplate::new(412)
                    .insert_header("x-ms-error-code", "ConditionNotMet");
            }
        }
        let total = self.content.len();
        let Some(range) = header(request, "x-ms-range") else {
            let mut template = ResponseTemplate::new(200);
            if let Some(md5) = &self.stored_md5 {
                template = template.insert_header("content-md5", md5.as_str());
            }
            return template
                .insert_header("etag", self.etag)
                .set_body_bytes(self.content.clone());
        };
        let (first, last) = range
            .strip_prefix("bytes=")
            .unwrap()
            .split_once('-')
            .unwrap();
        let first: usize = first.parse().unwrap();
        if first >= total {
            return ResponseTemplate::new(416).insert_header("x-ms-error-code", "InvalidRange");
        }
        let last = last
            .parse::<usize>()
            .map_or(total - 1, |l| l.min(total - 1));
        let mut template = ResponseTemplate::new(206).insert_header(
            "content-range",
            format!("bytes {first}-{last}/{total}").as_str(),
        );
        if let Some(md5) = &self.stored_md5 {
            template = template.insert_header("x-ms-blob-content-md5", md5.as_str());
        }
        let body = self.content[first..=last].to_vec();
        template
            .insert_header("etag", self.etag)
            .set_body_bytes(body)
    }
}

async fn range_server(content: &[u8], stored_md5: Option<String>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .respond_with(RangeServer {
            content: content.to_vec(),
            etag: "\"0xE1\"",
            stored_md5: stored_md5.clone(),
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(RangeServer {
            content: content.to_vec(),
            etag: "\"0xE1\"",
            stored_md5,
        })
        .mount(&server)
        .await;
    server
}

fn content(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i * 7 % 256).unwrap())
        .collect()
}

#[tokio::test]
async fn parallel_download_reads_ranges_with_if_match_and_writes_them_in_order() {
    let data = content(1000);
    let server = range_server(&data, Some(md5_b64(&data))).await;
    let clock = TestClock::new();
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let mut out = Vec::new();
    let options = DownloadOptions::new().chunk_size(300).max_in_flight(3);
    let done = blob.download_to(&mut out, &options).await.unwrap();
    assert_eq!(out, data);
    assert_eq!(done.bytes_written, 1000);
    assert!(done.md5_checked);
    assert_eq!(done.properties.content_length, 1000);

    let sent = requests(&server).await;
    let mut ranges: Vec<(String, Option<&str>)> = sent
        .iter()
        .map(|r| {
            (
                header(r, "x-ms-range").unwrap().to_owned(),
                header(r, "if-match"),
            )
        })
        .collect();
    assert_eq!(ranges[0], ("bytes=0-299".to_owned(), None));
    ranges.sort();
    assert_eq!(
        ranges,
        [
            ("bytes=0-299".to_owned(), None),
            ("bytes=300-599".to_owned(), Some("\"0xE1\"")),
            ("bytes=600-899".to_owned(), Some("\"0xE1\"")),
            ("bytes=900-999".to_owned(), Some("\"0xE1\"")),
        ]
    );
}

#[tokio::test]
async fn parallel_download_fails_when_content_does_not_match_the_stored_md5() {
    let data = content(1000);
    let server = range_server(&data, Some(md5_b64(b"something else"))).await;
    let clock = TestClock::new();
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let mut out = Vec::new();
    let options = DownloadOptions::new().chunk_size(300).max_in_flight(2);
    let error = blob.download_to(&mut out, &options).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Integrity);
    let expected = hex::encode(Md5::digest(&data));
    assert!(error.to_string().contains(&expected), "{error}");
}

#[tokio::test]
async fn a_blob_changed_during_a_parallel_download_fails_it() {
    let data = content(1000);
    let server = range_server(&data, None).await;
    let clock = TestClock::new();
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let mut out = Vec::new();
    let options = DownloadOptions::new().chunk_size(300).if_match("\"0xOLD\"");
    let error = blob.download_to(&mut out, &options).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PreconditionFailed);
    assert!(out.is_empty());
}

#[tokio::test]
async fn a_file_download_resumes_at_an_offset_and_checks_the_whole_file() {
    let data = content(1000);
    let server = range_server(&data, Some(md5_b64(&data))).await;
    let clock = TestClock::new();
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let dir = std::env::temp_dir().join(format!("wire-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("download.bin");
    // 450 good bytes and some garbage a crashed earlier run left past them.
    let mut partial = data[..450].to_vec();
    partial.extend_from_slice(b"garbage");
    std::fs::write(&path, &partial).unwrap();

    for in_flight in [1, 3] {
        std::fs::write(&path, &partial).unwrap();
        let options = DownloadOptions::new()
            .offset(450)
            .chunk_size(300)
            .max_in_flight(in_flight);
        let done = blob.download_to_file(&path, &options).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data, "{in_flight} in flight");
        assert_eq!(done.bytes_written, 550);
        assert!(done.md5_checked);
    }

    // A prefix that is not the blob's is caught by the MD5 over the whole file.
    let mut wrong = data[..450].to_vec();
    wrong[0] ^= 1;
    std::fs::write(&path, &wrong).unwrap();
    let options = DownloadOptions::new().offset(450).chunk_size(300);
    let error = blob.download_to_file(&path, &options).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Integrity);

    // Resuming a finished download has nothing left to read.
    std::fs::write(&path, &data).unwrap();
    let options = DownloadOptions::new().offset(1000);
    let done = blob.download_to_file(&path, &options).await.unwrap();
    assert_eq!(done.bytes_written, 0);
    assert_eq!(std::fs::read(&path).unwrap(), data);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_empty_blob_downloads_as_nothing() {
    let server = range_server(b"", None).await;
    let clock = TestClock::new();
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let mut out = Vec::new();
    let done = blob
        .download_to(&mut out, &DownloadOptions::new())
        .await
        .unwrap();
    assert_eq!(done.bytes_written, 0);
    assert!(out.is_empty());
}

/// Answers every read with the whole blob (200, no `Content-Range`), as a server that
/// ignores `x-ms-range` does, with `Content-MD5` when given.
async fn server_ignoring_ranges(content: &[u8], content_md5: Option<String>) -> MockServer {
    let server = MockServer::start().await;
    let mut template = ResponseTemplate::new(200)
        .insert_header("etag", "\"0xE1\"")
        .set_body_bytes(content.to_vec());
    if let Some(md5) = content_md5 {
        template = template.insert_header("content-md5", md5.as_str());
    }
    Mock::given(method("GET"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_whole_blob_answered_to_a_range_read_is_streamed_and_checked_against_its_md5() {
    let data = content(1000);
    let options = DownloadOptions::new().chunk_size(300).max_in_flight(3);
    let clock = TestClock::new();

    // The stored MD5 matches: checked, and said so.
    let server = server_ignoring_ranges(&data, Some(md5_b64(&data))).await;
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let mut out = Vec::new();
    let done = blob.download_to(&mut out, &options).await.unwrap();
    assert_eq!(out, data);
    assert_eq!(done.bytes_written, 1000);
    assert_eq!(done.properties.content_length, 1000);
    assert!(done.md5_checked);
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(header(&sent[0], "x-ms-range"), Some("bytes=0-299"));

    // No stored MD5: nothing was checked, and the answer says so.
    let server = server_ignoring_ranges(&data, None).await;
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let mut out = Vec::new();
    let done = blob.download_to(&mut out, &options).await.unwrap();
    assert_eq!(out, data);
    assert_eq!(done.bytes_written, 1000);
    assert!(!done.md5_checked);

    // A stored MD5 the content does not match: an Integrity error naming both.
    let stored = Md5::digest(b"something else");
    let server = server_ignoring_ranges(&data, Some(STANDARD.encode(stored))).await;
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let mut out = Vec::new();
    let error = blob.download_to(&mut out, &options).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Integrity);
    assert_eq!(
        error.to_string(),
        format!(
            "Download photos/big file.bin: the downloaded content has MD5 {} but the blob's \
             stored MD5 is {}: the content is damaged or the blob changed; download it again \
             from the start",
            hex::encode(Md5::digest(&data)),
            hex::encode(stored)
        )
    );

    // Resuming at an offset, the whole blob cannot continue the file: a clear error.
    let server = server_ignoring_ranges(&data, Some(md5_b64(&data))).await;
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let dir = std::env::temp_dir().join(format!("wire-ignored-range-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("download.bin");
    std::fs::write(&path, &data[..450]).unwrap();
    for in_flight in [1, 3] {
        let options = DownloadOptions::new()
            .offset(450)
            .chunk_size(300)
            .max_in_flight(in_flight);
        let error = blob.download_to_file(&path, &options).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Other);
        assert_eq!(
            error.to_string(),
            "Download photos/big file.bin: the read from byte 450 was answered with the whole \
             blob (no Content-Range), which cannot continue the bytes already there"
        );
        assert_eq!(std::fs::read(&path).unwrap(), &data[..450]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Answers every read with status 206, this `Content-Range` and `body_len` bytes.
async fn server_with_range(
    status: u16,
    content_range: Option<&str>,
    body_len: usize,
) -> MockServer {
    let server = MockServer::start().await;
    let mut template = ResponseTemplate::new(status)
        .insert_header("etag", "\"0xE1\"")
        .set_body_bytes(content(body_len));
    if let Some(range) = content_range {
        template = template.insert_header("content-range", range);
    }
    Mock::given(method("GET"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn content_ranges_that_do_not_fit_the_request_fail_the_download() {
    const NOT_A_RANGE: &str = "the service sent a Content-Range that is not a byte range within \
                               the blob (\"bytes first-last/total\" with first <= last < total)";
    let cases: [(u16, Option<&str>, usize, String); 7] = [
        (
            206,
            Some("bytes 0-299/100"),
            300,
            format!("{NOT_A_RANGE}: \"bytes 0-299/100\"; is something other than the Blob service answering?"),
        ),
        (
            206,
            Some("bytes 299-0/1000"),
            300,
            format!("{NOT_A_RANGE}: \"bytes 299-0/1000\"; is something other than the Blob service answering?"),
        ),
        (
            206,
            Some("bytes 0-18446744073709551615/18446744073709551615"),
            300,
            format!(
                "{NOT_A_RANGE}: \"bytes 0-18446744073709551615/18446744073709551615\"; is \
                 something other than the Blob service answering?"
            ),
        ),
        (
            206,
            Some("bytes 300-599/1000"),
            300,
            "the service answered with bytes 300-599 of the blob, which is not the range asked \
             for (from byte 0, 300 bytes); not using them"
                .to_owned(),
        ),
        (
            206,
            Some("bytes 0-399/1000"),
            400,
            "the service answered with bytes 0-399 of the blob, which is not the range asked \
             for (from byte 0, 300 bytes); not using them"
                .to_owned(),
        ),
        (
            206,
            Some("bytes 0-299/1000"),
            100,
            "the service answered with bytes 0-299 of the blob (300 bytes) but a Content-Length \
             of 100; not using them"
                .to_owned(),
        ),
        (
            206,
            None,
            300,
            "the service answered 206 Partial Content without a Content-Range, so where the \
             bytes sit in the blob is unknown"
                .to_owned(),
        ),
    ];
    let clock = TestClock::new();
    for (status, range, body_len, message) in cases {
        let server = server_with_range(status, range, body_len).await;
        let blob = shared_key_client(&server, &clock)
            .container("photos")
            .blob("big file.bin");
        let mut out = Vec::new();
        let options = DownloadOptions::new().chunk_size(300).max_in_flight(2);
        let error = blob.download_to(&mut out, &options).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Other, "{range:?}");
        assert_eq!(
            error.to_string(),
            format!("Get Blob photos/big file.bin: {message}")
        );
        assert!(out.is_empty(), "{range:?}");
    }
}

/// Serves the blob's first 300 bytes whatever range is asked for.
struct AlwaysTheFirstChunk(Vec<u8>);

impl Respond for AlwaysTheFirstChunk {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        ResponseTemplate::new(206)
            .insert_header("etag", "\"0xE1\"")
            .insert_header(
                "content-range",
                format!("bytes 0-299/{}", self.0.len()).as_str(),
            )
            .set_body_bytes(self.0[..300].to_vec())
    }
}

#[tokio::test]
async fn a_range_read_answered_with_other_bytes_fails_the_download() {
    let data = content(1000);
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(AlwaysTheFirstChunk(data.clone()))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let mut out = Vec::new();
    let options = DownloadOptions::new().chunk_size(300).max_in_flight(2);
    let error = blob.download_to(&mut out, &options).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Other);
    assert_eq!(
        error.to_string(),
        "Get Blob photos/big file.bin: the service answered with bytes 0-299 of the blob, which \
         is not the range asked for (from byte 300, 300 bytes); not using them"
    );
    assert!(out.len() <= 300);
}
