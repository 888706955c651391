//! Content negotiation: which format a request body is in (Content-Type) and which one the
//! client wants back (Accept).

use crate::error::{Error, Result};

/// A body format the server reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/csv`: one row per line, values separated by commas.
    Csv,
    /// `application/json`: one JSON document.
    Json,
    /// `application/jsonlines`: one JSON value per line.
    JsonLines,
}

impl Format {
    /// The media type written in Content-Type.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Csv => "text/csv",
            Format::Json => "application/json",
            Format::JsonLines => "application/jsonlines",
        }
    }

    /// The format of a media type's essence (lowercase, no parameters), if we know it.
    fn from_essence(essence: &str) -> Option<Self> {
        match essence {
            "text/csv" => Some(Format::Csv),
            "application/json" => Some(Format::Json),
            "application/jsonlines"
            | "application/x-jsonlines"
            | "application/jsonl"
            | "application/x-ndjson" => Some(Format::JsonLines),
            _ => None,
        }
    }
}

/// `type/subtype` of a media type, lowercased, without parameters (`; charset=...`).
fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The format of a request body from its Content-Type (415 when missing or unknown).
/// Parameters such as `charset=utf-8` or RCF's `label_size=0` are ignored.
pub fn request_format(content_type: Option<&str>) -> Result<Format> {
    let raw = content_type.unwrap_or("");
    Format::from_essence(&essence(raw)).ok_or_else(|| Error::UnsupportedMediaType {
        content_type: raw.to_owned(),
    })
}

/// The response format for an Accept header. Without one (or with `*/*`) the answer mirrors
/// the request's format, as the Flask BYOC sample answers CSV with CSV; otherwise the
/// acceptable type with the highest `q` wins, ties in header order (406 when none fits).
pub fn response_format(accept: Option<&str>, request: Format) -> Result<Format> {
    let Some(header) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(request);
    };
    let mut best: Option<(f64, Format)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let media = essence(parts.next().unwrap_or(""));
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .filter_map(|v| v.trim().parse::<f64>().ok())
            .next()
            .unwrap_or(1.0);
        // q=0 means "not acceptable"; a malformed q counts as 1 (parse failed above).
        if q <= 0.0 || q.is_nan() {
            continue;
        }
        let format = match media.as_str() {
            "*/*" | "" => Some(request),
            "application/*" if request == Format::Csv => Some(Format::Json),
            "application/*" => Some(request),
            "text/*" => Some(Format::Csv),
            m => Format::from_essence(m),
        };
        if let Some(f) = format {
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, f));
            }
        }
    }
    best.map(|(_, f)| f).ok_or_else(|| Error::NotAcceptable {
        accept: header.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_parameters_and_case_are_ignored() {
        assert_eq!(
            request_format(Some("Text/CSV; charset=utf-8")).ok(),
            Some(Format::Csv)
        );
        assert_eq!(
            request_format(Some("text/csv;label_size=0")).ok(),
            Some(Format::Csv)
        );
        assert_eq!(
            request_format(Some("application/x-jsonlines")).ok(),
            Some(Format::JsonLines)
        );
        assert!(request_format(Some("application/x-recordio-protobuf")).is_err());
        assert!(request_format(None).is_err());
    }

    #[test]
    fn accept_picks_highest_q_then_header_order() {
        let f = |a| response_format(Some(a), Format::Csv).ok();
        assert_eq!(f("application/json"), Some(Format::Json));
        assert_eq!(f("*/*"), Some(Format::Csv));
        assert_eq!(
            f("text/csv;q=0.5, application/jsonlines"),
            Some(Format::JsonLines)
        );
        assert_eq!(
            f("application/jsonlines, text/csv"),
            Some(Format::JsonLines)
        );
        assert_eq!(f("text/html, application/json;q=0.1"), Some(Format::Json));
        assert_eq!(f("application/json;q=0"), None);
        assert_eq!(f("text/html"), None);
        assert_eq!(
            response_format(None, Format::JsonLines).ok(),
            Some(Format::JsonLines)
        );
    }
}
