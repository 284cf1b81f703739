//! JSON parse errors that are safe to log and keep.
//!
//! serde_json's messages quote the offending value ("invalid type: string
//! \"83.4 kg\""), and the offending value is often a health value. Dead letters and
//! logs get the kind of error and its position instead; field names stay, because
//! they are ours, not the person's.

/// Describes a JSON error without repeating any value from the input.
pub fn describe(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", e.line(), e.column());
    match e.classify() {
        Category::Syntax => format!("not valid JSON ({at})"),
        Category::Eof => "JSON cut short".to_owned(),
        Category::Io => "JSON could not be read".to_owned(),
        Category::Data => {
            let text = e.to_string();
            let named_field = ["missing field", "unknown field", "duplicate field"]
                .iter()
                .any(|p| text.starts_with(p));
            match text.split_once(" at line") {
                Some((what, _)) if named_field => {
                    // Keep the field name, drop serde's list of expected fields.
                    let what = what.split_once(", expected").map_or(what, |(w, _)| w);
                    format!("{what} ({at})")
                }
                _ => format!("a value of the wrong type ({at})"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    fn err(text: &str) -> String {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[expect(dead_code, reason = "only parsed")]
        struct T {
            value: f64,
        }
        describe(&serde_json::from_str::<T>(text).unwrap_err())
    }

    #[test]
    fn values_never_appear() {
        let e = err(r#"{"value":"83.4 kg"}"#);
        assert!(!e.contains("83.4"), "{e}");
        assert_eq!(e, "a value of the wrong type (line 1, column 18)");
        assert_eq!(
            err(r#"{"value":1,"weight":2}"#),
            "unknown field `weight` (line 1, column 19)"
        );
        assert_eq!(err("{}"), "missing field `value` (line 1, column 2)");
        assert_eq!(err("{"), "JSON cut short");
        assert_eq!(err("{x"), "not valid JSON (line 1, column 2)");
    }
}
