//! Client configuration: retries, timeouts, trusted certificates and the clock.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;

/// The source of time: `now()` dates every request (`x-ms-date`) and measures the retry
/// deadline, `sleep()` waits between attempts. Tests inject their own to pin dates and to
/// record backoff delays without waiting for them.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// The system clock and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// When and how often a failed request is tried again.
///
/// Retried: connection failures, timeouts, and statuses 408, 429, 500, 502, 503 and 504 (not
/// 501 or 505). The wait before retry `n` is drawn uniformly from zero to
/// `min(max_delay, base_delay * 2^(n-1))` ("full jitter"), unless the service asked for a
/// specific wait with `x-ms-retry-after-ms` or `Retry-After`, which is then used as is. The
/// client gives up after `max_attempts` attempts, or as soon as the next wait would end past
/// `total_deadline` counted from the first attempt.
///
/// A download whose body breaks mid-stream is resumed from the byte where it stopped; each
/// resume counts as one more attempt of the same operation, and its deadline counts from
/// the break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff ceiling before the first retry; doubled for each further retry.
    pub base_delay: Duration,
    /// Largest backoff between two attempts (the service's own `Retry-After` is not capped).
    pub max_delay: Duration,
    /// Time after which no new attempt is started.
    pub total_deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(800),
            max_delay: Duration::from_secs(30),
            total_deadline: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }
}

/// Produces the `x-ms-client-request-id` of each operation.
pub type RequestIdGenerator = Arc<dyn Fn() -> String + Send + Sync>;

/// Options for [`BlobServiceClient::new`](crate::BlobServiceClient::new).
#[derive(Clone)]
pub struct ClientOptions {
    pub(crate) retry: RetryPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) extra_root_certificates_pem: Vec<Vec<u8>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) request_ids: RequestIdGenerator,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(60),
            read_timeout: Duration::from_secs(60),
            extra_root_certificates_pem: Vec::new(),
            clock: Arc::new(SystemClock),
            request_ids: Arc::new(random_request_id),
        }
    }
}

impl ClientOptions {
    /// The retry policy (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Time allowed to open a connection, TLS included (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed from sending a request until the response headers arrive, the upload of
    /// the request body included (default 60 s). Raise it for large uploads on slow links.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Longest silence allowed while reading from the connection, e.g. between two chunks of
    /// a download (default 60 s).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Trusts the certificates of a PEM bundle as roots, in addition to the system's (for an
    /// emulator's self-signed certificate). May be called several times.
    pub fn add_root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_root_certificates_pem.push(pem.into());
        self
    }

    /// The clock used for `x-ms-date`, the retry deadline and backoff waits.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the generator of `x-ms-client-request-id` values (random UUIDs by default),
    /// e.g. to correlate with an application's own request ids.
    pub fn client_request_ids(mut self, generator: RequestIdGenerator) -> Self {
        self.request_ids = generator;
        self
    }

    /// The retry policy in use.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("retry", &self.retry)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("read_timeout", &self.read_timeout)
            .field(
                "extra_root_certificates",
                &self.extra_root_certificates_pem.len(),
            )
            .finish_non_exhaustive()
    }
}

/// A random version-4 UUID, as the Azure SDKs send in `x-ms-client-request-id`.
fn random_request_id() -> String {
    let bits = fastrand::u128(..);
    // Set the version (4) and variant (10xx) bits.
    let bits = (bits & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_uuid_v4() {
        let id = random_request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(id, random_request_id());
    }
}
