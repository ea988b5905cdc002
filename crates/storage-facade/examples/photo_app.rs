//! The app of the demo: what a web site does with a photo a user uploads.
//!
//! It is configured only by its environment, exactly as it would be on an Azure VM
//! (`AZURE_STORAGE_ACCOUNT` and `AZURE_STORAGE_CONTAINER`, no key: its managed identity signs
//! in), or with `AZURE_STORAGE_CONNECTION_STRING` for the key path. It saves the photo, reads it
//! back and compares SHA-256, shows what was stored, deletes it and checks that it is gone.
//! `cargo xtask demo` runs it against Azurite; it exits non-zero if any step fails.
//!
//! ```text
//! cargo run -p storage-facade --example photo_app -- path/to/photo.jpg
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use storage_facade::{Content, SaveOptions, Storage};

#[tokio::main]
async fn main() -> ExitCode {
    let Some(photo) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: photo_app PHOTO");
        return ExitCode::from(2);
    };
    match run(&photo).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("photo_app: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(photo: &std::path::Path) -> Result<(), String> {
    // The whole configuration: whatever the environment says, as on a VM.
    let storage = Storage::from_env().map_err(|e| e.to_string())?;
    println!(
        "  storage account  {} at {}",
        storage.account(),
        storage.blob_endpoint()
    );
    println!("  authentication   {}", storage.auth_choice());
    if let Some(source) = storage.identity_source() {
        println!("  token source     {source}");
    }

    let original =
        std::fs::read(photo).map_err(|e| format!("cannot read {}: {e}", photo.display()))?;
    let name = format!(
        "uploads/{}",
        photo
            .file_name()
            .map_or("photo".into(), |n| n.to_string_lossy())
    );

    // Save: create-only, so a second upload of the same name gets a name of its own.
    let started = Instant::now();
    let stored = storage
        .save_with(&name, Content::file(photo), SaveOptions::new())
        .await
        .map_err(|e| format!("save failed: {e}"))?;
    let save_time = started.elapsed();

    // Read it back and compare every byte through their hashes.
    let started = Instant::now();
    let downloaded = storage
        .read(&stored)
        .await
        .map_err(|e| format!("read failed: {e}"))?;
    let read_time = started.elapsed();
    let sent = hex::encode(Sha256::digest(&original));
    let received = hex::encode(Sha256::digest(&downloaded));
    if sent != received {
        return Err(format!(
            "read back different bytes: sent SHA-256 {sent}, got {received}"
        ));
    }

    let properties = storage
        .properties(&stored)
        .await
        .map_err(|e| format!("stat failed: {e}"))?;
    println!("  stored as        {}/{stored}", storage.container());
    println!("  size             {} bytes", properties.content_length);
    println!(
        "  content type     {}",
        properties.content_type.as_deref().unwrap_or("(none)")
    );
    println!("  SHA-256          {sent} (read back identical)");
    println!(
        "  timings          save {}, read {}",
        ms(save_time),
        ms(read_time)
    );

    // Delete, then make sure it is really gone.
    let started = Instant::now();
    storage
        .delete(&stored)
        .await
        .map_err(|e| format!("delete failed: {e}"))?;
    let delete_time = started.elapsed();
    if storage
        .exists(&stored)
        .await
        .map_err(|e| format!("exists failed: {e}"))?
    {
        return Err(format!("{stored} still exists after delete"));
    }
    println!(
        "  deleted          in {}, and confirmed gone",
        ms(delete_time)
    );
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
