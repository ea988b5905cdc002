//! A 256 MiB file up and down through the facade against Azurite, over both auth paths: the
//! upload goes as Put Block + Put Block List, the download as parallel range reads, and the
//! process's peak memory stays within a bound derived from the transfer settings, not from
//! the file's size.
//!
//! This file holds a single test on purpose: peak RSS (`VmHWM`) is per process, and tests of
//! one binary run in parallel threads of one process, so any other test here would blur the
//! measure.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use azurite_suite::{unique_container, Azurite};
use futures_util::StreamExt as _;
use local_identity::{LocalIdentityServer, Options};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use storage_facade::{Content, DownloadOptions, SaveOptions, Storage, TransferOptions};

const MIB: u64 = 1024 * 1024;
const SIZE: u64 = 256 * MIB;
const BLOCK_SIZE: u64 = 8 * MIB;
const IN_FLIGHT: usize = 4;

/// What the process may hold beyond the content in flight. Measured before the transfers
/// (see the printed baseline) the test process peaks at about 10 MiB; the rest covers what a
/// transfer holds besides its blocks, none of which grows with the file: tokio's file
/// buffers (2 MiB per open file), HTTP and TLS buffers of up to 2 x `IN_FLIGHT` pooled
/// connections, the MD5 and SHA state, and allocator slack (glibc keeps freed blocks in
/// per-thread arenas for reuse instead of returning them at once).
const ALLOWANCE: u64 = 64 * MIB;

fn transfer() -> TransferOptions {
    TransferOptions::new()
        .block_size(BLOCK_SIZE)
        .max_in_flight(IN_FLIGHT)
        .single_put_threshold(BLOCK_SIZE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_256_mib_file_goes_up_and_down_in_bounded_memory() {
    let azurite = Azurite::from_env();
    let dir = TempDir::new();
    let source = dir.path().join("source.bin");
    let (sha256, md5) = write_random_file(&source, 20_261_203, SIZE);
    let baseline = peak_rss();
    println!("peak RSS before the transfers: {} MiB", baseline / MIB);

    // SharedKey over HTTP, from a file.
    let storage = Storage::new(azurite.shared_key_config(&unique_container("large-key"))).unwrap();
    let started = Instant::now();
    let stored = storage
        .save_with(
            "videos/big.bin",
            Content::file(&source),
            SaveOptions::new().transfer(transfer()),
        )
        .await
        .unwrap();
    report("SharedKey upload (file, blocks)", started);
    check_round_trip(&storage, &stored, dir.path(), &sha256, md5).await;

    // A resumable download interrupted at an odd offset goes on from there (the ETag record
    // it keeps beside the file says which blob version the bytes are of) and checks the
    // whole file; it must not start over.
    let target = dir.path().join("resumed.bin");
    storage
        .download_to_file_with(
            &stored,
            &target,
            DownloadOptions::new().transfer(transfer()),
        )
        .await
        .unwrap();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&target)
        .unwrap();
    file.set_len(100 * MIB + 12_345).unwrap();
    drop(file);
    let etag = storage.properties(&stored).await.unwrap().etag.unwrap();
    let record = dir.path().join("resumed.bin.etag");
    std::fs::write(&record, &etag).unwrap();
    let restarts = Arc::new(Mutex::new(Vec::<String>::new()));
    let started = Instant::now();
    storage
        .download_to_file_with(
            &stored,
            &target,
            DownloadOptions::new()
                .transfer(transfer())
                .resume(true)
                .on_restart({
                    let restarts = Arc::clone(&restarts);
                    move |why| restarts.lock().unwrap().push(why.to_owned())
                }),
        )
        .await
        .unwrap();
    report("SharedKey resumed download (from 100 MiB)", started);
    assert_eq!(*restarts.lock().unwrap(), Vec::<String>::new());
    assert!(!record.exists(), "the ETag record outlives the download");
    assert_eq!(sha256_file(&target), sha256);
    std::fs::remove_file(&target).unwrap();
    storage.delete(&stored).await.unwrap();

    // A managed identity over HTTPS, from a stream of known length.
    let identity = LocalIdentityServer::start(Options::default())
        .await
        .unwrap();
    let storage = Storage::new(
        azurite.managed_identity_config(&identity.base_url(), &unique_container("large-mi")),
    )
    .unwrap();
    let file = tokio::fs::File::open(&source).await.unwrap();
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).boxed();
    let started = Instant::now();
    let stored = storage
        .save_with(
            "videos/big.bin",
            Content::stream(SIZE, stream),
            SaveOptions::new().transfer(transfer()),
        )
        .await
        .unwrap();
    report("managed identity upload (stream, blocks)", started);
    check_round_trip(&storage, &stored, dir.path(), &sha256, md5).await;
    storage.delete(&stored).await.unwrap();

    let peak = peak_rss();
    let bound = BLOCK_SIZE * IN_FLIGHT as u64 + ALLOWANCE;
    println!(
        "peak RSS: {} MiB (bound {} MiB = {} MiB blocks x {IN_FLIGHT} in flight + {} MiB)",
        peak / MIB,
        bound / MIB,
        BLOCK_SIZE / MIB,
        ALLOWANCE / MIB
    );
    assert!(
        peak < bound,
        "peak RSS {peak} bytes exceeds {bound} bytes for a {SIZE}-byte file"
    );
}

/// Downloads `stored` to a file as parallel range reads and checks size, MD5 and SHA-256.
async fn check_round_trip(
    storage: &Storage,
    stored: &str,
    dir: &Path,
    sha256: &str,
    md5: [u8; 16],
) {
    let properties = storage.properties(stored).await.unwrap();
    assert_eq!(properties.content_length, SIZE);
    assert_eq!(
        properties.content_md5,
        Some(md5),
        "the whole file's MD5 is stored"
    );
    let target = dir.join("download.bin");
    let started = Instant::now();
    let downloaded = storage
        .download_to_file_with(stored, &target, DownloadOptions::new().transfer(transfer()))
        .await
        .unwrap();
    report("download (parallel ranges)", started);
    assert_eq!(downloaded.content_length, SIZE);
    assert_eq!(sha256_file(&target), sha256);
    std::fs::remove_file(&target).unwrap();
}

fn report(what: &str, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = (SIZE / MIB) as f64 / seconds;
    println!("{what}: {seconds:.1} s ({rate:.0} MiB/s)");
}

/// Writes `len` seeded pseudo-random bytes to `path` a MiB at a time; returns their SHA-256
/// (hex) and MD5.
fn write_random_file(path: &Path, seed: u64, len: u64) -> (String, [u8; 16]) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut sha = Sha256::new();
    let mut md5 = Md5::new();
    let mut buffer = vec![0u8; usize::try_from(MIB).unwrap()];
    for _ in 0..len / MIB {
        rng.fill(&mut buffer);
        sha.update(&buffer);
        md5.update(&buffer);
        file.write_all(&buffer).unwrap();
    }
    file.flush().unwrap();
    (hex::encode(sha.finalize()), md5.finalize().into())
}

fn sha256_file(path: &Path) -> String {
    let mut file = std::fs::File::open(path).unwrap();
    let mut sha = Sha256::new();
    let mut buffer = vec![0u8; usize::try_from(MIB).unwrap()];
    loop {
        let n = file.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        sha.update(&buffer[..n]);
    }
    hex::encode(sha.finalize())
}

/// The process's peak resident set size so far (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("/proc/self/status has VmHWM");
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

/// A directory removed when the test ends, pass or fail.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!(
            "large-blobs-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
