//! Small blobs (4 KiB): Put Blob and Get Blob operations per second at concurrency 1 and 64.
//!
//! Every round measures each (operation, concurrency) cell for each client in turn, clients
//! innermost (ABCABC...), so that a slow moment of the shared machine hits all three clients
//! alike instead of one; the median of the rounds is reported. A short warm-up round opens the
//! connections first and is thrown away.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

use crate::clients::{Client, Failure, Kind};
use crate::server::BenchServer;

/// The size of every small blob.
pub(crate) const SIZE: usize = 4096;

/// Concurrencies measured.
pub(crate) const CONCURRENCY: [usize; 2] = [1, 64];

/// A small-blob operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Op {
    Put,
    Get,
}

impl Op {
    pub(crate) const ALL: [Op; 2] = [Op::Put, Op::Get];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Op::Put => "PUT",
            Op::Get => "GET",
        }
    }
}

/// Operations per second of one client in one cell, one value per round.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub(crate) op: Op,
    pub(crate) concurrency: usize,
    pub(crate) kind: Kind,
    pub(crate) rounds: Vec<f64>,
    /// Connections the client opened during the measured rounds (after the warm-up).
    pub(crate) connections: u64,
}

/// Runs `rounds` rounds of `seconds` per cell; fails on the first error of any client or any
/// request the server refused.
pub(crate) fn run(
    runtime: &Runtime,
    server: &BenchServer,
    rounds: usize,
    seconds: f64,
) -> Result<Vec<Cell>, Failure> {
    let clients: Vec<(Kind, Client)> = Kind::COMPARED
        .iter()
        .map(|&kind| Client::new(kind, &server.endpoint()).map(|c| (kind, c)))
        .collect::<Result<_, _>>()?;
    let mut cells: Vec<Cell> = Vec::new();
    for op in Op::ALL {
        for concurrency in CONCURRENCY {
            for &(kind, _) in &clients {
                cells.push(Cell {
                    op,
                    concurrency,
                    kind,
                    rounds: Vec::new(),
                    connections: 0,
                });
            }
        }
    }
    let duration = Duration::from_secs_f64(seconds);
    // Warm-up: connections opened, pools filled, caches warm; not recorded.
    for cell in &cells {
        let client = &clients
            .iter()
            .find(|(k, _)| *k == cell.kind)
            .expect("built")
            .1;
        runtime.block_on(measure(client, cell.op, cell.concurrency, duration / 4))?;
    }
    for round in 0..rounds {
        eprintln!("  small blobs: round {} of {rounds}", round + 1);
        for cell in &mut cells {
            let client = &clients
                .iter()
                .find(|(k, _)| *k == cell.kind)
                .expect("built")
                .1;
            let refused_before = server.stats().refused.load(Ordering::Relaxed);
            let connections_before = server.stats().connections.load(Ordering::Relaxed);
            let ops = runtime.block_on(measure(client, cell.op, cell.concurrency, duration))?;
            let refused = server.stats().refused.load(Ordering::Relaxed) - refused_before;
            if refused > 0 {
                return Err(format!(
                    "the bench server refused {refused} requests of {} {} at concurrency {}",
                    cell.kind,
                    cell.op.label(),
                    cell.concurrency
                ));
            }
            cell.rounds.push(ops);
            cell.connections +=
                server.stats().connections.load(Ordering::Relaxed) - connections_before;
        }
    }
    Ok(cells)
}

/// One cell alone, after a warm-up of a quarter of its time (`blob-bench cell`).
pub(crate) fn one_cell(
    runtime: &Runtime,
    server: &BenchServer,
    kind: Kind,
    op: Op,
    concurrency: usize,
    seconds: f64,
) -> Result<f64, Failure> {
    let client = Client::new(kind, &server.endpoint())?;
    let duration = Duration::from_secs_f64(seconds);
    runtime.block_on(measure(&client, op, concurrency, duration / 4))?;
    runtime.block_on(measure(&client, op, concurrency, duration))
}

/// Operations per second of `concurrency` tasks doing `op` back to back for `duration`.
async fn measure(
    client: &Client,
    op: Op,
    concurrency: usize,
    duration: Duration,
) -> Result<f64, Failure> {
    let content = Bytes::from(vec![0x5a; SIZE]);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = JoinSet::new();
    for task in 0..concurrency {
        let client = client.clone();
        let content = content.clone();
        tasks.spawn(async move {
            let mut done = 0u64;
            // Names start with the size, which is what the bench server answers GETs with.
            let get_name = format!("{SIZE}/get-{task}");
            while Instant::now() < deadline {
                match op {
                    Op::Put => {
                        let name = format!("{SIZE}/put-{task}-{done}");
                        client.put_small(&name, content.clone()).await?;
                    }
                    Op::Get => {
                        let len = client.get_small(&get_name).await?;
                        if len != SIZE {
                            return Err(format!("a GET returned {len} bytes, not {SIZE}"));
                        }
                    }
                }
                done += 1;
            }
            Ok::<_, Failure>(done)
        });
    }
    let mut total = 0u64;
    while let Some(done) = tasks.join_next().await {
        total += done.map_err(|e| format!("a benchmark task failed: {e}"))??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
