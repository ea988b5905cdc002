//! Free names for the create-only save: `cat.jpg` taken becomes `cat_<7 random>.jpg`.
//!
//! The random part goes before the extension so that the content type guessed from the name
//! stays the same. The extension is what follows the last `.` of the last segment, unless that
//! `.` starts the segment (`.env` has none), as Python's `os.path.splitext` does; a stem too
//! long for Azure's name limit is shortened from its end.

/// How many random letters and digits an alternative name gets: 62^7 (about 3.5e12) choices
/// make two racing uploads colliding twice in a row practically impossible.
const RANDOM_CHARS: usize = 7;

/// An alternative for `relative` (a normalized name without location) whose full name, with a
/// location of `location_chars` characters in front, stays within `max_chars`. `None` when
/// not even a one-character stem fits (the folders alone are too long).
pub(crate) fn alternative_name(
    relative: &str,
    location_chars: usize,
    max_chars: usize,
    rng: &mut fastrand::Rng,
) -> Option<String> {
    let (folder, file) = match relative.rfind('/') {
        Some(slash) => relative.split_at(slash + 1),
        None => ("", relative),
    };
    let (stem, extension) = match file.rfind('.') {
        Some(dot) if file[..dot].chars().any(|c| c != '.') => file.split_at(dot),
        _ => (file, ""),
    };
    let random: String = (0..RANDOM_CHARS).map(|_| rng.alphanumeric()).collect();
    let prefix_chars = if location_chars == 0 {
        0
    } else {
        location_chars + 1
    };
    let fixed = prefix_chars
        + folder.chars().count()
        + 1 // the underscore
        + RANDOM_CHARS
        + extension.chars().count();
    let room = max_chars.checked_sub(fixed)?;
    if room == 0 {
        return None;
    }
    let stem: String = stem.chars().take(room).collect();
    Some(format!("{folder}{stem}_{random}{extension}"))
}

#[cfg(test)]
mod tests {
    use super::alternative_name;

    fn alternative(relative: &str) -> String {
        let mut rng = fastrand::Rng::with_seed(7);
        alternative_name(relative, 0, 1024, &mut rng).unwrap()
    }

    /// The random part the seeded generator produces first.
    fn seeded_random() -> String {
        let mut rng = fastrand::Rng::with_seed(7);
        (0..7).map(|_| rng.alphanumeric()).collect()
    }

    #[test]
    fn random_part_goes_before_the_extension() {
        let random = seeded_random();
        assert_eq!(random.len(), 7);
        assert!(random.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(alternative("cat.jpg"), format!("cat_{random}.jpg"));
        assert_eq!(
            alternative("a.b/archive.tar.gz"),
            format!("a.b/archive.tar_{random}.gz")
        );
    }

    #[test]
    fn names_without_an_extension() {
        let random = seeded_random();
        assert_eq!(
            alternative("photos/README"),
            format!("photos/README_{random}")
        );
        assert_eq!(alternative(".env"), format!(".env_{random}"));
        assert_eq!(alternative("x/..hidden"), format!("x/..hidden_{random}"));
    }

    #[test]
    fn successive_alternatives_differ() {
        let mut rng = fastrand::Rng::with_seed(1);
        let first = alternative_name("cat.jpg", 0, 1024, &mut rng).unwrap();
        let second = alternative_name("cat.jpg", 0, 1024, &mut rng).unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn a_long_stem_is_shortened_to_fit_with_the_location() {
        let mut rng = fastrand::Rng::with_seed(7);
        let long = format!("{}.jpg", "s".repeat(1015));
        // location "loc" (3 chars + '/') leaves 1020 characters for the name.
        let name = alternative_name(&long, 3, 1024, &mut rng).unwrap();
        assert_eq!(name.chars().count(), 1020);
        assert_eq!(
            name,
            format!("{}_{}.jpg", "s".repeat(1008), seeded_random())
        );
    }

    #[test]
    fn no_alternative_when_folders_fill_the_limit() {
        let mut rng = fastrand::Rng::with_seed(7);
        // 1011 folder characters + `_` + 7 random + `.jpg` leave exactly one for the stem.
        let fits = format!("{}/cat.jpg", "d".repeat(1010));
        let name = alternative_name(&fits, 0, 1024, &mut rng).unwrap();
        assert_eq!(name.chars().count(), 1024);
        assert!(name.contains("/c_"), "{name}");
        assert_eq!(&name[name.len() - 4..], ".jpg");
        let deep = format!("{}/cat.jpg", "d".repeat(1011));
        assert_eq!(alternative_name(&deep, 0, 1024, &mut rng), None);
    }
}
