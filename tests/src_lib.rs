//! Placeholder so the package builds; integration tests live in tests/.
