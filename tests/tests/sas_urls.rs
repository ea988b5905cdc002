//! Shareable URLs against Azurite, fetched the way a browser would: a plain HTTP client with no
//! credential of its own. Both kinds: a service SAS (account key, plain HTTP Azurite) and a
//! user delegation SAS (managed identity through a local IMDS endpoint, HTTPS Azurite with
//! `--oauth basic`).

use std::time::{Duration, SystemTime};

use azurite_suite::{
    azblob, random_bytes, sha256_hex, unique_container, Azurite, DEV_ACCOUNT, DEV_KEY,
};
use local_identity::{LocalIdentityServer, Options};
use storage_facade::{
    Auth, BlobUrl, BlobUrlKind, ErrorKind, SaveOptions, Storage, StorageConfig, UrlOptions,
};

const HOUR: Duration = Duration::from_secs(3600);

/// Names whose characters break URLs that are encoded twice, or not at all.
const AWKWARD_NAMES: [&str; 8] = [
    "with space.jpg",
    "plus+sign.jpg",
    "hash#tag.jpg",
    "percent%20literal%.jpg",
    "naïve café/résumé.pdf",
    "日本語/ファイル 1.png",
    "mixed/a b+c#d%e?f&g=h.dat",
    "plain.txt",
];

/// A browser-like client: no credential, trusts the HTTPS Azurite's certificate.
fn browser(azurite: &Azurite) -> reqwest::Client {
    let certificate = reqwest::Certificate::from_pem(&azurite.ca_cert_pem()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(certificate)
        .no_proxy()
        .build()
        .unwrap()
}

async fn fetch(client: &reqwest::Client, url: &str) -> (u16, Vec<u8>) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

async fn upload(client: &reqwest::Client, url: &str, content: Vec<u8>) -> u16 {
    client
        .put(url)
        .header("x-ms-blob-type", "BlockBlob")
        .body(content)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Replaces one letter of the `sig` value (outside its `%XX` escapes), keeping it base64.
fn tamper_signature(url: &str) -> String {
    let sig_start = url.find("&sig=").unwrap() + "&sig=".len();
    let bytes = url.as_bytes();
    let mut i = sig_start;
    while bytes[i] == b'%' || !bytes[i].is_ascii_alphabetic() {
        i += if bytes[i] == b'%' { 3 } else { 1 };
    }
    let new = if bytes[i] == b'A' { 'B' } else { 'A' };
    format!("{}{new}{}", &url[..i], &url[i + 1..])
}

/// Everything a site does with URLs, for one storage and the kind of SAS it should sign.
async fn urls_work(storage: &Storage, browser: &reqwest::Client, kind: BlobUrlKind) {
    // Read URLs fetch the exact bytes, whatever the name.
    for (i, name) in AWKWARD_NAMES.iter().enumerate() {
        let content = random_bytes(i as u64, 1000 + 37 * i);
        let stored = storage
            .save_with(name, content.clone(), SaveOptions::new().overwrite(true))
            .await
            .unwrap();
        assert_eq!(&stored, name);
        let url = storage.url(name, HOUR).await.unwrap();
        assert_eq!(url.kind(), kind);
        assert!(url.as_str().contains("sv=2022-11-02"), "{}", url.redacted());
        let (status, body) = fetch(browser, url.as_str()).await;
        assert_eq!(status, 200, "{name}: {}", url.redacted());
        assert_eq!(sha256_hex(&body), sha256_hex(&content), "{name}");
        // The signature never shows in Debug.
        let debug = format!("{url:?}");
        assert!(debug.contains("sig=<redacted>") && !debug.contains(&signature(&url)));
    }

    // A URL that outlives a default one-day delegation key, and the longest allowed.
    for lifetime in [3 * 24 * HOUR, 7 * 24 * HOUR] {
        let long = storage.url("plain.txt", lifetime).await.unwrap();
        assert_eq!(fetch(browser, long.as_str()).await.0, 200);
    }

    // A read URL does not upload.
    let read_only = storage.url("plain.txt", HOUR).await.unwrap();
    assert_eq!(
        upload(browser, read_only.as_str(), b"x".to_vec()).await,
        403
    );

    // A write URL uploads a new blob (and may replace it), readable afterwards.
    let name = "uploads/from browser+1 é.bin";
    let write = storage
        .url_with(name, UrlOptions::expires_in(HOUR).write())
        .await
        .unwrap();
    let content = random_bytes(99, 70_000);
    assert_eq!(upload(browser, write.as_str(), content.clone()).await, 201);
    assert_eq!(
        sha256_hex(&storage.read(name).await.unwrap()),
        sha256_hex(&content)
    );
    assert_eq!(upload(browser, write.as_str(), b"v2".to_vec()).await, 201);
    assert_eq!(&storage.read(name).await.unwrap()[..], b"v2");

    // A create-only URL creates, but does not replace.
    let create = storage
        .url_with(
            "uploads/once.txt",
            UrlOptions::expires_in(HOUR).create_only(),
        )
        .await
        .unwrap();
    assert_eq!(
        upload(browser, create.as_str(), b"first".to_vec()).await,
        201
    );
    assert_eq!(
        upload(browser, create.as_str(), b"second".to_vec()).await,
        403
    );
    assert_eq!(
        &storage.read("uploads/once.txt").await.unwrap()[..],
        b"first"
    );

    // Download overrides of content type and disposition.
    let disposition =
        "attachment; filename=\"resume 100%.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf";
    let url = storage
        .url_with(
            "naïve café/résumé.pdf",
            UrlOptions::expires_in(HOUR)
                .content_type("application/pdf")
                .content_disposition(disposition),
        )
        .await
        .unwrap();
    let response = browser.get(url.as_str()).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert_eq!(response.headers()["content-disposition"], disposition);

    // Expired, tampered and widened URLs are refused.
    let now = SystemTime::now();
    let expired = storage
        .url_with(
            "plain.txt",
            UrlOptions::expires_at(now - HOUR).starts_at(now - 2 * HOUR),
        )
        .await
        .unwrap();
    assert_eq!(fetch(browser, expired.as_str()).await.0, 403);
    let good = storage.url("plain.txt", HOUR).await.unwrap();
    assert_eq!(fetch(browser, good.as_str()).await.0, 200);
    assert_eq!(
        fetch(browser, &tamper_signature(good.as_str())).await.0,
        403
    );
    let widened = good.as_str().replace("&sp=r&", "&sp=rcw&");
    assert_ne!(widened, good.as_str());
    assert_eq!(fetch(browser, &widened).await.0, 403);
    assert_eq!(upload(browser, &widened, b"x".to_vec()).await, 403);
    let other_blob = good.as_str().replace("/plain.txt?", "/with%20space.jpg?");
    assert_eq!(fetch(browser, &other_blob).await.0, 403);
}

fn signature(url: &BlobUrl) -> String {
    url.as_str().split("&sig=").nth(1).unwrap().to_owned()
}

#[tokio::test]
async fn service_sas_urls_with_the_account_key() {
    let azurite = Azurite::from_env();
    let storage = Storage::new(azurite.shared_key_config(&unique_container("sas-key"))).unwrap();
    urls_work(&storage, &browser(&azurite), BlobUrlKind::ServiceSas).await;
}

#[tokio::test]
async fn user_delegation_sas_urls_with_a_managed_identity() {
    let azurite = Azurite::from_env();
    let identity = LocalIdentityServer::start(Options::default())
        .await
        .unwrap();
    let config = azurite.managed_identity_config(&identity.base_url(), &unique_container("sas-mi"));
    let storage = Storage::new(config).unwrap();
    urls_work(&storage, &browser(&azurite), BlobUrlKind::UserDelegationSas).await;
    // Dozens of requests and URLs, one token: the delegation key request reuses it too.
    assert_eq!(identity.tokens_issued(), 1);
}

#[tokio::test]
async fn a_custom_domain_replaces_the_endpoint_in_urls() {
    let azurite = Azurite::from_env();
    let container = unique_container("sas-cdn");
    // A "CDN" that is Azurite itself under another host name, with the account as a path
    // prefix, so the rewritten URL can really be fetched.
    let cdn = azurite.http_endpoint.replace("127.0.0.1", "localhost");
    let storage = Storage::new(
        azurite
            .shared_key_config(&container)
            .with_custom_domain(&cdn)
            .unwrap(),
    )
    .unwrap();
    storage.save("cat pic.jpg", b"meow".to_vec()).await.unwrap();
    let url = storage.url("cat pic.jpg", HOUR).await.unwrap();
    assert!(
        url.as_str()
            .starts_with(&format!("{cdn}/{container}/cat%20pic.jpg?sv=")),
        "{}",
        url.redacted()
    );
    let (status, body) = fetch(&browser(&azurite), url.as_str()).await;
    assert_eq!((status, &body[..]), (200, &b"meow"[..]));

    // Plain URLs move too; the storage's own requests still go to the endpoint.
    let plain = storage
        .url_with("cat pic.jpg", UrlOptions::public())
        .await
        .unwrap();
    assert_eq!(plain.kind(), BlobUrlKind::Plain);
    assert_eq!(plain.as_str(), format!("{cdn}/{container}/cat%20pic.jpg"));
    assert_eq!(&storage.read("cat pic.jpg").await.unwrap()[..], b"meow");
}

#[tokio::test]
async fn plain_urls_work_for_public_containers_only() {
    let azurite = Azurite::from_env();
    let browser = browser(&azurite);
    let public = unique_container("sas-public");
    let key = blob_rest::AccountKey::from_base64(DEV_KEY).unwrap();
    let service = blob_rest::BlobServiceClient::new(
        blob_rest::Endpoint::parse(&azurite.http_endpoint).unwrap(),
        blob_rest::Credential::SharedKey(blob_rest::SharedKeyCredential::new(DEV_ACCOUNT, key)),
        blob_rest::ClientOptions::default(),
    )
    .unwrap();
    service
        .container(&public)
        .create_with_public_access(blob_rest::PublicAccess::Blob)
        .await
        .unwrap();
    // The private container refuses the anonymous read (Azurite answers 403; the service
    // answers 404 ResourceNotFound, so as not to reveal the blob).
    for (container, expected) in [(public, 200), (unique_container("sas-private"), 403)] {
        let storage = Storage::new(azurite.shared_key_config(&container)).unwrap();
        storage
            .save("logo b+w.svg", b"<svg/>".to_vec())
            .await
            .unwrap();
        let plain = storage
            .url_with("logo b+w.svg", UrlOptions::public())
            .await
            .unwrap();
        assert_eq!(plain.kind(), BlobUrlKind::Plain);
        assert_eq!(plain.expires_on(), None);
        assert_eq!(
            plain.as_str(),
            format!("{}/{container}/logo%20b%2Bw.svg", azurite.http_endpoint)
        );
        let (status, body) = fetch(&browser, plain.as_str()).await;
        assert_eq!(status, expected, "{container}");
        if expected == 200 {
            assert_eq!(&body[..], b"<svg/>");
        }
    }
}

#[tokio::test]
async fn a_sas_configured_storage_cannot_sign_urls() {
    let azurite = Azurite::from_env();
    let container = unique_container("sas-none");
    let keyed = Storage::new(azurite.shared_key_config(&container)).unwrap();
    keyed.save("a.txt", b"a".to_vec()).await.unwrap();
    let token_url = keyed
        .url_with("a.txt", UrlOptions::expires_in(HOUR).write())
        .await
        .unwrap();
    let token = token_url.as_str().split_once('?').unwrap().1.to_owned();
    let with_sas = Storage::new(
        StorageConfig::with_endpoint(&azurite.http_endpoint, Auth::sas(&token).unwrap())
            .unwrap()
            .with_container(&container)
            .unwrap(),
    )
    .unwrap();
    // The SAS works for the storage's own requests...
    assert_eq!(&with_sas.read("a.txt").await.unwrap()[..], b"a");
    // ...but is not a key to sign new URLs with, nor handed out.
    let err = with_sas.url("a.txt", HOUR).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let text = err.to_string();
    assert!(text.contains("SAS token, which cannot sign"), "{text}");
    assert!(!text.contains(&signature(&token_url)), "{text}");
    // A plain URL needs no signing.
    let plain = with_sas
        .url_with("a.txt", UrlOptions::public())
        .await
        .unwrap();
    assert_eq!(
        plain.as_str(),
        format!("{}/{container}/a.txt", azurite.http_endpoint)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azblob_url_prints_working_urls() {
    let azurite = Azurite::from_env();
    let container = unique_container("sas-cli");
    let storage = Storage::new(azurite.shared_key_config(&container)).unwrap();
    storage
        .save("docs/a b+c.txt", b"hello".to_vec())
        .await
        .unwrap();
    let connection_string = format!(
        "DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};BlobEndpoint={};",
        azurite.http_endpoint
    );
    let run = |args: &[&str]| {
        let output = azblob()
            .env("AZURE_STORAGE_CONNECTION_STRING", &connection_string)
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).trim().to_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let browser = browser(&azurite);

    let target = format!("{container}/docs/a b+c.txt");
    let (code, url, stderr) =
        tokio::task::block_in_place(|| run(&["url", &target, "--expires", "15m"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(url.contains("/docs/a%20b%2Bc.txt?"), "{url}");
    assert_eq!(fetch(&browser, &url).await, (200, b"hello".to_vec()));

    let new = format!("{container}/docs/new.txt");
    let (code, url, stderr) = tokio::task::block_in_place(|| run(&["url", &new, "--write"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(upload(&browser, &url, b"uploaded".to_vec()).await, 201);
    assert_eq!(
        &storage.read("docs/new.txt").await.unwrap()[..],
        b"uploaded"
    );

    // Configured with a SAS token, there is nothing to sign with: a usage/config error, and
    // the token is not echoed; a plain URL still works.
    let token = url.split_once('?').unwrap().1.to_owned();
    let with_sas = |args: &[&str]| {
        let output = azblob()
            .env("AZURE_STORAGE_ACCOUNT", DEV_ACCOUNT)
            .env("AZURE_STORAGE_SAS_TOKEN", &token)
            .env("AZURE_STORAGE_BLOB_ENDPOINT", &azurite.http_endpoint)
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).trim().to_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = tokio::task::block_in_place(|| with_sas(&["url", &target]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot sign new URLs"), "{stderr}");
    assert!(
        !stderr.contains(token.split("&sig=").nth(1).unwrap()),
        "{stderr}"
    );
    let (code, plain, stderr) =
        tokio::task::block_in_place(|| with_sas(&["url", &target, "--public"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        plain,
        format!("{}/{container}/docs/a%20b%2Bc.txt", azurite.http_endpoint)
    );

    for bad in [
        ["--expires", "soon"],
        ["--expires", "0s"],
        ["--expires", "8d"],
    ] {
        let (code, _, stderr) =
            tokio::task::block_in_place(|| run(&["url", &target, bad[0], bad[1]]));
        assert_eq!(code, 2, "{bad:?}: {stderr}");
        assert!(stderr.contains("--expires"), "{bad:?}: {stderr}");
    }
}
