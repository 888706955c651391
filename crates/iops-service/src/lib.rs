//! The transport-free iops ingest pipeline (in progress).
