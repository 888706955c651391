//! NAB (Numenta Anomaly Benchmark) scoring rules. Stub, being written.
