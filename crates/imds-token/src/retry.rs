//! When to ask an identity endpoint again, and how long to wait first.
//!
//! Azure's guidance for IMDS
//! (<https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#retry-guidance>):
//! retry 404, 429 and 5xx with exponential backoff, keep retrying 410 for at least 70 seconds
//! (the endpoint is being updated), and honour `Retry-After`. The endpoint allows about 20
//! requests per second and 5 at once per VM, shared by every process on it, so waits are
//! jittered: processes that failed together do not come back together.
//!
//! Everything is bounded by a total deadline measured on the injected clock; a wait that
//! would end past it is not started.

use std::future::Future;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::clock::Clock;
use crate::error::Error;
use crate::token::AccessToken;
use crate::transport::Attempt;

/// How retries are paced and bounded.
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    /// Retries of 404, 429 and 5xx after the first attempt.
    pub(crate) max_retries: u32,
    /// The first wait before jitter; each next one doubles.
    pub(crate) initial_delay: Duration,
    /// The longest single wait that backoff alone produces (`Retry-After` may ask for more).
    pub(crate) max_delay: Duration,
    /// How long 410 keeps being retried, whatever `max_retries` says.
    pub(crate) gone_for: Duration,
    /// No attempt starts, and no wait ends, later than this after the first attempt.
    pub(crate) deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            gone_for: Duration::from_secs(70),
            // Long enough for the 70 seconds of 410 plus the attempt that follows.
            deadline: Duration::from_secs(90),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first), with jitter: between half and
    /// all of the exponential value.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exponential = self
            .initial_delay
            .saturating_mul(2_u32.saturating_pow(retry.min(16)))
            .min(self.max_delay);
        exponential.mul_f64(0.5 + fastrand::f64() / 2.0)
    }

    /// Runs `attempt` until it gives a token, a final failure, or the policy says stop.
    /// `attempt` receives the attempt number (from 1) and the time left before the deadline.
    pub(crate) async fn run<F, Fut>(
        &self,
        clock: &dyn Clock,
        mut attempt: F,
    ) -> Result<AccessToken, Error>
    where
        F: FnMut(u32, Duration) -> Fut,
        Fut: Future<Output = Attempt>,
    {
        let started = clock.now();
        let elapsed = || clock.now().duration_since(started).unwrap_or_default();
        let mut retries = 0_u32;
        loop {
            let remaining = self.deadline.saturating_sub(elapsed());
            let (error, retry_after, gone) = match attempt(retries + 1, remaining).await {
                Attempt::Token(token) => return Ok(token),
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry {
                    error,
                    retry_after,
                    gone,
                } => (error, retry_after, gone),
            };
            let attempts = retries + 1;
            let spent = elapsed();
            let keep_going = retries < self.max_retries || (gone && spent < self.gone_for);
            if !keep_going {
                return Err(error.context(&format!(
                    "Gave up after {} in {}s.",
                    plural(attempts),
                    spent.as_secs()
                )));
            }
            let delay = self.backoff(retries).max(retry_after.unwrap_or_default());
            if spent.saturating_add(delay) >= self.deadline {
                return Err(error.context(&format!(
                    "Gave up after {}: the next one, in {}s, would pass the deadline of {}s.",
                    plural(attempts),
                    delay
                        .as_secs()
                        .saturating_add(u64::from(delay.subsec_nanos() > 0)),
                    self.deadline.as_secs()
                )));
            }
            tracing::debug!(
                attempt = attempts,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                status = error.status(),
                "retrying the token request"
            );
            clock.sleep(delay).await;
            retries += 1;
        }
    }
}

fn plural(attempts: u32) -> String {
    if attempts == 1 {
        "1 attempt".to_owned()
    } else {
        format!("{attempts} attempts")
    }
}

/// `Retry-After` as a wait: delay-seconds, or an HTTP date compared with `now`.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let policy = RetryPolicy::default();
        for (retry, full) in [
            (0, 500),
            (1, 1000),
            (2, 2000),
            (3, 4000),
            (4, 8000),
            (5, 10_000),
            (40, 10_000),
        ] {
            for _ in 0..50 {
                let wait = policy.backoff(retry).as_millis();
                assert!(wait >= full / 2 && wait <= full, "retry {retry}: {wait} ms");
            }
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static(" 7 "));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Thu, 01 Jan 2026 00:00:30 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 31 Dec 2025 23:00:00 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }
}
