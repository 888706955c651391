//! linfa-style parameter checking: an unchecked builder becomes a checked value before use.

use crate::Result;

/// Turns an unchecked parameter set into its checked form, the only form a detector accepts.
pub trait ParamGuard {
    /// The checked parameters.
    type Checked;
    /// Validates by reference, for callers that want to keep the builder.
    fn check_ref(&self) -> Result<&Self::Checked>;
    /// Validates and converts.
    fn check(self) -> Result<Self::Checked>;
}
