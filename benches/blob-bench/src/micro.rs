//! The two per-request costs that are not I/O: signing a request with SharedKey, and reading
//! a cached managed identity token. Both are timed with plain loops of many iterations (each
//! run long enough that the clock's resolution does not matter), several runs, and the median
//! run kept, which shrugs off a run slowed by a noisy neighbour.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use blob_rest::{AccountKey, SharedKeyCredential};
use futures_util::FutureExt as _;
use http::{HeaderMap, HeaderValue, Method};
use imds_token::{AccessToken, ManagedIdentity};
use md5::{Digest as _, Md5};

use crate::clients::{DEV_ACCOUNT, DEV_KEY};
use crate::stats::median;

/// Runs per measurement; the median is reported.
const RUNS: usize = 7;

/// Threads reading the cached token at once in the contended measurement.
const THREADS: u32 = 8;

/// Nanoseconds per SharedKey signature of a typical upload: Put Blob of a photo with its
/// content type, MD5, length and the headers the pipeline adds, through the same function
/// the pipeline calls on every attempt.
pub(crate) fn signing_ns() -> f64 {
    let key = AccountKey::from_base64(DEV_KEY).expect("the development key is valid");
    let credential = SharedKeyCredential::new(DEV_ACCOUNT, key);
    let url = url::Url::parse(
        "https://devstoreaccount1.blob.core.windows.net/photos/uploads/2025/cat%20picture.jpg",
    )
    .expect("a valid URL");
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("content-length", "33248"),
        ("content-md5", "CY9rzUYh03PK3k6DJie09g=="),
        ("content-type", "image/jpeg"),
        ("if-none-match", "*"),
        ("x-ms-blob-type", "BlockBlob"),
        (
            "x-ms-client-request-id",
            "3f0c2a1e-8d4b-4c7a-9e21-5b6f0d1c2e3a",
        ),
        ("x-ms-date", "Thu, 03 Dec 2026 22:00:00 GMT"),
        ("x-ms-version", blob_rest::API_VERSION),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    let sign = || {
        blob_rest::benching::shared_key_authorization(
            black_box(&credential),
            &Method::PUT,
            black_box(&url),
            black_box(&headers),
        )
        .expect("the request can be signed")
    };
    median_ns(|| drop(black_box(sign())))
}

/// Nanoseconds per MD5 of a 4 KiB body: blob-rest sends `Content-MD5` with every Put Blob
/// (and a block's with every Put Block), which the other two clients do not; this is the
/// cost that integrity check adds to each small upload, and 4 KiB divided by it is what one
/// core hashes per second.
pub(crate) fn md5_4k_ns() -> f64 {
    let body = vec![0x5a_u8; 4096];
    median_ns(|| {
        black_box(Md5::digest(black_box(&body)));
    })
}

/// The median over [`RUNS`] timed loops of `once`, in nanoseconds per call.
fn median_ns(mut once: impl FnMut()) -> f64 {
    let iterations = calibrate(&mut once);
    let runs: Vec<f64> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..iterations {
                once();
            }
            per_iteration(started.elapsed(), iterations)
        })
        .collect();
    median(&runs)
}

/// Nanoseconds per cached token read with 1 and with 8 threads reading at once, as the
/// imds-token criterion bench (`crates/imds-token/benches/cached_token.rs`) measures them:
/// the public API, a day-long token of a realistic size in the cache, the future polled once
/// without a runtime (the cached path never waits). With 8 threads the figure is the wall
/// time divided by all reads of all threads, i.e. the cost of one read when 8 threads share
/// the machine's cores.
pub(crate) fn token_read_ns() -> (f64, f64) {
    let identity = primed_identity();
    let iterations = calibrate(|| drop(black_box(read(&identity))));
    let one: Vec<f64> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..iterations {
                black_box(read(&identity));
            }
            per_iteration(started.elapsed(), iterations)
        })
        .collect();

    let per_thread = (iterations / u64::from(THREADS)).max(1);
    let eight: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Arc::new(Barrier::new(THREADS as usize + 1));
            let readers: Vec<_> = (0..THREADS)
                .map(|_| {
                    let identity = identity.clone();
                    let start = Arc::clone(&start);
                    thread::spawn(move || {
                        start.wait();
                        for _ in 0..per_thread {
                            black_box(read(&identity));
                        }
                    })
                })
                .collect();
            start.wait();
            let started = Instant::now();
            for reader in readers {
                reader.join().expect("a reader panicked");
            }
            per_iteration(started.elapsed(), per_thread * u64::from(THREADS))
        })
        .collect();
    (median(&one), median(&eight))
}

const RESOURCE: &str = "https://storage.azure.com";

fn primed_identity() -> ManagedIdentity {
    let token = AccessToken::new(
        "eyJ0".repeat(400),
        SystemTime::now() + Duration::from_secs(24 * 3600),
    );
    let identity = ManagedIdentity::builder()
        .static_token(token)
        .build()
        .expect("a static token needs no environment");
    read(&identity);
    identity
}

fn read(identity: &ManagedIdentity) -> AccessToken {
    identity
        .token(RESOURCE)
        .now_or_never()
        .expect("a cached token is ready at once")
        .expect("the static token is valid")
}

/// How many iterations make a run of about 100 ms (at least 1,000), from a first timing; it
/// also warms caches and the CPU's clock up.
fn calibrate(mut once: impl FnMut()) -> u64 {
    let started = Instant::now();
    let mut done = 0u64;
    while started.elapsed() < Duration::from_millis(50) {
        for _ in 0..100 {
            once();
        }
        done += 100;
    }
    let per = started.elapsed().as_secs_f64() / done as f64;
    ((0.1 / per) as u64).max(1000)
}

fn per_iteration(elapsed: Duration, iterations: u64) -> f64 {
    elapsed.as_secs_f64() * 1e9 / iterations as f64
}
