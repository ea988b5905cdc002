//! Conditional saves and reads against Azurite, over both auth paths: an app updates a file only
//! if nobody changed it since it read it (`If-Match`), and a mismatch is its own error kind.

use azurite_suite::{unique_container, Azurite};
use local_identity::{LocalIdentityServer, Options};
use storage_facade::{ErrorKind, ReadOptions, SaveOptions, Storage};

async fn update_only_if_unchanged(storage: &Storage) {
    let name = "settings/profile.json";
    storage
        .save_with(
            name,
            b"{\"v\":1}".to_vec(),
            SaveOptions::new().overwrite(true),
        )
        .await
        .unwrap();
    let first = storage.properties(name).await.unwrap().etag.unwrap();

    // Reading on the ETag just seen works.
    let bytes = storage
        .read_with(name, ReadOptions::new().if_match(&first))
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"{\"v\":1}");

    // Our update, on the ETag we read: accepted, under the same name.
    let stored = storage
        .save_with(
            name,
            b"{\"v\":2}".to_vec(),
            SaveOptions::new().if_match(&first),
        )
        .await
        .unwrap();
    assert_eq!(stored, name);
    let second = storage.properties(name).await.unwrap().etag.unwrap();
    assert_ne!(second, first);

    // Someone else's update on the old ETag is refused, and our content stays.
    let err = storage
        .save_with(
            name,
            b"{\"v\":\"lost\"}".to_vec(),
            SaveOptions::new().if_match(&first),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert_eq!(&storage.read(name).await.unwrap()[..], b"{\"v\":2}");

    // A read on the old ETag is refused too.
    let err = storage
        .read_with(name, ReadOptions::new().if_match(&first))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");

    // The ETag of a listing works the same way.
    let (_, files) = storage.list_dir("settings").await.unwrap();
    let listed = files[0].etag.clone().unwrap();
    assert_eq!(listed, second);
    storage
        .save_with(
            name,
            b"{\"v\":3}".to_vec(),
            SaveOptions::new().if_match(&listed),
        )
        .await
        .unwrap();

    // A blob deleted meanwhile: no match either (412 ConditionNotMet, as HTTP says for
    // If-Match on nothing).
    storage.delete(name).await.unwrap();
    let err = storage
        .save_with(name, b"x".to_vec(), SaveOptions::new().if_match(&listed))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(!storage.exists(name).await.unwrap());
}

#[tokio::test]
async fn conditional_updates_with_a_shared_key() {
    let azurite = Azurite::from_env();
    let storage = Storage::new(azurite.shared_key_config(&unique_container("cond-key"))).unwrap();
    update_only_if_unchanged(&storage).await;
}

#[tokio::test]
async fn conditional_updates_with_a_managed_identity() {
    let azurite = Azurite::from_env();
    let identity = LocalIdentityServer::start(Options::default())
        .await
        .unwrap();
    let storage = Storage::new(
        azurite.managed_identity_config(&identity.base_url(), &unique_container("cond-mi")),
    )
    .unwrap();
    update_only_if_unchanged(&storage).await;
}
