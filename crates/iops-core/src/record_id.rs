//! The pieces record ids are made of, shared by every record that has one (metrics,
//! insights and stores' records in iops-store, incidents here), so ids agree across backends.

use sha2::{Digest, Sha256};

use crate::Timestamp;

/// Milliseconds from 0000-01-01T00:00:00Z to the Unix epoch: keeps every valid
/// [`Timestamp`] non-negative, so ids sort as unsigned hex.
const EPOCH_OFFSET_MS: i128 = 62_167_219_200_000;

/// 13 hex digits of the milliseconds from 0000-01-01T00:00:00Z to `t` (floor): fixed width,
/// so ids that start with it sort by time, as text too.
pub fn time_prefix(t: Timestamp) -> String {
    let ms = t.epoch_nanos().div_euclid(1_000_000) + EPOCH_OFFSET_MS;
    format!("{:013x}", ms.max(0))
}

/// The first `bytes` bytes (at most 32) of SHA-256 over `parts`, as hex. Each part is
/// length-prefixed, so ("ab","c") and ("a","bc") differ.
pub fn hash_hex(parts: &[&[u8]], bytes: usize) -> String {
    use std::fmt::Write;
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let digest: [u8; 32] = h.finalize().into();
    let mut s = String::with_capacity(2 * bytes);
    for b in &digest[..bytes.min(32)] {
        let _ = write!(s, "{b:02x}");
    }
    s
}
