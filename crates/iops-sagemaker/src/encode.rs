//! Response encoders: scores (and anomaly flags) in the format the client accepts.

use crate::media::Format;

/// Encodes scores: JSON `{"scores":[{"score":x,"anomaly":b},...]}` (SageMaker RCF's shape plus
/// the flag), JSON lines `{"score":x,"anomaly":b}` per row, or CSV with one score per line (the
/// Flask BYOC sample's answer, so its clients parse it unchanged). A row is anomalous when its
/// score is above `threshold`.
pub fn encode(scores: &[f64], threshold: f64, format: Format) -> String {
    // Scores are finite (in (0, 1]); ryu prints the shortest text that reads back exactly
    // (a third of the instructions of `Display` for f64), and the bodies are built by hand.
    let mut out = String::with_capacity(16 + scores.len() * 44);
    let mut buf = ryu::Buffer::new();
    let flag = |s: f64| if s > threshold { "true" } else { "false" };
    match format {
        Format::Json => {
            out.push_str("{\"scores\":[");
            for (i, &s) in scores.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"score\":");
                push_score(&mut out, &mut buf, s);
                out.push_str(",\"anomaly\":");
                out.push_str(flag(s));
                out.push('}');
            }
            out.push_str("]}");
        }
        Format::JsonLines => {
            for &s in scores {
                out.push_str("{\"score\":");
                push_score(&mut out, &mut buf, s);
                out.push_str(",\"anomaly\":");
                out.push_str(flag(s));
                out.push_str("}\n");
            }
        }
        Format::Csv => {
            for &s in scores {
                push_score(&mut out, &mut buf, s);
                out.push('\n');
            }
        }
    }
    out
}

fn push_score(out: &mut String, buf: &mut ryu::Buffer, s: f64) {
    if s.is_finite() {
        out.push_str(buf.format_finite(s));
    } else {
        out.push_str("null"); // not produced by a fitted forest; still valid JSON
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_round_trips_the_scores() {
        let scores = [0.4123456789012345, 0.75];
        let json: serde_json::Value =
            serde_json::from_str(&encode(&scores, 0.6, Format::Json)).unwrap();
        assert_eq!(json["scores"][0]["score"], 0.4123456789012345);
        assert_eq!(json["scores"][0]["anomaly"], false);
        assert_eq!(json["scores"][1]["anomaly"], true);
        let lines = encode(&scores, 0.6, Format::JsonLines);
        let parsed: Vec<serde_json::Value> = lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(parsed[1]["score"], 0.75);
        let csv = encode(&scores, 0.6, Format::Csv);
        let back: Vec<f64> = csv.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(back, scores);
        assert_eq!(
            encode(&[1.0], 0.6, Format::Json),
            r#"{"scores":[{"score":1.0,"anomaly":true}]}"#
        );
        assert_eq!(encode(&[], 0.6, Format::Json), r#"{"scores":[]}"#);
        assert_eq!(
            encode(&[0.5], 0.6, Format::JsonLines),
            "{\"score\":0.5,\"anomaly\":false}\n"
        );
    }
}
