//! Every way of configuring, and every mistake a user can make, with the exact message.

use base64::Engine as _;

use super::{AuthKind, AuthMethod, StorageConfig, DEVELOPMENT_KEY};
use crate::ErrorKind;

/// A valid key that is not the emulator's: 64 bytes of 0x5a.
fn key() -> String {
    base64::engine::general_purpose::STANDARD.encode([0x5a; 64])
}

fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

fn from_env(pairs: &[(&str, &str)]) -> StorageConfig {
    StorageConfig::from_lookup(lookup(pairs)).unwrap_or_else(|e| panic!("refused: {e}"))
}

fn env_error(pairs: &[(&str, &str)]) -> String {
    let error = StorageConfig::from_lookup(lookup(pairs)).expect_err("config accepted");
    assert_eq!(error.kind(), ErrorKind::Config);
    error.to_string()
}

fn cs_error(text: &str) -> String {
    let error = StorageConfig::from_connection_string(text).expect_err("accepted");
    assert_eq!(error.kind(), ErrorKind::Config);
    error.to_string()
}

fn exposed_key(config: &StorageConfig) -> &str {
    match config.auth().kind() {
        AuthKind::SharedKey(key) => key.expose(),
        _ => panic!("not shared key: {:?}", config.auth()),
    }
}

fn exposed_sas(config: &StorageConfig) -> &str {
    match config.auth().kind() {
        AuthKind::Sas(token) => token.expose(),
        _ => panic!("not SAS: {:?}", config.auth()),
    }
}

// ---- environment: the precedence list ----

#[test]
fn account_alone_means_managed_identity() {
    let config = from_env(&[("AZURE_STORAGE_ACCOUNT", "photos")]);
    assert_eq!(
        config.auth().method(),
        AuthMethod::ManagedIdentity { client_id: None }
    );
    assert_eq!(config.account(), Some("photos"));
    assert_eq!(
        config.blob_endpoint(),
        "https://photos.blob.core.windows.net"
    );
    assert_eq!(
        config.auth_choice().to_string(),
        "managed identity, because AZURE_STORAGE_ACCOUNT is set without AZURE_STORAGE_KEY, \
         AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING"
    );
}

#[test]
fn client_id_selects_a_user_assigned_identity() {
    let config = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "photos"),
        ("AZURE_CLIENT_ID", "abc-123"),
    ]);
    assert_eq!(
        config.auth().method(),
        AuthMethod::ManagedIdentity {
            client_id: Some("abc-123".to_owned())
        }
    );
    assert!(config
        .auth_choice()
        .reason()
        .ends_with("AZURE_CLIENT_ID selects a user-assigned identity"));
}

#[test]
fn account_and_key_mean_shared_key_and_win_over_sas() {
    let key = key();
    let config = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "photos"),
        ("AZURE_STORAGE_KEY", &key),
        ("AZURE_STORAGE_SAS_TOKEN", "sv=2021&sig=abc"),
    ]);
    assert_eq!(config.auth().method(), AuthMethod::SharedKey);
    assert_eq!(exposed_key(&config), key);
    assert_eq!(
        config.auth_choice().to_string(),
        "shared key (account key), because AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY are set \
         (not used: AZURE_STORAGE_SAS_TOKEN)"
    );
}

#[test]
fn a_key_pasted_with_a_newline_works() {
    let key = key();
    let config = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "photos"),
        ("AZURE_STORAGE_KEY", &format!("{key}\n")),
    ]);
    assert_eq!(exposed_key(&config), key);
}

#[test]
fn account_and_sas_mean_sas_and_a_leading_question_mark_is_fine() {
    let config = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "photos"),
        (
            "AZURE_STORAGE_SAS_TOKEN",
            "?sv=2021-08-06&sp=rw&sig=a%2Bb%3D",
        ),
    ]);
    assert_eq!(config.auth().method(), AuthMethod::SharedAccessSignature);
    assert_eq!(exposed_sas(&config), "sv=2021-08-06&sp=rw&sig=a%2Bb%3D");
    assert_eq!(
        config.auth_choice().reason(),
        "AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_SAS_TOKEN are set"
    );
}

#[test]
fn connection_string_wins_and_lists_what_it_overrode() {
    let text = format!("AccountName=fromcs;AccountKey={}", key());
    let config = from_env(&[
        ("AZURE_STORAGE_CONNECTION_STRING", &text),
        ("AZURE_STORAGE_ACCOUNT", "fromenv"),
        ("AZURE_STORAGE_BLOB_ENDPOINT", "http://127.0.0.1:1/x"),
    ]);
    assert_eq!(config.account(), Some("fromcs"));
    assert_eq!(
        config.blob_endpoint(),
        "https://fromcs.blob.core.windows.net"
    );
    assert_eq!(
        config.auth_choice().to_string(),
        "shared key (account key), because AZURE_STORAGE_CONNECTION_STRING has an AccountKey \
         (not used: AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_BLOB_ENDPOINT)"
    );
}

#[test]
fn empty_variables_count_as_unset() {
    let config = from_env(&[
        ("AZURE_STORAGE_CONNECTION_STRING", ""),
        ("AZURE_STORAGE_ACCOUNT", "photos"),
        ("AZURE_STORAGE_KEY", "  "),
        ("AZURE_STORAGE_CONTAINER", ""),
    ]);
    assert_eq!(
        config.auth().method(),
        AuthMethod::ManagedIdentity { client_id: None }
    );
    assert_eq!(config.container(), None);
}

#[test]
fn nothing_set_says_what_to_set() {
    assert_eq!(
        env_error(&[]),
        "no storage account configured: set AZURE_STORAGE_ACCOUNT to the storage account name \
         (alone it uses the managed identity; add AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN \
         for a key or SAS), or set AZURE_STORAGE_CONNECTION_STRING"
    );
}

#[test]
fn a_key_without_an_account_is_a_missing_account() {
    assert_eq!(
        env_error(&[("AZURE_STORAGE_KEY", &key())]),
        "AZURE_STORAGE_KEY is set but AZURE_STORAGE_ACCOUNT is not: set AZURE_STORAGE_ACCOUNT \
         to the storage account name"
    );
    assert_eq!(
        env_error(&[("AZURE_STORAGE_SAS_TOKEN", "sig=x")]),
        "AZURE_STORAGE_SAS_TOKEN is set but AZURE_STORAGE_ACCOUNT is not: set \
         AZURE_STORAGE_ACCOUNT to the storage account name"
    );
}

#[test]
fn key_that_is_not_base64() {
    assert_eq!(
        env_error(&[
            ("AZURE_STORAGE_ACCOUNT", "photos"),
            ("AZURE_STORAGE_KEY", "not a key!")
        ]),
        "AZURE_STORAGE_KEY is not valid base64: copy key1 or key2 from the storage account's \
         Access keys page"
    );
}

#[test]
fn key_of_the_wrong_length() {
    let short = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
    assert_eq!(
        env_error(&[
            ("AZURE_STORAGE_ACCOUNT", "photos"),
            ("AZURE_STORAGE_KEY", &short)
        ]),
        "AZURE_STORAGE_KEY decodes to 32 bytes, but a storage account key has 64 (88 base64 \
         characters): copy key1 or key2 from the storage account's Access keys page"
    );
}

#[test]
fn sas_without_a_signature() {
    assert_eq!(
        env_error(&[
            ("AZURE_STORAGE_ACCOUNT", "photos"),
            ("AZURE_STORAGE_SAS_TOKEN", "sv=2021")
        ]),
        "AZURE_STORAGE_SAS_TOKEN is not a SAS token (it has no `sig=` parameter): paste the \
         whole token, such as `sv=...&se=...&sp=...&sig=...`"
    );
    assert_eq!(
        env_error(&[
            ("AZURE_STORAGE_ACCOUNT", "photos"),
            ("AZURE_STORAGE_SAS_TOKEN", "?sv=2022-11-02&sig=")
        ]),
        "AZURE_STORAGE_SAS_TOKEN has an empty `sig=` parameter: paste the whole token, \
         signature included, such as `sv=...&se=...&sp=...&sig=...`"
    );
}

#[test]
fn account_names_follow_azure_rules() {
    assert_eq!(
        env_error(&[("AZURE_STORAGE_ACCOUNT", "MyPhotos")]),
        "AZURE_STORAGE_ACCOUNT `MyPhotos` is not a valid storage account name (it contains \
         `M`): use 3 to 24 lowercase letters and digits"
    );
    assert_eq!(
        env_error(&[("AZURE_STORAGE_ACCOUNT", "ab")]),
        "AZURE_STORAGE_ACCOUNT `ab` is not a valid storage account name (it has 2 characters): \
         use 3 to 24 lowercase letters and digits"
    );
    // Longer than a name, or with `=`/`;`: maybe a pasted key or connection string, so the
    // value is never quoted back.
    assert_eq!(
        env_error(&[("AZURE_STORAGE_ACCOUNT", "a".repeat(25).as_str())]),
        "AZURE_STORAGE_ACCOUNT is not a valid storage account name (it has 25 characters; the \
         value is not shown, as it may be a key or connection string: those belong in \
         AZURE_STORAGE_KEY or AZURE_STORAGE_CONNECTION_STRING): use 3 to 24 lowercase letters \
         and digits"
    );
    let pasted = "AccountName=x;AccountKey=SENTINELsecretKEY0123456789abcdef==";
    let message = env_error(&[("AZURE_STORAGE_ACCOUNT", pasted)]);
    assert_eq!(
        message,
        "AZURE_STORAGE_ACCOUNT is not a valid storage account name (it has 60 characters, and \
         it contains characters other than lowercase letters and digits; the value is not \
         shown, as it may be a key or connection string: those belong in AZURE_STORAGE_KEY or \
         AZURE_STORAGE_CONNECTION_STRING): use 3 to 24 lowercase letters and digits"
    );
    assert!(!message.contains("SENTINEL") && !message.contains("Account"));
    assert_eq!(
        env_error(&[("AZURE_STORAGE_ACCOUNT", "k=v")]),
        "AZURE_STORAGE_ACCOUNT is not a valid storage account name (it contains characters \
         other than lowercase letters and digits; the value is not shown, as it may be a key or \
         connection string: those belong in AZURE_STORAGE_KEY or \
         AZURE_STORAGE_CONNECTION_STRING): use 3 to 24 lowercase letters and digits"
    );
    assert!(StorageConfig::new("abc", super::Auth::anonymous()).is_ok());
    assert!(StorageConfig::new(&"a1".repeat(12), super::Auth::anonymous()).is_ok());
}

#[test]
fn container_names_follow_azure_rules() {
    let with = |container: &str| {
        env_error(&[
            ("AZURE_STORAGE_ACCOUNT", "photos"),
            ("AZURE_STORAGE_CONTAINER", container),
        ])
    };
    let rule = "use 3 to 63 lowercase letters, digits and single hyphens, starting and ending \
                with a letter or digit";
    assert_eq!(
        with("Images"),
        format!("AZURE_STORAGE_CONTAINER `Images` is not a valid container name (it contains `I`): {rule}")
    );
    assert_eq!(
        with("my_images"),
        format!("AZURE_STORAGE_CONTAINER `my_images` is not a valid container name (it contains `_`): {rule}")
    );
    assert_eq!(
        with("my--images"),
        format!("AZURE_STORAGE_CONTAINER `my--images` is not a valid container name (it has two hyphens in a row): {rule}")
    );
    assert_eq!(
        with("-images"),
        format!("AZURE_STORAGE_CONTAINER `-images` is not a valid container name (it starts or ends with a hyphen): {rule}")
    );
    assert_eq!(
        with("ab"),
        format!("AZURE_STORAGE_CONTAINER `ab` is not a valid container name (it has 2 characters): {rule}")
    );
    let config = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "photos"),
        ("AZURE_STORAGE_CONTAINER", "my-images-2"),
    ]);
    assert_eq!(config.container(), Some("my-images-2"));
    let base = StorageConfig::new("photos", super::Auth::anonymous()).unwrap();
    assert_eq!(
        base.clone()
            .with_container(&"a".repeat(63))
            .unwrap()
            .container()
            .map(str::len),
        Some(63)
    );
    assert!(base.clone().with_container(&"a".repeat(64)).is_err());
    assert_eq!(
        base.with_container("$web").unwrap().container(),
        Some("$web")
    );
}

#[test]
fn blob_endpoint_with_trailing_slash_and_its_alias() {
    let config = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "devstoreaccount1"),
        (
            "AZURE_STORAGE_BLOB_ENDPOINT",
            "http://127.0.0.1:10000/devstoreaccount1/",
        ),
    ]);
    assert_eq!(
        config.blob_endpoint(),
        "http://127.0.0.1:10000/devstoreaccount1"
    );
    let config = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "photos"),
        (
            "AZURE_STORAGE_ENDPOINT",
            "https://photos.blob.core.chinacloudapi.cn/",
        ),
    ]);
    assert_eq!(
        config.blob_endpoint(),
        "https://photos.blob.core.chinacloudapi.cn"
    );
    let same = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "photos"),
        ("AZURE_STORAGE_BLOB_ENDPOINT", "https://h.example/"),
        ("AZURE_STORAGE_ENDPOINT", "https://h.example"),
    ]);
    assert_eq!(same.blob_endpoint(), "https://h.example");
    assert_eq!(
        env_error(&[
            ("AZURE_STORAGE_ACCOUNT", "photos"),
            ("AZURE_STORAGE_BLOB_ENDPOINT", "https://a.example"),
            ("AZURE_STORAGE_ENDPOINT", "https://b.example"),
        ]),
        "AZURE_STORAGE_BLOB_ENDPOINT and AZURE_STORAGE_ENDPOINT are both set, to different \
         endpoints: unset one of them"
    );
}

#[test]
fn bad_endpoints_say_why_and_never_echo_a_query() {
    let with = |url: &str| {
        env_error(&[
            ("AZURE_STORAGE_ACCOUNT", "photos"),
            ("AZURE_STORAGE_BLOB_ENDPOINT", url),
        ])
    };
    let example = "such as https://<account>.blob.core.windows.net or, for an emulator, \
                   http://127.0.0.1:10000/<account>";
    assert_eq!(
        with("photos.blob.core.windows.net"),
        format!("AZURE_STORAGE_BLOB_ENDPOINT is not a URL (relative URL without a base): give it {example}")
    );
    assert_eq!(
        with("ftp://h.example"),
        format!(
            "AZURE_STORAGE_BLOB_ENDPOINT must start with https:// or http://: give it {example}"
        )
    );
    let message = with("https://h.example/?sv=1&sig=SENTINEL");
    assert!(!message.contains("SENTINEL"), "{message}");
    assert_eq!(
        message,
        "AZURE_STORAGE_BLOB_ENDPOINT has a `?` or `#` part: give only the endpoint, and a SAS \
         token separately (AZURE_STORAGE_SAS_TOKEN or the connection string's \
         SharedAccessSignature)"
    );
    let message = with("https://user:SENTINEL@h.example");
    assert!(!message.contains("SENTINEL"), "{message}");
}

#[test]
fn container_and_root_certificates_apply_to_every_source() {
    let config = from_env(&[
        (
            "AZURE_STORAGE_CONNECTION_STRING",
            "UseDevelopmentStorage=true",
        ),
        ("AZURE_STORAGE_CONTAINER", "images"),
        ("SSL_CERT_FILE", "/tmp/azurite-ca.pem"),
    ]);
    assert_eq!(config.container(), Some("images"));
    assert_eq!(
        config.root_certificates_file(),
        Some(std::path::Path::new("/tmp/azurite-ca.pem"))
    );
}

// ---- connection strings ----

#[test]
fn portal_connection_string() {
    let key = key();
    let text = format!(
        "DefaultEndpointsProtocol=https;AccountName=photos;AccountKey={key};\
         EndpointSuffix=core.windows.net"
    );
    let config = StorageConfig::from_connection_string(&text).unwrap();
    assert_eq!(config.account(), Some("photos"));
    assert_eq!(
        config.blob_endpoint(),
        "https://photos.blob.core.windows.net"
    );
    assert_eq!(exposed_key(&config), key);
    assert_eq!(
        config.auth_choice().reason(),
        "the connection string has an AccountKey"
    );
}

#[test]
fn field_names_in_any_case_blanks_and_trailing_semicolon() {
    let key = key();
    let text = format!(
        " defaultendpointsprotocol=HTTP ; ACCOUNTNAME=photos;accountKey={key}; \
         endpointsuffix=.core.chinacloudapi.cn/;"
    );
    let config = StorageConfig::from_connection_string(&text).unwrap();
    assert_eq!(
        config.blob_endpoint(),
        "http://photos.blob.core.chinacloudapi.cn"
    );
    assert_eq!(exposed_key(&config), key);
}

#[test]
fn use_development_storage() {
    for text in ["UseDevelopmentStorage=true", "usedevelopmentstorage=TRUE;"] {
        let config = StorageConfig::from_connection_string(text).unwrap();
        assert_eq!(config.account(), Some("devstoreaccount1"));
        assert_eq!(
            config.blob_endpoint(),
            "http://127.0.0.1:10000/devstoreaccount1"
        );
        assert_eq!(exposed_key(&config), DEVELOPMENT_KEY);
        assert_eq!(
            config.auth_choice().reason(),
            "the connection string says UseDevelopmentStorage=true (the emulator's well-known \
             account)"
        );
    }
    assert_eq!(
        cs_error("UseDevelopmentStorage=false"),
        "the connection string has UseDevelopmentStorage=`false`: it only accepts true; remove \
         it to use a real account"
    );
    assert_eq!(
        cs_error("UseDevelopmentStorage=true;AccountName=photos"),
        "the connection string has UseDevelopmentStorage=true together with AccountName: use \
         one or the other"
    );
}

#[test]
fn azurites_full_connection_string_with_other_services() {
    let text = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEVELOPMENT_KEY};\
         BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;\
         QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;\
         TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
    );
    let config = StorageConfig::from_connection_string(&text).unwrap();
    assert_eq!(
        config.blob_endpoint(),
        "http://127.0.0.1:10000/devstoreaccount1"
    );
    assert_eq!(config.account(), Some("devstoreaccount1"));
}

#[test]
fn sas_connection_string_with_only_an_endpoint() {
    let text =
        "BlobEndpoint=https://photos.blob.core.windows.net/;SharedAccessSignature=?sv=1&sig=abc";
    let config = StorageConfig::from_connection_string(text).unwrap();
    assert_eq!(config.account(), None);
    assert_eq!(
        config.blob_endpoint(),
        "https://photos.blob.core.windows.net"
    );
    assert_eq!(exposed_sas(&config), "sv=1&sig=abc");
}

#[test]
fn connection_string_mistakes() {
    let key = key();
    assert_eq!(
        cs_error(&format!(
            "AccountName=photos;AccountKey={key};accountname=other"
        )),
        "the connection string has the field AccountName twice: keep one"
    );
    assert_eq!(
        cs_error(&format!("AccountName=photos;AccountKey={key};Region=west")),
        "the connection string has an unknown field `Region`: the fields are AccountName, \
         AccountKey, DefaultEndpointsProtocol, EndpointSuffix, BlobEndpoint, \
         SharedAccessSignature and UseDevelopmentStorage (QueueEndpoint, TableEndpoint and \
         FileEndpoint are accepted too, and not used)"
    );
    assert_eq!(
        cs_error("AccountName=photos;photos"),
        "the connection string has a part without `=` (part 2): write each part as Name=value, \
         separated by `;`"
    );
    assert_eq!(
        cs_error("AccountName=;AccountKey=x"),
        "the connection string has an empty AccountName: give it a value or remove it"
    );
    assert_eq!(
        cs_error(&format!("AccountKey={key}")),
        "the connection string has AccountKey but no AccountName: add AccountName=<storage \
         account name>"
    );
    assert_eq!(
        cs_error(&format!(
            "AccountName=photos;AccountKey={key};SharedAccessSignature=sig=x"
        )),
        "the connection string has both AccountKey and SharedAccessSignature: keep one"
    );
    assert_eq!(
        cs_error("AccountName=photos"),
        "the connection string has neither AccountKey nor SharedAccessSignature: add one, or \
         (for a managed identity) use AZURE_STORAGE_ACCOUNT alone instead of a connection string"
    );
    assert_eq!(
        cs_error("SharedAccessSignature=sv=1&sig=x"),
        "the connection string has SharedAccessSignature but neither AccountName nor \
         BlobEndpoint: add AccountName=<storage account name>"
    );
    assert_eq!(
        cs_error(&format!(
            "DefaultEndpointsProtocol=ftp;AccountName=photos;AccountKey={key}"
        )),
        "the connection string has DefaultEndpointsProtocol=`ftp`: use https (or http for an \
         emulator)"
    );
    assert_eq!(
        cs_error(" ; ;"),
        "the connection string is empty: give it as AccountName=<name>;AccountKey=<key> (or \
         UseDevelopmentStorage=true for the emulator)"
    );
}

#[test]
fn connection_string_field_values_are_validated_with_their_field_name() {
    assert_eq!(
        cs_error("AccountName=photos;AccountKey=abc$"),
        "the connection string field AccountKey is not valid base64: copy key1 or key2 from the \
         storage account's Access keys page"
    );
    assert_eq!(
        env_error(&[(
            "AZURE_STORAGE_CONNECTION_STRING",
            "AccountName=Photos;AccountKey=x"
        )]),
        "AZURE_STORAGE_CONNECTION_STRING field AccountName `Photos` is not a valid storage \
         account name (it contains `P`): use 3 to 24 lowercase letters and digits"
    );
}

#[test]
fn a_pasted_key_in_an_unknown_position_is_not_echoed() {
    let key = key();
    // A key pasted without its field name splits at its `=` padding.
    let message = cs_error(&format!("AccountName=photos;{key}"));
    let without_padding = key.trim_end_matches('=');
    assert!(!message.contains(without_padding), "{message}");
    assert!(message.starts_with(
        "the connection string has an unknown field in part 2 (name not shown: it does not \
         look like a field name and may be a secret)"
    ));
}

#[test]
fn debug_output_has_no_secret() {
    let key = key();
    let config = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "photos"),
        ("AZURE_STORAGE_KEY", &key),
    ]);
    let debug = format!("{config:?}");
    assert!(!debug.contains(&key), "{debug}");
    assert!(debug.contains("Auth(shared key (account key))"), "{debug}");
    let sas = StorageConfig::new("photos", super::Auth::sas("sv=1&sig=SENTINEL").unwrap()).unwrap();
    assert!(!format!("{sas:?}").contains("SENTINEL"));
}

// ---- code ----

#[test]
fn built_in_code_without_any_environment() {
    let config = StorageConfig::with_endpoint(
        "http://127.0.0.1:10000/devstoreaccount1/",
        super::Auth::shared_key(DEVELOPMENT_KEY).unwrap(),
    )
    .unwrap()
    .with_container("images")
    .unwrap()
    .with_location("/uploads\\2026/")
    .unwrap()
    .with_overwrite(true)
    .with_cache_control("max-age=60")
    .with_metadata("origin", "test")
    .unwrap();
    assert_eq!(
        config.blob_endpoint(),
        "http://127.0.0.1:10000/devstoreaccount1"
    );
    assert_eq!(config.container(), Some("images"));
    assert_eq!(config.location(), "uploads/2026");
    assert!(config.overwrite());
    assert_eq!(
        config.defaults().cache_control.as_deref(),
        Some("max-age=60")
    );
    assert_eq!(config.auth_choice().reason(), "it was configured in code");
}

#[test]
fn metadata_names_and_values_are_checked() {
    let base = StorageConfig::development_storage();
    assert_eq!(
        base.clone()
            .with_metadata("my-key", "v")
            .unwrap_err()
            .to_string(),
        "metadata name `my-key` is not valid: use ASCII letters, digits and underscores, \
         starting with a letter or underscore"
    );
    assert_eq!(
        base.clone()
            .with_metadata("note", "été")
            .unwrap_err()
            .to_string(),
        "metadata value of `note` has characters an HTTP header cannot carry: use printable \
         ASCII (percent-encode anything else)"
    );
    let replaced = base
        .with_metadata("Tag", "a")
        .unwrap()
        .with_metadata("tag", "b")
        .unwrap();
    assert_eq!(
        replaced.defaults().metadata,
        vec![("tag".to_owned(), "b".to_owned())]
    );
}

#[test]
fn user_assigned_identity_needs_a_client_id() {
    assert_eq!(
        super::Auth::user_assigned_identity(" ")
            .unwrap_err()
            .to_string(),
        "managed identity client id is empty: give the identity's client id, or use the \
         system-assigned identity"
    );
}
