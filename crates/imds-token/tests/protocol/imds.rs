//! IMDS: the request on the wire for each way of naming the resource and the identity.

use imds_token::{Clock, Environment, ManagedIdentity, ManualClock, SourceKind, UserAssignedId};
use wiremock::MockServer;

use crate::common::{
    assert_imds_request, epoch, imds_builder, imds_identity, mount_imds, ok_token, requests, DAY,
    IMDS_STORAGE_QUERY, STORAGE, STORAGE_SCOPE,
};

#[tokio::test]
async fn system_assigned_token_for_a_resource() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds(&server, ok_token("eyJ-system", &clock, DAY)).await;
    let identity = imds_identity(&server, &clock);

    let token = identity.token(STORAGE).await.unwrap();

    assert_eq!(token.secret(), "eyJ-system");
    assert_eq!(epoch(token.expires_on()), epoch(clock.now() + DAY));
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_imds_request(&sent[0], IMDS_STORAGE_QUERY);
    assert_eq!(identity.source().kind(), SourceKind::Imds);
    assert_eq!(
        identity.source().endpoint(),
        format!("{}/metadata/identity/oauth2/token", server.uri())
    );
    assert_eq!(identity.source().identity(), None);
}

#[tokio::test]
async fn a_scope_is_sent_to_imds_as_its_resource_and_shares_the_cache() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds(&server, ok_token("eyJ-scope", &clock, DAY)).await;
    let identity = imds_identity(&server, &clock);

    let by_scope = identity.token(STORAGE_SCOPE).await.unwrap();
    let by_resource = identity.token(STORAGE).await.unwrap();

    assert_eq!(by_scope.secret(), "eyJ-scope");
    assert_eq!(by_resource.secret(), "eyJ-scope");
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1, "one token for both spellings");
    assert_imds_request(&sent[0], IMDS_STORAGE_QUERY);
}

#[tokio::test]
async fn each_selector_goes_in_its_own_parameter() {
    let resource_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/\
                       providers/Microsoft.ManagedIdentity/userAssignedIdentities/app";
    let cases = [
        ("client_id", "11111111-1111-1111-1111-111111111111"),
        ("object_id", "22222222-2222-2222-2222-222222222222"),
        ("msi_res_id", resource_id),
    ];
    for (parameter, value) in cases {
        let server = MockServer::start().await;
        let clock = ManualClock::default();
        mount_imds(&server, ok_token("eyJ-user", &clock, DAY)).await;
        let builder = imds_builder(&server, &clock);
        let builder = match parameter {
            "client_id" => builder.client_id(value),
            "object_id" => builder.object_id(value),
            _ => builder.resource_id(value),
        };
        let identity = builder.build().unwrap();

        assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-user");

        let sent = requests(&server).await;
        assert_eq!(sent.len(), 1);
        assert_imds_request(
            &sent[0],
            &[
                ("api-version", "2018-02-01"),
                ("resource", STORAGE),
                (parameter, value),
            ],
        );
        assert_eq!(identity.source().identity().unwrap().value(), value);
    }
}

#[tokio::test]
async fn empty_selectors_are_not_sent() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds(&server, ok_token("eyJ-system", &clock, DAY)).await;
    let identity = ManagedIdentity::builder()
        .environment(Environment::from_vars([("AZURE_CLIENT_ID", "")]))
        .clock(clock.clone())
        .imds_endpoint(server.uri())
        .client_id("")
        .object_id("  ")
        .build()
        .unwrap();

    identity.token(STORAGE).await.unwrap();

    assert_imds_request(&requests(&server).await[0], IMDS_STORAGE_QUERY);
}

#[tokio::test]
async fn from_env_with_pod_identity_host_and_client_id() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds(&server, ok_token("eyJ-env", &clock, DAY)).await;
    let client_id = "33333333-3333-3333-3333-333333333333";
    let identity = ManagedIdentity::builder()
        .environment(Environment::from_vars([
            // A trailing slash on the base URL is tolerated.
            (
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                format!("{}/", server.uri()),
            ),
            ("AZURE_CLIENT_ID", client_id.to_owned()),
        ]))
        .clock(clock.clone())
        .build()
        .unwrap();

    assert_eq!(
        identity.token(STORAGE_SCOPE).await.unwrap().secret(),
        "eyJ-env"
    );

    assert_imds_request(
        &requests(&server).await[0],
        &[
            ("api-version", "2018-02-01"),
            ("resource", STORAGE),
            ("client_id", client_id),
        ],
    );
    let choice = identity.source();
    assert_eq!(choice.kind(), SourceKind::Imds);
    assert_eq!(
        choice.identity(),
        Some(&UserAssignedId::ClientId(client_id.to_owned()))
    );
    assert_eq!(
        choice.reason(),
        "neither AZURE_FEDERATED_TOKEN_FILE (AKS workload identity) nor IDENTITY_ENDPOINT with \
         IDENTITY_HEADER (App Service) is set, so the VM's instance metadata service at \
         AZURE_POD_IDENTITY_AUTHORITY_HOST, with the client id from AZURE_CLIENT_ID"
    );
}

#[tokio::test]
async fn a_selector_in_code_wins_over_azure_client_id() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds(&server, ok_token("eyJ-object", &clock, DAY)).await;
    let identity = ManagedIdentity::builder()
        .environment(Environment::from_vars([("AZURE_CLIENT_ID", "from-env")]))
        .clock(clock.clone())
        .imds_endpoint(server.uri())
        .object_id("44444444-4444-4444-4444-444444444444")
        .build()
        .unwrap();

    identity.token(STORAGE).await.unwrap();

    assert_imds_request(
        &requests(&server).await[0],
        &[
            ("api-version", "2018-02-01"),
            ("resource", STORAGE),
            ("object_id", "44444444-4444-4444-4444-444444444444"),
        ],
    );
    assert_eq!(
        identity.source().reason(),
        "chosen in code, with the identity set in code"
    );
}

#[tokio::test]
async fn a_base_url_with_a_path_keeps_it() {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    wiremock::Mock::given(wiremock::matchers::path(
        "/proxy-free/metadata/identity/oauth2/token",
    ))
    .respond_with(ok_token("eyJ-path", &clock, DAY))
    .mount(&server)
    .await;
    let identity = ManagedIdentity::builder()
        .environment(Environment::empty())
        .clock(clock.clone())
        .imds_endpoint(format!("{}/proxy-free/", server.uri()))
        .build()
        .unwrap();

    assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-path");
    assert_eq!(
        requests(&server).await[0].url.path(),
        "/proxy-free/metadata/identity/oauth2/token"
    );
}
