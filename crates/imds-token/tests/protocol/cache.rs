//! The cache on the manual clock: when tokens are refreshed, what happens when a refresh
//! fails, invalidation, and one request for many callers.

use std::sync::Arc;
use std::time::Duration;

use imds_token::{Clock, ErrorKind, ManagedIdentity, ManualClock};
use serde_json::json;
use wiremock::{MockServer, ResponseTemplate};

use crate::common::{
    assert_imds_request, imds_builder, imds_identity, mount_imds, mount_imds_times, ok_token,
    requests, DAY, HOUR, IMDS_STORAGE_QUERY, STORAGE, STORAGE_SCOPE,
};

const MINUTE: Duration = Duration::from_secs(60);

async fn count(server: &MockServer) -> usize {
    requests(server).await.len()
}

#[tokio::test]
async fn a_day_long_token_is_refreshed_at_half_life() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds_times(&server, ok_token("eyJ-first", &clock, DAY), 1).await;
    mount_imds(&server, ok_token("eyJ-second", &clock, DAY)).await;
    let identity = imds_identity(&server, &clock);

    assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-first");
    // Up to a minute of jitter before twelve hours: 11 h 58 min is still fresh.
    clock.advance(11 * HOUR + 58 * MINUTE);
    assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-first");
    assert_eq!(count(&server).await, 1);
    clock.advance(2 * MINUTE + Duration::from_secs(1));
    assert_eq!(
        identity.token(STORAGE).await.unwrap().secret(),
        "eyJ-second"
    );
    assert_eq!(count(&server).await, 2);
    for request in requests(&server).await {
        assert_imds_request(&request, IMDS_STORAGE_QUERY);
    }
}

#[tokio::test]
async fn an_hour_long_token_is_refreshed_five_minutes_before_expiry() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds_times(&server, ok_token("eyJ-first", &clock, HOUR), 1).await;
    mount_imds(&server, ok_token("eyJ-second", &clock, HOUR)).await;
    let identity = imds_identity(&server, &clock);

    identity.token(STORAGE).await.unwrap();
    // Due at 55 min, up to a minute earlier with jitter.
    clock.advance(53 * MINUTE + Duration::from_secs(59));
    assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-first");
    assert_eq!(count(&server).await, 1);
    clock.advance(MINUTE + Duration::from_secs(1));
    assert_eq!(
        identity.token(STORAGE).await.unwrap().secret(),
        "eyJ-second"
    );
    assert_eq!(count(&server).await, 2);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_old_token_and_backs_off() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds_times(&server, ok_token("eyJ-old", &clock, HOUR), 1).await;
    mount_imds_times(&server, ResponseTemplate::new(500), 1).await;
    mount_imds(&server, ok_token("eyJ-new", &clock, 2 * HOUR)).await;
    let identity = imds_builder(&server, &clock)
        .max_retries(0)
        .build()
        .unwrap();

    identity.token(STORAGE).await.unwrap();
    clock.advance(56 * MINUTE);
    // The refresh fails; the old token has four minutes left and is still handed out.
    assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-old");
    assert_eq!(count(&server).await, 2);
    // During the backoff (at most 1 s after one failure) nobody asks again.
    assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-old");
    assert_eq!(count(&server).await, 2);
    clock.advance(Duration::from_secs(1));
    assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-new");
    assert_eq!(count(&server).await, 3);
}

#[tokio::test]
async fn an_expired_token_is_never_handed_out() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds_times(&server, ok_token("eyJ-old", &clock, HOUR), 1).await;
    mount_imds(
        &server,
        ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_request", "error_description": "Identity not found"}),
        ),
    )
    .await;
    let identity = imds_identity(&server, &clock);

    identity.token(STORAGE).await.unwrap();
    // 30 s before expiry the token is no longer handed out: a request made with it could
    // reach the service too late.
    clock.advance(Duration::from_secs(3600 - 30));
    let error = identity.token(STORAGE).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Refused);
    assert_eq!(error.error_description(), Some("Identity not found"));
    assert_eq!(count(&server).await, 2);
}

#[tokio::test]
async fn invalidate_forces_a_new_request() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds_times(&server, ok_token("eyJ-rejected", &clock, DAY), 1).await;
    mount_imds(&server, ok_token("eyJ-fresh", &clock, DAY)).await;
    let identity = imds_identity(&server, &clock);

    assert_eq!(
        identity.token(STORAGE).await.unwrap().secret(),
        "eyJ-rejected"
    );
    // The service said 401: the bearer client drops the token, by resource or scope.
    identity.invalidate(STORAGE_SCOPE);
    assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-fresh");
    assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-fresh");
    assert_eq!(count(&server).await, 2);
    // Invalidating a resource never asked for, or an invalid one, changes nothing.
    identity.invalidate("https://vault.azure.net");
    identity.invalidate("");
    assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-fresh");
    assert_eq!(count(&server).await, 2);
}

#[tokio::test]
async fn each_resource_has_its_own_token() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds(&server, ok_token("eyJ-any", &clock, DAY)).await;
    let identity = imds_identity(&server, &clock);

    identity.token(STORAGE).await.unwrap();
    identity.token("https://vault.azure.net").await.unwrap();
    identity
        .token("https://vault.azure.net/.default")
        .await
        .unwrap();

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert_imds_request(&sent[0], IMDS_STORAGE_QUERY);
    assert_imds_request(
        &sent[1],
        &[
            ("api-version", "2018-02-01"),
            ("resource", "https://vault.azure.net"),
        ],
    );
}

#[tokio::test]
async fn clones_share_one_cache() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds(&server, ok_token("eyJ-shared", &clock, DAY)).await;
    let identity = imds_identity(&server, &clock);
    let clone = identity.clone();

    identity.token(STORAGE).await.unwrap();
    assert_eq!(clone.token(STORAGE).await.unwrap().secret(), "eyJ-shared");
    assert_eq!(count(&server).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_callers_on_a_cold_cache_cause_one_request() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(ok_token("eyJ-once", &clock, DAY).set_delay(Duration::from_millis(200)))
        .expect(1)
        .mount(&server)
        .await;
    let identity = imds_identity(&server, &clock);
    let start = Arc::new(tokio::sync::Barrier::new(1000));

    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let identity = identity.clone();
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                identity.token(STORAGE).await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().secret(), "eyJ-once");
    }

    server.verify().await;
    assert_imds_request(&requests(&server).await[0], IMDS_STORAGE_QUERY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_queued_behind_a_failed_request_share_its_error() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(
                    json!({"error": "invalid_request", "error_description": "Identity not found"}),
                )
                .set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let identity = imds_identity(&server, &clock);

    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let identity = identity.clone();
            tokio::spawn(async move { identity.token(STORAGE).await })
        })
        .collect();
    for task in tasks {
        let error = task.await.unwrap().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Refused);
        assert_eq!(error.error_description(), Some("Identity not found"));
    }
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_but_valid_token_is_served_while_another_caller_refreshes() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds_times(&server, ok_token("eyJ-old", &clock, HOUR), 1).await;
    mount_imds(
        &server,
        ok_token("eyJ-new", &clock, 2 * HOUR).set_delay(Duration::from_millis(500)),
    )
    .await;
    let identity = imds_identity(&server, &clock);
    identity.token(STORAGE).await.unwrap();
    clock.advance(56 * MINUTE);

    let refresher = tokio::spawn({
        let identity = identity.clone();
        async move { identity.token(STORAGE).await }
    });
    // Wait (bounded) until the refresh request has reached the endpoint.
    for _ in 0..400 {
        if count(&server).await == 2 {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(count(&server).await, 2, "the refresh should be in flight");

    // While it is, another caller gets the still-valid token without waiting for it.
    assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-old");
    assert_eq!(refresher.await.unwrap().unwrap().secret(), "eyJ-new");
    assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-new");
    assert_eq!(count(&server).await, 2);
}

#[tokio::test]
async fn a_static_token_is_served_until_it_expires() {
    let clock = ManualClock::default();
    let token = imds_token::AccessToken::new("eyJ-static", clock.now() + HOUR);
    let identity = ManagedIdentity::builder()
        .clock(clock.clone())
        .static_token(token)
        .build()
        .unwrap();

    assert_eq!(
        identity.token(STORAGE).await.unwrap().secret(),
        "eyJ-static"
    );
    clock.advance(HOUR);
    let error = identity.token(STORAGE).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(
        error.to_string(),
        "the static token given in code expired at Thu, 01 Jan 2026 01:00:00 GMT; give a fresh one"
    );
}
