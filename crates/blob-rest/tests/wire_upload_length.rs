//! Uploads whose content is not the length it was declared with: a file that grows or shrinks
//! while it is read, a `/proc` file whose size says 0, a caller's reader or stream that ends
//! early or runs long. Each fails with a clear error before anything is committed: no Put
//! Blob of the wrong size, no Put Block List.

mod common;

use std::path::{Path, PathBuf};

use blob_rest::{ErrorKind, PutBlobOptions, UploadOptions};
use bytes::Bytes;
use common::{requests, server_accepting_puts, shared_key_client, TestClock};
use md5::{Digest as _, Md5};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn content(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i * 7 % 251).unwrap())
        .collect()
}

/// Blocks of 300 bytes, one at a time, one Put Blob only up to 300 bytes.
fn in_blocks() -> UploadOptions {
    UploadOptions::new()
        .block_size(300)
        .single_put_threshold(300)
        .max_in_flight(1)
}

/// The query of each request received, in order (`""` for a Put Blob).
async fn queries(server: &MockServer) -> Vec<String> {
    requests(server)
        .await
        .iter()
        .map(|r| {
            r.url
                .query()
                .unwrap_or_default()
                .split('&')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// Accepts every PUT; on the first, sets the length of the file at `path` to `new_len`
/// (cutting it, or appending bytes), as another process writing the file would.
struct ResizeOnFirstPut {
    path: PathBuf,
    new_len: u64,
    done: std::sync::atomic::AtomicBool,
}

impl Respond for ResizeOnFirstPut {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        if !self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&self.path)
                .unwrap();
            file.set_len(self.new_len).unwrap();
        }
        ResponseTemplate::new(201).insert_header("etag", "\"0x1\"")
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn changed_size(path: &Path, found: &str) -> String {
    format!(
        "Upload photos/big file.bin: cannot upload {}: the file changed size while it was \
         uploaded: expected 1000 bytes (its size when the upload started), but it {found}; \
         nothing was committed",
        path.display()
    )
}

#[tokio::test]
async fn a_file_that_changes_size_during_the_upload_is_not_committed() {
    let dir = temp_dir("wire-upload-resized");
    let path = dir.join("upload.bin");
    for (new_len, found) in [
        (500, "ended after 500 bytes"),
        (1100, "holds more than that"),
    ] {
        std::fs::write(&path, content(1000)).unwrap();
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResizeOnFirstPut {
                path: path.clone(),
                new_len,
                done: false.into(),
            })
            .mount(&server)
            .await;
        let clock = TestClock::new();
        let blob = shared_key_client(&server, &clock)
            .container("photos")
            .blob("big file.bin");
        let error = blob
            .upload_file(&path, &in_blocks(), PutBlobOptions::new())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Io, "{new_len}");
        assert_eq!(error.to_string(), changed_size(&path, found));
        let sent = queries(&server).await;
        assert!(sent.iter().all(|q| q == "comp=block"), "{sent:?}");
        assert!(!sent.is_empty());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_proc_file_whose_size_says_zero_is_not_stored_empty() {
    let server = server_accepting_puts().await;
    let clock = TestClock::new();
    let blob = shared_key_client(&server, &clock)
        .container("photos")
        .blob("big file.bin");
    let path = Path::new("/proc/self/status");
    assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
    let error = blob
        .upload_file(path, &UploadOptions::new(), PutBlobOptions::new())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Io);
    assert_eq!(
        error.to_string(),
        "Upload photos/big file.bin: cannot upload /proc/self/status: its size reads 0 but it \
         holds data, as files of /proc and /sys and devices do, so how much to upload is \
         unknown; copy it to a regular file and upload that; nothing was committed"
    );
    assert!(requests(&server).await.is_empty());
}

fn wrong_length(declared: u64, found: &str) -> String {
    format!(
        "Upload photos/big file.bin: the content to upload is not its declared length: \
         expected {declared} bytes, but it {found}; nothing was committed"
    )
}

#[tokio::test]
async fn a_reader_or_stream_not_of_its_declared_length_is_not_committed() {
    let clock = TestClock::new();
    // (declared, actual, error, requests sent): one Put Blob up to 300 bytes, else blocks.
    let cases: [(u64, usize, Option<String>, &[&str]); 6] = [
        (8, 10, Some(wrong_length(8, "holds more than that")), &[]),
        (12, 10, Some(wrong_length(12, "ended after 10 bytes")), &[]),
        (10, 10, None, &[""]),
        (
            1000,
            900,
            Some(wrong_length(1000, "ended after 900 bytes")),
            &["comp=block"; 3],
        ),
        (
            1000,
            1100,
            Some(wrong_length(1000, "holds more than that")),
            &["comp=block"; 4],
        ),
        (
            1000,
            1000,
            None,
            &[
                "comp=block",
                "comp=block",
                "comp=block",
                "comp=block",
                "comp=blocklist",
            ],
        ),
    ];
    for (declared, actual, expected, sent) in cases {
        for as_stream in [false, true] {
            let server = server_accepting_puts().await;
            let blob = shared_key_client(&server, &clock)
                .container("photos")
                .blob("big file.bin");
            let data = content(actual);
            let result = if as_stream {
                let chunks: Vec<Result<Bytes, std::io::Error>> = data
                    .chunks(128)
                    .map(|c| Ok(Bytes::copy_from_slice(c)))
                    .collect();
                blob.upload_stream_with_length(
                    declared,
                    futures_util::stream::iter(chunks),
                    &in_blocks(),
                    PutBlobOptions::new(),
                )
                .await
            } else {
                blob.upload_reader_with_length(
                    declared,
                    &data[..],
                    &in_blocks(),
                    PutBlobOptions::new(),
                )
                .await
            };
            let case = format!("{declared} declared, {actual} yielded, stream {as_stream}");
            match (&expected, result) {
                (Some(message), Err(error)) => {
                    assert_eq!(error.kind(), ErrorKind::Io, "{case}");
                    assert_eq!(&error.to_string(), message, "{case}");
                }
                (None, Ok(done)) => assert_eq!(done.etag.as_deref(), Some("\"0x1\""), "{case}"),
                (expected, result) => panic!("{case}: expected {expected:?}, got {result:?}"),
            }
            assert_eq!(queries(&server).await, sent, "{case}");
            if expected.is_none() && declared > 300 {
                let list = requests(&server).await.pop().unwrap();
                assert_eq!(
                    list.headers
                        .get("x-ms-blob-content-md5")
                        .map(|v| v.to_str().unwrap().to_owned()),
                    Some(base64_md5(&data)),
                    "{case}"
                );
            }
        }
    }
}

fn base64_md5(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(data))
}
