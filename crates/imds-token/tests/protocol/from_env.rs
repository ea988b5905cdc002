//! The source choice from the environment: its order, its reasons and its configuration
//! errors. Building sends nothing, so none of these needs an endpoint.

use std::time::Duration;

use imds_token::{
    Environment, Error, ErrorKind, ManagedIdentity, ManagedIdentityBuilder, SourceKind,
    UserAssignedId,
};

fn from(vars: &[(&str, &str)]) -> ManagedIdentityBuilder {
    ManagedIdentity::builder().environment(Environment::from_vars(vars.iter().copied()))
}

fn config_error(builder: ManagedIdentityBuilder) -> Error {
    let error = builder.build().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config, "{error}");
    error
}

#[test]
fn nothing_set_means_imds_at_its_fixed_address() {
    let identity = from(&[]).build().unwrap();
    let choice = identity.source();
    assert_eq!(choice.kind(), SourceKind::Imds);
    assert_eq!(
        choice.endpoint(),
        "http://169.254.169.254/metadata/identity/oauth2/token"
    );
    assert_eq!(choice.identity(), None);
    assert_eq!(
        choice.to_string(),
        "IMDS at http://169.254.169.254/metadata/identity/oauth2/token, system-assigned \
         identity: neither AZURE_FEDERATED_TOKEN_FILE (AKS workload identity) nor \
         IDENTITY_ENDPOINT with IDENTITY_HEADER (App Service) is set, so the VM's instance \
         metadata service at its fixed address"
    );
}

#[test]
fn empty_variables_count_as_unset() {
    let identity = from(&[
        ("AZURE_FEDERATED_TOKEN_FILE", ""),
        ("IDENTITY_ENDPOINT", " "),
        ("AZURE_CLIENT_ID", ""),
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", ""),
    ])
    .build()
    .unwrap();
    assert_eq!(identity.source().kind(), SourceKind::Imds);
    assert_eq!(identity.source().identity(), None);
}

#[test]
fn workload_identity_comes_first() {
    let identity = from(&[
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            "/var/run/secrets/azure/tokens/azure-identity-token",
        ),
        ("AZURE_CLIENT_ID", "c1"),
        ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/msi/token"),
        ("IDENTITY_HEADER", "header"),
    ])
    .build()
    .unwrap();
    let choice = identity.source();
    assert_eq!(choice.kind(), SourceKind::WorkloadIdentity);
    assert_eq!(
        choice.endpoint(),
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    assert_eq!(
        choice.identity(),
        Some(&UserAssignedId::ClientId("c1".to_owned()))
    );
}

#[test]
fn a_sovereign_authority_with_or_without_a_trailing_slash() {
    for host in [
        "https://login.microsoftonline.us",
        "https://login.microsoftonline.us/",
    ] {
        let identity = from(&[
            ("AZURE_FEDERATED_TOKEN_FILE", "/tokens/t"),
            ("AZURE_CLIENT_ID", "c1"),
            ("AZURE_TENANT_ID", "t1"),
            ("AZURE_AUTHORITY_HOST", host),
        ])
        .build()
        .unwrap();
        assert_eq!(
            identity.source().endpoint(),
            "https://login.microsoftonline.us/t1/oauth2/v2.0/token"
        );
    }
}

#[test]
fn app_service_comes_before_imds_and_its_header_stays_secret() {
    let identity = from(&[
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/msi/token"),
        ("IDENTITY_HEADER", "header-sentinel-3b1f"),
        ("AZURE_CLIENT_ID", "c2"),
    ])
    .build()
    .unwrap();
    let choice = identity.source();
    assert_eq!(choice.kind(), SourceKind::AppService);
    assert_eq!(
        choice.to_string(),
        "App Service managed identity at http://127.0.0.1:41741/msi/token, user-assigned \
         identity with client id c2: IDENTITY_ENDPOINT and IDENTITY_HEADER are set (App Service \
         or Functions), with the client id from AZURE_CLIENT_ID"
    );
    let shown = format!("{identity:?} {choice:?}");
    assert!(!shown.contains("header-sentinel"), "{shown}");
}

#[test]
fn a_source_chosen_in_code_wins_over_the_environment() {
    let identity = from(&[
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/msi/token"),
        ("IDENTITY_HEADER", "header"),
    ])
    .imds_endpoint("http://127.0.0.1:8080")
    .build()
    .unwrap();
    assert_eq!(identity.source().kind(), SourceKind::Imds);
    assert_eq!(identity.source().reason(), "chosen in code");
    assert_eq!(
        identity.source().endpoint(),
        "http://127.0.0.1:8080/metadata/identity/oauth2/token"
    );
    let standard = from(&[]).imds().build().unwrap();
    assert_eq!(
        standard.source().endpoint(),
        "http://169.254.169.254/metadata/identity/oauth2/token"
    );
}

#[test]
fn configuration_errors_say_what_to_fix() {
    let cases: Vec<(ManagedIdentityBuilder, &str)> =
        vec![
        (
            from(&[("AZURE_FEDERATED_TOKEN_FILE", "/t"), ("AZURE_CLIENT_ID", "c")]),
            "AZURE_FEDERATED_TOKEN_FILE is set, so AKS workload identity is used, but \
             AZURE_TENANT_ID is not: set it to the identity's directory (tenant) id",
        ),
        (
            from(&[("AZURE_FEDERATED_TOKEN_FILE", "/t"), ("AZURE_TENANT_ID", "t")]),
            "AKS workload identity needs the identity's client id: set AZURE_CLIENT_ID (the \
             azure.workload.identity/client-id annotation of the service account)",
        ),
        (
            from(&[
                ("AZURE_FEDERATED_TOKEN_FILE", "/t"),
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
            ])
            .object_id("o"),
            "AKS workload identity names its identity by client id only: remove the object id or \
             resource id, and give the client id (AZURE_CLIENT_ID)",
        ),
        (
            from(&[
                ("AZURE_FEDERATED_TOKEN_FILE", "/t"),
                ("AZURE_TENANT_ID", "t/../../evil"),
                ("AZURE_CLIENT_ID", "c"),
            ]),
            "the tenant id \"t/../../evil\" is not a tenant GUID or domain name: set \
             AZURE_TENANT_ID to the directory (tenant) id of the workload identity",
        ),
        (
            from(&[
                ("AZURE_FEDERATED_TOKEN_FILE", "/t"),
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_AUTHORITY_HOST", "http://login.example.com"),
            ]),
            "AZURE_AUTHORITY_HOST must be an https:// URL (plain http is only allowed on \
             127.0.0.1 or localhost), such as https://login.microsoftonline.com/; got \
             http://login.example.com/",
        ),
        (
            from(&[("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/msi/token")]),
            "IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not: App Service and Functions set \
             both. (Azure Arc and Service Fabric, which set other variables, are not supported.) \
             Unset IDENTITY_ENDPOINT to use IMDS",
        ),
        (
            from(&[("IDENTITY_ENDPOINT", "not a url"), ("IDENTITY_HEADER", "h")]),
            "IDENTITY_ENDPOINT is not a URL (relative URL without a base): give an http:// or \
             https:// URL such as http://127.0.0.1:8080",
        ),
        (
            from(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "ftp://127.0.0.1")]),
            "AZURE_POD_IDENTITY_AUTHORITY_HOST must be an http:// or https:// URL with a host, \
             such as http://127.0.0.1:8080; got ftp://127.0.0.1/",
        ),
        (
            from(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:8080/?x=1")]),
            "AZURE_POD_IDENTITY_AUTHORITY_HOST must be a base URL such as \
             http://127.0.0.1:8080, without a query; /metadata/identity/oauth2/token is appended \
             to it",
        ),
        (
            from(&[]).client_id("c").resource_id("/subscriptions/s"),
            "choose one user-assigned identity, not 2: user-assigned identity with client id c, \
             user-assigned identity with resource id /subscriptions/s; keep only the client id, \
             the object id or the resource id",
        ),
        (
            from(&[]).app_service("http://127.0.0.1:1/msi/token", "bad\nheader"),
            "the identity header given in code must be the non-empty secret App Service gives \
             the app, in printable ASCII; the value given is not",
        ),
        (
            from(&[]).connect_timeout(Duration::ZERO),
            "the connect timeout must be longer than zero",
        ),
        (
            from(&[])
                .static_token(imds_token::AccessToken::new("t", std::time::SystemTime::now()))
                .client_id("c"),
            "a client id, object id or resource id has no meaning with a static token: remove \
             the selector or choose a managed identity source",
        ),
    ];
    for (builder, message) in cases {
        assert_eq!(config_error(builder).to_string(), message);
    }
}

#[tokio::test]
async fn a_bad_resource_is_a_config_error_before_any_request() {
    let identity = from(&[])
        .imds_endpoint("http://127.0.0.1:9")
        .build()
        .unwrap();
    let error = identity.token("").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(
        error.to_string(),
        "no resource given (got \"\"): name the resource, such as https://storage.azure.com, or \
         its scope https://storage.azure.com/.default"
    );
}

#[test]
fn managed_identity_is_cheap_to_share() {
    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    fn assert_send<T: Send>(_: &T) {}
    assert_send_sync_clone::<ManagedIdentity>();
    let identity = from(&[]).build().unwrap();
    assert_send(&identity.token("https://storage.azure.com"));
}
