//! Helpers shared by the protocol tests.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imds_token::{Clock, Environment, ManagedIdentity, ManagedIdentityBuilder, ManualClock};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub(crate) const STORAGE: &str = "https://storage.azure.com";
pub(crate) const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";
pub(crate) const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
pub(crate) const DAY: Duration = Duration::from_secs(24 * 3600);
pub(crate) const HOUR: Duration = Duration::from_secs(3600);

pub(crate) fn epoch(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A token response the way IMDS writes it: every number as a string.
pub(crate) fn imds_json(secret: &str, clock: &ManualClock, lifetime: Duration) -> Value {
    let now = clock.now();
    json!({
        "access_token": secret,
        "client_id": "5e1f0000-0000-4000-8000-00000000c11d",
        "expires_in": lifetime.as_secs().to_string(),
        "expires_on": epoch(now + lifetime).to_string(),
        "ext_expires_in": lifetime.as_secs().to_string(),
        "not_before": epoch(now).to_string(),
        "resource": STORAGE,
        "token_type": "Bearer",
    })
}

pub(crate) fn ok_token(secret: &str, clock: &ManualClock, lifetime: Duration) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(imds_json(secret, clock, lifetime))
}

/// Answers every IMDS token request with `response`.
pub(crate) async fn mount_imds(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(IMDS_PATH))
        .respond_with(response)
        .mount(server)
        .await;
}

/// Answers the next `times` IMDS token requests with `response`, then lets later mocks answer.
pub(crate) async fn mount_imds_times(server: &MockServer, response: ResponseTemplate, times: u64) {
    Mock::given(method("GET"))
        .and(path(IMDS_PATH))
        .respond_with(response)
        .up_to_n_times(times)
        .mount(server)
        .await;
}

/// A builder for IMDS at `server`, with no environment and the manual clock.
pub(crate) fn imds_builder(server: &MockServer, clock: &ManualClock) -> ManagedIdentityBuilder {
    ManagedIdentity::builder()
        .environment(Environment::empty())
        .clock(clock.clone())
        .imds_endpoint(server.uri())
}

pub(crate) fn imds_identity(server: &MockServer, clock: &ManualClock) -> ManagedIdentity {
    imds_builder(server, clock).build().unwrap()
}

pub(crate) async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

/// Asserts one request exactly: method, path, query parameters in order, the given headers,
/// and that no other header than reqwest's own (`host`, `accept`, `user-agent`, and
/// `content-length` with a body) was sent, which rules out `X-Forwarded-For` and proxy
/// headers.
pub(crate) fn assert_request(
    request: &Request,
    expected_method: &str,
    expected_path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
) {
    assert_eq!(request.method.as_str(), expected_method);
    assert_eq!(request.url.path(), expected_path);
    let sent: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
    let wanted: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(sent, wanted, "query of {}", request.url);
    for (name, value) in headers {
        let got = request.headers.get(*name).map(|v| v.to_str().unwrap());
        assert_eq!(got, Some(*value), "header {name}");
    }
    let mut allowed: BTreeSet<String> = ["host", "accept", "user-agent"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    if !request.body.is_empty() {
        allowed.insert("content-length".to_owned());
    }
    allowed.extend(headers.iter().map(|(name, _)| name.to_ascii_lowercase()));
    let names: BTreeSet<String> = request
        .headers
        .keys()
        .map(|name| name.as_str().to_owned())
        .collect();
    assert_eq!(names, allowed);
    assert!(request.headers.get("x-forwarded-for").is_none());
    assert_eq!(
        request.headers.get("user-agent").unwrap().to_str().unwrap(),
        concat!("imds-token/", env!("CARGO_PKG_VERSION"))
    );
    if expected_method == "GET" {
        assert!(request.body.is_empty(), "a GET with a body");
    }
}

/// Asserts an IMDS request with the given query.
pub(crate) fn assert_imds_request(request: &Request, query: &[(&str, &str)]) {
    assert_request(request, "GET", IMDS_PATH, query, &[("metadata", "true")]);
}

/// The query of a system-assigned IMDS request for storage.
pub(crate) const IMDS_STORAGE_QUERY: &[(&str, &str)] =
    &[("api-version", "2018-02-01"), ("resource", STORAGE)];

/// A form-encoded body as ordered pairs.
pub(crate) fn form(request: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// A fresh, empty folder for files a test writes.
pub(crate) fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("imds-token-tests-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
