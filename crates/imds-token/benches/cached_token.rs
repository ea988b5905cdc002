//! The cost of reading a cached token: what every storage request pays before it is sent.
//!
//! Run with `cargo bench -p imds-token --bench cached_token`. The target is under 100 ns per
//! read uncontended, and the same per core with 8 threads reading at once (reads take no lock,
//! so they should not slow each other down).
//!
//! The cached path never waits, so the future is polled once with `now_or_never` and no
//! runtime: what is measured is the cache, not an executor.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;
use futures_util::FutureExt;
use imds_token::{AccessToken, ManagedIdentity};

const RESOURCE: &str = "https://storage.azure.com";
const THREADS: u32 = 8;

/// An identity with a day-long token of a realistic size already in its cache.
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

fn cached_token(c: &mut Criterion) {
    let identity = primed_identity();
    let mut group = c.benchmark_group("cached_token");

    // A yardstick for the machine's state: every cached read includes one clock read, and on
    // a busy or virtualised machine this alone can take a good part of the budget.
    group.bench_function("baseline_clock_read", |b| {
        b.iter(|| black_box(SystemTime::now()));
    });

    group.bench_function("1_thread", |b| b.iter(|| black_box(read(&identity))));

    // Each of the 8 threads reads `iters` times; the time reported is the wall time divided
    // by the number of threads, i.e. the cost of one read when 8 threads share the machine's
    // cores. With 2 cores and no contention it is about half the one-thread figure.
    group.bench_function("8_threads", |b| {
        b.iter_custom(|iters| {
            let start = Arc::new(Barrier::new(THREADS as usize + 1));
            let readers: Vec<_> = (0..THREADS)
                .map(|_| {
                    let identity = identity.clone();
                    let start = Arc::clone(&start);
                    thread::spawn(move || {
                        start.wait();
                        for _ in 0..iters {
                            black_box(read(&identity));
                        }
                    })
                })
                .collect();
            start.wait();
            let began = Instant::now();
            for reader in readers {
                reader.join().expect("a reader panicked");
            }
            began.elapsed() / THREADS
        });
    });
    group.finish();
}

// What `criterion_group!`/`criterion_main!` expand to, without their undocumented `pub fn`.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    cached_token(&mut criterion);
    criterion.final_summary();
}
