//! Reliability under faults: a thousand mixed operations through a proxy that breaks one
//! request in ten, and not one of them may fail, lose a blob or return wrong bytes.
//!
//! The proxy (see `azurite_suite::fault_proxy`) resets connections, answers 503 with
//! `Retry-After`, answers 500, stalls past the client's timeout, and cuts `GET` bodies short.
//! All of these are faults the retry policy is meant to absorb, so the test asserts that every
//! operation succeeds and then checks the whole container against its own record of what
//! should be there.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use azurite_suite::fault_proxy::{FaultPlan, FaultProxy};
use azurite_suite::{random_bytes, sha256_hex, unique_container, Azurite, DEV_ACCOUNT, DEV_KEY};
use blob_rest::{
    AccountKey, BlobServiceClient, ClientOptions, ContainerClient, Credential, Endpoint, ErrorKind,
    GetBlobOptions, ListBlobsOptions, PutBlobOptions, RetryPolicy, SharedKeyCredential,
};

const WORKERS: u64 = 8;
const OPERATIONS_PER_WORKER: u64 = 125;

fn client(endpoint: &str, options: ClientOptions) -> BlobServiceClient {
    let key = AccountKey::from_base64(DEV_KEY).unwrap();
    let credential = Credential::SharedKey(SharedKeyCredential::new(DEV_ACCOUNT, key));
    BlobServiceClient::new(Endpoint::parse(endpoint).unwrap(), credential, options).unwrap()
}

/// What one worker did, and what it believes the container holds under its names.
#[derive(Default)]
struct Record {
    operations: u64,
    failures: Vec<String>,
    live: HashMap<String, String>,
    deleted: Vec<String>,
}

async fn worker(container: ContainerClient, worker: u64) -> Record {
    let mut rng = fastrand::Rng::with_seed(0xfa17 + worker);
    let mut record = Record::default();
    let mut next_name = 0u64;
    for _ in 0..OPERATIONS_PER_WORKER {
        record.operations += 1;
        let existing: Vec<String> = record.live.keys().cloned().collect();
        let roll = rng.u8(..100);
        if existing.is_empty() || roll < 45 {
            // Put a new blob of 1 byte to 48 KiB.
            next_name += 1;
            let name = format!("w{worker}/blob {next_name} +&=.bin");
            let content = random_bytes(rng.u64(..), rng.usize(1..48 * 1024));
            match container
                .blob(&name)
                .put(content.clone(), PutBlobOptions::new())
                .await
            {
                Ok(_) => {
                    record.live.insert(name, sha256_hex(&content));
                }
                Err(e) => record.failures.push(format!("put {name}: {e}")),
            }
        } else if roll < 80 {
            // Read back an existing blob and check every byte.
            let name = &existing[rng.usize(..existing.len())];
            let read = async {
                container
                    .blob(name)
                    .get(GetBlobOptions::new())
                    .await?
                    .collect()
                    .await
            };
            match read.await {
                Ok(bytes) if sha256_hex(&bytes) == record.live[name] => {}
                Ok(_) => record.failures.push(format!("get {name}: content differs")),
                Err(e) => record.failures.push(format!("get {name}: {e}")),
            }
        } else {
            let name = existing[rng.usize(..existing.len())].clone();
            match container.blob(&name).delete().await {
                Ok(()) => {
                    record.live.remove(&name);
                    record.deleted.push(name);
                }
                Err(e) => record.failures.push(format!("delete {name}: {e}")),
            }
        }
    }
    record
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_operations_survive_ten_percent_faults() {
    let azurite = Azurite::from_env();
    let plan = FaultPlan {
        seed: 0x5eed_f00d,
        fault_rate: 0.10,
        stall: Duration::from_secs(3),
        retry_after_ms: 20,
    };
    let proxy = FaultProxy::start(&azurite.http_origin(), plan)
        .await
        .unwrap();

    // Timeouts short enough that a stall costs a second, and enough attempts that ten percent
    // faults essentially never exhaust them (0.1^8).
    let options = ClientOptions::default()
        .retry(RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(200),
            total_deadline: Duration::from_secs(30),
        })
        .connect_timeout(Duration::from_secs(1))
        .response_timeout(Duration::from_secs(1))
        .read_timeout(Duration::from_secs(1));
    let faulty = client(&format!("{}/{DEV_ACCOUNT}", proxy.base_url()), options);
    let direct = client(&azurite.http_endpoint, ClientOptions::default());

    let container_name = unique_container("faults");
    direct.container(&container_name).create().await.unwrap();

    let started = Instant::now();
    let container = faulty.container(&container_name);
    let tasks: Vec<_> = (0..WORKERS)
        .map(|w| tokio::spawn(worker(container.clone(), w)))
        .collect();
    let mut records = Vec::new();
    for task in tasks {
        records.push(task.await.unwrap());
    }
    let elapsed = started.elapsed();

    let operations: u64 = records.iter().map(|r| r.operations).sum();
    let failures: Vec<&String> = records.iter().flat_map(|r| &r.failures).collect();
    let counts = proxy.counts();
    println!(
        "fault test: {operations} operations in {elapsed:.1?}; {} requests, {} faults \
         (resets {}, 503 {}, 500 {}, stalls {}, cut bodies {}); {} retries; {} failures",
        counts.requests,
        counts.faults(),
        counts.resets,
        counts.server_busy,
        counts.internal_errors,
        counts.stalls,
        counts.truncated,
        counts.requests - operations,
        failures.len(),
    );
    assert_eq!(operations, WORKERS * OPERATIONS_PER_WORKER);
    assert!(failures.is_empty(), "operations failed: {failures:#?}");
    // The plan must really have hurt: about a hundred faults of every kind.
    assert!(counts.faults() >= 60, "too few faults injected: {counts:?}");
    for (kind, n) in [
        ("resets", counts.resets),
        ("503", counts.server_busy),
        ("500", counts.internal_errors),
        ("stalls", counts.stalls),
        ("cut bodies", counts.truncated),
    ] {
        assert!(n > 0, "no {kind} injected: {counts:?}");
    }

    // Check the container directly, without the proxy: every live blob has exactly the bytes
    // that were written, and every deleted one is gone.
    let check = direct.container(&container_name);
    for record in &records {
        for (name, sha) in &record.live {
            let bytes = check
                .blob(name)
                .get(GetBlobOptions::new())
                .await
                .unwrap()
                .collect();
            assert_eq!(&sha256_hex(&bytes.await.unwrap()), sha, "{name}");
        }
        for name in &record.deleted {
            if record.live.contains_key(name) {
                continue;
            }
            let gone = check.blob(name).get_properties().await.unwrap_err();
            assert_eq!(gone.kind(), ErrorKind::NotFound, "{name}");
        }
    }
    // And the container holds exactly the live blobs: a retried write left no stray copy
    // under another name, and no write was lost.
    let mut listed: Vec<String> = check
        .list_all_blobs(ListBlobsOptions::new())
        .await
        .unwrap()
        .blobs
        .into_iter()
        .map(|blob| blob.name)
        .collect();
    listed.sort();
    let mut expected: Vec<String> = records
        .iter()
        .flat_map(|r| r.live.keys().cloned())
        .collect();
    expected.sort();
    assert_eq!(listed, expected);
    check.delete().await.unwrap();
}
