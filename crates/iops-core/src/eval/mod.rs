//! Evaluation metrics: how well a detector's scores match labels.

pub mod nab;
pub mod roc;
