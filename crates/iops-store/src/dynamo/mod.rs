//! The DynamoDB backend (feature `dynamodb`): the item schema of ARCHITECTURE.md, so the
//! runbook's AWS CLI commands read what it writes.
//!
//! - Metrics: a conditional PutItem (`attribute_not_exists(hostname)`) per sample; a failed
//!   condition means the sample was stored before (same metricId by construction). Batches
//!   run those puts concurrently (BatchWriteItem cannot be conditional).
//! - Lists: Query on the key (`hostname = :h AND #ts >= :since`, `#ts` → `timestamp`, a
//!   reserved word), following `LastEvaluatedKey` up to the limit; strongly consistent.
//! - State: one item per host in the state table, saved by a PutItem conditional on
//!   `version = :expected` (or `attribute_not_exists(hostname)` for the first save); a failed
//!   condition is [`StoreError::Conflict`]. The insights of the step ride in that same item
//!   (`pendingInsights`, JSON; the incident it changed in `pendingIncidents`), so they are
//!   saved atomically with the state in one single-item write; they are then put into the
//!   insights table (idempotent, conditional on `attribute_not_exists(insightId)`) and the
//!   incidents table (conditional on being newer). Should that second write fail or the process
//!   die, the next [`StateStore::load_state`] of the host puts them again. This outbox
//!   needs no TransactWriteItems (which costs twice the write units and which dynalite,
//!   the local DynamoDB of the tests, does not implement).
//! - The state blob is deflated (a warm JSON state of ~50 KB packs to a few KB; an item is
//!   at most 400 KB).
//! - Throttling (`ProvisionedThroughputExceededException`, `ThrottlingException`,
//!   `RequestLimitExceeded`), 5xx and network errors are retried by the SDK's standard retry
//!   strategy, configured explicitly ([`DynamoOptions::max_attempts`], exponential backoff
//!   with jitter from [`DynamoOptions::initial_backoff`]); what still fails is a
//!   [`StoreError::Dynamo`] whose `retryable` says whether a later retry may pass.

mod item;
mod tables;

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use iops_core::{
    Incident, IncidentStatus, Label, MetricSample, Notification, QuietKind, QuietWindow, Timestamp,
};
use tokio::task::JoinSet;

use crate::{
    ids, incident_revision, HostEntry, IncidentQuery, IncidentStore, InsightStore, LabelStore,
    MetricStore, OutboxEntry, OutboxStore, PutMetric, QuietStore, Result, StateStore, StateUpdate,
    Store, StoreError, StoredInsight, StoredMetric, StoredState,
};
use item::Reader;
pub use tables::{host_shard, TableNames, HOSTS_INDEX, HOST_SHARDS};

/// The only state encoding written so far: deflate (raw, RFC 1951) of the service's bytes.
const STATE_ENCODING: &str = "deflate";

/// How [`DynamoStore::connect`] builds its client.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamoOptions {
    /// The three tables.
    pub tables: TableNames,
    /// Send requests here instead of AWS (dynalite, DynamoDB Local). When `None` the SDK's
    /// own settings apply (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`, or AWS).
    pub endpoint_url: Option<String>,
    /// The region; `None`: the SDK's chain (`AWS_REGION`, profile, ...).
    pub region: Option<String>,
    /// Fixed credentials (for a local endpoint); `None`: the SDK's default chain
    /// (environment, profile, web identity, container, instance metadata).
    pub static_credentials: Option<(String, String)>,
    /// Attempts per request, the first included, under the standard retry strategy
    /// (throttling, 5xx, timeouts and connection errors are retried). At least 1.
    pub max_attempts: u32,
    /// First backoff of the exponential schedule (with jitter), doubled per attempt.
    pub initial_backoff: Duration,
    /// Longest backoff between two attempts.
    pub max_backoff: Duration,
    /// Longest single attempt (connect + request + response).
    pub attempt_timeout: Duration,
    /// Concurrent requests of one batch (`put_metrics_batch`, `put_insights`).
    pub max_in_flight: usize,
}

impl DynamoOptions {
    /// Defaults for the given tables: 8 attempts, backoff 25 ms doubling to at most 2 s,
    /// 5 s per attempt, 16 requests in flight per batch.
    pub fn new(tables: TableNames) -> Self {
        DynamoOptions {
            tables,
            endpoint_url: None,
            region: None,
            static_credentials: None,
            max_attempts: 8,
            initial_backoff: Duration::from_millis(25),
            max_backoff: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(5),
            max_in_flight: 16,
        }
    }

    /// A local endpoint (dynalite, DynamoDB Local) with placeholder credentials and region
    /// `us-east-1`.
    pub fn local(tables: TableNames, endpoint_url: impl Into<String>) -> Self {
        DynamoOptions {
            endpoint_url: Some(endpoint_url.into()),
            region: Some("us-east-1".into()),
            static_credentials: Some(("local".into(), "local".into())),
            ..Self::new(tables)
        }
    }
}

/// The DynamoDB backend of every store trait. Cheap to clone (the SDK client is shared).
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    tables: Arc<TableNames>,
    max_in_flight: usize,
}

impl fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoStore")
            .field("tables", &self.tables)
            .finish_non_exhaustive()
    }
}

impl DynamoStore {
    /// Builds the SDK client: HTTPS by hyper + rustls (ring), the retry and timeout settings
    /// of `options`, the endpoint override if any. Makes no request.
    pub async fn connect(options: DynamoOptions) -> Result<Self> {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let retry = RetryConfig::standard()
            .with_max_attempts(options.max_attempts.max(1))
            .with_initial_backoff(options.initial_backoff)
            .with_max_backoff(options.max_backoff);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(options.attempt_timeout.min(Duration::from_secs(3)))
            .operation_attempt_timeout(options.attempt_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some((id, secret)) = &options.static_credentials {
            loader = loader.credentials_provider(Credentials::new(
                id.clone(),
                secret.clone(),
                None,
                None,
                "iops-static",
            ));
        }
        let sdk = loader.load().await;
        Ok(Self::from_client(
            Client::new(&sdk),
            options.tables,
            options.max_in_flight,
        ))
    }

    /// Wraps a client the caller configured (e.g. a Lambda sharing its `SdkConfig`).
    pub fn from_client(client: Client, tables: TableNames, max_in_flight: usize) -> Self {
        DynamoStore {
            client,
            tables: Arc::new(tables),
            max_in_flight: max_in_flight.max(1),
        }
    }

    /// The tables.
    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the three tables where missing (on-demand billing, the keys of
    /// [`TableNames`]) and waits until they are ACTIVE. For tests and local setups.
    pub async fn create_tables(&self) -> Result<()> {
        tables::create(&self.client, &self.tables).await
    }

    /// A consistent Query of the host's metrics with `timestamp >= since`.
    fn query_metrics(
        &self,
        hostname: &str,
        since: Timestamp,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.tables.metrics)
            .key_condition_expression("hostname = :h AND #ts >= :since")
            .expression_attribute_names("#ts", "timestamp")
            .expression_attribute_values(":h", AttributeValue::S(hostname.to_owned()))
            .expression_attribute_values(":since", AttributeValue::N(item::timestamp(since)))
            .consistent_read(true)
    }

    /// Puts insights, each conditional on its id being new (the first write wins), at most
    /// `max_in_flight` at a time. Ids repeated within `insights` are put once.
    async fn put_insights_once(&self, insights: &[StoredInsight]) -> Result<()> {
        let mut seen = HashSet::new();
        let mut items = Vec::with_capacity(insights.len());
        for i in insights {
            if seen.insert((&i.insight.hostname, &i.insight_id)) {
                items.push(item::insight_item(i)?);
            }
        }
        let client = self.client.clone();
        let table = self.tables.insights.clone();
        self.run_concurrently(items, move |item| {
            let (client, table) = (client.clone(), table.clone());
            async move {
                let sent = client
                    .put_item()
                    .table_name(table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(insightId)")
                    .send()
                    .await;
                // stored already: kept as it is
                conditional_put("put_insights", sent).map(drop)
            }
        })
        .await
        .map(drop)
    }

    /// Runs `f` on every input, at most `max_in_flight` at a time; answers in input order.
    async fn run_concurrently<I, T, F, Fut>(&self, inputs: Vec<I>, f: F) -> Result<Vec<T>>
    where
        I: Send + 'static,
        T: Send + 'static,
        F: Fn(I) -> Fut,
        Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    {
        let mut out: Vec<Option<T>> = Vec::with_capacity(inputs.len());
        out.resize_with(inputs.len(), || None);
        let mut set = JoinSet::new();
        let mut first_error = None;
        for (index, input) in inputs.into_iter().enumerate() {
            if set.len() >= self.max_in_flight {
                collect(&mut set, &mut out, &mut first_error).await;
            }
            let fut = f(input);
            set.spawn(async move { (index, fut.await) });
        }
        while !set.is_empty() {
            collect(&mut set, &mut out, &mut first_error).await;
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        out.into_iter()
            .map(|x| {
                x.ok_or(StoreError::Closed {
                    op: "concurrent write",
                })
            })
            .collect()
    }

    /// The stored version of a host's state (0: none), read strongly consistent.
    async fn state_version(&self, hostname: &str) -> Result<u64> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.state)
            .key("hostname", AttributeValue::S(hostname.to_owned()))
            .projection_expression("version")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("save_state", e))?;
        match out.item() {
            Some(item) => Reader::new("state", item).u64("version"),
            None => Ok(0),
        }
    }
}

/// Waits for one task of `set` and files its answer.
async fn collect<T: Send + 'static>(
    set: &mut JoinSet<(usize, Result<T>)>,
    out: &mut [Option<T>],
    first_error: &mut Option<StoreError>,
) {
    match set.join_next().await {
        Some(Ok((index, Ok(v)))) => {
            if let Some(slot) = out.get_mut(index) {
                *slot = Some(v);
            }
        }
        Some(Ok((_, Err(e)))) => {
            first_error.get_or_insert(e);
        }
        Some(Err(join)) => {
            first_error.get_or_insert(StoreError::Closed {
                op: if join.is_panic() {
                    "concurrent write panicked"
                } else {
                    "concurrent write cancelled"
                },
            });
        }
        None => {}
    }
}

/// The outcome of a conditional PutItem: `Ok(true)` when it wrote, `Ok(false)` when its
/// condition failed (the key existed, or the version had moved on), otherwise the error of
/// `op`.
fn conditional_put<O, R>(
    op: &'static str,
    sent: std::result::Result<O, SdkError<PutItemError, R>>,
) -> Result<bool>
where
    R: fmt::Debug + Send + Sync + 'static,
{
    match sent {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(PutItemError::is_conditional_check_failed_exception) =>
        {
            Ok(false)
        }
        Err(e) => Err(sdk_error(op, e)),
    }
}

/// DynamoDB error codes a later retry may cure (the SDK retried them already).
const RETRYABLE_CODES: [&str; 9] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "Throttling",
    "ThrottledException",
    "TransactionConflictException",
    "InternalServerError",
    "ServiceUnavailable",
    "LimitExceededException",
];

/// A [`StoreError::Dynamo`] from an SDK error.
pub(crate) fn sdk_error<E, R>(op: &'static str, e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let code = e.code().map(str::to_owned);
    let retryable = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(_) => code
            .as_deref()
            .is_some_and(|c| RETRYABLE_CODES.contains(&c)),
        SdkError::ResponseError(_) => true,
        _ => false,
    };
    StoreError::Dynamo {
        op,
        code,
        message: aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string(),
        retryable,
    }
}

/// Follows `LastEvaluatedKey` of a paginated Query until `limit` items or the end.
macro_rules! query_pages {
    ($self:ident, $op:literal, $limit:expr, $build:expr, |$item:ident| $each:expr) => {{
        let limit: usize = $limit;
        let mut start: Option<std::collections::HashMap<String, AttributeValue>> = None;
        let mut taken = 0usize;
        while taken < limit {
            let page_limit = i32::try_from(limit - taken).unwrap_or(i32::MAX).min(1000);
            let page = $build
                .limit(page_limit)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error($op, e))?;
            for $item in page.items() {
                if taken >= limit {
                    break;
                }
                $each;
                taken += 1;
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
    }};
}

#[async_trait]
impl MetricStore for DynamoStore {
    async fn put_metric(&self, sample: &MetricSample) -> Result<PutMetric> {
        let metric_id = ids::metric_id(&sample.hostname, sample.timestamp);
        let sent = self
            .client
            .put_item()
            .table_name(&self.tables.metrics)
            .set_item(Some(item::metric_item(sample, &metric_id)?))
            .condition_expression("attribute_not_exists(hostname)")
            .send()
            .await;
        // not inserted: stored already, the first write wins
        let inserted = conditional_put("put_metric", sent)?;
        Ok(PutMetric {
            metric_id,
            inserted,
        })
    }

    async fn put_metrics_batch(&self, samples: &[MetricSample]) -> Result<Vec<PutMetric>> {
        // A key repeated in the batch is put once, by its first occurrence (first write wins
        // in order, as on SQLite); the later ones answer `inserted: false`.
        let mut first = std::collections::HashMap::new();
        let mut unique = Vec::new();
        let mut slots = Vec::with_capacity(samples.len());
        for s in samples {
            let key = (s.hostname.as_str(), s.timestamp.epoch_nanos());
            match first.get(&key) {
                Some(&u) => slots.push((u, false)),
                None => {
                    first.insert(key, unique.len());
                    slots.push((unique.len(), true));
                    unique.push(s.clone());
                }
            }
        }
        let store = self.clone();
        let puts = self
            .run_concurrently(unique, move |s| {
                let store = store.clone();
                async move { store.put_metric(&s).await }
            })
            .await?;
        slots
            .into_iter()
            .map(|(u, is_first)| {
                let p = puts.get(u).ok_or(StoreError::Closed {
                    op: "put_metrics_batch",
                })?;
                Ok(PutMetric {
                    metric_id: p.metric_id.clone(),
                    inserted: is_first && p.inserted,
                })
            })
            .collect()
    }

    async fn list_metrics(
        &self,
        hostname: &str,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<StoredMetric>> {
        let mut out = Vec::new();
        query_pages!(
            self,
            "list_metrics",
            limit,
            self.query_metrics(hostname, since),
            |it| out.push(item::metric_from(it)?)
        );
        Ok(out)
    }

    async fn count_metrics(&self, hostname: &str, since: Timestamp) -> Result<u64> {
        let mut count = 0u64;
        let mut start = None;
        loop {
            let page = self
                .query_metrics(hostname, since)
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("count_metrics", e))?;
            count += u64::try_from(page.count()).unwrap_or(0);
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(count),
            }
        }
    }

    async fn list_hosts(&self) -> Result<Vec<HostEntry>> {
        // One Query per shard of the hosts index, all at once. (An index is read eventually
        // consistent: a state saved a moment ago may list its previous newest sample, which
        // the sweep's minutes-long thresholds do not notice.)
        let shards = (0..tables::HOST_SHARDS).map(|shard| async move {
            let mut out = Vec::new();
            query_pages!(
                self,
                "list_hosts",
                usize::MAX,
                self.client
                    .query()
                    .table_name(&self.tables.state)
                    .index_name(tables::HOSTS_INDEX)
                    .key_condition_expression("hostShard = :s")
                    .expression_attribute_values(":s", AttributeValue::S(shard.to_string())),
                |it| {
                    let r = Reader::new("state", it);
                    out.push(HostEntry {
                        hostname: r.string("hostname")?.to_owned(),
                        last_timestamp: r.timestamp("lastTimestamp")?,
                        last_received: if r.has("receivedAt") {
                            Some(r.timestamp("receivedAt")?)
                        } else {
                            None
                        },
                    })
                }
            );
            Ok::<_, StoreError>(out)
        });
        let mut out: Vec<HostEntry> = futures_util::future::try_join_all(shards)
            .await?
            .into_iter()
            .flatten()
            .collect();
        out.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        Ok(out)
    }
}

#[async_trait]
impl InsightStore for DynamoStore {
    async fn put_insights(&self, insights: &[StoredInsight]) -> Result<()> {
        self.put_insights_once(insights).await
    }

    async fn list_insights(
        &self,
        hostname: &str,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<StoredInsight>> {
        let mut out = Vec::new();
        // The key condition bounds the range to the millisecond; the timestamp filter makes
        // it exact (the page limit counts items before the filter: pagination goes on).
        query_pages!(
            self,
            "list_insights",
            limit,
            self.client
                .query()
                .table_name(&self.tables.insights)
                .key_condition_expression("hostname = :h AND insightId >= :bound")
                .filter_expression("#ts >= :since")
                .expression_attribute_names("#ts", "timestamp")
                .expression_attribute_values(":h", AttributeValue::S(hostname.to_owned()))
                .expression_attribute_values(
                    ":bound",
                    AttributeValue::S(ids::insight_id_lower_bound(since))
                )
                .expression_attribute_values(":since", AttributeValue::N(item::timestamp(since)))
                .consistent_read(true),
            |it| out.push(item::insight_from(it)?)
        );
        Ok(out)
    }
}

/// Outbox entries live in the incidents table under `incidentId` `outbox#<key>` with
/// `status` `outbox` (so the status index lists them, and no incident query sees them).
const OUTBOX_PREFIX: &str = "outbox#";
const OUTBOX_STATUS: &str = "outbox";
/// Most outbox entries one listing reads before it sorts them by age.
const OUTBOX_SCAN_LIMIT: usize = 10_000;

#[async_trait]
impl OutboxStore for DynamoStore {
    async fn put_outbox(&self, created: Timestamp, notification: &Notification) -> Result<()> {
        let body =
            serde_json::to_string(notification).map_err(|e| StoreError::InvalidArgument {
                name: "notification",
                reason: e.to_string(),
            })?;
        let id = format!("{OUTBOX_PREFIX}{}", notification.idempotency_key);
        let sent = self
            .client
            .put_item()
            .table_name(&self.tables.incidents)
            .item("incidentId", AttributeValue::S(id))
            .item("status", AttributeValue::S(OUTBOX_STATUS.into()))
            .item("updated", AttributeValue::N(item::timestamp(created)))
            .item("body", AttributeValue::S(body))
            .condition_expression("attribute_not_exists(incidentId)")
            .send()
            .await;
        // (a key kept already keeps its first write)
        conditional_put("put_outbox", sent).map(drop)
    }

    async fn list_outbox(
        &self,
        created_before: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>> {
        let mut out = Vec::new();
        query_pages!(
            self,
            "list_outbox",
            OUTBOX_SCAN_LIMIT,
            self.client
                .query()
                .table_name(&self.tables.incidents)
                .index_name(tables::INCIDENTS_BY_STATUS)
                .key_condition_expression("#k = :k")
                .filter_expression("updated < :before")
                .expression_attribute_names("#k", "status")
                .expression_attribute_values(":k", AttributeValue::S(OUTBOX_STATUS.into()))
                .expression_attribute_values(
                    ":before",
                    AttributeValue::N(item::timestamp(created_before))
                ),
            |it| {
                let r = Reader::new("outbox", it);
                out.push(OutboxEntry {
                    created: r.timestamp("updated")?,
                    notification: serde_json::from_str(r.string("body")?)
                        .map_err(|e| r.corrupt(format!("body: {e}")))?,
                })
            }
        );
        out.sort_by(|a, b| {
            (a.created, &a.notification.idempotency_key)
                .cmp(&(b.created, &b.notification.idempotency_key))
        });
        out.truncate(limit);
        Ok(out)
    }

    async fn delete_outbox(&self, idempotency_key: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.tables.incidents)
            .key(
                "incidentId",
                AttributeValue::S(format!("{OUTBOX_PREFIX}{idempotency_key}")),
            )
            .send()
            .await
            .map_err(|e| sdk_error("delete_outbox", e))?;
        Ok(())
    }
}

/// Maintenance windows and mutes live in the incidents table under `incidentId`
/// `quiet#<windowId>` with `status` `quiet#<kind>` (the status index lists each kind) and
/// `updated` their end; like outbox entries, no incident query sees them.
const QUIET_PREFIX: &str = "quiet#";
/// Most windows of a kind one listing reads.
const QUIET_SCAN_LIMIT: usize = 10_000;

fn quiet_status(kind: QuietKind) -> String {
    format!("{QUIET_PREFIX}{}", kind.as_str())
}

#[async_trait]
impl QuietStore for DynamoStore {
    async fn put_quiet(&self, window: &QuietWindow) -> Result<()> {
        let body = serde_json::to_string(window).map_err(|e| StoreError::InvalidArgument {
            name: "window",
            reason: e.to_string(),
        })?;
        let sent = self
            .client
            .put_item()
            .table_name(&self.tables.incidents)
            .item(
                "incidentId",
                AttributeValue::S(format!("{QUIET_PREFIX}{}", window.window_id)),
            )
            .item("status", AttributeValue::S(quiet_status(window.kind)))
            .item("updated", AttributeValue::N(item::timestamp(window.end)))
            .item("body", AttributeValue::S(body))
            .condition_expression("attribute_not_exists(incidentId)")
            .send()
            .await;
        // (an id stored already keeps its first write)
        conditional_put("put_quiet", sent).map(drop)
    }

    async fn list_quiet(
        &self,
        kind: QuietKind,
        ending_after: Timestamp,
        limit: usize,
    ) -> Result<Vec<QuietWindow>> {
        let mut out: Vec<QuietWindow> = Vec::new();
        query_pages!(
            self,
            "list_quiet",
            QUIET_SCAN_LIMIT,
            self.client
                .query()
                .table_name(&self.tables.incidents)
                .index_name(tables::INCIDENTS_BY_STATUS)
                .key_condition_expression("#k = :k")
                .filter_expression("updated > :after")
                .expression_attribute_names("#k", "status")
                .expression_attribute_values(":k", AttributeValue::S(quiet_status(kind)))
                .expression_attribute_values(
                    ":after",
                    AttributeValue::N(item::timestamp(ending_after))
                ),
            |it| {
                let r = Reader::new("quiet window", it);
                out.push(
                    serde_json::from_str(r.string("body")?)
                        .map_err(|e| r.corrupt(format!("body: {e}")))?,
                )
            }
        );
        out.sort_by(|a, b| a.window_id.cmp(&b.window_id));
        out.truncate(limit);
        Ok(out)
    }

    async fn delete_quiet(&self, kind: QuietKind, window_id: &str) -> Result<bool> {
        let sent = self
            .client
            .delete_item()
            .table_name(&self.tables.incidents)
            .key(
                "incidentId",
                AttributeValue::S(format!("{QUIET_PREFIX}{window_id}")),
            )
            .condition_expression("#s = :s")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", AttributeValue::S(quiet_status(kind)))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            // none of this id and kind
            Err(e)
                if e.as_service_error()
                    .is_some_and(DeleteItemError::is_conditional_check_failed_exception) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error("delete_quiet", e)),
        }
    }
}

/// Labels live in the incidents table under `incidentId` `label#<incidentId>` with `status`
/// `label` (the status index lists them; no incident query sees them).
const LABEL_PREFIX: &str = "label#";
const LABEL_STATUS: &str = "label";

#[async_trait]
impl LabelStore for DynamoStore {
    async fn put_label(&self, label: &Label) -> Result<()> {
        let body = serde_json::to_string(label).map_err(|e| StoreError::InvalidArgument {
            name: "label",
            reason: e.to_string(),
        })?;
        self.client
            .put_item()
            .table_name(&self.tables.incidents)
            .item(
                "incidentId",
                AttributeValue::S(format!("{LABEL_PREFIX}{}", label.incident_id)),
            )
            .item("status", AttributeValue::S(LABEL_STATUS.into()))
            .item("updated", AttributeValue::N(item::timestamp(label.created)))
            .item("body", AttributeValue::S(body))
            .send()
            .await
            .map_err(|e| sdk_error("put_label", e))?;
        Ok(())
    }

    async fn list_labels(&self, limit: usize) -> Result<Vec<Label>> {
        let mut out: Vec<Label> = Vec::new();
        query_pages!(
            self,
            "list_labels",
            limit,
            self.client
                .query()
                .table_name(&self.tables.incidents)
                .index_name(tables::INCIDENTS_BY_STATUS)
                .key_condition_expression("#k = :k")
                .expression_attribute_names("#k", "status")
                .expression_attribute_values(":k", AttributeValue::S(LABEL_STATUS.into())),
            |it| {
                let r = Reader::new("label", it);
                out.push(
                    serde_json::from_str(r.string("body")?)
                        .map_err(|e| r.corrupt(format!("body: {e}")))?,
                )
            }
        );
        // (the index's range key is `label#<incidentId>`: already in incident order)
        out.sort_by(|a, b| a.incident_id.cmp(&b.incident_id));
        Ok(out)
    }
}

#[async_trait]
impl IncidentStore for DynamoStore {
    async fn put_incidents(&self, incidents: &[Incident]) -> Result<()> {
        let items = incidents
            .iter()
            .map(|i| Ok((item::incident_item(i)?, incident_revision(i))))
            .collect::<Result<Vec<_>>>()?;
        let client = self.client.clone();
        let table = self.tables.incidents.clone();
        self.run_concurrently(items, move |(item, revision)| {
            let (client, table) = (client.clone(), table.clone());
            async move {
                let sent = client
                    .put_item()
                    .table_name(table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(incidentId) OR revision < :rev")
                    .expression_attribute_values(":rev", AttributeValue::S(revision))
                    .send()
                    .await;
                // a version at least as new is stored: kept
                conditional_put("put_incidents", sent).map(drop)
            }
        })
        .await
        .map(drop)
    }

    async fn get_incident(&self, incident_id: &str) -> Result<Option<Incident>> {
        if [OUTBOX_PREFIX, QUIET_PREFIX, LABEL_PREFIX]
            .iter()
            .any(|p| incident_id.starts_with(p))
        {
            // an outbox entry, a quiet window or a label, not an incident
            return Ok(None);
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.incidents)
            .key("incidentId", AttributeValue::S(incident_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("get_incident", e))?;
        out.item().map(item::incident_from).transpose()
    }

    async fn list_incidents(&self, query: &IncidentQuery) -> Result<Vec<Incident>> {
        // One Query of an index, newest id first: by host when one is named, else by
        // status (both statuses, merged, when none is).
        let by_status = |s: IncidentStatus| (tables::INCIDENTS_BY_STATUS, "status", s.as_str());
        let keys = match (&query.hostname, query.status) {
            (Some(h), _) => vec![(tables::INCIDENTS_BY_HOST, "hostname", h.as_str())],
            (None, Some(s)) => vec![by_status(s)],
            (None, None) => vec![
                by_status(IncidentStatus::Open),
                by_status(IncidentStatus::Resolved),
            ],
        };
        let mut out: Vec<Incident> = Vec::new();
        for (index, hash, value) in keys {
            let mut filters = Vec::new();
            let mut build = self
                .client
                .query()
                .table_name(&self.tables.incidents)
                .index_name(index)
                .key_condition_expression("#k = :k")
                .expression_attribute_names("#k", hash)
                .expression_attribute_values(":k", AttributeValue::S(value.to_owned()))
                .scan_index_forward(false);
            if let (Some(status), Some(_)) = (query.status, &query.hostname) {
                filters.push("#st = :st");
                build = build
                    .expression_attribute_names("#st", "status")
                    .expression_attribute_values(":st", AttributeValue::S(status.as_str().into()));
            }
            if let Some(since) = query.since {
                filters.push("updated >= :since");
                build = build.expression_attribute_values(
                    ":since",
                    AttributeValue::N(item::timestamp(since)),
                );
            }
            if !filters.is_empty() {
                build = build.filter_expression(filters.join(" AND "));
            }
            query_pages!(self, "list_incidents", query.limit, build.clone(), |it| out
                .push(item::incident_from(it)?));
        }
        out.sort_by(|a, b| b.incident_id.cmp(&a.incident_id));
        out.truncate(query.limit);
        Ok(out)
    }
}

#[async_trait]
impl StateStore for DynamoStore {
    async fn load_state(&self, hostname: &str) -> Result<Option<StoredState>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.state)
            .key("hostname", AttributeValue::S(hostname.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("load_state", e))?;
        let Some(found) = out.item() else {
            return Ok(None);
        };
        let r = Reader::new("state", found);
        let encoding = r.string("stateEncoding")?;
        if encoding != STATE_ENCODING {
            return Err(r.corrupt(format!("{hostname}: unknown state encoding {encoding:?}")));
        }
        let state = StoredState {
            version: r.u64("version")?,
            last_timestamp: r.timestamp("lastTimestamp")?,
            state: item::decompress(&r, r.bytes("state")?)?,
        };
        if r.has("pendingInsights") {
            // the outbox of the last save: put again in case its writer stopped before
            let pending: Vec<StoredInsight> = serde_json::from_str(r.string("pendingInsights")?)
                .map_err(|e| r.corrupt(format!("{hostname}: pendingInsights: {e}")))?;
            self.put_insights_once(&pending).await?;
        }
        if r.has("pendingIncidents") {
            let pending: Vec<Incident> = serde_json::from_str(r.string("pendingIncidents")?)
                .map_err(|e| r.corrupt(format!("{hostname}: pendingIncidents: {e}")))?;
            self.put_incidents(&pending).await?;
        }
        Ok(Some(state))
    }

    async fn save_state(&self, update: StateUpdate) -> Result<u64> {
        let version =
            update
                .expected_version
                .checked_add(1)
                .ok_or_else(|| StoreError::InvalidArgument {
                    name: "expected_version",
                    reason: format!("{} has no successor", update.expected_version),
                })?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.tables.state)
            .item("hostname", AttributeValue::S(update.hostname.clone()))
            .item("version", AttributeValue::N(version.to_string()))
            .item(
                "lastTimestamp",
                AttributeValue::N(item::timestamp(update.last_timestamp)),
            )
            .item(
                "hostShard",
                AttributeValue::S(tables::host_shard(&update.hostname)),
            )
            .item("stateEncoding", AttributeValue::S(STATE_ENCODING.into()))
            .item("state", item::blob(item::compress(&update.state)?));
        if let Some(received) = update.received {
            put = put.item("receivedAt", AttributeValue::N(item::timestamp(received)));
        }
        if !update.insights.is_empty() {
            let pending = serde_json::to_string(&update.insights).map_err(|e| {
                StoreError::InvalidArgument {
                    name: "insights",
                    reason: e.to_string(),
                }
            })?;
            put = put.item("pendingInsights", AttributeValue::S(pending));
        }
        if !update.incidents.is_empty() {
            let pending = serde_json::to_string(&update.incidents).map_err(|e| {
                StoreError::InvalidArgument {
                    name: "incidents",
                    reason: e.to_string(),
                }
            })?;
            put = put.item("pendingIncidents", AttributeValue::S(pending));
        }
        put = if update.expected_version == 0 {
            put.condition_expression("attribute_not_exists(hostname)")
        } else {
            put.condition_expression("version = :expected")
                .expression_attribute_values(
                    ":expected",
                    AttributeValue::N(update.expected_version.to_string()),
                )
        };
        if !conditional_put("save_state", put.send().await)? {
            // `found` is for messages and tests; if it cannot be read, the conflict stands
            // all the same (at least one other save happened)
            let found = self
                .state_version(&update.hostname)
                .await
                .unwrap_or(version);
            return Err(StoreError::Conflict {
                found,
                hostname: update.hostname,
                expected: update.expected_version,
            });
        }
        // The state and its insights are durable now (the outbox). Failing to copy the
        // insights into their table must not report the saved step as failed: the next
        // load_state of this host copies them.
        let _ = self.put_insights_once(&update.insights).await;
        let _ = self.put_incidents(&update.incidents).await;
        Ok(version)
    }
}

/// A host's OTLP counters live in the state table under `otlp#<hostname>` (`#` is never
/// in a hostname; the item has no `hostShard`, so the hosts index does not list it).
const COUNTERS_PREFIX: &str = "otlp#";

/// The default composition: the Lambda saves state per ingest (compare-and-swap), and a
/// snapshot, when asked for, is one more conditional PutItem. OTLP counters are kept for
/// every Lambda instance to share.
#[async_trait]
impl Store for DynamoStore {
    fn keeps_counters(&self) -> bool {
        true
    }

    async fn load_counters(&self, hostname: &str) -> Result<Option<String>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.state)
            .key(
                "hostname",
                AttributeValue::S(format!("{COUNTERS_PREFIX}{hostname}")),
            )
            .projection_expression("counters")
            .send()
            .await
            .map_err(|e| sdk_error("load_counters", e))?;
        out.item()
            .map(|it| {
                Reader::new("counters", it)
                    .string("counters")
                    .map(str::to_owned)
            })
            .transpose()
    }

    async fn save_counters(&self, hostname: &str, counters: &str) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.tables.state)
            .item(
                "hostname",
                AttributeValue::S(format!("{COUNTERS_PREFIX}{hostname}")),
            )
            .item("counters", AttributeValue::S(counters.to_owned()))
            .send()
            .await
            .map_err(|e| sdk_error("save_counters", e))?;
        Ok(())
    }
}
