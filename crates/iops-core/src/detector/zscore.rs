//! Stub, being written.

/// Stub.
#[derive(Debug, Clone)]
pub struct ZScore;
/// Stub.
#[derive(Debug, Clone)]
pub struct ZScoreParams;
/// Stub.
#[derive(Debug, Clone)]
pub struct ZScoreValidParams;
