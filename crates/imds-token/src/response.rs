//! Reading token responses and refusals, as the different hosts actually send them.
//!
//! Token responses (IMDS, App Service, Entra):
//! <https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#get-a-token-using-http>.
//! Hosts disagree on types: IMDS sends every number as a JSON string, Entra as numbers, and
//! older App Service versions sent `expires_on` as a date such as `09/14/2017 00:00:00 PM
//! +00:00`. All of these are read here; anything that still cannot be read is an error, so a
//! token of unknown lifetime is never cached.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};
use zeroize::Zeroizing;

use crate::token::AccessToken;

/// Longest `error`/`error_description` kept from a refusal, so that a hostile or broken
/// endpoint cannot fill logs through us.
const MAX_FIELD_CHARS: usize = 512;

/// Why a 200 answer did not give a token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyProblem {
    /// Not a JSON object at all: whatever answered is not a token endpoint.
    NotJson,
    /// JSON, but not a usable token; the text says what is missing (never a value of the
    /// token).
    NotAToken(String),
}

/// Reads a 200 answer. `asked_at` is when the request was sent: `expires_in` is counted from
/// then, the earliest moment the token can have been issued, so that the expiry we keep is
/// never later than the real one.
pub(crate) fn parse_token(body: &[u8], asked_at: SystemTime) -> Result<AccessToken, BodyProblem> {
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(BodyProblem::NotJson);
    };
    // Moved out of the parsed body, not copied, and wrapped at once: on any error below, the
    // one copy of the secret is zeroized when it goes out of scope.
    let secret = match fields.remove("access_token") {
        Some(Value::String(secret)) => Zeroizing::new(secret),
        Some(_) => return Err(BodyProblem::NotAToken(EMPTY_TOKEN.to_owned())),
        None => return Err(BodyProblem::NotAToken("it has no access_token".to_owned())),
    };
    if secret.trim().is_empty() {
        return Err(BodyProblem::NotAToken(EMPTY_TOKEN.to_owned()));
    }
    let expires_on = expiry(&fields, asked_at).map_err(BodyProblem::NotAToken)?;
    Ok(AccessToken::from_secret(secret, expires_on))
}

const EMPTY_TOKEN: &str = "its access_token is empty or not a string";

/// The expiry: `expires_on` when it can be read, else `expires_in` from `asked_at`.
fn expiry(fields: &Map<String, Value>, asked_at: SystemTime) -> Result<SystemTime, String> {
    let from_expires_on = fields.get("expires_on").map(expires_on);
    if let Some(Ok(at)) = from_expires_on {
        return Ok(at);
    }
    if let Some(value) = fields.get("expires_in") {
        let seconds = seconds(value)
            .ok_or_else(|| format!("its expires_in {} is not a number of seconds", shown(value)))?;
        return asked_at
            .checked_add(seconds)
            .ok_or_else(|| format!("its expires_in {} is out of range", shown(value)));
    }
    match from_expires_on {
        Some(Err(problem)) => Err(problem),
        _ => Err("it has neither expires_on nor expires_in".to_owned()),
    }
}

/// `expires_on` as seconds since the epoch (number or string) or as one of the date strings.
fn expires_on(value: &Value) -> Result<SystemTime, String> {
    let unreadable = || {
        format!(
            "its expires_on {} is neither seconds since 1970 nor a date",
            shown(value)
        )
    };
    if let Some(seconds) = seconds(value) {
        return UNIX_EPOCH.checked_add(seconds).ok_or_else(unreadable);
    }
    let Value::String(text) = value else {
        return Err(unreadable());
    };
    date_string(text)
        .or_else(|| rfc3339(text))
        .ok_or_else(unreadable)
}

/// A non-negative number of seconds, given as a JSON number or a string of one.
fn seconds(value: &Value) -> Option<Duration> {
    let number = match value {
        Value::Number(number) => number.as_f64()?,
        Value::String(text) => {
            let text = text.trim();
            // Only plain decimal numbers: `f64::from_str` would also take "inf" or "1e400".
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return None;
            }
            text.parse::<f64>().ok()?
        }
        _ => return None,
    };
    Duration::try_from_secs_f64(number).ok()
}

/// The older App Service form, `MM/DD/YYYY hh:mm:ss [AM|PM] [+hh:mm]`, with one or two digits
/// in month, day and hour. `12:00:00 AM` is midnight; an hour below 12 with PM moves to the
/// afternoon (App Service wrote `00:00:00 PM` for noon).
fn date_string(text: &str) -> Option<SystemTime> {
    let mut parts = text.split_whitespace();
    let (date, clock) = (parts.next()?, parts.next()?);
    let mut next = parts.next();
    let meridiem = match next.map(str::to_ascii_uppercase).as_deref() {
        Some(m @ ("AM" | "PM")) => {
            next = parts.next();
            Some(m == "PM")
        }
        _ => None,
    };
    let offset = match next {
        Some(offset) => utc_offset(offset)?,
        None => UtcOffset::UTC,
    };
    if parts.next().is_some() {
        return None;
    }

    let mut date_fields = date.split('/').map(str::parse::<u16>);
    let (month, day, year) = (
        date_fields.next()?.ok()?,
        date_fields.next()?.ok()?,
        date_fields.next()?.ok()?,
    );
    let mut clock_fields = clock.split(':').map(str::parse::<u8>);
    let (mut hour, minute, second) = (
        clock_fields.next()?.ok()?,
        clock_fields.next()?.ok()?,
        clock_fields.next()?.ok()?,
    );
    if date_fields.next().is_some() || clock_fields.next().is_some() {
        return None;
    }
    match meridiem {
        Some(_) if hour > 12 => return None,
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }

    let date = Date::from_calendar_date(
        i32::from(year),
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    let at = PrimitiveDateTime::new(date, time).assume_offset(offset);
    UNIX_EPOCH.checked_add(Duration::from_secs(
        u64::try_from(at.unix_timestamp()).ok()?,
    ))
}

/// `+hh:mm`, `-hh:mm`, `+hhmm` or `Z`.
fn utc_offset(text: &str) -> Option<UtcOffset> {
    if text.eq_ignore_ascii_case("z") {
        return Some(UtcOffset::UTC);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i8 = digits[..2].parse().ok()?;
    let minutes: i8 = digits[2..].parse().ok()?;
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

fn rfc3339(text: &str) -> Option<SystemTime> {
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(
        u64::try_from(at.unix_timestamp()).ok()?,
    ))
}

/// A non-token field's value for an error message, cut short.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    truncate(&text, 64)
}

/// What an endpoint said when it refused, in its own words.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct EndpointError {
    /// The `error` code, such as `invalid_request`.
    pub(crate) error: Option<String>,
    /// The `error_description`, or App Service's `message`.
    pub(crate) description: Option<String>,
}

/// Reads a refusal body. `None` when it is not a JSON object, which means that whatever
/// answered is not an identity endpoint.
///
/// Shapes seen: `{"error": "...", "error_description": "..."}` (IMDS, Entra),
/// `{"statusCode": 400, "message": "..."}` (App Service), `{"error": {"code": "...",
/// "message": "..."}}` (Azure resource manager style).
pub(crate) fn parse_error(body: &[u8]) -> Option<EndpointError> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let text = |value: Option<&Value>| match value {
        Some(Value::String(text)) if !text.trim().is_empty() => {
            Some(truncate(text.trim(), MAX_FIELD_CHARS))
        }
        _ => None,
    };
    let (error, nested_message) = match fields.get("error") {
        Some(Value::Object(inner)) => (text(inner.get("code")), text(inner.get("message"))),
        other => (text(other), None),
    };
    let description = text(fields.get("error_description"))
        .or(nested_message)
        .or_else(|| text(fields.get("message")))
        .or_else(|| text(fields.get("Message")));
    Some(EndpointError { error, description })
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    const ASKED: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn expiry_of(body: &str) -> Result<SystemTime, BodyProblem> {
        parse_token(body.as_bytes(), at(ASKED)).map(|token| {
            assert_eq!(token.secret(), "eyJ0");
            token.expires_on()
        })
    }

    #[test]
    fn expires_on_as_number_or_string() {
        let number = r#"{"access_token":"eyJ0","expires_on":1767229200}"#;
        let string = r#"{"access_token":"eyJ0","expires_on":"1767229200","expires_in":"1"}"#;
        assert_eq!(expiry_of(number), Ok(at(1_767_229_200)));
        assert_eq!(expiry_of(string), Ok(at(1_767_229_200)));
    }

    #[test]
    fn expires_in_counts_from_the_request() {
        let number = r#"{"access_token":"eyJ0","expires_in":3599}"#;
        let string = r#"{"access_token":"eyJ0","expires_in":" 3599 "}"#;
        assert_eq!(expiry_of(number), Ok(at(ASKED + 3599)));
        assert_eq!(expiry_of(string), Ok(at(ASKED + 3599)));
    }

    #[test]
    fn old_app_service_date_strings() {
        let cases = [
            // 24-hour clock, two-digit fields.
            ("01/15/2026 13:45:30 +00:00", 1_768_484_730),
            // One-digit month, day and hour with AM/PM.
            ("1/5/2026 1:45:30 PM +00:00", 1_767_620_730),
            ("1/5/2026 1:45:30 AM +00:00", 1_767_577_530),
            // Midnight and noon on a 12-hour clock, and App Service's "00 PM" for noon.
            ("1/5/2026 12:00:00 AM +00:00", 1_767_571_200),
            ("1/5/2026 12:00:00 PM +00:00", 1_767_614_400),
            ("01/05/2026 00:00:00 PM +00:00", 1_767_614_400),
            // Another offset, and none at all (UTC).
            ("01/15/2026 13:45:30 +02:00", 1_768_477_530),
            ("01/15/2026 13:45:30 -0130", 1_768_490_130),
            ("01/15/2026 13:45:30", 1_768_484_730),
        ];
        for (text, epoch) in cases {
            let body = format!(r#"{{"access_token":"eyJ0","expires_on":"{text}"}}"#);
            assert_eq!(expiry_of(&body), Ok(at(epoch)), "{text}");
        }
    }

    #[test]
    fn rfc3339_expires_on() {
        let body = r#"{"access_token":"eyJ0","expires_on":"2026-01-15T13:45:30Z"}"#;
        assert_eq!(expiry_of(body), Ok(at(1_768_484_730)));
    }

    #[test]
    fn unreadable_expires_on_falls_back_to_expires_in() {
        let body = r#"{"access_token":"eyJ0","expires_on":"soon","expires_in":"60"}"#;
        assert_eq!(expiry_of(body), Ok(at(ASKED + 60)));
    }

    #[test]
    fn an_expiry_past_the_year_9999_is_read_and_can_be_shown() {
        // Found by fuzzing: showing such a token used to panic (see token::tests).
        let body = br#"{"access_token":"tok","expires_on":"00000000000000910736404056800551"}"#;
        let token = parse_token(body, at(0)).unwrap();
        assert!(token.expires_on() > at(253_402_300_800), "after 9999-12-31");
        assert!(format!("{token:?}").contains("after the year 9999"));
    }

    #[test]
    fn unreadable_expiry_is_not_a_token() {
        let cases = [
            (
                r#"{"access_token":"eyJ0","expires_on":"13/45/2026 10:00:00"}"#,
                "its expires_on \"13/45/2026 10:00:00\" is neither seconds since 1970 nor a date",
            ),
            (
                r#"{"access_token":"eyJ0","expires_on":"1/5/2026 13:00:00 PM"}"#,
                "its expires_on \"1/5/2026 13:00:00 PM\" is neither seconds since 1970 nor a date",
            ),
            (
                r#"{"access_token":"eyJ0","expires_in":-5}"#,
                "its expires_in -5 is not a number of seconds",
            ),
            (
                r#"{"access_token":"eyJ0","expires_in":"inf"}"#,
                "its expires_in \"inf\" is not a number of seconds",
            ),
            (
                r#"{"access_token":"eyJ0"}"#,
                "it has neither expires_on nor expires_in",
            ),
        ];
        for (body, why) in cases {
            assert_eq!(
                expiry_of(body),
                Err(BodyProblem::NotAToken(why.to_owned())),
                "{body}"
            );
        }
    }

    #[test]
    fn missing_or_empty_token() {
        let cases = [
            (r#"{"expires_in":3599}"#, "it has no access_token"),
            (
                r#"{"access_token":"","expires_in":3599}"#,
                "its access_token is empty or not a string",
            ),
            (
                r#"{"access_token":42,"expires_in":3599}"#,
                "its access_token is empty or not a string",
            ),
        ];
        for (body, why) in cases {
            assert_eq!(
                expiry_of(body),
                Err(BodyProblem::NotAToken(why.to_owned())),
                "{body}"
            );
        }
    }

    #[test]
    fn garbage_is_not_json() {
        for body in [
            "<html><body>Proxy login</body></html>",
            "",
            "[1,2]",
            "\"eyJ0\"",
            r#"{"access_token":"eyJ0""#,
        ] {
            assert_eq!(expiry_of(body), Err(BodyProblem::NotJson), "{body}");
        }
    }

    #[test]
    fn refusal_shapes() {
        let cases = [
            (
                r#"{"error":"invalid_request","error_description":"Identity not found"}"#,
                Some("invalid_request"),
                Some("Identity not found"),
            ),
            (
                r#"{"statusCode":400,"message":"Unable to load the proper Managed Identity.","correlationId":"c0"}"#,
                None,
                Some("Unable to load the proper Managed Identity."),
            ),
            (
                r#"{"error":{"code":"BadRequest","message":"No identity"}}"#,
                Some("BadRequest"),
                Some("No identity"),
            ),
            (r"{}", None, None),
        ];
        for (body, error, description) in cases {
            let parsed = parse_error(body.as_bytes()).expect(body);
            assert_eq!(parsed.error.as_deref(), error, "{body}");
            assert_eq!(parsed.description.as_deref(), description, "{body}");
        }
        assert_eq!(parse_error(b"<html>Bad gateway</html>"), None);
    }

    #[test]
    fn long_refusal_text_is_cut() {
        let long = "x".repeat(2000);
        let body = format!(r#"{{"error":"e","error_description":"{long}"}}"#);
        let parsed = parse_error(body.as_bytes()).unwrap();
        assert_eq!(
            parsed.description,
            Some(format!("{}…", "x".repeat(MAX_FIELD_CHARS)))
        );
    }
}
