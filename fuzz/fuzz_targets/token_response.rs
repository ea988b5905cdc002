//! The token response and refusal parsers of `imds-token`, on any body.
//!
//! Checks, beyond "no panic": a token's `Debug` and `Display` do not depend on its secret; a
//! problem sentence does not change when only the `access_token` value changes (so it cannot
//! quote it); refusal fields are cut to 512 characters.

#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imds_token::fuzzing::{refusal, token_response};
use imds_token::AccessToken;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Longest refusal field, plus the ellipsis that marks a cut.
const MAX_FIELD_CHARS: usize = 512 + 1;

fuzz_target!(|body: &[u8]| {
    // A fixed "now" (2023-11-14) keeps runs reproducible.
    let asked_at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    check_token(body, asked_at);

    if let Some((error, description)) = refusal(body) {
        for field in [error, description].into_iter().flatten() {
            assert!(field.chars().count() <= MAX_FIELD_CHARS, "{field:?}");
        }
    }

    // The same fields with another access_token: the outcome must not depend on its text.
    if let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) {
        if let Some(Value::String(secret)) = fields.get("access_token") {
            if secret.trim().is_empty() {
                return;
            }
            let original = serde_json::to_vec(&fields).expect("a JSON object serializes");
            fields.insert(
                "access_token".to_owned(),
                Value::String("other-token".to_owned()),
            );
            let other = serde_json::to_vec(&fields).expect("a JSON object serializes");
            let (a, b) = (
                token_response(&original, asked_at),
                token_response(&other, asked_at),
            );
            match (a, b) {
                (Ok(a), Ok(b)) => assert_eq!(a.expires_on(), b.expires_on()),
                (Err(a), Err(b)) => assert_eq!(a, b, "the problem depends on the token"),
                (a, b) => panic!("the outcome depends on the token: {a:?} / {b:?}"),
            }
        }
    }
});

fn check_token(body: &[u8], asked_at: SystemTime) {
    match token_response(body, asked_at) {
        Ok(token) => {
            assert!(!token.secret().trim().is_empty());
            let placeholder = AccessToken::new("placeholder", token.expires_on());
            assert_eq!(format!("{token:?}"), format!("{placeholder:?}"));
            assert_eq!(token.to_string(), placeholder.to_string());
        }
        Err(problem) => {
            assert!(!problem.is_empty());
        }
    }
}
