//! No secret in any output: sentinel values for the token, the App Service identity header
//! and the federated assertion go through successes and every kind of failure, and none of
//! them may appear in a Debug or Display string, an error, or a captured log line.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imds_token::{AccessToken, Clock, Environment, ManagedIdentity, ManualClock};
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

// Its own test binary: tracing's per-callsite interest is shared by all threads of a process,
// and a capture made with `set_default` is only reliable when no other test runs beside it.
#[allow(dead_code)]
#[path = "protocol/common.rs"]
mod common;

use common::{imds_identity, mount_imds, mount_imds_times, scratch_dir, HOUR, STORAGE};

const TOKEN: &str = "SENTINEL-token-0f6b";
const HEADER: &str = "SENTINEL-header-91c2";
const ASSERTION: &str = "SENTINEL-assertion-55d0";

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Everything an error shows: Display, alternate Display, Debug and its source chain.
fn everything(error: &imds_token::Error) -> String {
    let mut shown = format!("{error} | {error:#} | {error:?} | {error:#?}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        write!(shown, " | {cause} | {cause:?}").unwrap();
        source = cause.source();
    }
    shown
}

fn token_body() -> serde_json::Value {
    json!({"access_token": TOKEN, "expires_in": "3600"})
}

/// IMDS: a success, then failures with the sentinel in the answer's body.
async fn imds(clock: &ManualClock, shown: &mut Vec<String>) {
    let server = MockServer::start().await;
    mount_imds_times(
        &server,
        ResponseTemplate::new(200).set_body_json(token_body()),
        1,
    )
    .await;
    let identity = imds_identity(&server, clock);
    let token = identity.token(STORAGE).await.unwrap();
    assert_eq!(token.secret(), TOKEN);
    shown.push(format!(
        "{token} {token:?} {token:#?} {identity:?} {}",
        identity.source()
    ));
    shown.push(format!("{:?}", identity.source()));

    let bad_bodies = [
        // Cut off: not JSON.
        ResponseTemplate::new(200).set_body_string(format!(r#"{{"access_token":"{TOKEN}","exp"#)),
        // A token with an unreadable expiry.
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": TOKEN, "expires_on": "whenever"})),
        // A token that already expired.
        ResponseTemplate::new(200).set_body_json(json!({"access_token": TOKEN, "expires_on": 5})),
        // Server errors carrying it, retried until the retries run out.
        ResponseTemplate::new(500).set_body_string(TOKEN),
    ];
    for body in bad_bodies {
        let server = MockServer::start().await;
        mount_imds(&server, body).await;
        let error = imds_identity(&server, clock)
            .token(STORAGE)
            .await
            .unwrap_err();
        shown.push(everything(&error));
    }
}

/// App Service: the identity header through a success and a refusal.
async fn app_service(clock: &ManualClock, shown: &mut Vec<String>) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"statusCode": 401, "message": "header mismatch"})),
        )
        .mount(&server)
        .await;
    let builder = ManagedIdentity::builder()
        .environment(Environment::from_vars([
            ("IDENTITY_ENDPOINT", format!("{}/msi/token", server.uri())),
            ("IDENTITY_HEADER", HEADER.to_owned()),
        ]))
        .clock(clock.clone());
    shown.push(format!("{builder:?}"));
    let identity = builder.build().unwrap();
    shown.push(format!("{identity:?} {}", identity.source()));
    identity.token(STORAGE).await.unwrap();
    identity.invalidate(STORAGE);
    shown.push(everything(&identity.token(STORAGE).await.unwrap_err()));
    assert_eq!(
        server.received_requests().await.unwrap()[0].headers["x-identity-header"],
        HEADER,
        "the header is sent, just never shown"
    );
}

/// Workload identity: the assertion through a refusal.
async fn workload_identity(clock: &ManualClock, shown: &mut Vec<String>) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_client", "error_description": "AADSTS700024: expired"}),
        ))
        .mount(&server)
        .await;
    let file = scratch_dir("secrets").join("token");
    std::fs::write(&file, ASSERTION).unwrap();
    let identity = ManagedIdentity::builder()
        .environment(Environment::empty())
        .clock(clock.clone())
        .workload_identity("t1", "c1", &file)
        .authority_host(server.uri())
        .build()
        .unwrap();
    shown.push(format!("{identity:?}"));
    shown.push(everything(&identity.token(STORAGE).await.unwrap_err()));
}

/// A static token, in the builder and through expiry.
async fn static_token(clock: &ManualClock, shown: &mut Vec<String>) {
    let builder = ManagedIdentity::builder()
        .clock(clock.clone())
        .static_token(AccessToken::new(TOKEN, clock.now() + HOUR));
    shown.push(format!("{builder:?}"));
    let identity = builder.build().unwrap();
    identity.token(STORAGE).await.unwrap();
    clock.advance(HOUR + Duration::from_secs(1));
    shown.push(everything(&identity.token(STORAGE).await.unwrap_err()));
}

#[tokio::test]
async fn no_sentinel_in_any_output() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let clock = ManualClock::default();
    let mut shown = Vec::<String>::new();

    imds(&clock, &mut shown).await;
    app_service(&clock, &mut shown).await;
    workload_identity(&clock, &mut shown).await;
    static_token(&clock, &mut shown).await;

    drop(guard);
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The capture worked: the successes, failures, retries and spans above were logged.
    assert!(logs.contains("managed identity token obtained"), "{logs}");
    assert!(logs.contains("no managed identity token"), "{logs}");
    assert!(
        logs.contains("attempt=6"),
        "the retries were logged: {logs}"
    );
    assert!(
        logs.contains("managed_identity_token{method=\"GET\""),
        "{logs}"
    );
    assert!(
        logs.contains("managed_identity_token{method=\"POST\""),
        "{logs}"
    );
    for text in shown.iter().chain(std::iter::once(&logs)) {
        assert!(!text.contains("SENTINEL"), "a secret leaked: {text}");
    }
}
