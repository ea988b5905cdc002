//! Blob names as an app gives them, turned into the names stored in the container.
//!
//! The rules, applied in this order:
//! 1. A name with a control character (U+0000 to U+001F, U+007F to U+009F) is refused.
//! 2. Backslashes become `/`, so Windows paths keep their folders.
//! 3. The name is split at `/`; empty segments (a leading `/`, `//`) and `.` segments are
//!    dropped, and `..` removes the segment before it. A `..` with nothing left to remove
//!    would climb out of the location prefix (or the container) and is refused.
//! 4. What is left must not be empty.
//! 5. The stored name is `<location>/<name>` (or just `<name>` without a location): it may
//!    have at most 1024 characters and 254 segments, Azure's limits.
//!
//! The location prefix itself follows rules 1 to 3 and may be empty.
//!
//! Reference: <https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata>

use crate::config::quote;
use crate::error::{Error, Result};

/// Azure's limit on the length of a blob name, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 1024;
/// Azure's limit on the number of `/`-separated segments of a blob name.
const MAX_SEGMENTS: usize = 254;

/// A name after the rules: `relative` is what the app uses (and gets back from a save),
/// `full` is the blob name in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlobName {
    pub(crate) relative: String,
    pub(crate) full: String,
}

/// Applies the rules to `name` under an already normalized `location`.
pub(crate) fn resolve(location: &str, name: &str) -> Result<BlobName> {
    if name.is_empty() {
        return Err(Error::invalid_name("blob name is empty: give a file name"));
    }
    let relative = normalize("blob name", name, location)?;
    if relative.is_empty() {
        return Err(Error::invalid_name(format!(
            "blob name {} is empty once `.`, `..` and `/` are resolved: give a file name",
            quote(name)
        )));
    }
    let full = join(location, &relative);
    check_limits(&full, location)?;
    Ok(BlobName { relative, full })
}

/// Normalizes a location prefix (rules 1 to 3); empty means none.
pub(crate) fn normalize_location(location: &str) -> Result<String> {
    let normalized = normalize("location prefix", location, "")?;
    check_limits(&normalized, "")?;
    Ok(normalized)
}

/// Normalizes a directory path under `location` (rules 1 to 3); empty means the top.
pub(crate) fn normalize_dir(location: &str, path: &str) -> Result<String> {
    normalize("directory", path, location)
}

/// `<location>/<relative>`, or `relative` alone without a location.
pub(crate) fn join(location: &str, relative: &str) -> String {
    if location.is_empty() {
        relative.to_owned()
    } else {
        format!("{location}/{relative}")
    }
}

fn normalize(what: &str, name: &str, location: &str) -> Result<String> {
    if let Some(control) = name.chars().find(|c| c.is_control()) {
        return Err(Error::invalid_name(format!(
            "{what} {} contains the control character U+{:04X}: remove it",
            quote(name),
            u32::from(control)
        )));
    }
    let with_slashes = name.replace('\\', "/");
    let mut segments: Vec<&str> = Vec::new();
    for segment in with_slashes.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    let outside = if location.is_empty() {
                        "the container".to_owned()
                    } else {
                        format!("the location prefix {}", quote(location))
                    };
                    return Err(Error::invalid_name(format!(
                        "{what} {} climbs out of {outside} with `..`: remove the `..` segments",
                        quote(name)
                    )));
                }
            }
            other => segments.push(other),
        }
    }
    Ok(segments.join("/"))
}

fn check_limits(full: &str, location: &str) -> Result<()> {
    let chars = full.chars().count();
    let with_location = if location.is_empty() {
        String::new()
    } else {
        " with its location prefix".to_owned()
    };
    if chars > MAX_NAME_CHARS {
        return Err(Error::invalid_name(format!(
            "blob name has {chars} characters{with_location}; Azure allows at most \
             {MAX_NAME_CHARS}: shorten it"
        )));
    }
    let segments = full.split('/').count();
    if segments > MAX_SEGMENTS {
        return Err(Error::invalid_name(format!(
            "blob name has {segments} `/`-separated segments{with_location}; Azure allows at \
             most {MAX_SEGMENTS}: use fewer folders"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{normalize_location, resolve, BlobName};
    use crate::ErrorKind;

    fn resolved(location: &str, name: &str) -> BlobName {
        resolve(location, name).unwrap_or_else(|e| panic!("{name:?} refused: {e}"))
    }

    fn refused(location: &str, name: &str) -> String {
        let error = resolve(location, name).expect_err("name accepted");
        assert_eq!(error.kind(), ErrorKind::InvalidName);
        error.to_string()
    }

    #[test]
    fn plain_names_are_kept() {
        let name = resolved("", "photos/2026/cat.jpg");
        assert_eq!(name.relative, "photos/2026/cat.jpg");
        assert_eq!(name.full, "photos/2026/cat.jpg");
    }

    #[test]
    fn awkward_but_legal_characters_are_kept() {
        let name = resolved("", "a b+c%20#?&=é.txt");
        assert_eq!(name.full, "a b+c%20#?&=é.txt");
    }

    #[test]
    fn backslashes_become_slashes() {
        assert_eq!(
            resolved("", r"C:\Users\me\cat.jpg").full,
            "C:/Users/me/cat.jpg"
        );
    }

    #[test]
    fn leading_and_repeated_slashes_and_dots_are_dropped() {
        assert_eq!(resolved("", "/a//./b/").full, "a/b");
        assert_eq!(resolved("", "./cat.jpg").full, "cat.jpg");
    }

    #[test]
    fn dot_dot_removes_the_segment_before() {
        assert_eq!(resolved("", "a/b/../c.txt").full, "a/c.txt");
        assert_eq!(resolved("uploads", r"x\..\y.txt").full, "uploads/y.txt");
    }

    #[test]
    fn location_prefix_is_prepended() {
        let name = resolved("media/uploads", "cat.jpg");
        assert_eq!(name.relative, "cat.jpg");
        assert_eq!(name.full, "media/uploads/cat.jpg");
    }

    #[test]
    fn climbing_out_of_the_location_is_refused() {
        assert_eq!(
            refused("uploads", "../secrets.txt"),
            "blob name `../secrets.txt` climbs out of the location prefix `uploads` with `..`: \
             remove the `..` segments"
        );
        assert_eq!(
            refused("", "a/../../b"),
            "blob name `a/../../b` climbs out of the container with `..`: remove the `..` segments"
        );
    }

    #[test]
    fn empty_names_are_refused() {
        assert_eq!(refused("", ""), "blob name is empty: give a file name");
        assert_eq!(
            refused("", "/./"),
            "blob name `/./` is empty once `.`, `..` and `/` are resolved: give a file name"
        );
        assert_eq!(
            refused("x", "a/.."),
            "blob name `a/..` is empty once `.`, `..` and `/` are resolved: give a file name"
        );
    }

    #[test]
    fn control_characters_are_refused() {
        assert_eq!(
            refused("", "cat\n.jpg"),
            "blob name `cat\\n.jpg` contains the control character U+000A: remove it"
        );
        assert_eq!(
            refused("", "nul\0"),
            "blob name `nul\\0` contains the control character U+0000: remove it"
        );
        assert_eq!(
            refused("", "c1\u{85}"),
            "blob name `c1\\u{85}` contains the control character U+0085: remove it"
        );
    }

    #[test]
    fn the_length_limit_counts_characters_and_the_location() {
        let longest = "é".repeat(1024);
        assert_eq!(resolved("", &longest).full.chars().count(), 1024);
        assert_eq!(
            refused("", &"a".repeat(1025)),
            "blob name has 1025 characters; Azure allows at most 1024: shorten it"
        );
        assert_eq!(
            refused("abc", &"a".repeat(1021)),
            "blob name has 1025 characters with its location prefix; Azure allows at most \
             1024: shorten it"
        );
    }

    #[test]
    fn the_segment_limit_is_enforced() {
        assert_eq!(resolved("", &["a"; 254].join("/")).full.len(), 254 * 2 - 1);
        assert_eq!(
            refused("", &["a"; 255].join("/")),
            "blob name has 255 `/`-separated segments; Azure allows at most 254: use fewer \
             folders"
        );
    }

    #[test]
    fn locations_are_normalized_and_may_be_empty() {
        assert_eq!(
            normalize_location(r"\media\\uploads/").unwrap(),
            "media/uploads"
        );
        assert_eq!(normalize_location("").unwrap(), "");
        assert_eq!(normalize_location("/").unwrap(), "");
        assert_eq!(
            normalize_location("../up").unwrap_err().to_string(),
            "location prefix `../up` climbs out of the container with `..`: remove the `..` \
             segments"
        );
    }
}
