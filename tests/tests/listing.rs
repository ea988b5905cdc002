//! Listing against Azurite: more than one page (5,100 blobs), prefixes and directories, the
//! facade's `list_dir` under a location prefix over both auth paths, and `azblob ls` as a
//! process.

use std::collections::BTreeSet;

use azurite_suite::{azblob, unique_container, Azurite, DEV_ACCOUNT, DEV_KEY};
use blob_rest::{
    AccountKey, BlobServiceClient, ClientOptions, ContainerClient, Credential, Endpoint,
    ListBlobsOptions, PutBlobOptions, SharedKeyCredential,
};
use futures_util::{StreamExt as _, TryStreamExt as _};
use local_identity::{LocalIdentityServer, Options};
use storage_facade::{ErrorKind, SaveOptions, Storage};

/// Blobs uploaded at once while filling a container (Azurite answers one at a time anyway).
const IN_FLIGHT: usize = 16;

fn shared_key_container(azurite: &Azurite, name: &str) -> ContainerClient {
    let credential = Credential::SharedKey(SharedKeyCredential::new(
        DEV_ACCOUNT,
        AccountKey::from_base64(DEV_KEY).unwrap(),
    ));
    let endpoint = Endpoint::parse(&azurite.http_endpoint).unwrap();
    BlobServiceClient::new(endpoint, credential, ClientOptions::default())
        .unwrap()
        .container(name)
}

/// Uploads small blobs named `names`, `IN_FLIGHT` at a time.
async fn fill(container: &ContainerClient, names: &[String]) {
    futures_util::stream::iter(names.iter().cloned())
        .map(|name| {
            let blob = container.blob(&name);
            async move {
                blob.put(name.clone().into_bytes(), PutBlobOptions::new())
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<()>()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_go_past_one_page() {
    let azurite = Azurite::from_env();
    let container = shared_key_container(&azurite, &unique_container("list-many"));
    container.create().await.unwrap();
    let names: Vec<String> = (0..5100).map(|i| format!("many/blob {i:05}.txt")).collect();
    fill(&container, &names).await;
    container
        .blob("other/outside.txt")
        .put(b"x".to_vec(), PutBlobOptions::new())
        .await
        .unwrap();

    // Pages as the service cuts them: 5,000 and 100.
    let pages: Vec<_> = container
        .list_blobs(ListBlobsOptions::new().prefix("many/"))
        .try_collect()
        .await
        .unwrap();
    let sizes: Vec<usize> = pages.iter().map(|p| p.blobs.len()).collect();
    assert_eq!(sizes, [5000, 100]);
    let listed: Vec<String> = pages
        .into_iter()
        .flat_map(|p| p.blobs)
        .map(|b| b.name)
        .collect();
    assert_eq!(listed, names, "every name once, in order");

    // Smaller pages, followed to the end.
    let all = container
        .list_all_blobs(ListBlobsOptions::new().max_results(1200))
        .await
        .unwrap();
    assert_eq!(all.blobs.len(), 5101);
    assert_eq!(all.next_marker, None);
    let first = &all.blobs[0];
    assert_eq!(first.name, "many/blob 00000.txt");
    assert_eq!(first.content_length, "many/blob 00000.txt".len() as u64);
    assert!(first.etag.as_deref().is_some_and(|e| e.starts_with('"')));

    // The facade's list_dir follows the markers too.
    let storage = Storage::new(azurite.shared_key_config(container.name())).unwrap();
    let (dirs, files) = storage.list_dir("many").await.unwrap();
    assert!(dirs.is_empty());
    assert_eq!(files.len(), 5100);
    assert_eq!(files[4321].name, "blob 04321.txt");
    let (dirs, files) = storage.list_dir("").await.unwrap();
    assert_eq!(dirs, ["many", "other"]);
    assert!(files.is_empty());

    // Azurite's blob lookups slow down as blobs accumulate (the same 5,100 uploads took 26 s
    // on a fresh instance and over 2 minutes after three earlier runs), so none stay behind.
    container.delete().await.unwrap();
}

/// Blobs of a small photo site, under a location prefix and beside it.
const TREE: [&str; 8] = [
    "site/index.html",
    "site/img/cat photo.jpg",
    "site/img/dog+1.png",
    "site/img/raw/x#1.dng",
    "site/docs/naïve résumé.pdf",
    "site/docs/100%.txt",
    "site/日本/ファイル.txt",
    "elsewhere/secret.txt",
];

async fn directories_and_files(storage_at_site: &Storage, unprefixed: &Storage) {
    for name in TREE {
        unprefixed
            .save_with(
                name,
                name.as_bytes().to_vec(),
                SaveOptions::new().overwrite(true),
            )
            .await
            .unwrap();
    }
    let (dirs, files) = storage_at_site.list_dir("").await.unwrap();
    assert_eq!(dirs, ["docs", "img", "日本"]);
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["index.html"]);
    assert_eq!(files[0].size, "site/index.html".len() as u64);
    assert_eq!(files[0].content_type.as_deref(), Some("text/html"));
    assert!(files[0].last_modified.is_some());

    let (dirs, files) = storage_at_site.list_dir("/img/").await.unwrap();
    assert_eq!(dirs, ["raw"]);
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["cat photo.jpg", "dog+1.png"]);

    let (dirs, files) = storage_at_site.list_dir(r"docs\.").await.unwrap();
    assert!(dirs.is_empty());
    let names: BTreeSet<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["100%.txt", "naïve résumé.pdf"]));

    // The listing's ETag is the one properties give (quotes included).
    let cat = storage_at_site
        .properties("img/cat photo.jpg")
        .await
        .unwrap();
    let (_, files) = storage_at_site.list_dir("img").await.unwrap();
    assert_eq!(files[0].etag, cat.etag);

    // Nothing there, or outside the prefix.
    let (dirs, files) = storage_at_site.list_dir("nothing/here").await.unwrap();
    assert!(dirs.is_empty() && files.is_empty());
    let err = storage_at_site.list_dir("../elsewhere").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidName);
}

#[tokio::test]
async fn list_dir_with_a_shared_key() {
    let azurite = Azurite::from_env();
    let container = unique_container("list-key");
    let config = || azurite.shared_key_config(&container);
    let at_site = Storage::new(config().with_location("site").unwrap()).unwrap();
    directories_and_files(&at_site, &Storage::new(config()).unwrap()).await;
}

#[tokio::test]
async fn list_dir_with_a_managed_identity() {
    let azurite = Azurite::from_env();
    let identity = LocalIdentityServer::start(Options::default())
        .await
        .unwrap();
    let container = unique_container("list-mi");
    let config = || azurite.managed_identity_config(&identity.base_url(), &container);
    let at_site = Storage::new(config().with_location("site").unwrap()).unwrap();
    directories_and_files(&at_site, &Storage::new(config()).unwrap()).await;
}

#[tokio::test]
async fn prefixes_delimiters_and_metadata_in_blob_rest() {
    let azurite = Azurite::from_env();
    let container = shared_key_container(&azurite, &unique_container("list-raw"));
    container.create().await.unwrap();
    for (name, camera) in [
        ("a/1.jpg", "X100"),
        ("a/b/2.jpg", "Q2"),
        ("a/c/3.jpg", "M11"),
    ] {
        container
            .blob(name)
            .put(
                b"img".to_vec(),
                PutBlobOptions::new()
                    .content_type("image/jpeg")
                    .metadata("camera", camera),
            )
            .await
            .unwrap();
    }
    let page = container
        .list_blobs_page(
            &ListBlobsOptions::new()
                .prefix("a/")
                .delimiter("/")
                .include_metadata(),
        )
        .await
        .unwrap();
    assert_eq!(page.prefixes, ["a/b/", "a/c/"]);
    assert_eq!(page.blobs.len(), 1);
    let blob = &page.blobs[0];
    assert_eq!(blob.name, "a/1.jpg");
    assert_eq!(blob.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(blob.content_length, 3);
    assert_eq!(
        blob.metadata.get("camera").map(String::as_str),
        Some("X100")
    );
    assert_eq!(page.next_marker, None);

    // Without metadata asked for, none comes back.
    let page = container
        .list_blobs_page(&ListBlobsOptions::new().prefix("a/b/"))
        .await
        .unwrap();
    assert_eq!(page.blobs[0].name, "a/b/2.jpg");
    assert!(page.blobs[0].metadata.is_empty());

    // A container that does not exist.
    let missing = shared_key_container(&azurite, &unique_container("list-none"));
    let err = missing
        .list_blobs_page(&ListBlobsOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), blob_rest::ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azblob_ls_lists_directories_and_files() {
    let azurite = Azurite::from_env();
    let container = unique_container("list-cli");
    let storage = Storage::new(azurite.shared_key_config(&container)).unwrap();
    for name in ["img/cat.jpg", "img/raw/1.dng", "img/z z.png", "top.txt"] {
        storage.save(name, b"12345".to_vec()).await.unwrap();
    }
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
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    tokio::task::block_in_place(|| {
        let (code, stdout, stderr) = run(&["ls", &container]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(stdout, "img/\ntop.txt\n");

        let (code, stdout, stderr) = run(&["ls", &format!("{container}/img")]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(stdout, "cat.jpg\nraw/\nz z.png\n");

        let (code, stdout, stderr) = run(&["ls", "-l", &format!("{container}/img/")]);
        assert_eq!(code, 0, "{stderr}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 3, "{stdout}");
        assert!(lines[0].trim_start().starts_with("5  "), "{stdout}");
        assert!(lines[0].contains(" GMT  image/jpeg"), "{stdout}");
        assert!(lines[0].ends_with("  cat.jpg"), "{stdout}");
        assert!(lines[1].trim_start().starts_with("-  ") && lines[1].ends_with("  raw/"));
        assert!(lines[2].ends_with("  z z.png"), "{stdout}");

        let (code, stdout, _) = run(&["ls", &format!("{container}/nothing")]);
        assert_eq!((code, stdout.as_str()), (0, ""));

        let (code, _, stderr) = run(&["ls", &unique_container("list-none")]);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("container does not exist"), "{stderr}");

        let (code, _, stderr) = run(&["ls", &format!("{container}/../x")]);
        assert_eq!(code, 2, "{stderr}");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azblob_ls_and_url_with_a_managed_identity() {
    let azurite = Azurite::from_env();
    let identity = LocalIdentityServer::start(Options::default())
        .await
        .unwrap();
    let container = unique_container("list-cli-mi");
    let storage =
        Storage::new(azurite.managed_identity_config(&identity.base_url(), &container)).unwrap();
    storage.save("a/b c.txt", b"mi".to_vec()).await.unwrap();
    storage.save("a/d/e.txt", b"e".to_vec()).await.unwrap();
    let base_url = identity.base_url();
    let run = |args: &[&str]| {
        let output = azblob()
            .env("AZURE_STORAGE_ACCOUNT", DEV_ACCOUNT)
            .env("AZURE_STORAGE_BLOB_ENDPOINT", &azurite.https_endpoint)
            .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &base_url)
            .env("SSL_CERT_FILE", &azurite.ca_cert)
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) =
        tokio::task::block_in_place(|| run(&["ls", &format!("{container}/a")]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "b c.txt\nd/\n");

    let (code, url, stderr) =
        tokio::task::block_in_place(|| run(&["url", &format!("{container}/a/b c.txt")]));
    assert_eq!(code, 0, "{stderr}");
    assert!(url.contains("&skoid="), "a user delegation SAS: {url}");
    let certificate = reqwest::Certificate::from_pem(&azurite.ca_cert_pem()).unwrap();
    let browser = reqwest::Client::builder()
        .add_root_certificate(certificate)
        .no_proxy()
        .build()
        .unwrap();
    let response = browser.get(url.trim()).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(&response.bytes().await.unwrap()[..], b"mi");
}
