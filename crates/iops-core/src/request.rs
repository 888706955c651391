//! An operator's request body (a maintenance window, a mute, a verdict): one JSON object of
//! known fields, read so that every refusal names its field (`body` for the body as a whole).

use serde_json::{Map, Value};

use crate::{json_type, Error, Result};

/// The fields of a request body, every one of them known.
pub(crate) struct RequestFields(Map<String, Value>);

impl RequestFields {
    /// Parses `bytes` as a JSON object whose fields are all in `allowed` (`what` names the
    /// record in the refusal of another field).
    pub(crate) fn parse(bytes: &[u8], allowed: &[&str], what: &str) -> Result<Self> {
        let fields = match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => map,
            Ok(other) => return Err(invalid("body", must_be("a JSON object", &other))),
            Err(e) => return Err(invalid("body", format!("is not valid JSON: {e}"))),
        };
        if let Some(unknown) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            let reason = format!("is not a field of a {what}");
            return Err(match unknown.as_str() {
                "" => invalid("body", format!("has a field with no name, which {reason}")),
                name => invalid(name, reason),
            });
        }
        Ok(RequestFields(fields))
    }

    /// The field's value, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// An optional text field of at most `max_chars` characters ("" when absent or null).
    pub(crate) fn text(&self, name: &str, max_chars: usize) -> Result<String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) if s.chars().count() <= max_chars => Ok(s.clone()),
            Some(Value::String(_)) => Err(invalid(
                name,
                format!("is longer than {max_chars} characters"),
            )),
            Some(other) => Err(invalid(name, must_be("a string", other))),
        }
    }
}

/// "must be `what`, got <the JSON type of `got`>".
pub(crate) fn must_be(what: &str, got: &Value) -> String {
    format!("must be {what}, got {}", json_type(got))
}

/// The refusal of `field`.
pub(crate) fn invalid(field: &str, reason: String) -> Error {
    Error::InvalidField {
        field: field.into(),
        reason,
    }
}
