//! Shared helpers for the Azurite integration suite.
