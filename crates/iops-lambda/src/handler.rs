//! The function as one tower service: the API's router ([`iops_service::http`], shared with
//! `iops serve`) with the EMF line as a layer inside it ([`emf::record`]), and the stage
//! prefix removed before routing ([`stage`]). [`App::handle`] answers one request as the
//! runtime does, so tests and benches build requests from event JSON and need no runtime.
//! [`App::invoke`] answers any invocation: the scheduled rule's events run the silent-host
//! sweep, Kinesis events are ingested as batches ([`kinesis`]), every other event is an API
//! Gateway request.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::middleware::from_fn_with_state;
use axum::Router;
use iops_service::http::Api;
use iops_service::Service;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, IntoResponse, LambdaEvent, Request, Response};
use serde_json::Value;
use tower::util::MapRequest;
use tower::{Layer, Service as _, ServiceExt};

pub use crate::emf::MetricsSink;
use crate::emf::RequestMetrics;
use crate::{emf, kinesis, stage};

/// What `bootstrap` runs: lambda_http turns each event into a [`Request`] for it.
pub type Function = MapRequest<Router, fn(Request) -> Request>;

/// The function's shared state: built once at cold start, used by every invocation.
#[derive(Debug, Clone)]
pub struct App {
    service: Arc<Service>,
    function: Function,
    /// How long an invocation waits for its notifications to be published.
    alert_wait: Duration,
    /// Where a stream invocation's EMF lines go (a request's are the router's layer).
    sink: MetricsSink,
}

impl App {
    /// The app over `service`, writing EMF lines to `sink`.
    pub fn new(service: Arc<Service>, sink: MetricsSink) -> Self {
        let router = Api::new(Arc::clone(&service))
            .router()
            .layer(from_fn_with_state(sink, emf::record));
        App {
            service,
            function: stage::layer().layer(router),
            alert_wait: Duration::ZERO,
            sink,
        }
    }

    /// Waits up to `wait` at the end of an invocation that queued notifications (the
    /// function is frozen once it answers, so a delivery left running may not finish).
    pub fn with_alert_wait(mut self, wait: Duration) -> Self {
        self.alert_wait = wait;
        self
    }

    /// The service.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// The tower service `bootstrap` hands to `lambda_http::run`.
    pub fn function(&self) -> Function {
        self.function.clone()
    }

    /// Answers one API Gateway request (REST v1 or HTTP v2; lambda_http has already turned
    /// either event into `request`): through [`App::function`], then its response converted
    /// to lambda_http's body as the runtime converts it.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let response = match self.function.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        response.into_response().await
    }

    /// Answers one invocation of any kind, as `bootstrap` runs it: an EventBridge
    /// scheduled event (`"source": "aws.events"`, `"detail-type": "Scheduled Event"`) runs
    /// [`Service::sweep_silent_hosts`], [`Service::sweep_peer_deviations`] and
    /// [`Service::resend_outbox`] and answers what the first opened and resolved; any other
    /// event is an API Gateway request, answered as `lambda_http::run` answers it. A sweep
    /// that fails is an invocation error, so the scheduler's retry runs it again (sweeps
    /// are idempotent).
    pub async fn invoke(&self, event: LambdaEvent<Value>) -> Result<Value, lambda_http::Error> {
        let answer = self.answer(event).await;
        if let Some(dispatcher) = self.service.notifications() {
            if dispatcher.pending() > 0 {
                let left = dispatcher.drain(self.alert_wait).await;
                if left > 0 {
                    tracing::warn!(left, "notifications not yet published when answering");
                }
            }
        }
        answer
    }

    async fn answer(&self, event: LambdaEvent<Value>) -> Result<Value, lambda_http::Error> {
        let LambdaEvent { payload, context } = event;
        if is_scheduled(&payload) {
            let sweep = self.service.sweep_silent_hosts().await?;
            // hosts departing from their peer groups (every 15 minutes, with groups)
            let peers = self.service.sweep_peer_deviations().await?;
            // the outbox: notifications an instance made and did not live to deliver
            let resent = self.service.resend_outbox().await?;
            tracing::info!(
                hosts = sweep.hosts,
                opened = sweep.opened.len(),
                resolved = sweep.resolved.len(),
                peer_deviations_opened = peers.opened.len(),
                peer_deviations_resolved = peers.resolved.len(),
                resent,
                "silent-host sweep"
            );
            return Ok(serde_json::to_value(&sweep)?);
        }
        if kinesis::is_kinesis(&payload) {
            return self.stream(serde_json::from_value(payload)?).await;
        }
        let request: LambdaRequest = serde_json::from_value(payload)?;
        let mut http = lambda_http::Adapter::from(self.function());
        let response = match http.call(LambdaEvent::new(request, context)).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        Ok(serde_json::to_value(response)?)
    }
}

impl App {
    /// A Kinesis event's records, ingested as one batch; the answer names the records to
    /// send again (see [`kinesis`]).
    async fn stream(
        &self,
        event: aws_lambda_events::event::kinesis::KinesisEvent,
    ) -> Result<Value, lambda_http::Error> {
        let start = Instant::now();
        let records = event.records.len();
        let outcome = kinesis::ingest(&self.service, event).await;
        let retry = outcome.response.batch_item_failures.len();
        tracing::info!(
            records,
            stored = outcome.ingested.stored.len(),
            retry,
            refused = outcome.refused_records,
            "kinesis batch"
        );
        if self.sink == MetricsSink::Stdout {
            let timestamp_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let status = if retry > 0 { 503 } else { 200 };
            let latency_ms = start.elapsed().as_secs_f64() * 1e3;
            for m in RequestMetrics::of_batch(
                &outcome.ingested,
                "kinesis",
                status,
                latency_ms,
                timestamp_ms,
            ) {
                println!("{}", m.to_emf());
            }
        }
        Ok(serde_json::to_value(&outcome.response)?)
    }
}

/// True for the event of an EventBridge (CloudWatch Events) schedule.
fn is_scheduled(event: &Value) -> bool {
    event.get("source").and_then(Value::as_str) == Some("aws.events")
        && event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
}
