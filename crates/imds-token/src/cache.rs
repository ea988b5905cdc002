//! The token cache: valid tokens read without locks, one refresh at a time per resource.
//!
//! Each [`ManagedIdentity`](crate::ManagedIdentity) has one source and one identity, so its
//! cache is keyed by resource: the full key of a cached token is (source, identity, resource).
//!
//! - Reads of a fresh token load one `arc-swap` snapshot of all cached tokens, find the
//!   resource and clone an `Arc`. No lock is taken, so a refresh in progress never slows them
//!   down. The snapshot is replaced whole when a token changes, which happens once per token
//!   lifetime.
//! - A token is *fresh* until its refresh time, *usable* until just before it expires. A
//!   caller who finds it stale but usable tries to become the refresher without waiting; if
//!   someone else already is, it takes the usable token and goes.
//! - Callers with no usable token queue on the resource's refresh lock: the first one asks the
//!   endpoint, the others find its token (or its error) when their turn comes. However many
//!   callers arrive on a cold cache, one request is sent.
//! - After a failed refresh the resource backs off (1 s, doubling per failure, at most 30 s,
//!   jittered). During the backoff callers get the old token while it is usable, else the
//!   failure, without a request. The first call after it asks again: nothing is latched.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use crate::clock::Clock;
use crate::error::Error;
use crate::token::{http_date, AccessToken};

/// Tokens that live longer than this are refreshed at half their lifetime.
const LONG_LIVED: Duration = Duration::from_secs(2 * 3600);
/// Others are refreshed when this much is left (or at half their lifetime, if shorter).
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);
/// The most a refresh is moved earlier at random, so that processes started together do not
/// refresh together.
const MAX_REFRESH_JITTER: Duration = Duration::from_secs(60);
/// A token is not handed out in its last moments: a request made with it must still reach
/// the service in time. At most this, or a tenth of the lifetime for short tokens.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// Backoff after failed refreshes.
const FIRST_FAILURE_BACKOFF: Duration = Duration::from_secs(1);
const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(30);

/// The cached tokens of one identity.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    tokens: Tokens,
    /// The refresh state of each resource asked for; only the slow path touches it.
    entries: Mutex<Vec<(Box<str>, Arc<Entry>)>>,
}

/// What readers see: the current token of each resource. An application asks for one or a
/// few resources, which a scan finds faster than a hash.
#[derive(Debug, Default)]
struct Tokens(ArcSwap<Vec<(Box<str>, Arc<Cached>)>>);

/// The refresh state of one resource.
#[derive(Debug, Default)]
struct Entry {
    /// Held by the one caller who is asking the endpoint.
    refreshing: tokio::sync::Mutex<()>,
    failures: Mutex<Failures>,
}

/// One cached token. Readers on different cores all clone it; if they cloned one `Arc`, its
/// reference count would bounce between the cores' caches on every read. So the token is kept
/// as several copies with counts of their own, and each thread clones the copy of its shard.
#[derive(Debug)]
struct Cached {
    copies: Box<[AccessToken]>,
    refresh_at: SystemTime,
    usable_until: SystemTime,
}

#[derive(Debug, Default)]
struct Failures {
    /// Refreshes finished, successful or not: tells a queued caller that the refresh it
    /// waited for is over.
    finished: u64,
    consecutive: u32,
    retry_not_before: Option<SystemTime>,
    last_error: Option<Error>,
}

impl TokenCache {
    /// A fresh cached token, if there is one. Takes no lock.
    pub(crate) fn fresh(&self, resource: &str, now: SystemTime) -> Option<AccessToken> {
        self.tokens.fresh(resource, now)
    }

    /// The token for `resource` when [`fresh`](Self::fresh) had none: a usable one, or one
    /// from `fetch`, with the guarantees described in the module documentation.
    pub(crate) async fn refresh<F, Fut>(
        &self,
        resource: &str,
        clock: &dyn Clock,
        fetch: F,
    ) -> Result<AccessToken, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, Error>>,
    {
        let entry = self.entry(resource);
        entry.refresh(&self.tokens, resource, clock, fetch).await
    }

    /// Forgets the token for `resource`, and any backoff, so that the next call asks the
    /// endpoint. For a service that refused the token (401).
    pub(crate) fn invalidate(&self, resource: &str) {
        self.tokens.set(resource, None);
        let entry = find(&lock(&self.entries), resource).cloned();
        if let Some(entry) = entry {
            let mut failures = entry.failures();
            failures.retry_not_before = None;
            failures.consecutive = 0;
        }
    }

    fn entry(&self, resource: &str) -> Arc<Entry> {
        let mut entries = lock(&self.entries);
        if let Some(entry) = find(&entries, resource) {
            return Arc::clone(entry);
        }
        let entry = Arc::new(Entry::default());
        entries.push((resource.into(), Arc::clone(&entry)));
        entry
    }
}

impl Tokens {
    fn fresh(&self, resource: &str, now: SystemTime) -> Option<AccessToken> {
        let tokens = self.0.load();
        let cached = find(&tokens, resource)?;
        (now < cached.refresh_at).then(|| cached.token())
    }

    fn usable(&self, resource: &str, now: SystemTime) -> Option<AccessToken> {
        let tokens = self.0.load();
        let cached = find(&tokens, resource)?;
        (now < cached.usable_until).then(|| cached.token())
    }

    /// Replaces (or with `None` removes) the token of `resource`.
    fn set(&self, resource: &str, cached: Option<&Arc<Cached>>) {
        self.0.rcu(|tokens| {
            let mut next: Vec<_> = tokens
                .iter()
                .filter(|(key, _)| **key != *resource)
                .cloned()
                .collect();
            if let Some(cached) = cached {
                next.push((resource.into(), Arc::clone(cached)));
            }
            next
        });
    }
}

impl Entry {
    async fn refresh<F, Fut>(
        &self,
        tokens: &Tokens,
        resource: &str,
        clock: &dyn Clock,
        fetch: F,
    ) -> Result<AccessToken, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, Error>>,
    {
        let _refreshing = if let Some(usable) = tokens.usable(resource, clock.now()) {
            // Stale but usable: refresh if nobody else is, never wait.
            match self.refreshing.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(usable),
            }
        } else {
            let finished_before = self.failures().finished;
            let guard = self.refreshing.lock().await;
            if let Some(token) = tokens.usable(resource, clock.now()) {
                return Ok(token);
            }
            let shared_failure = {
                let failures = self.failures();
                // The refresh we queued behind failed: share its answer, do not repeat it.
                (failures.finished != finished_before)
                    .then(|| failures.last_error.clone())
                    .flatten()
            };
            if let Some(error) = shared_failure {
                return Err(error);
            }
            guard
        };

        let now = clock.now();
        // Another refresher may have finished between our first look and the lock.
        if let Some(token) = tokens.fresh(resource, now) {
            return Ok(token);
        }
        let backing_off = {
            let failures = self.failures();
            failures
                .retry_not_before
                .is_some_and(|not_before| now < not_before)
                .then(|| failures.last_error.clone())
        };
        if let Some(last_error) = backing_off {
            return match (tokens.usable(resource, now), last_error) {
                (Some(token), _) => Ok(token),
                (None, Some(error)) => Err(error),
                (None, None) => Err(Error::config(
                    "the token cache is backing off with no error recorded; this is a bug in \
                     imds-token",
                )),
            };
        }

        let outcome = fetch().await;
        let received = clock.now();
        let mut failures = self.failures();
        failures.finished += 1;
        match outcome {
            Ok(token) => {
                failures.consecutive = 0;
                failures.retry_not_before = None;
                failures.last_error = None;
                let cached = Arc::new(Cached::new(token.clone(), received));
                tokens.set(resource, Some(&cached));
                Ok(token)
            }
            Err(error) => {
                failures.consecutive = failures.consecutive.saturating_add(1);
                failures.retry_not_before = Some(received + failure_backoff(failures.consecutive));
                failures.last_error = Some(error.clone());
                match tokens.usable(resource, received) {
                    Some(token) => {
                        tracing::warn!(
                            error = %error,
                            expires_on = %http_date(token.expires_on()),
                            "token refresh failed; the current token is still valid and stays in use"
                        );
                        Ok(token)
                    }
                    None => Err(error),
                }
            }
        }
    }

    fn failures(&self) -> MutexGuard<'_, Failures> {
        lock(&self.failures)
    }
}

fn find<'a, T>(entries: &'a [(Box<str>, T)], resource: &str) -> Option<&'a T> {
    entries
        .iter()
        .find(|(key, _)| **key == *resource)
        .map(|(_, value)| value)
}

/// Locks a mutex that guards plain data: a panic elsewhere cannot leave it inconsistent, so a
/// poisoned lock is used as it is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Cached {
    fn new(token: AccessToken, received: SystemTime) -> Self {
        let lifetime = token
            .expires_on()
            .duration_since(received)
            .unwrap_or_default();
        let (refresh_in, jitter_bound) = refresh_schedule(lifetime);
        let refresh_in = refresh_in.saturating_sub(jitter_bound.mul_f64(fastrand::f64()));
        let margin = EXPIRY_MARGIN.min(lifetime / 10);
        let refresh_at = received + refresh_in;
        let usable_until = token.expires_on() - margin;
        let mut copies: Vec<AccessToken> = (1..READ_SHARDS).map(|_| token.duplicate()).collect();
        copies.push(token);
        Self {
            copies: copies.into_boxed_slice(),
            refresh_at,
            usable_until,
        }
    }

    fn token(&self) -> AccessToken {
        self.copies[reader_shard() % self.copies.len()].clone()
    }
}

/// How many copies of a cached token readers spread over.
const READ_SHARDS: usize = 16;

/// This thread's shard: threads are numbered as they first read, so up to `READ_SHARDS`
/// threads each get a copy to themselves.
fn reader_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % READ_SHARDS;
    }
    SHARD.with(|shard| *shard)
}

/// When a token of `lifetime` is due for refresh, counted from receipt, and how much earlier
/// jitter may move it: half the lifetime for long-lived tokens (a day-long token is renewed
/// after twelve hours), five minutes before expiry for the others, half the lifetime for
/// tokens shorter than ten minutes.
pub(crate) fn refresh_schedule(lifetime: Duration) -> (Duration, Duration) {
    let refresh_in = if lifetime > LONG_LIVED {
        lifetime / 2
    } else {
        lifetime
            .saturating_sub(REFRESH_BEFORE_EXPIRY)
            .max(lifetime / 2)
    };
    (refresh_in, MAX_REFRESH_JITTER.min(refresh_in / 20))
}

/// The wait after the `consecutive`-th failed refresh: 1 s, doubling, at most 30 s, and
/// between three quarters and all of that.
fn failure_backoff(consecutive: u32) -> Duration {
    let exponent = consecutive.saturating_sub(1).min(16);
    FIRST_FAILURE_BACKOFF
        .saturating_mul(2_u32.pow(exponent))
        .min(MAX_FAILURE_BACKOFF)
        .mul_f64(0.75 + fastrand::f64() / 4.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60;
    const HOUR: u64 = 3600;

    fn schedule(lifetime_secs: u64) -> (u64, u64) {
        let (refresh_in, jitter) = refresh_schedule(Duration::from_secs(lifetime_secs));
        (refresh_in.as_secs(), jitter.as_secs())
    }

    #[test]
    fn refresh_schedule_by_lifetime() {
        // A day-long token (IMDS, App Service): at twelve hours, up to a minute earlier.
        assert_eq!(schedule(24 * HOUR), (12 * HOUR, 60));
        // An hour-long token (Entra): five minutes before expiry.
        assert_eq!(schedule(HOUR), (55 * MINUTE, 60));
        // Exactly two hours is not long-lived yet.
        assert_eq!(schedule(2 * HOUR), (115 * MINUTE, 60));
        // Short tokens: half their lifetime, with little jitter.
        assert_eq!(schedule(8 * MINUTE), (4 * MINUTE, 12));
        assert_eq!(schedule(0), (0, 0));
    }

    #[test]
    fn failure_backoff_doubles_up_to_thirty_seconds() {
        for (consecutive, full) in [
            (1, 1000),
            (2, 2000),
            (3, 4000),
            (5, 16_000),
            (6, 30_000),
            (60, 30_000),
        ] {
            for _ in 0..50 {
                let wait = failure_backoff(consecutive).as_millis();
                assert!(
                    wait >= full * 3 / 4 && wait <= full,
                    "{consecutive}: {wait}"
                );
            }
        }
    }
}
