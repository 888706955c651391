//! The operator's verdicts on incidents (`POST /incidents/{incidentId}/feedback`), kept as
//! labels ([`Label`]) and turned into each host's cut-off raises ([`desensitisation`]),
//! which every scoring step of the host applies ([`Service::score`]). Like the maintenance
//! windows, they are read again from the store every
//! [`ServiceConfig::quiet_refresh`](super::ServiceConfig::quiet_refresh), and at once after
//! this process took one.

use std::collections::HashMap;
use std::sync::Arc;

use iops_core::{desensitisation, Label};

use super::Service;
use crate::ServiceError;

/// Each host's cut-off raises, in `Metric::ALL` order.
pub(super) type Raises = HashMap<String, [f64; 4]>;

/// Most labels read.
const MAX_LABELS: usize = 100_000;

impl Service {
    /// Records a verdict on an incident (404 when there is none of that id; 400 naming the
    /// field); it applies to the host's samples from now on (in this process at once).
    pub async fn give_feedback(
        &self,
        incident_id: &str,
        body: &[u8],
    ) -> Result<Label, ServiceError> {
        let (verdict, note) =
            Label::parse_request(body).map_err(|e| ServiceError::invalid(e, "body"))?;
        let incident = self.get_incident(incident_id).await?;
        let label = Label::new(&incident, verdict, note, self.now());
        self.store.put_label(&label).await?;
        self.labels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .changed();
        Ok(label)
    }

    /// Every label, oldest incident first (for `iops export-labels`).
    pub async fn labels(&self) -> Result<Vec<Label>, ServiceError> {
        Ok(self.store.list_labels(MAX_LABELS).await?)
    }

    /// The host's cut-off raises from the labels, read again when stale (a failed read
    /// keeps the known ones, and is logged).
    pub(super) async fn desensitisation_of(&self, hostname: &str) -> [f64; 4] {
        let known = self
            .labels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .fresh(self.config.quiet_refresh);
        let raises: Arc<Raises> = match known {
            Ok(raises) => raises,
            Err(generation) => {
                let read = self.store.list_labels(MAX_LABELS).await.map_err(|e| {
                    tracing::warn!(error = %e, "labels not read; the known ones stay");
                });
                let info = self.scorer.info_score();
                let raises = read.ok().map(|labels| by_verdict_time(&labels, info));
                self.labels
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .read(raises, generation)
            }
        };
        raises.get(hostname).copied().unwrap_or_default()
    }
}

/// The raises of `labels` against the configured `info_score`, taken in the order their
/// verdicts were given.
pub(super) fn by_verdict_time(labels: &[Label], info_score: f64) -> Raises {
    let mut ordered: Vec<&Label> = labels.iter().collect();
    ordered.sort_by_key(|l| l.created);
    desensitisation(ordered, info_score)
}
