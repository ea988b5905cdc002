//! Proxies from the environment never apply to identity endpoints: IMDS and App Service
//! answer on the machine itself, and IMDS refuses what came through a proxy.
//!
//! Its own test binary, with a single test, because it sets process-wide environment
//! variables.

use imds_token::{Environment, ManagedIdentity, ManualClock};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PROXY_VARIABLES: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

#[tokio::test]
async fn proxies_in_the_environment_are_not_used() {
    let proxy = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>proxy error</html>"))
        .mount(&proxy)
        .await;
    let endpoint = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/metadata/identity/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "eyJ-direct",
            "expires_in": "86400",
        })))
        .mount(&endpoint)
        .await;
    Mock::given(method("GET"))
        .and(path("/msi/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "eyJ-direct-app",
            "expires_in": 86400,
        })))
        .mount(&endpoint)
        .await;
    for name in PROXY_VARIABLES {
        std::env::set_var(name, proxy.uri());
    }
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");

    // The control: an ordinary client in this environment does go through the proxy, so the
    // test below would notice if ours did.
    let control = reqwest::get(format!("{}/control", endpoint.uri()))
        .await
        .unwrap();
    assert_eq!(control.status(), 502);
    assert_eq!(proxy.received_requests().await.unwrap().len(), 1);

    let imds = ManagedIdentity::builder()
        .environment(Environment::empty())
        .clock(ManualClock::default())
        .imds_endpoint(endpoint.uri())
        .build()
        .unwrap();
    let app_service = ManagedIdentity::builder()
        .environment(Environment::empty())
        .clock(ManualClock::default())
        .app_service(format!("{}/msi/token", endpoint.uri()), "header")
        .build()
        .unwrap();

    let imds_token = imds.token("https://storage.azure.com").await.unwrap();
    let app_token = app_service
        .token("https://storage.azure.com")
        .await
        .unwrap();

    assert_eq!(imds_token.secret(), "eyJ-direct");
    assert_eq!(app_token.secret(), "eyJ-direct-app");
    assert_eq!(
        proxy.received_requests().await.unwrap().len(),
        1,
        "only the control went through the proxy"
    );
    let direct = endpoint.received_requests().await.unwrap();
    assert_eq!(direct.len(), 2);
    for request in &direct {
        assert!(request.headers.get("x-forwarded-for").is_none());
        assert!(request.headers.get("proxy-authorization").is_none());
        assert!(request.headers.get("via").is_none());
    }
}
