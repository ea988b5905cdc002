//! A string that must never be shown: account keys and SAS tokens while they sit in a config.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string. `Debug` prints a placeholder and the memory is wiped on drop, so a config
/// can be logged with `{:?}` without leaking what it holds.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret value, for handing to the layer that uses it (never for display).
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_hides_the_value() {
        let secret = Secret::new("sentinel-7f3a".to_owned());
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(secret.expose(), "sentinel-7f3a");
    }
}
