//! Response encoders: scores (and anomaly flags) in the format the client accepts.

use std::fmt::Write;

use crate::media::Format;

/// Encodes scores: JSON `{"scores":[{"score":x,"anomaly":b},...]}` (SageMaker RCF's shape plus
/// the flag), JSON lines `{"score":x,"anomaly":b}` per row, or CSV with one score per line (the
/// Flask BYOC sample's answer, so its clients parse it unchanged). A row is anomalous when its
/// score is above `threshold`.
pub fn encode(scores: &[f64], threshold: f64, format: Format) -> String {
    // Scores are finite (in (0, 1]); Display prints the shortest text that reads back exactly.
    let mut out = String::with_capacity(16 + scores.len() * 40);
    match format {
        Format::Json => {
            out.push_str("{\"scores\":[");
            for (i, s) in scores.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{{\"score\":{s},\"anomaly\":{}}}", *s > threshold);
            }
            out.push_str("]}");
        }
        Format::JsonLines => {
            for s in scores {
                let _ = writeln!(out, "{{\"score\":{s},\"anomaly\":{}}}", *s > threshold);
            }
        }
        Format::Csv => {
            for s in scores {
                let _ = writeln!(out, "{s}");
            }
        }
    }
    out
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
    }
}
