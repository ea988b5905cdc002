//! The facade against Azurite, over both auth paths an app uses: SharedKey over HTTP (a
//! developer box), and a managed identity over HTTPS, its tokens fetched from a local endpoint
//! that speaks the IMDS protocol (an Azure VM).

use std::collections::HashSet;
use std::sync::Arc;

use azurite_suite::{random_bytes, sha256_hex, unique_container, Azurite};
use local_identity::{LocalIdentityServer, Options};
use md5::{Digest as _, Md5};
use storage_facade::{ErrorKind, SaveOptions, Storage};

/// A storage on the HTTP flavour, signed with the development account's key.
fn shared_key_storage(azurite: &Azurite, container: &str) -> Storage {
    let config = azurite.shared_key_config(container);
    Storage::new(config).unwrap()
}

/// A storage on the HTTPS flavour that authenticates as a managed identity through `identity`.
fn managed_identity_storage(
    azurite: &Azurite,
    identity: &LocalIdentityServer,
    container: &str,
) -> Storage {
    let config = azurite.managed_identity_config(&identity.base_url(), container);
    Storage::new(config).unwrap()
}

/// Everything an app does with an uploaded photo, with the checks that make it trustworthy.
async fn photo_lifecycle(storage: &Storage) {
    let photo = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/demo-landscape.png"
    ))
    .unwrap();
    let stored = storage
        .save("users/42/profile.png", photo.clone())
        .await
        .unwrap();
    assert_eq!(stored, "users/42/profile.png");

    let back = storage.read(&stored).await.unwrap();
    assert_eq!(sha256_hex(&back), sha256_hex(&photo));
    assert_eq!(storage.size(&stored).await.unwrap(), photo.len() as u64);
    let properties = storage.properties(&stored).await.unwrap();
    assert_eq!(properties.content_type.as_deref(), Some("image/png"));
    assert_eq!(properties.content_length, photo.len() as u64);
    let md5: [u8; 16] = Md5::digest(&photo).into();
    assert_eq!(properties.content_md5, Some(md5));
    assert!(storage.exists(&stored).await.unwrap());

    // The same name again is not overwritten: the second photo gets a name of its own.
    let other = random_bytes(7, 4096);
    let renamed = storage
        .save("users/42/profile.png", other.clone())
        .await
        .unwrap();
    assert_ne!(renamed, stored);
    assert!(
        renamed.starts_with("users/42/profile_")
            && std::path::Path::new(&renamed).extension() == Some("png".as_ref()),
        "{renamed}"
    );
    assert_eq!(
        sha256_hex(&storage.read(&stored).await.unwrap()),
        sha256_hex(&photo)
    );
    assert_eq!(
        sha256_hex(&storage.read(&renamed).await.unwrap()),
        sha256_hex(&other)
    );

    // Unless overwriting is asked for.
    let replaced = storage
        .save_with(&stored, other.clone(), SaveOptions::new().overwrite(true))
        .await
        .unwrap();
    assert_eq!(replaced, stored);
    assert_eq!(
        sha256_hex(&storage.read(&stored).await.unwrap()),
        sha256_hex(&other)
    );

    for name in [&stored, &renamed] {
        storage.delete(name).await.unwrap();
        assert!(!storage.exists(name).await.unwrap());
        assert_eq!(
            storage.read(name).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        // Deleting what is gone succeeds: delete is idempotent.
        storage.delete(name).await.unwrap();
    }
}

#[tokio::test]
async fn photo_lifecycle_with_shared_key() {
    let azurite = Azurite::from_env();
    let storage = shared_key_storage(&azurite, &unique_container("facade-key"));
    photo_lifecycle(&storage).await;
}

#[tokio::test]
async fn photo_lifecycle_with_managed_identity() {
    let azurite = Azurite::from_env();
    let identity = LocalIdentityServer::start(Options::default())
        .await
        .unwrap();
    let storage = managed_identity_storage(&azurite, &identity, &unique_container("facade-mi"));
    photo_lifecycle(&storage).await;
    // A dozen requests, one token: the cache holds it for its lifetime.
    assert_eq!(identity.tokens_issued(), 1);
}

/// Two users upload `avatar.jpg` at the same moment: both files survive, under two names.
async fn racing_saves_keep_every_file(storage: Storage) {
    let storage = Arc::new(storage);
    let uploads: Vec<_> = (0..8u64)
        .map(|i| {
            let storage = Arc::clone(&storage);
            tokio::spawn(async move {
                let content = random_bytes(i, 1000 + usize::try_from(i).unwrap());
                let stored = storage.save("avatar.jpg", content.clone()).await.unwrap();
                (stored, sha256_hex(&content))
            })
        })
        .collect();
    let mut names = HashSet::new();
    for upload in uploads {
        let (stored, sha) = upload.await.unwrap();
        assert_eq!(
            sha256_hex(&storage.read(&stored).await.unwrap()),
            sha,
            "{stored}"
        );
        assert!(names.insert(stored));
    }
    assert_eq!(names.len(), 8);
    assert!(names.contains("avatar.jpg"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_saves_with_shared_key() {
    let azurite = Azurite::from_env();
    racing_saves_keep_every_file(shared_key_storage(&azurite, &unique_container("race-key"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_saves_with_managed_identity() {
    let azurite = Azurite::from_env();
    let identity = LocalIdentityServer::start(Options::default())
        .await
        .unwrap();
    let storage = managed_identity_storage(&azurite, &identity, &unique_container("race-mi"));
    racing_saves_keep_every_file(storage).await;
    // Eight uploads racing on a cold cache still make one token request.
    assert_eq!(identity.tokens_issued(), 1);
}

#[tokio::test]
async fn a_location_prefix_keeps_names_inside_it() {
    let azurite = Azurite::from_env();
    let container = unique_container("facade-loc");
    let storage = Storage::new(
        azurite
            .shared_key_config(&container)
            .with_location("tenant-a")
            .unwrap(),
    )
    .unwrap();
    let stored = storage
        .save("docs\\./report.pdf", b"%PDF-1.7".to_vec())
        .await
        .unwrap();
    assert_eq!(stored, "docs/report.pdf");
    assert_eq!(
        storage.blob_name(&stored).unwrap(),
        "tenant-a/docs/report.pdf"
    );

    // The blob really is under the prefix, as another client without it sees.
    let unprefixed = shared_key_storage(&azurite, &container);
    assert_eq!(
        &unprefixed.read("tenant-a/docs/report.pdf").await.unwrap()[..],
        b"%PDF-1.7"
    );

    let escape = storage
        .save("../tenant-b/x.txt", b"x".to_vec())
        .await
        .unwrap_err();
    assert_eq!(escape.kind(), ErrorKind::InvalidName);
    assert!(!unprefixed.exists("tenant-b/x.txt").await.unwrap());
}
