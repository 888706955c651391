//! Record identifiers, the same for every backend so a record keeps its id when data moves
//! between SQLite and DynamoDB.
//!
//! - `metricId` is a function of hostname and timestamp only: posting the same sample twice
//!   (even with other values) names the same record, with no read needed to find it.
//! - `insightId` is `<13 hex digits: milliseconds since 0000-01-01T00:00:00Z>-<16 hex digits of
//!   hash>`: it sorts by the sample's time (fixed width, so as text too), which lets DynamoDB
//!   answer "insights of a host since t" with a range condition on its sort key
//!   ([`insight_id_lower_bound`]). The hash covers the host, the exact timestamp and the
//!   insight's position among those the sample raised, so re-storing the same insight (a
//!   retried request) overwrites nothing and duplicates nothing.

use iops_core::record_id::{hash_hex, time_prefix};
use iops_core::Timestamp;

/// The metric id of a sample: 32 hex digits of SHA-256 over hostname and exact timestamp.
pub fn metric_id(hostname: &str, timestamp: Timestamp) -> String {
    hash_hex(
        &[
            b"metric",
            hostname.as_bytes(),
            &timestamp.epoch_nanos().to_be_bytes(),
        ],
        16,
    )
}

/// The id of the `index`-th insight raised by the sample of `hostname` at `timestamp`.
pub fn insight_id(hostname: &str, timestamp: Timestamp, index: usize) -> String {
    let hash = hash_hex(
        &[
            b"insight",
            hostname.as_bytes(),
            &timestamp.epoch_nanos().to_be_bytes(),
            &(index as u64).to_be_bytes(),
        ],
        8,
    );
    format!("{}-{hash}", time_prefix(timestamp))
}

/// The smallest insight id of any insight at or after `since`: `insightId >= bound` selects
/// exactly the insights with `timestamp >= since`, up to the millisecond (ids within the
/// same millisecond as `since` but earlier by less than 1 ms are included; filter on the
/// timestamp too for exactness).
pub fn insight_id_lower_bound(since: Timestamp) -> String {
    time_prefix(since)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn metric_id_depends_on_host_and_exact_time_only() {
        let t = ts("2026-11-26T17:00:00Z");
        assert_eq!(metric_id("web-1", t), metric_id("web-1", t));
        assert_eq!(metric_id("web-1", t).len(), 32);
        assert_ne!(metric_id("web-1", t), metric_id("web-2", t));
        assert_ne!(
            metric_id("web-1", t),
            metric_id("web-1", ts("2026-11-26T17:00:00.000000001Z"))
        );
    }

    #[test]
    fn insight_ids_sort_by_time_across_the_whole_range() {
        let times = [
            "0000-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999Z",
            "1970-01-01T00:00:00Z",
            "2026-11-26T17:00:00Z",
            "2026-11-26T17:00:00.001Z",
            "9999-12-31T23:59:59.999Z",
        ];
        let ids: Vec<String> = times.iter().map(|t| insight_id("h", ts(t), 0)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        for (t, id) in times.iter().zip(&ids) {
            assert!(id.as_str() >= insight_id_lower_bound(ts(t)).as_str());
        }
        assert!(ids[3] < insight_id_lower_bound(ts("2026-11-26T17:00:00.001Z")));
        assert_ne!(
            insight_id("h", ts(times[3]), 0),
            insight_id("h", ts(times[3]), 1)
        );
    }
}

#[cfg(test)]
mod golden {
    use super::*;

    /// Ids are stored: a refactor must not change them (values from before record_id).
    #[test]
    fn ids_are_what_they_were() {
        let t = Timestamp::parse_rfc3339("2026-11-26T17:00:00.5Z").unwrap();
        assert_eq!(metric_id("web-1", t), "43ecaacfefafc2354bb8fe7a88a8d708");
        assert_eq!(insight_id("web-1", t, 2), "03a2c87d11c74-eddad47a29066ab0");
        assert_eq!(insight_id_lower_bound(t), "03a2c87d11c74");
        assert_eq!(
            iops_core::incident_id("web-1", t),
            "03a2c87d11c74-f6a154b5c16bfa23"
        );
    }
}
