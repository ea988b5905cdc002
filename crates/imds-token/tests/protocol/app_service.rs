//! App Service and Functions: `IDENTITY_ENDPOINT`, `X-IDENTITY-HEADER`, api-version
//! 2019-08-01 and the `mi_res_id` selector.

use imds_token::{Environment, ErrorKind, ManagedIdentity, ManualClock, SourceKind};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{assert_request, epoch, requests, STORAGE, STORAGE_SCOPE};

const TOKEN_PATH: &str = "/msi/token";
const HEADER: &str = "app-service-identity-header-value";

/// App Service's own token response: numbers as strings, `expires_on` in epoch seconds.
fn app_service_token(secret: &str, expires_on: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": secret,
        "expires_on": expires_on.to_string(),
        "resource": STORAGE,
        "token_type": "Bearer",
        "client_id": "5e1f0000-0000-4000-8000-00000000c11d",
    }))
}

fn app_service(
    server: &MockServer,
    clock: &ManualClock,
    extra: &[(&str, &str)],
) -> ManagedIdentity {
    let mut vars = vec![
        (
            "IDENTITY_ENDPOINT".to_owned(),
            format!("{}{TOKEN_PATH}", server.uri()),
        ),
        ("IDENTITY_HEADER".to_owned(), HEADER.to_owned()),
    ];
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    ManagedIdentity::builder()
        .environment(Environment::from_vars(vars))
        .clock(clock.clone())
        .build()
        .unwrap()
}

fn assert_app_service_request(request: &wiremock::Request, selector: Option<(&str, &str)>) {
    let mut query = vec![("api-version", "2019-08-01"), ("resource", STORAGE)];
    query.extend(selector);
    assert_request(
        request,
        "GET",
        TOKEN_PATH,
        &query,
        &[("x-identity-header", HEADER)],
    );
}

#[tokio::test]
async fn system_assigned_from_the_environment() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    let expires_on = epoch(imds_token::Clock::now(&clock)) + 86_400;
    Mock::given(method("GET"))
        .and(path(TOKEN_PATH))
        .respond_with(app_service_token("eyJ-app", expires_on))
        .mount(&server)
        .await;
    let identity = app_service(&server, &clock, &[]);

    // A scope is sent as its resource.
    let token = identity.token(STORAGE_SCOPE).await.unwrap();

    assert_eq!(token.secret(), "eyJ-app");
    assert_eq!(epoch(token.expires_on()), expires_on);
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_app_service_request(&sent[0], None);
    let choice = identity.source();
    assert_eq!(choice.kind(), SourceKind::AppService);
    assert_eq!(choice.endpoint(), format!("{}{TOKEN_PATH}", server.uri()));
    assert_eq!(
        choice.reason(),
        "IDENTITY_ENDPOINT and IDENTITY_HEADER are set (App Service or Functions)"
    );
}

#[tokio::test]
async fn each_selector_goes_in_its_own_parameter() {
    let resource_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/\
                       providers/Microsoft.ManagedIdentity/userAssignedIdentities/app";
    let cases = [
        ("client_id", "11111111-1111-1111-1111-111111111111"),
        ("object_id", "22222222-2222-2222-2222-222222222222"),
        ("mi_res_id", resource_id),
    ];
    for (parameter, value) in cases {
        let server = MockServer::start().await;
        let clock = ManualClock::default();
        let expires_on = epoch(imds_token::Clock::now(&clock)) + 3600;
        Mock::given(method("GET"))
            .respond_with(app_service_token("eyJ-user", expires_on))
            .mount(&server)
            .await;
        let builder = ManagedIdentity::builder()
            .environment(Environment::empty())
            .clock(clock.clone())
            .app_service(format!("{}{TOKEN_PATH}", server.uri()), HEADER);
        let builder = match parameter {
            "client_id" => builder.client_id(value),
            "object_id" => builder.object_id(value),
            _ => builder.resource_id(value),
        };
        let identity = builder.build().unwrap();

        assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-user");

        let sent = requests(&server).await;
        assert_eq!(sent.len(), 1);
        assert_app_service_request(&sent[0], Some((parameter, value)));
    }
}

#[tokio::test]
async fn azure_client_id_selects_a_user_assigned_identity() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    let expires_on = epoch(imds_token::Clock::now(&clock)) + 3600;
    Mock::given(method("GET"))
        .respond_with(app_service_token("eyJ-user", expires_on))
        .mount(&server)
        .await;
    let identity = app_service(&server, &clock, &[("AZURE_CLIENT_ID", "55555555-5555")]);

    identity.token(STORAGE).await.unwrap();

    assert_app_service_request(
        &requests(&server).await[0],
        Some(("client_id", "55555555-5555")),
    );
}

#[tokio::test]
async fn a_wrong_identity_header_is_a_refusal_that_names_the_variable() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "statusCode": 401,
            "message": "Unauthorized request: X-IDENTITY-HEADER mismatch",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let identity = app_service(&server, &clock, &[]);

    let error = identity.token(STORAGE).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Refused);
    assert_eq!(error.status(), Some(401));
    assert_eq!(error.endpoint_error(), None);
    assert_eq!(
        error.error_description(),
        Some("Unauthorized request: X-IDENTITY-HEADER mismatch")
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the App Service managed identity at {}{TOKEN_PATH} refused a token for \
             https://storage.azure.com: 401 Unauthorized: Unauthorized request: \
             X-IDENTITY-HEADER mismatch. The endpoint did not accept X-IDENTITY-HEADER: check \
             IDENTITY_HEADER.",
            server.uri()
        )
    );
}

#[tokio::test]
async fn app_service_400_unable_to_load_identity() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "statusCode": 400,
            "message": "Unable to load the proper Managed Identity.",
            "correlationId": "f5b5b5b5-0000-0000-0000-000000000000",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let identity = app_service(&server, &clock, &[("AZURE_CLIENT_ID", "66666666")]);

    let error = identity.token(STORAGE).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Refused);
    assert_eq!(
        error.error_description(),
        Some("Unable to load the proper Managed Identity.")
    );
    assert!(
        error.to_string().ends_with(
            "400 Bad Request: Unable to load the proper Managed Identity. Check that a managed \
             identity is assigned to this VM or app, and that the client id, object id or \
             resource id given (if any) is one of its identities."
        ),
        "{error}"
    );
}
