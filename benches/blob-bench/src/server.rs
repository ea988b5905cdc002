//! The benchmark's blob server: just enough of the Blob REST API on 127.0.0.1 for the three
//! clients' requests to succeed, and as little work as possible per request, so that what the
//! benchmark measures is the clients.
//!
//! It validates nothing (no signature, no MD5, no block ids) and stores nothing:
//! - `PUT` (Create Container, Put Blob, Put Block, Put Block List): the body is read and thrown
//!   away, the answer is `201` with the `ETag` and `Last-Modified` clients read back;
//! - `GET`: the content of a blob is zeros, as many bytes as the blob's name says: the first
//!   segment of the blob name is its size in bytes (`bench/4096/put-3` holds 4,096 bytes). The
//!   body is sent as slices of one preallocated 1 MiB buffer, so a 1 GiB download costs the
//!   server no allocation and no copy. `x-ms-range` / `Range` (`bytes=a-b`, `bytes=a-`) give a
//!   `206` with `Content-Range`;
//! - `HEAD`: the same headers as `GET`, no body; `DELETE`: `202`.
//!
//! Anything else is answered `400` and counted in [`Stats::refused`], which the benchmark
//! checks after every measurement: numbers from a run whose requests failed are not reported.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The buffer every `GET` body is cut from.
const CHUNK: usize = 1024 * 1024;

/// What the server saw, for the benchmark's checks.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Requests answered, whatever the answer.
    pub(crate) requests: AtomicU64,
    /// Requests answered with a status other than 2xx, or whose body broke.
    pub(crate) refused: AtomicU64,
    /// Body bytes received with `PUT`s.
    pub(crate) bytes_received: AtomicU64,
    /// Connections accepted: a client that does not reuse its connections shows here.
    pub(crate) connections: AtomicU64,
}

/// A running server; dropping it stops it (its runtime with it).
pub(crate) struct BenchServer {
    addr: SocketAddr,
    stats: Arc<Stats>,
    _runtime: tokio::runtime::Runtime,
}

impl BenchServer {
    /// Binds 127.0.0.1 on a free port and serves on a runtime of its own (two worker threads,
    /// as many as the machine the numbers are meant for has cores), so that the clients'
    /// runtime and the server's are scheduled by the OS alike for every client.
    pub(crate) fn start() -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bench-server")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind(("127.0.0.1", 0)))?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(Stats::default());
        let shared = Shared {
            stats: Arc::clone(&stats),
            zeros: Bytes::from(vec![0u8; CHUNK]),
            last_modified: HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now()))
                .expect("an HTTP date is a valid header value"),
        };
        runtime.spawn(accept_loop(listener, Arc::new(shared)));
        Ok(Self {
            addr,
            stats,
            _runtime: runtime,
        })
    }

    /// The account endpoint clients are pointed at, path-style like Azurite's.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}/devstoreaccount1", self.addr)
    }

    /// What the server saw so far.
    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }
}

struct Shared {
    stats: Arc<Stats>,
    zeros: Bytes,
    last_modified: HeaderValue,
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        shared.stats.connections.fetch_add(1, Ordering::Relaxed);
        // Small requests and answers go out at once rather than waiting for Nagle's timer.
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(handle(request, &shared).await) }
            });
            // A client closing its pooled connections at the end of a round is no error.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(request: Request<Incoming>, shared: &Shared) -> Response<Zeros> {
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    let response = match *request.method() {
        Method::PUT => put(request, shared).await,
        Method::GET | Method::HEAD => get(&request, shared),
        Method::DELETE => empty(StatusCode::ACCEPTED),
        _ => empty(StatusCode::BAD_REQUEST),
    };
    if !response.status().is_success() {
        shared.stats.refused.fetch_add(1, Ordering::Relaxed);
    }
    response
}

async fn put(request: Request<Incoming>, shared: &Shared) -> Response<Zeros> {
    let mut body = request.into_body();
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    received += data.len() as u64;
                }
            }
            Err(_) => return empty(StatusCode::BAD_REQUEST),
        }
    }
    shared
        .stats
        .bytes_received
        .fetch_add(received, Ordering::Relaxed);
    let mut response = empty(StatusCode::CREATED);
    written_headers(&mut response, shared);
    response
}

fn get(request: &Request<Incoming>, shared: &Shared) -> Response<Zeros> {
    let Some(size) = blob_size(request.uri().path()) else {
        return empty(StatusCode::BAD_REQUEST);
    };
    let range = request
        .headers()
        .get("x-ms-range")
        .or_else(|| request.headers().get(http::header::RANGE))
        .map(|value| parse_range(value.to_str().unwrap_or_default(), size));
    let (status, first, len) = match range {
        None => (StatusCode::OK, 0, size),
        Some(Some((first, last))) => (StatusCode::PARTIAL_CONTENT, first, last - first + 1),
        Some(None) => return empty(StatusCode::RANGE_NOT_SATISFIABLE),
    };
    let body = if request.method() == Method::HEAD {
        Zeros::empty()
    } else {
        Zeros::new(shared.zeros.clone(), len)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {first}-{}/{size}", first + len - 1);
        headers.insert(
            http::header::CONTENT_RANGE,
            HeaderValue::from_str(&value).expect("digits are a valid header value"),
        );
    }
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert("x-ms-blob-type", HeaderValue::from_static("BlockBlob"));
    headers.insert(
        http::header::ACCEPT_RANGES,
        HeaderValue::from_static("bytes"),
    );
    written_headers(&mut response, shared);
    response
}

/// The headers every client reads from a write or a read: `ETag` (object_store requires it),
/// `Last-Modified` (object_store requires it on reads), the service version and a request id.
fn written_headers(response: &mut Response<Zeros>, shared: &Shared) {
    let headers = response.headers_mut();
    headers.insert(
        http::header::ETAG,
        HeaderValue::from_static("\"0x8DBE0C4\""),
    );
    headers.insert(http::header::LAST_MODIFIED, shared.last_modified.clone());
    headers.insert("x-ms-version", HeaderValue::from_static("2024-11-04"));
    headers.insert(
        "x-ms-request-id",
        HeaderValue::from_static("00000000-0000-0000-0000-000000000000"),
    );
}

fn empty(status: StatusCode) -> Response<Zeros> {
    let mut response = Response::new(Zeros::empty());
    *response.status_mut() = status;
    response
}

/// The size a blob's name gives it: `/account/container/<size>/...`.
fn blob_size(path: &str) -> Option<u64> {
    path.split('/').nth(3)?.parse().ok()
}

/// `bytes=a-b` or `bytes=a-` within a blob of `size` bytes, as inclusive bounds; `None`
/// when the range is unreadable or starts past the end.
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let (first, last) = value.strip_prefix("bytes=")?.split_once('-')?;
    let first: u64 = first.trim().parse().ok()?;
    let last = match last.trim() {
        "" => size.checked_sub(1)?,
        last => last.parse::<u64>().ok()?.min(size.checked_sub(1)?),
    };
    (first <= last).then_some((first, last))
}

/// A body of `remaining` zero bytes, sent as slices of the shared buffer.
pub(crate) struct Zeros {
    zeros: Bytes,
    remaining: u64,
}

impl Zeros {
    fn new(zeros: Bytes, len: u64) -> Self {
        Self {
            zeros,
            remaining: len,
        }
    }

    fn empty() -> Self {
        Self::new(Bytes::new(), 0)
    }
}

impl Body for Zeros {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let len = usize::try_from(this.remaining)
            .unwrap_or(usize::MAX)
            .min(this.zeros.len());
        this.remaining -= len as u64;
        Poll::Ready(Some(Ok(Frame::data(this.zeros.slice(..len)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smoke test the benchmark relies on: a PUT is accepted and counted, a GET brings
    /// back exactly the size the name asks for, HEAD and ranges answer as clients expect.
    #[test]
    fn answers_put_get_head_and_ranges() {
        let server = BenchServer::start().unwrap();
        let base = format!("{}/bench", server.endpoint());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let http = reqwest::Client::builder().no_proxy().build().unwrap();
            let put = http
                .put(format!("{base}/4096/a"))
                .body(vec![7u8; 4096])
                .send()
                .await
                .unwrap();
            assert_eq!(put.status(), StatusCode::CREATED);
            assert!(put.headers().contains_key("etag"));

            let get = http.get(format!("{base}/3000000/b")).send().await.unwrap();
            assert_eq!(get.status(), StatusCode::OK);
            assert!(get.headers().contains_key("last-modified"));
            let body = get.bytes().await.unwrap();
            assert_eq!(body.len(), 3_000_000);
            assert!(body.iter().all(|&b| b == 0));

            let head = http.head(format!("{base}/12345/c")).send().await.unwrap();
            assert_eq!(head.status(), StatusCode::OK);
            assert_eq!(head.headers()["content-length"], "12345");

            let range = http
                .get(format!("{base}/100/d"))
                .header("x-ms-range", "bytes=10-19")
                .send()
                .await
                .unwrap();
            assert_eq!(range.status(), StatusCode::PARTIAL_CONTENT);
            assert_eq!(range.headers()["content-range"], "bytes 10-19/100");
            assert_eq!(range.bytes().await.unwrap().len(), 10);

            let bad = http.get(format!("{base}/x/e")).send().await.unwrap();
            assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        });
        let stats = server.stats();
        assert_eq!(stats.requests.load(Ordering::Relaxed), 5);
        assert_eq!(stats.refused.load(Ordering::Relaxed), 1);
        assert_eq!(stats.bytes_received.load(Ordering::Relaxed), 4096);
    }

    #[test]
    fn ranges_are_read_like_the_service_reads_them() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=90-200", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(blob_size("/devstoreaccount1/bench/4096/x"), Some(4096));
        assert_eq!(blob_size("/devstoreaccount1/bench"), None);
    }
}
