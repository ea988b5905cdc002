//! The local endpoint speaks the IMDS protocol: it answers a well-formed request with a token
//! and refuses the requests the real service refuses.

use local_identity::{LocalIdentityServer, Options, LOCAL_CLIENT_ID, TOKEN_PATH};
use serde_json::Value;

async fn ask(server: &LocalIdentityServer, query: &str, metadata: bool) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client.get(format!("{}{TOKEN_PATH}?{query}", server.base_url()));
    if metadata {
        request = request.header("Metadata", "true");
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn issues_a_storage_token_with_string_numbers() {
    let server = LocalIdentityServer::start(Options::default())
        .await
        .unwrap();
    let (status, body) = ask(
        &server,
        "api-version=2018-02-01&resource=https://storage.azure.com",
        true,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["resource"], "https://storage.azure.com");
    assert_eq!(body["client_id"], LOCAL_CLIENT_ID);
    assert_eq!(body["expires_in"], "86400");
    let expires_on: u64 = body["expires_on"].as_str().unwrap().parse().unwrap();
    let not_before: u64 = body["not_before"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires_on - not_before, 86400);
    assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3);
    assert_eq!(server.tokens_issued(), 1);
    server.stop().await;
}

#[tokio::test]
async fn refuses_what_imds_refuses() {
    let server = LocalIdentityServer::start(Options::default())
        .await
        .unwrap();
    let cases = [
        ("api-version=2018-02-01&resource=https://storage.azure.com", false, "Required metadata header not specified"),
        ("resource=https://storage.azure.com", true, "Required query variable 'api-version' is missing"),
        ("api-version=2018-02-01", true, "Required query variable 'resource' is missing"),
        ("api-version=2018-02-01&resource=https://storage.azure.com/.default", true, "AADSTS500011: The resource principal named https://storage.azure.com/.default was not found"),
        ("api-version=2018-02-01&resource=https://storage.azure.com&client_id=someone-else", true, "Identity not found"),
    ];
    for (query, metadata, description) in cases {
        let (status, body) = ask(&server, query, metadata).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["error_description"], description, "{query}");
    }
    assert_eq!(server.tokens_issued(), 0);
}

#[tokio::test]
async fn accepts_its_own_client_id() {
    let server = LocalIdentityServer::start(Options::default())
        .await
        .unwrap();
    let query = format!(
        "api-version=2018-02-01&resource=https://storage.azure.com&client_id={LOCAL_CLIENT_ID}"
    );
    let (status, _) = ask(&server, &query, true).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn refuses_forwarded_requests() {
    let server = LocalIdentityServer::start(Options::default())
        .await
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client
        .get(format!(
            "{}{TOKEN_PATH}?api-version=2018-02-01&resource=https://storage.azure.com",
            server.base_url()
        ))
        .header("Metadata", "true")
        .header("X-Forwarded-For", "10.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
}
