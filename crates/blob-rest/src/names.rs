//! Checks on account, container, blob and metadata names, done before any request is sent so
//! that a bad name gets an error saying what to fix instead of a puzzling service answer.
//!
//! Rules: [Naming and referencing containers, blobs, and metadata](https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata).

use crate::error::Error;

/// Containers with fixed names that break the ordinary container rules.
const SPECIAL_CONTAINERS: [&str; 3] = ["$root", "$logs", "$web"];

/// The longest blob name the service accepts, in characters.
pub(crate) const MAX_BLOB_NAME_CHARS: usize = 1024;

/// Account names: 3 to 24 lower-case letters and digits.
pub(crate) fn check_account_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::config(
            "the storage account name is empty: give the account name, e.g. \"mystorageaccount\" \
             (or \"devstoreaccount1\" for Azurite)",
        ));
    }
    let len = name.chars().count();
    if !(3..=24).contains(&len)
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(Error::config(format!(
            "the storage account name {name:?} is not valid: account names are 3 to 24 \
             characters long and use only lower-case letters and digits"
        )));
    }
    Ok(())
}

/// Container names: 3 to 63 characters of lower-case letters, digits and single hyphens,
/// starting and ending with a letter or digit; or one of `$root`, `$logs`, `$web`.
pub(crate) fn check_container_name(name: &str) -> Result<(), Error> {
    if SPECIAL_CONTAINERS.contains(&name) {
        return Ok(());
    }
    let bytes = name.as_bytes();
    let allowed = bytes
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ends_ok = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    if !(3..=63).contains(&bytes.len()) || !allowed || !ends_ok || name.contains("--") {
        return Err(Error::invalid_input(format!(
            "the container name {name:?} is not valid: container names are 3 to 63 characters \
             of lower-case letters, digits and single hyphens, and start and end with a letter \
             or digit"
        )));
    }
    Ok(())
}

/// Blob names: 1 to 1024 characters, no control characters, and no `.` or `..` path segment
/// (URLs resolve those, so the service would receive a different name).
pub(crate) fn check_blob_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::invalid_input("the blob name is empty"));
    }
    let len = name.chars().count();
    if len > MAX_BLOB_NAME_CHARS {
        return Err(Error::invalid_input(format!(
            "the blob name is {len} characters long; blob names are at most \
             {MAX_BLOB_NAME_CHARS} characters"
        )));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(Error::invalid_input(format!(
            "the blob name {name:?} contains the control character U+{:04X}; remove it",
            u32::from(c)
        )));
    }
    if name
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err(Error::invalid_input(format!(
            "the blob name {name:?} has a \".\" or \"..\" path segment, which URLs resolve \
             away; rename it without such segments"
        )));
    }
    Ok(())
}

/// Metadata names are C# identifiers (ASCII letters, digits and `_`, not starting with a
/// digit); values follow [`check_signed_header_text`].
pub(crate) fn check_metadata(pairs: &[(String, String)]) -> Result<(), Error> {
    for (i, (name, value)) in pairs.iter().enumerate() {
        let starts_ok = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
        if !starts_ok || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(Error::invalid_input(format!(
                "the metadata name {name:?} is not valid: metadata names are C# identifiers \
                 (ASCII letters, digits and '_', not starting with a digit)"
            )));
        }
        if pairs[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err(Error::invalid_input(format!(
                "the metadata name {name:?} is given twice (metadata names ignore case)"
            )));
        }
        check_signed_header_text(&format!("the value of metadata {name:?}"), value)?;
    }
    Ok(())
}

/// Text sent in a signed `x-ms-` header (metadata values, cache control): printable ASCII,
/// without surrounding whitespace (HTTP drops it), tabs or runs of spaces.
///
/// NOTE (2026-12): the Shared Key reference folds runs of whitespace in canonical header
/// values to one space (outside quoted strings), while Azurite 3.35.0 signs values as sent,
/// so a value such as "two  spaces" is refused by one of them whichever way it is signed.
/// Refusing such values before sending keeps the client working the same against both.
pub(crate) fn check_signed_header_text(what: &str, value: &str) -> Result<(), Error> {
    if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Error::invalid_input(format!(
            "{what} is not printable ASCII (or holds a tab); encode it first, e.g. with \
             percent-encoding or base64"
        )));
    }
    if value.trim() != value {
        return Err(Error::invalid_input(format!(
            "{what} starts or ends with whitespace, which HTTP does not preserve; trim it"
        )));
    }
    if value.contains("  ") {
        return Err(Error::invalid_input(format!(
            "{what} contains a run of spaces, which Azure Storage and Azurite sign \
             differently; use single spaces"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn account_names() {
        assert!(check_account_name("devstoreaccount1").is_ok());
        let err = check_account_name("").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("account name is empty"));
        assert!(check_account_name("My_Account").is_err());
        assert!(check_account_name("ab").is_err());
    }

    #[test]
    fn container_names() {
        for ok in ["abc", "photos-2025", "$root", "a1b"] {
            assert!(check_container_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "Photos",
            "-abc",
            "abc-",
            "a--b",
            "a_b",
            &"a".repeat(64),
        ] {
            let err = check_container_name(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.to_string().contains("3 to 63"), "{err}");
        }
    }

    #[test]
    fn blob_names() {
        for ok in [
            "a",
            "dir/",
            "a b+c%d#e?f&g=h",
            "été/ü",
            "a//b",
            "..a/b.",
            "/lead",
        ] {
            assert!(check_blob_name(ok).is_ok(), "{ok}");
        }
        assert!(check_blob_name(&"x".repeat(1024)).is_ok());
        assert!(check_blob_name(&"é".repeat(1024)).is_ok());
        let err = check_blob_name(&"x".repeat(1025)).unwrap_err();
        assert!(err.to_string().contains("1025 characters"), "{err}");
        let err = check_blob_name("a\nb").unwrap_err();
        assert!(err.to_string().contains("U+000A"), "{err}");
        assert!(check_blob_name("a/../b").is_err());
        assert!(check_blob_name("./b").is_err());
        assert!(check_blob_name("").is_err());
    }

    #[test]
    fn metadata() {
        let ok = vec![
            ("a_b".to_owned(), "x y".to_owned()),
            ("_x1".to_owned(), String::new()),
        ];
        assert!(check_metadata(&ok).is_ok());
        let bad = |n: &str, v: &str| check_metadata(&[(n.to_owned(), v.to_owned())]).unwrap_err();
        assert!(bad("a-b", "v").to_string().contains("C# identifiers"));
        assert!(bad("1a", "v").to_string().contains("C# identifiers"));
        assert!(bad("a", "é").to_string().contains("printable ASCII"));
        assert!(bad("a", " v").to_string().contains("whitespace"));
        assert!(bad("a", "x\ty").to_string().contains("tab"));
        assert!(bad("a", "two  spaces")
            .to_string()
            .contains("single spaces"));
        let dup = vec![
            ("Ab".to_owned(), "1".to_owned()),
            ("aB".to_owned(), "2".to_owned()),
        ];
        assert!(check_metadata(&dup)
            .unwrap_err()
            .to_string()
            .contains("twice"));
    }
}
