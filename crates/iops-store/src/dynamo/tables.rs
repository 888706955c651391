//! Table names and the CreateTable definitions of the three tables (for tests and local
//! setups; production creates them from the SAM template with the same keys).

use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus,
};
use aws_sdk_dynamodb::Client;

use super::sdk_error;
use crate::{Result, StoreError};

/// The names of the three tables.
///
/// - metrics (`METRICS_TABLE`): hash `hostname` S, range `timestamp` N (epoch seconds).
/// - insights (`INSIGHTS_TABLE`): hash `hostname` S, range `insightId` S (time-sortable).
/// - state (`STATE_TABLE`): hash `hostname` S; one item per host with `version` N,
///   `lastTimestamp` N, `receivedAt` N (when the service received its newest samples),
///   `state` B (deflated), `pendingInsights` S (see
///   [`DynamoStore`](super::DynamoStore)).
///
/// State has a table of its own rather than living in the metrics table under a reserved
/// range key: the runbook's scans of the metrics and insights tables then list only
/// metrics and insights, and a state item's size (tens of KB) and write rate never mix with
/// the metric items'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    /// Metric samples.
    pub metrics: String,
    /// Insights.
    pub insights: String,
    /// Per-host detector state: hash `hostname` S, with the index [`HOSTS_INDEX`].
    pub state: String,
    /// Incidents: hash `incidentId` S, with the indexes [`INCIDENTS_BY_STATUS`] and
    /// [`INCIDENTS_BY_HOST`] (range `incidentId`, all attributes projected).
    pub incidents: String,
}

/// The incidents table's index on `status` (S) and `incidentId`: the open incidents across
/// the fleet, newest first, are one Query.
pub const INCIDENTS_BY_STATUS: &str = "status-index";
/// The incidents table's index on `hostname` (S) and `incidentId`.
pub const INCIDENTS_BY_HOST: &str = "hostname-index";

/// The state table's index on `hostShard` (S) and `hostname`, projecting `lastTimestamp`
/// and `receivedAt`: the sweep lists the hosts with one Query per shard, reading about
/// 60 bytes per host instead of a scan's whole (tens of KB) state items.
pub const HOSTS_INDEX: &str = "hosts-index";

/// The shards of [`HOSTS_INDEX`]: its writes (one per state write) spread over this many
/// partition keys rather than one hot key.
pub const HOST_SHARDS: u32 = 16;

/// A host's shard of [`HOSTS_INDEX`], "0" to "15": FNV-1a of its name, stable across
/// builds and platforms (a host's shard must not move between writers).
pub fn host_shard(hostname: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in hostname.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h % HOST_SHARDS).to_string()
}

impl TableNames {
    /// The names from `METRICS_TABLE`, `INSIGHTS_TABLE`, `STATE_TABLE` and
    /// `INCIDENTS_TABLE`; the error names the first one missing or empty.
    pub fn from_env() -> Result<Self> {
        let var = |name: &'static str| match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(StoreError::InvalidArgument {
                name,
                reason: "environment variable must name a DynamoDB table".into(),
            }),
        };
        Ok(TableNames {
            metrics: var("METRICS_TABLE")?,
            insights: var("INSIGHTS_TABLE")?,
            state: var("STATE_TABLE")?,
            incidents: var("INCIDENTS_TABLE")?,
        })
    }

    /// `<prefix>-metrics`, `<prefix>-insights`, `<prefix>-state`, `<prefix>-incidents`.
    pub fn with_prefix(prefix: &str) -> Self {
        TableNames {
            metrics: format!("{prefix}-metrics"),
            insights: format!("{prefix}-insights"),
            state: format!("{prefix}-state"),
            incidents: format!("{prefix}-incidents"),
        }
    }
}

/// A table's range key, if any: name and type.
type RangeKey<'a> = Option<(&'a str, ScalarAttributeType)>;

/// Creates the tables that do not exist yet (on-demand billing) and waits until all four
/// are ACTIVE.
pub(super) async fn create(client: &Client, tables: &TableNames) -> Result<()> {
    let defs: [(&str, RangeKey<'_>); 2] = [
        (&tables.metrics, Some(("timestamp", ScalarAttributeType::N))),
        (
            &tables.insights,
            Some(("insightId", ScalarAttributeType::S)),
        ),
    ];
    for (name, range) in &defs {
        let mut req = client
            .create_table()
            .table_name(*name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("hostname", KeyType::Hash)?)
            .attribute_definitions(attr("hostname")?);
        if let Some((range_key, kind)) = range {
            req = req
                .key_schema(key(range_key, KeyType::Range)?)
                .attribute_definitions(attr_of(range_key, kind.clone())?);
        }
        created(req.send().await)?;
    }
    create_state(client, &tables.state).await?;
    create_incidents(client, &tables.incidents).await?;
    for name in defs
        .iter()
        .map(|(name, _)| *name)
        .chain([tables.state.as_str(), tables.incidents.as_str()])
    {
        wait_active(client, name).await?;
    }
    Ok(())
}

/// Creates the state table (hash `hostname`) with [`HOSTS_INDEX`], unless it exists.
async fn create_state(client: &Client, name: &str) -> Result<()> {
    let hosts = GlobalSecondaryIndex::builder()
        .index_name(HOSTS_INDEX)
        .key_schema(key("hostShard", KeyType::Hash)?)
        .key_schema(key("hostname", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .non_key_attributes("lastTimestamp")
                .non_key_attributes("receivedAt")
                .build(),
        )
        .build()
        .map_err(build_error)?;
    let sent = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("hostname", KeyType::Hash)?)
        .attribute_definitions(attr("hostname")?)
        .attribute_definitions(attr("hostShard")?)
        .global_secondary_indexes(hosts)
        .send()
        .await;
    created(sent)
}

/// A key schema element.
fn key(attr: &str, kind: KeyType) -> Result<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(attr)
        .key_type(kind)
        .build()
        .map_err(build_error)
}

/// An attribute's definition (a string one unless `kind` says otherwise).
fn attr_of(attr: &str, kind: ScalarAttributeType) -> Result<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(attr)
        .attribute_type(kind)
        .build()
        .map_err(build_error)
}

/// A string attribute's definition.
fn attr(name: &str) -> Result<AttributeDefinition> {
    attr_of(name, ScalarAttributeType::S)
}

/// A create_table answer: created, or there already.
fn created<T, R>(sent: std::result::Result<T, SdkError<CreateTableError, R>>) -> Result<()>
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match sent {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(sdk_error("create_table", e)),
    }
}

/// Creates the incidents table (hash `incidentId`) with its two indexes, unless it exists.
async fn create_incidents(client: &Client, name: &str) -> Result<()> {
    let index = |index: &str, hash: &str| -> Result<GlobalSecondaryIndex> {
        GlobalSecondaryIndex::builder()
            .index_name(index)
            .key_schema(key(hash, KeyType::Hash)?)
            .key_schema(key("incidentId", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(build_error)
    };
    let sent = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("incidentId", KeyType::Hash)?)
        .attribute_definitions(attr("incidentId")?)
        .attribute_definitions(attr("status")?)
        .attribute_definitions(attr("hostname")?)
        .global_secondary_indexes(index(INCIDENTS_BY_STATUS, "status")?)
        .global_secondary_indexes(index(INCIDENTS_BY_HOST, "hostname")?)
        .send()
        .await;
    created(sent)
}

async fn wait_active(client: &Client, name: &str) -> Result<()> {
    for _ in 0..600 {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| sdk_error("describe_table", e))?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(StoreError::Dynamo {
        op: "create_table",
        code: None,
        message: format!("table {name} not ACTIVE after 60 s"),
        retryable: true,
    })
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::InvalidArgument {
        name: "table definition",
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hosts_shard_is_fixed_fnv1a_and_in_range() {
        // pinned: every writer, old or new, must put a host in the same shard
        for (host, shard) in [("web-1", "15"), ("web-2", "2"), ("db-1", "1"), ("", "5")] {
            assert_eq!(host_shard(host), shard, "{host}");
        }
        let used: std::collections::BTreeSet<String> =
            (0..1000).map(|i| host_shard(&format!("h-{i}"))).collect();
        assert_eq!(
            used.len(),
            HOST_SHARDS as usize,
            "1,000 hosts use every shard"
        );
    }
}
