//! Which failures are retried, and how long to wait before the next attempt.
//!
//! Policy (also in docs/blob-rest.md): connection failures, timeouts and the statuses 408,
//! 429, 500, 502, 503 and 504 are retried; 501 (not implemented) and 505 (HTTP version not
//! supported) are not, since asking again cannot change the answer. The wait is exponential
//! backoff with full jitter, unless the service names a wait in `x-ms-retry-after-ms` or
//! `Retry-After` (seconds or an HTTP date), which is then used as given.
//!
//! Reference: [Azure Storage retry guidance](https://learn.microsoft.com/azure/architecture/best-practices/retry-service-specific#azure-storage).

use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};

use crate::options::RetryPolicy;

/// Whether a response status is worth another attempt.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// The backoff before retry number `retry` (1 for the first retry): uniform between zero and
/// `min(max_delay, base_delay * 2^(retry-1))`.
pub(crate) fn backoff(policy: &RetryPolicy, retry: u32) -> Duration {
    let ceiling = backoff_ceiling(policy, retry);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(fastrand::u64(0..=nanos))
}

/// The upper bound of the jittered backoff before retry number `retry`.
pub(crate) fn backoff_ceiling(policy: &RetryPolicy, retry: u32) -> Duration {
    let exponent = retry.saturating_sub(1).min(31);
    policy
        .base_delay
        .saturating_mul(1_u32 << exponent)
        .min(policy.max_delay)
}

/// The wait the service asked for, if any: `x-ms-retry-after-ms` first, then `Retry-After` in
/// seconds or as an HTTP date (counted from `now`).
pub(crate) fn requested_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("x-ms-retry-after-ms").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_millis(ms));
    }
    let value = text("retry-after")?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 412, 501, 505] {
            assert!(
                !is_retryable_status(StatusCode::from_u16(s).unwrap()),
                "{s}"
            );
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitters_below_it() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            total_deadline: Duration::from_secs(60),
        };
        assert_eq!(backoff_ceiling(&policy, 1), Duration::from_millis(100));
        assert_eq!(backoff_ceiling(&policy, 2), Duration::from_millis(200));
        assert_eq!(backoff_ceiling(&policy, 4), Duration::from_millis(800));
        assert_eq!(backoff_ceiling(&policy, 5), Duration::from_secs(1));
        assert_eq!(backoff_ceiling(&policy, 400), Duration::from_secs(1));
        for retry in 1..50 {
            assert!(backoff(&policy, retry) <= backoff_ceiling(&policy, retry));
        }
    }

    #[test]
    fn requested_wait_prefers_milliseconds_then_seconds_then_date() {
        let now = httpdate::parse_http_date("Tue, 02 Dec 2025 10:30:00 GMT").unwrap();
        let h = headers(&[("x-ms-retry-after-ms", "250"), ("retry-after", "9")]);
        assert_eq!(requested_wait(&h, now), Some(Duration::from_millis(250)));
        let h = headers(&[("retry-after", " 3 ")]);
        assert_eq!(requested_wait(&h, now), Some(Duration::from_secs(3)));
        let h = headers(&[("retry-after", "Tue, 02 Dec 2025 10:30:07 GMT")]);
        assert_eq!(requested_wait(&h, now), Some(Duration::from_secs(7)));
        let h = headers(&[("retry-after", "Tue, 02 Dec 2025 10:29:00 GMT")]);
        assert_eq!(requested_wait(&h, now), Some(Duration::ZERO));
        let h = headers(&[("retry-after", "soon")]);
        assert_eq!(requested_wait(&h, now), None);
    }
}
