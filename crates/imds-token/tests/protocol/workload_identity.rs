//! AKS workload identity: a form-encoded client-credentials POST to Microsoft Entra with the
//! federated token file's current contents as the assertion.

use std::path::Path;

use imds_token::{Clock, Environment, ErrorKind, ManagedIdentity, ManualClock, SourceKind};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{assert_request, epoch, form, requests, scratch_dir, STORAGE, STORAGE_SCOPE};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "77777777-7777-7777-7777-777777777777";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn token_path() -> String {
    format!("/{TENANT}/oauth2/v2.0/token")
}

/// Entra's token response: numbers as numbers, and `expires_in` only.
fn entra_token(secret: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": secret,
    }))
}

fn workload_env(server: &MockServer, token_file: &Path, authority_suffix: &str) -> Environment {
    Environment::from_vars([
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            token_file.display().to_string(),
        ),
        ("AZURE_CLIENT_ID", CLIENT.to_owned()),
        ("AZURE_TENANT_ID", TENANT.to_owned()),
        (
            "AZURE_AUTHORITY_HOST",
            format!("{}{authority_suffix}", server.uri()),
        ),
        // Ignored: the token file decides for workload identity.
        (
            "IDENTITY_ENDPOINT",
            "http://127.0.0.1:9/msi/token".to_owned(),
        ),
        ("IDENTITY_HEADER", "unused".to_owned()),
    ])
}

fn assert_entra_request(request: &wiremock::Request, assertion: &str, scope: &str) {
    assert_request(
        request,
        "POST",
        &token_path(),
        &[],
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    let expected: Vec<(String, String)> = [
        ("client_assertion", assertion),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_id", CLIENT),
        ("grant_type", "client_credentials"),
        ("scope", scope),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(form(request), expected);
}

#[tokio::test]
async fn exchanges_the_federated_token_for_a_scope() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    Mock::given(method("POST"))
        .and(path(token_path()))
        .respond_with(entra_token("eyJ-workload"))
        .mount(&server)
        .await;
    let dir = scratch_dir("workload-scope");
    let file = dir.join("azure-identity-token");
    std::fs::write(&file, "eyJ-federated-one\n").unwrap();
    // The authority with a trailing slash, as AKS sets it.
    let identity = ManagedIdentity::builder()
        .environment(workload_env(&server, &file, "/"))
        .clock(clock.clone())
        .build()
        .unwrap();

    // A resource is sent to Entra as its scope.
    let token = identity.token(STORAGE).await.unwrap();

    assert_eq!(token.secret(), "eyJ-workload");
    assert_eq!(epoch(token.expires_on()), epoch(clock.now()) + 3599);
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_entra_request(&sent[0], "eyJ-federated-one", STORAGE_SCOPE);
    let choice = identity.source();
    assert_eq!(choice.kind(), SourceKind::WorkloadIdentity);
    assert_eq!(
        choice.endpoint(),
        format!("{}{}", server.uri(), token_path())
    );
    assert_eq!(
        choice.reason(),
        "AZURE_FEDERATED_TOKEN_FILE is set (AKS workload identity), with AZURE_TENANT_ID and \
         the client id"
    );
}

#[tokio::test]
async fn the_token_file_is_read_again_for_every_request() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    Mock::given(method("POST"))
        .and(path(token_path()))
        .respond_with(entra_token("eyJ-workload"))
        .mount(&server)
        .await;
    let dir = scratch_dir("workload-rotation");
    let file = dir.join("token");
    std::fs::write(&file, "eyJ-federated-one").unwrap();
    // No trailing slash on the authority this time.
    let identity = ManagedIdentity::builder()
        .environment(workload_env(&server, &file, ""))
        .clock(clock.clone())
        .build()
        .unwrap();

    identity.token(STORAGE_SCOPE).await.unwrap();
    // Kubernetes rotates the file; the next request must carry the new contents.
    std::fs::write(&file, "eyJ-federated-two").unwrap();
    identity.invalidate(STORAGE_SCOPE);
    identity.token(STORAGE_SCOPE).await.unwrap();

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert_entra_request(&sent[0], "eyJ-federated-one", STORAGE_SCOPE);
    assert_entra_request(&sent[1], "eyJ-federated-two", STORAGE_SCOPE);
}

#[tokio::test]
async fn chosen_in_code_with_an_authority_host() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    Mock::given(method("POST"))
        .and(path(token_path()))
        .respond_with(entra_token("eyJ-code"))
        .mount(&server)
        .await;
    let dir = scratch_dir("workload-code");
    let file = dir.join("token");
    std::fs::write(&file, "eyJ-federated-code").unwrap();
    let identity = ManagedIdentity::builder()
        .environment(Environment::empty())
        .clock(clock.clone())
        .workload_identity(TENANT, CLIENT, &file)
        .authority_host(server.uri())
        .build()
        .unwrap();

    assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-code");
    assert_entra_request(
        &requests(&server).await[0],
        "eyJ-federated-code",
        STORAGE_SCOPE,
    );
}

#[tokio::test]
async fn an_entra_refusal_is_surfaced_with_a_hint() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    let description = "AADSTS70021: No matching federated identity record found for presented \
                       assertion. Assertion Issuer: 'https://oidc.example'.";
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_request",
            "error_description": description,
            "error_codes": [70021],
        })))
        .expect(1)
        .mount(&server)
        .await;
    let dir = scratch_dir("workload-refused");
    let file = dir.join("token");
    std::fs::write(&file, "eyJ-federated").unwrap();
    let identity = ManagedIdentity::builder()
        .environment(workload_env(&server, &file, "/"))
        .clock(clock.clone())
        .build()
        .unwrap();

    let error = identity.token(STORAGE).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Refused);
    assert_eq!(error.endpoint_error(), Some("invalid_request"));
    assert_eq!(error.error_description(), Some(description));
    assert!(
        error.to_string().ends_with(
            "No federated credential of the identity matches this service account: check its \
             issuer and subject."
        ),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_token_file_is_a_config_error_and_sends_nothing() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    let file = scratch_dir("workload-missing").join("absent");
    let identity = ManagedIdentity::builder()
        .environment(workload_env(&server, &file, "/"))
        .clock(clock.clone())
        .build()
        .unwrap();

    let error = identity.token(STORAGE).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(
        error.to_string().starts_with(&format!(
            "cannot read the federated token file {}: ",
            file.display()
        )),
        "{error}"
    );
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn an_empty_token_file_is_a_config_error() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    let dir = scratch_dir("workload-empty");
    let file = dir.join("token");
    std::fs::write(&file, "\n").unwrap();
    let identity = ManagedIdentity::builder()
        .environment(workload_env(&server, &file, "/"))
        .clock(clock.clone())
        .build()
        .unwrap();

    let error = identity.token(STORAGE).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(
        error.to_string(),
        format!(
            "the federated token file {} is empty; it should hold the service account token \
             Kubernetes projects there",
            file.display()
        )
    );
    assert!(requests(&server).await.is_empty());
}

/// The token is read while the cache's refresh lock is held, so reading it must end: a FIFO
/// with no writer is refused without opening it, and an oversized file after 64 KiB.
#[cfg(unix)]
#[tokio::test]
async fn a_token_path_that_is_not_a_regular_file_is_refused_without_blocking() {
    let server = MockServer::start().await;
    let dir = scratch_dir("workload-fifo");
    let fifo = dir.join("token");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    let identity = ManagedIdentity::builder()
        .environment(workload_env(&server, &fifo, "/"))
        .clock(ManualClock::default())
        .build()
        .unwrap();

    let error = identity.token(STORAGE).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(
        error.to_string(),
        format!(
            "the federated token file {} is not a regular file; point \
             AZURE_FEDERATED_TOKEN_FILE at the service account token Kubernetes projects",
            fifo.display()
        )
    );
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn an_oversized_or_binary_token_file_is_a_config_error() {
    let server = MockServer::start().await;
    let dir = scratch_dir("workload-oversized");
    let file = dir.join("token");
    // A failed refresh is remembered and backed off from, so each case gets its own identity.
    let identity = || {
        ManagedIdentity::builder()
            .environment(workload_env(&server, &file, "/"))
            .clock(ManualClock::default())
            .build()
            .unwrap()
    };

    std::fs::write(&file, vec![b'a'; 64 * 1024 + 1]).unwrap();
    let error = identity().token(STORAGE).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(
        error.to_string(),
        format!(
            "the federated token file {} is larger than 64 KiB; it should hold only the \
             service account token Kubernetes projects there",
            file.display()
        )
    );

    std::fs::write(&file, [0xff, 0xfe, b'x']).unwrap();
    let error = identity().token(STORAGE).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(
        error.to_string(),
        format!(
            "the federated token file {} is not UTF-8 text; it should hold the service \
             account token Kubernetes projects there",
            file.display()
        )
    );

    // Exactly 64 KiB is still read and sent.
    let assertion = "b".repeat(64 * 1024);
    std::fs::write(&file, &assertion).unwrap();
    Mock::given(method("POST"))
        .and(path(token_path()))
        .respond_with(entra_token("sixty-four-kib"))
        .mount(&server)
        .await;
    let token = identity().token(STORAGE).await.unwrap();
    assert_eq!(token.secret(), "sixty-four-kib");
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_entra_request(&sent[0], &assertion, STORAGE_SCOPE);
}
