//! Status sequences against the retry policy, on the manual clock: 70 seconds of 410 take
//! microseconds.

use std::time::Duration;

use imds_token::{Clock, ErrorKind, ManualClock};
use serde_json::json;
use wiremock::{MockServer, ResponseTemplate};

use crate::common::{
    assert_imds_request, imds_builder, imds_identity, mount_imds, mount_imds_times, ok_token,
    requests, DAY, IMDS_STORAGE_QUERY, STORAGE,
};

/// Mounts `statuses` in order, then a token; returns the token's text.
async fn sequence(server: &MockServer, clock: &ManualClock, statuses: &[u16]) {
    for status in statuses {
        let answer = ResponseTemplate::new(*status)
            .set_body_json(json!({"error": "busy", "error_description": "try later"}));
        mount_imds_times(server, answer, 1).await;
    }
    mount_imds(server, ok_token("eyJ-after-retries", clock, DAY)).await;
}

async fn assert_all_imds(server: &MockServer, count: usize) {
    let sent = requests(server).await;
    assert_eq!(sent.len(), count);
    for request in &sent {
        assert_imds_request(request, IMDS_STORAGE_QUERY);
    }
}

#[tokio::test]
async fn gone_gone_ok() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    sequence(&server, &clock, &[410, 410]).await;
    let start = clock.now();

    let token = imds_identity(&server, &clock).token(STORAGE).await.unwrap();

    assert_eq!(token.secret(), "eyJ-after-retries");
    assert_all_imds(&server, 3).await;
    // Two jittered waits: 250-500 ms, then 500-1000 ms.
    let waited = clock.now().duration_since(start).unwrap();
    assert!(
        waited >= Duration::from_millis(750) && waited <= Duration::from_millis(1500),
        "{waited:?}"
    );
}

#[tokio::test]
async fn server_errors_then_ok() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    sequence(&server, &clock, &[500, 503]).await;

    let token = imds_identity(&server, &clock).token(STORAGE).await.unwrap();

    assert_eq!(token.secret(), "eyJ-after-retries");
    assert_all_imds(&server, 3).await;
}

#[tokio::test]
async fn not_found_while_starting_then_ok() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    sequence(&server, &clock, &[404, 404, 404]).await;

    let token = imds_identity(&server, &clock).token(STORAGE).await.unwrap();

    assert_eq!(token.secret(), "eyJ-after-retries");
    assert_all_imds(&server, 4).await;
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after_seconds() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds_times(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "7"),
        1,
    )
    .await;
    mount_imds(&server, ok_token("eyJ-patient", &clock, DAY)).await;
    let start = clock.now();

    let token = imds_identity(&server, &clock).token(STORAGE).await.unwrap();

    assert_eq!(token.secret(), "eyJ-patient");
    assert_all_imds(&server, 2).await;
    // Retry-After (7 s) is longer than the first backoff (at most 500 ms), so it is the wait.
    assert_eq!(
        clock.now().duration_since(start).unwrap(),
        Duration::from_secs(7)
    );
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after_date() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    // The manual clock starts at 2026-01-01T00:00:00Z.
    mount_imds_times(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "Thu, 01 Jan 2026 00:00:20 GMT"),
        1,
    )
    .await;
    mount_imds(&server, ok_token("eyJ-patient", &clock, DAY)).await;
    let start = clock.now();

    imds_identity(&server, &clock).token(STORAGE).await.unwrap();

    assert_all_imds(&server, 2).await;
    assert_eq!(
        clock.now().duration_since(start).unwrap(),
        Duration::from_secs(20)
    );
}

#[tokio::test]
async fn gone_is_retried_for_at_least_seventy_seconds() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds(&server, ResponseTemplate::new(410)).await;
    let start = clock.now();

    let error = imds_identity(&server, &clock)
        .token(STORAGE)
        .await
        .unwrap_err();

    let waited = clock.now().duration_since(start).unwrap();
    assert!(
        waited >= Duration::from_secs(70) && waited < Duration::from_secs(90),
        "{waited:?}"
    );
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(error.status(), Some(410));
    let sent = requests(&server).await.len();
    // More than the 6 attempts other statuses get; waits are at most 10 s each.
    assert!(sent > 6, "{sent} attempts");
    assert!(
        error.to_string().contains(&format!(
            "could not give a token for https://storage.azure.com: 410 Gone. Gave up after \
             {sent} attempts in "
        )),
        "{error}"
    );
}

#[tokio::test]
async fn server_errors_stop_after_the_retries() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds(
        &server,
        ResponseTemplate::new(500).set_body_json(
            json!({"error": "unknown_error", "error_description": "Internal failure"}),
        ),
    )
    .await;

    let error = imds_identity(&server, &clock)
        .token(STORAGE)
        .await
        .unwrap_err();

    assert_all_imds(&server, 6).await;
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(error.endpoint_error(), Some("unknown_error"));
    assert_eq!(error.error_description(), Some("Internal failure"));
    let message = error.to_string();
    let expected = format!(
        "the IMDS at {}/metadata/identity/oauth2/token could not give a token for \
         https://storage.azure.com: 500 Internal Server Error: unknown_error: Internal failure. \
         Gave up after 6 attempts in ",
        server.uri()
    );
    assert!(message.starts_with(&expected), "{message}");
}

#[tokio::test]
async fn a_lasting_proxy_error_page_is_no_identity() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds(
        &server,
        ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"),
    )
    .await;

    let error = imds_builder(&server, &clock)
        .max_retries(1)
        .build()
        .unwrap()
        .token(STORAGE)
        .await
        .unwrap_err();

    assert_all_imds(&server, 2).await;
    assert_eq!(error.kind(), ErrorKind::NoIdentity);
    assert_eq!(error.status(), Some(502));
    let message = error.to_string();
    let expected = format!(
        "the IMDS at {}/metadata/identity/oauth2/token answered 502 Bad Gateway with 24 bytes \
         that are not JSON, so it is not a managed identity endpoint: is a proxy, a captive \
         portal or another service answering there? Gave up after 2 attempts in ",
        server.uri()
    );
    assert!(message.starts_with(&expected), "{message}");
}

#[tokio::test]
async fn not_found_for_good_is_no_identity() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds(&server, ResponseTemplate::new(404)).await;

    let error = imds_builder(&server, &clock)
        .max_retries(2)
        .build()
        .unwrap()
        .token(STORAGE)
        .await
        .unwrap_err();

    assert_all_imds(&server, 3).await;
    assert_eq!(error.kind(), ErrorKind::NoIdentity);
    assert_eq!(error.status(), Some(404));
}

#[tokio::test]
async fn retry_after_past_the_deadline_is_not_waited_for() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds(
        &server,
        ResponseTemplate::new(503).insert_header("Retry-After", "30"),
    )
    .await;
    let start = clock.now();

    let error = imds_builder(&server, &clock)
        .deadline(Duration::from_secs(10))
        .build()
        .unwrap()
        .token(STORAGE)
        .await
        .unwrap_err();

    assert_all_imds(&server, 1).await;
    assert_eq!(clock.now(), start, "no wait that ends past the deadline");
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(
        error.to_string(),
        format!(
            "the IMDS at {}/metadata/identity/oauth2/token could not give a token for \
             https://storage.azure.com: 503 Service Unavailable. Gave up after 1 attempt: the \
             next one, in 30s, would pass the deadline of 10s.",
            server.uri()
        )
    );
}

#[tokio::test]
async fn an_absurd_retry_after_is_an_error_not_a_panic() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "18446744073709551615"),
    )
    .await;

    let error = imds_identity(&server, &clock)
        .token(STORAGE)
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(error.status(), Some(429));
    assert!(
        error
            .to_string()
            .ends_with("would pass the deadline of 90s."),
        "{error}"
    );
    assert_all_imds(&server, 1).await;
}

#[tokio::test]
async fn an_answer_that_never_comes_times_out() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds(
        &server,
        ok_token("eyJ-late", &clock, DAY).set_delay(Duration::from_secs(5)),
    )
    .await;

    let error = imds_builder(&server, &clock)
        .attempt_timeout(Duration::from_millis(100))
        .max_retries(1)
        .build()
        .unwrap()
        .token(STORAGE)
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert!(
        error.to_string().starts_with(&format!(
            "the IMDS at {}/metadata/identity/oauth2/token accepted the connection but gave no \
             complete answer within 100ms. Gave up after 2 attempts",
            server.uri()
        )),
        "{error}"
    );
    assert_all_imds(&server, 2).await;
}
