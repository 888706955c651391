//! Kinesis Data Streams events. Each record's data is what POST /metrics takes: one
//! sample's JSON, or an array of them; producers use the hostname as the partition key, so
//! one shard (one invocation at a time) keeps a host's order. All the records of an
//! invocation are ingested as one batch ([`Service::ingest_parsed`]: a host's samples in
//! time order, one state write per host).
//!
//! The answer is the partial-batch response (`ReportBatchItemFailures` on the event source
//! mapping): `batchItemFailures` names each record with a sample that failed on our side
//! (a 5xx: the store or a model failed). Lambda sends the batch again from the first of
//! them, and the samples already stored answer as duplicates, so a retry stores nothing
//! twice. A record the service refused (not JSON, a bad field, a clock far ahead) is
//! logged and left out: sent again it would fail again, and hold up its shard.

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::KinesisEventResponse;
use iops_core::MetricSample;
use iops_service::http::IngestedBatch;
use iops_service::{BatchResponse, Service, ServiceError};
use serde_json::Value;

/// True for a Kinesis Data Streams event: its first record comes from `aws:kinesis`.
pub fn is_kinesis(event: &Value) -> bool {
    event
        .get("Records")
        .and_then(|r| r.get(0))
        .and_then(|r| r.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:kinesis")
}

/// What an invocation did with its records.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamOutcome {
    /// The answer to Lambda: the records to send again.
    pub response: KinesisEventResponse,
    /// The samples stored and the items that failed (for the EMF lines).
    pub ingested: IngestedBatch,
    /// Records left out because the service refused one of their samples.
    pub refused_records: usize,
}

/// Ingests every record of `event` as one batch (see the module docs).
pub async fn ingest(service: &Service, event: KinesisEvent) -> StreamOutcome {
    let mut parsed = Vec::new();
    let mut record_of = Vec::new();
    for (r, record) in event.records.iter().enumerate() {
        for item in samples_of(record) {
            parsed.push(item);
            record_of.push(r);
        }
    }
    let answer: BatchResponse = service.ingest_parsed(parsed).await;
    let mut retry = vec![false; event.records.len()];
    let mut refused = vec![false; event.records.len()];
    for (item, &r) in answer.items.iter().zip(&record_of) {
        match item {
            Err(e) if e.status >= 500 => retry[r] = true,
            Err(e) => {
                refused[r] = true;
                let record = &event.records[r].kinesis;
                tracing::warn!(
                    sequence_number = %record.sequence_number,
                    partition_key = %record.partition_key,
                    status = e.status,
                    field = e.field.as_deref().unwrap_or(""),
                    error = %e.error,
                    "stream record refused; left out (sent again it would fail again)"
                );
            }
            Ok(_) => {}
        }
    }
    let mut response = KinesisEventResponse::default();
    response.set_failures(
        event
            .records
            .iter()
            .zip(&retry)
            .filter(|(_, &again)| again)
            .map(|(record, _)| record.kinesis.sequence_number.clone()),
    );
    StreamOutcome {
        response,
        ingested: IngestedBatch::from(answer),
        refused_records: refused.iter().filter(|&&r| r).count(),
    }
}

/// The samples of one record: its data as one sample or an array of them; data that is
/// neither is one refused item naming `body`.
fn samples_of(record: &KinesisEventRecord) -> Vec<Result<MetricSample, ServiceError>> {
    let data = &record.kinesis.data.0;
    let invalid = |e: iops_core::Error| ServiceError::invalid(e, "body");
    if MetricSample::is_batch(data) {
        match MetricSample::batch_from_json(data) {
            Ok(items) => items.into_iter().map(|i| i.map_err(invalid)).collect(),
            Err(e) => vec![Err(invalid(e))],
        }
    } else {
        vec![MetricSample::from_json(data).map_err(invalid)]
    }
}
