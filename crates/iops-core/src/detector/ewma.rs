//! Stub, being written.

/// Stub.
#[derive(Debug, Clone)]
pub struct Ewma;
/// Stub.
#[derive(Debug, Clone)]
pub struct EwmaParams;
/// Stub.
#[derive(Debug, Clone)]
pub struct EwmaValidParams;
