//! Uploads whose content is not the length it was declared with: a file that grows or shrinks
//! while it is read, a `/proc` file whose size says 0. Each fails with a clear error before anything is committed: no Put
//! Blob of the wrong size, no Put Block List.

mod common;

use std::path::{Path, PathBuf};

use blob_rest::{ErrorKind, PutBlobOptions, UploadOptions};
use common::{requests, shared_key_client, TestClock};
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

async fn server_accepting_puts() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201).insert_header("etag", "\"0x1\""))
        .mount(&server)
        .await;
    server
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
        "Upload photos/big file.bin: cannot upload /proc/self/status: the file changed size \
         while it was uploaded: expected 0 bytes (its size when the upload started), but it \
         holds more than that; nothing was committed"
    );
    assert!(requests(&server).await.is_empty());
}
