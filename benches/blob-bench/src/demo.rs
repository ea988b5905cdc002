//! The demo workload against a real Azurite: a thousand images of mixed sizes saved, read
//! back and deleted through `storage_facade::Storage`, as an app would, over SharedKey HTTP.
//!
//! Sizes are drawn log-uniformly from 10 KiB to 2 MiB with a fixed seed (many small images,
//! fewer large ones, the same set on every run). Content is a slice of one random buffer at a
//! seeded offset, so no image is held twice and each read is compared byte for byte with what
//! was saved. Eight operations run at once, as a small web app's handlers might.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{stream, StreamExt as _, TryStreamExt as _};
use storage_facade::{Auth, Storage, StorageConfig};
use tokio::runtime::Runtime;

use crate::clients::{Failure, DEV_KEY};

const KIB: u64 = 1024;
const MIN_SIZE: u64 = 10 * KIB;
const MAX_SIZE: u64 = 2 * 1024 * KIB;
const CONCURRENCY: usize = 8;

/// One phase of the workload.
#[derive(Debug, Clone)]
pub(crate) struct Phase {
    pub(crate) name: &'static str,
    pub(crate) ops: usize,
    pub(crate) took: Duration,
    pub(crate) bytes: u64,
}

/// The three phases (save, read, delete) of `images` images against `endpoint`.
pub(crate) fn run(runtime: &Runtime, endpoint: &str, images: usize) -> Result<Vec<Phase>, Failure> {
    let auth = Auth::shared_key(DEV_KEY).map_err(|e| e.to_string())?;
    let container = format!("bench-demo-{:08x}", fastrand::u32(..));
    let config = StorageConfig::with_endpoint(endpoint, auth)
        .and_then(|c| c.with_container(&container))
        .map_err(|e| e.to_string())?;
    let storage = Storage::new(config).map_err(|e| e.to_string())?;

    let mut rng = fastrand::Rng::with_seed(42);
    let mut pool = vec![0u8; usize::try_from(MAX_SIZE * 2).expect("fits")];
    rng.fill(&mut pool);
    let pool = Bytes::from(pool);
    let (min, max) = (MIN_SIZE as f64, MAX_SIZE as f64);
    let images: Arc<Vec<(String, Bytes)>> = Arc::new(
        (0..images)
            .map(|i| {
                let size = (min * (max / min).powf(rng.f64())) as u64;
                let offset = rng.u64(0..=MAX_SIZE);
                let extension = if i % 3 == 0 { "png" } else { "jpg" };
                let content = pool.slice(
                    usize::try_from(offset).expect("fits")
                        ..usize::try_from(offset + size).expect("fits"),
                );
                (format!("photos/img-{i:04}.{extension}"), content)
            })
            .collect(),
    );
    let bytes: u64 = images.iter().map(|(_, c)| c.len() as u64).sum();

    runtime.block_on(async {
        let mut phases = Vec::new();
        let started = Instant::now();
        for_each(&images, |(name, content)| {
            let storage = storage.clone();
            async move {
                let stored = storage
                    .save(&name, content)
                    .await
                    .map_err(|e| e.to_string())?;
                if stored != name {
                    return Err(format!("{name} was stored as {stored}: the name was taken"));
                }
                Ok(())
            }
        })
        .await?;
        phases.push(phase("save", images.len(), started, bytes));

        let started = Instant::now();
        for_each(&images, |(name, content)| {
            let storage = storage.clone();
            async move {
                let back = storage.read(&name).await.map_err(|e| e.to_string())?;
                if back != content {
                    return Err(format!("{name} did not read back as saved"));
                }
                Ok(())
            }
        })
        .await?;
        phases.push(phase("read", images.len(), started, bytes));

        let started = Instant::now();
        for_each(&images, |(name, _)| {
            let storage = storage.clone();
            async move { storage.delete(&name).await.map_err(|e| e.to_string()) }
        })
        .await?;
        phases.push(phase("delete", images.len(), started, 0));
        Ok(phases)
    })
}

fn phase(name: &'static str, ops: usize, started: Instant, bytes: u64) -> Phase {
    Phase {
        name,
        ops,
        took: started.elapsed(),
        bytes,
    }
}

/// Runs `operation` on every image, `CONCURRENCY` at a time, stopping at the first error.
async fn for_each<F, Fut>(images: &Arc<Vec<(String, Bytes)>>, operation: F) -> Result<(), Failure>
where
    F: Fn((String, Bytes)) -> Fut,
    Fut: std::future::Future<Output = Result<(), Failure>>,
{
    stream::iter(images.iter().cloned().map(operation))
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .map(drop)
}
