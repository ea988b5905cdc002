//! A fault-injecting HTTP proxy on 127.0.0.1, placed between a client and Azurite.
//!
//! Each request draws, by seeded chance, whether it meets a fault and which one. The faults
//! are the ones a client meets on the real network: a reset connection, `503 Server Busy` with
//! `Retry-After`, `500`, a stall longer than the client's timeout, and a response body cut short.
//!
//! All faults except the cut body happen *before* the request reaches Azurite, so a fault never
//! has a side effect the test could not predict: a retried `PUT` or `DELETE` is exactly as if the
//! first attempt never happened. The cut body is only applied to successful `GET`s, which are
//! safe to repeat.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

type ProxyBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// The faults the proxy can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without answering.
    Reset,
    /// Answer `503 Server Busy` with `Retry-After: 1` and `x-ms-retry-after-ms`.
    ServerBusy,
    /// Answer `500 Internal Server Error`.
    InternalError,
    /// Hold the request longer than the client's timeout, then close the connection.
    Stall,
    /// Forward a `GET`, then send only the first half of the body and close the connection.
    TruncateBody,
}

/// What the proxy does and how often.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    /// Seed of the chance draws, so that a failing run can be repeated.
    pub seed: u64,
    /// The share of requests that meet a fault, from 0.0 to 1.0.
    pub fault_rate: f64,
    /// How long a stalled request is held.
    pub stall: Duration,
    /// The delay a `503` asks for in `x-ms-retry-after-ms`.
    pub retry_after_ms: u64,
}

/// How many requests went through and which faults they met.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FaultCounts {
    /// Every request the proxy received.
    pub requests: u64,
    /// Requests passed to Azurite.
    pub forwarded: u64,
    /// Connections closed without an answer.
    pub resets: u64,
    /// `503` answers.
    pub server_busy: u64,
    /// `500` answers.
    pub internal_errors: u64,
    /// Stalled requests.
    pub stalls: u64,
    /// Response bodies cut short.
    pub truncated: u64,
}

impl FaultCounts {
    /// All injected faults together.
    pub fn faults(&self) -> u64 {
        self.resets + self.server_busy + self.internal_errors + self.stalls + self.truncated
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    forwarded: AtomicU64,
    resets: AtomicU64,
    server_busy: AtomicU64,
    internal_errors: AtomicU64,
    stalls: AtomicU64,
    truncated: AtomicU64,
}

struct Shared {
    upstream: String,
    plan: FaultPlan,
    rng: Mutex<fastrand::Rng>,
    counters: Counters,
    client: reqwest::Client,
}

/// A running fault proxy. Dropping it stops accepting connections.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

impl FaultProxy {
    /// Starts a proxy on a free port of 127.0.0.1 in front of `upstream`
    /// (scheme, host and port only, such as `http://127.0.0.1:10000`).
    pub async fn start(upstream: &str, plan: FaultPlan) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            rng: Mutex::new(fastrand::Rng::with_seed(plan.seed)),
            plan,
            counters: Counters::default(),
            client,
        });
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(accept_loop(listener, Arc::clone(&shared), stopped));
        Ok(Self { addr, shared, stop })
    }

    /// The proxy's base URL (`http://127.0.0.1:<port>`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The counts so far.
    pub fn counts(&self) -> FaultCounts {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        FaultCounts {
            requests: get(&c.requests),
            forwarded: get(&c.forwarded),
            resets: get(&c.resets),
            server_busy: get(&c.server_busy),
            internal_errors: get(&c.internal_errors),
            stalls: get(&c.stalls),
            truncated: get(&c.truncated),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(Arc::clone(&shared), request));
            // An error here is the point of a reset fault: the connection is simply dropped.
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Draws the fault for one request, or none.
fn draw(shared: &Shared, method: &hyper::Method) -> Option<Fault> {
    let mut rng = shared.rng.lock().expect("fault rng lock");
    if rng.f64() >= shared.plan.fault_rate {
        return None;
    }
    let faults: &[Fault] = if method == hyper::Method::GET {
        &[
            Fault::Reset,
            Fault::ServerBusy,
            Fault::InternalError,
            Fault::Stall,
            Fault::TruncateBody,
        ]
    } else {
        &[
            Fault::Reset,
            Fault::ServerBusy,
            Fault::InternalError,
            Fault::Stall,
        ]
    };
    Some(faults[rng.usize(..faults.len())])
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<ProxyBody>, std::io::Error> {
    let c = &shared.counters;
    c.requests.fetch_add(1, Ordering::SeqCst);
    let fault = draw(&shared, request.method());
    match fault {
        Some(Fault::Reset) => {
            c.resets.fetch_add(1, Ordering::SeqCst);
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected reset",
            ));
        }
        Some(Fault::ServerBusy) => {
            c.server_busy.fetch_add(1, Ordering::SeqCst);
            return Ok(error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServerBusy",
                Some(shared.plan.retry_after_ms),
            ));
        }
        Some(Fault::InternalError) => {
            c.internal_errors.fetch_add(1, Ordering::SeqCst);
            return Ok(error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                None,
            ));
        }
        Some(Fault::Stall) => {
            c.stalls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(shared.plan.stall).await;
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "injected stall",
            ));
        }
        Some(Fault::TruncateBody) | None => {}
    }
    c.forwarded.fetch_add(1, Ordering::SeqCst);
    let response = forward(&shared, request).await?;
    let cut = fault == Some(Fault::TruncateBody) && response.status().is_success();
    if cut {
        c.truncated.fetch_add(1, Ordering::SeqCst);
    }
    Ok(relay(response, cut).await)
}

/// Sends the request on to Azurite with its path and query exactly as received: re-encoding
/// them here would break the client's SharedKey signature.
async fn forward(
    shared: &Shared,
    request: Request<Incoming>,
) -> Result<reqwest::Response, std::io::Error> {
    let (parts, body) = request.into_parts();
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{}{}", shared.upstream, path_and_query);
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let mut upstream = shared.client.request(parts.method, url).body(body);
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST && name != hyper::header::CONNECTION {
            upstream = upstream.header(name, value);
        }
    }
    upstream.send().await.map_err(std::io::Error::other)
}

/// Copies Azurite's response back, whole or with the body cut after half its length.
async fn relay(response: reqwest::Response, cut: bool) -> Response<ProxyBody> {
    let mut builder = Response::builder().status(response.status().as_u16());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body: ProxyBody = if cut {
        let whole = response.bytes().await.unwrap_or_default();
        let half = whole.slice(..whole.len() / 2);
        // The pause lets the headers and the first half reach the client before the
        // connection breaks; without it the server may drop everything unsent, which would
        // make the fault an ordinary reset.
        let first = futures_util::stream::iter([Ok(Frame::data(half))]);
        let cut = futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "injected cut",
            ))
        });
        BodyExt::boxed(StreamBody::new(first.chain(cut)))
    } else {
        let frames = response
            .bytes_stream()
            .map(|chunk| chunk.map(Frame::data).map_err(std::io::Error::other));
        BodyExt::boxed(StreamBody::new(frames))
    };
    builder
        .body(body)
        .expect("response parts copied from a valid response")
}

fn error_response(
    status: StatusCode,
    code: &str,
    retry_after_ms: Option<u64>,
) -> Response<ProxyBody> {
    let body = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code>\
         <Message>Injected by the fault proxy.</Message></Error>"
    );
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .header("x-ms-error-code", code);
    if let Some(ms) = retry_after_ms {
        builder = builder
            .header("retry-after", ms.div_ceil(1000).to_string())
            .header("x-ms-retry-after-ms", ms.to_string());
    }
    let body = http_body_util::Full::new(Bytes::from(body)).map_err(|e: Infallible| match e {});
    builder
        .body(body.boxed())
        .expect("static response parts are valid")
}
