//! What is wrong with a session file that does not parse, in words that never quote it.
//!
//! serde's messages quote what they found (`invalid type: string "…"`, ``unknown field `…` ``),
//! and in a session file that is a token. So a message is never passed on: it is only
//! recognised, and mapped to a fixed text plus the position serde_json reports.

use serde_json::error::Category;

/// What is wrong with `bytes`, which failed to parse with `error`: fixed words and a position,
/// never a value from the file.
pub(crate) fn describe(bytes: &[u8], error: &serde_json::Error) -> String {
    let what = match error.classify() {
        Category::Eof if bytes.iter().all(u8::is_ascii_whitespace) => return "the file is empty".to_owned(),
        Category::Eof => "the JSON ends early, the file is cut short".to_owned(),
        Category::Syntax => "not JSON".to_owned(),
        Category::Io => "a read error".to_owned(),
        Category::Data => what_data_is_wrong(&error.to_string()),
    };
    // Line 0: no position, as for a check of the whole snapshot after it was read.
    match error.line() {
        0 => what,
        line => format!("{what} (line {line}, column {})", error.column()),
    }
}

/// Recognises serde's message for a semantic error (the JSON is well formed) and returns a
/// fixed text for it.
fn what_data_is_wrong(message: &str) -> String {
    if let Some(field) = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next())
        // The name comes from our own schema (serde reports the field it expected), never from
        // the file; checked anyway, so that nothing else is ever copied.
        && is_schema_name(field)
    {
        return format!("missing field `{field}`");
    }
    let fixed = [
        ("missing field", "a required field is missing"),
        ("unknown field", "a field this version does not know"),
        ("duplicate field", "a field that appears twice"),
        ("invalid type", "a field has the wrong type"),
        ("invalid value", "a field has an invalid value"),
        ("invalid length", "a list has the wrong length"),
        ("unknown variant", "a field has a value this version does not know"),
        (
            "unsupported snapshot version",
            "an unsupported snapshot version (written by another version of this library)",
        ),
    ];
    if let Some((_, text)) = fixed.iter().find(|(prefix, _)| message.starts_with(prefix)) {
        return (*text).to_owned();
    }
    if message.contains("token that cannot be sent in a header") {
        return "a token that cannot be sent in a header".to_owned();
    }
    "a field has the wrong type or value".to_owned()
}

/// A field name as our schemas spell them: short, lowercase ASCII and underscores.
fn is_schema_name(name: &str) -> bool {
    (1..=40).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(text: &str) -> String {
        let error = serde_json::from_str::<auth_core::Snapshot>(text).unwrap_err();
        describe(text.as_bytes(), &error)
    }

    #[test]
    fn a_missing_field_of_our_schema_is_named() {
        assert_eq!(what_data_is_wrong("missing field `token`"), "missing field `token`");
    }

    #[test]
    fn a_missing_field_that_does_not_look_like_ours_is_not_named() {
        let text = what_data_is_wrong("missing field `Tok-Secret`");
        assert_eq!(text, "a required field is missing");
    }

    #[test]
    fn a_message_that_is_not_recognised_becomes_a_fixed_text() {
        assert_eq!(what_data_is_wrong("tok-secret is not a date"), "a field has the wrong type or value");
    }

    #[test]
    fn text_that_is_not_json_is_described_with_its_position() {
        assert_eq!(described("{\n  \"token\": tok-secret\n}"), "not JSON (line 2, column 13)");
    }

    #[test]
    fn a_file_of_blanks_is_called_empty() {
        assert_eq!(described(" \n"), "the file is empty");
    }

    #[test]
    fn a_cut_short_file_is_called_cut_short() {
        assert!(described("{\"token\": \"tok-secret\"").starts_with("the JSON ends early"));
    }
}
