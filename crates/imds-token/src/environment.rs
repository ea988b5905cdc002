//! The environment variables the source choice reads, from the process or from a map.
//!
//! Tests and tools that explain a configuration pass a map, so that nothing depends on, or
//! changes, the variables of the process that runs them.

use std::collections::HashMap;
use std::fmt;

/// Where environment variables are read from.
#[derive(Clone, Default)]
pub struct Environment {
    // `None` reads the process environment at the time of each lookup.
    vars: Option<HashMap<String, String>>,
}

impl Environment {
    /// The variables of this process.
    pub fn process() -> Self {
        Self { vars: None }
    }

    /// No variables at all.
    pub fn empty() -> Self {
        Self::from_vars(std::iter::empty::<(String, String)>())
    }

    /// Exactly the variables given, nothing from the process.
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: Some(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    /// The variable's value with surrounding whitespace removed, or `None` when it is unset,
    /// empty, blank or not Unicode: a variable set to nothing counts as not given.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        let value = match &self.vars {
            Some(vars) => vars.get(name).cloned(),
            None => std::env::var(name).ok(),
        }?;
        let trimmed = value.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }
}

impl fmt::Debug for Environment {
    // Values stay out of the output: the map may hold secrets such as IDENTITY_HEADER.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.vars {
            None => f.write_str("Environment::process()"),
            Some(vars) => {
                let mut names: Vec<&str> = vars.keys().map(String::as_str).collect();
                names.sort_unstable();
                f.debug_struct("Environment")
                    .field("names", &names)
                    .finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_blank_values_count_as_not_given() {
        let env = Environment::from_vars([
            ("AZURE_CLIENT_ID", ""),
            ("AZURE_TENANT_ID", "   "),
            ("IDENTITY_ENDPOINT", " http://127.0.0.1:1/token \n"),
        ]);
        assert_eq!(env.get("AZURE_CLIENT_ID"), None);
        assert_eq!(env.get("AZURE_TENANT_ID"), None);
        assert_eq!(env.get("UNSET"), None);
        assert_eq!(
            env.get("IDENTITY_ENDPOINT").as_deref(),
            Some("http://127.0.0.1:1/token")
        );
    }

    #[test]
    fn debug_shows_names_not_values() {
        let env = Environment::from_vars([("IDENTITY_HEADER", "header-sentinel")]);
        let shown = format!("{env:?}");
        assert_eq!(shown, r#"Environment { names: ["IDENTITY_HEADER"] }"#);
    }
}
