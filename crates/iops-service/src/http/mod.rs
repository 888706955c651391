//! The JSON API over HTTP as one axum [`Router`], used by `iops serve` and by the Lambda:
//! POST /metrics (one sample, or a JSON array of them), POST /v1/metrics (OTLP/HTTP),
//! GET /metrics, GET /insights, GET /incidents, maintenance windows and mutes (POST, GET and
//! DELETE of /maintenance and /mutes), POST /replay, POST /incidents/{id}/feedback, with
//! JSON 404 and 405 answers.
//!
//! It lives here (feature `http`) because it is the service's HTTP face and needs only the
//! service; in iops-http it would pull the store (SQLite) into the SageMaker container, which
//! shares that crate. What the runtimes add is theirs, as layers around the router: the
//! Lambda's stage prefix and EMF line, `iops serve`'s dashboard routes and host list. They read
//! what a request did from response extensions ([`Route`], [`Ingested`]), not from the body.
//!
//! ```
//! use std::sync::Arc;
//! use iops_core::engine::EngineConfig;
//! use iops_service::{http::Api, Service};
//! use iops_store::SqliteStore;
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let service = Service::new(Arc::new(SqliteStore::open_in_memory().unwrap()), EngineConfig::default());
//! let router = Api::new(Arc::new(service)).router();
//! let request = axum::http::Request::get("/metrics?hostname=web-1").body(axum::body::Body::empty()).unwrap();
//! let response = router.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # });
//! ```

mod api_key;
mod body;
mod handlers;
mod otlp;
mod respond;
mod route;

use std::sync::Arc;

use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post, MethodRouter};
use axum::Router;

use crate::Service;

pub use api_key::API_KEY_HEADER;
pub use respond::{error_response, json};
pub use route::{Ingested, IngestedBatch, Route};

/// The API's configuration: the service, and the key writes need (if any).
#[derive(Debug, Clone)]
pub struct Api {
    service: Arc<Service>,
    api_key: Option<Arc<str>>,
}

impl Api {
    /// The API of `service`, open to every client.
    pub fn new(service: Arc<Service>) -> Self {
        Api {
            service,
            api_key: None,
        }
    }

    /// Writes (POST /metrics, POST /v1/metrics, POST and DELETE of maintenance windows and
    /// mutes, feedback on an incident) and POST /replay need `key` in the [`API_KEY_HEADER`] header, else 401; reads stay open. `None` or an empty key: no key needed.
    pub fn with_api_key(mut self, key: Option<&str>) -> Self {
        self.api_key = key.filter(|k| !k.is_empty()).map(Arc::from);
        self
    }

    /// The router. A trailing slash names the same route; any other path answers 404 and an
    /// unlisted method 405 with `Allow` (HEAD included: the API has no HEAD), both as JSON.
    pub fn router(self) -> Router {
        let mut ingest = post(handlers::post_metrics);
        let mut otlp_ingest = post(otlp::post);
        // (a replay writes nothing, but reads a fleet's week: not for anyone to run)
        let mut keyed = [
            post(handlers::post_maintenance),
            delete(handlers::delete_maintenance),
            post(handlers::post_mute),
            delete(handlers::delete_mute),
            post(handlers::post_replay),
            post(handlers::post_feedback),
        ];
        if let Some(key) = self.api_key {
            let require = || from_fn_with_state(key.clone(), api_key::require);
            ingest = ingest.route_layer(require());
            otlp_ingest = otlp_ingest.route_layer(require());
            keyed = keyed.map(|w| w.route_layer(require()));
        }
        let [add_maintenance, end_maintenance, add_mute, end_mute, replay, feedback] = keyed;
        let otlp_state = Arc::new(otlp::Otlp::new(Arc::clone(&self.service)));
        let otlp_methods = otlp_ingest.head(|| async { respond::not_allowed("POST") });
        let otlp_methods = otlp_methods.fallback(|| async { respond::not_allowed("POST") });
        let otlp_router = Router::new()
            .route("/v1/metrics", otlp_methods.clone())
            .route("/v1/metrics/", otlp_methods)
            .with_state(otlp_state);
        let metrics = allowing("GET, POST", get(handlers::list_metrics).merge(ingest));
        let insights = allowing("GET", get(handlers::list_insights));
        let incidents = allowing("GET", get(handlers::list_incidents));
        let incident = allowing("GET", get(handlers::get_incident));
        let hosts = allowing("GET", get(handlers::list_hosts));
        let maintenance = allowing(
            "GET, POST",
            get(handlers::list_maintenance).merge(add_maintenance),
        );
        let maintenance_window = allowing("DELETE", end_maintenance);
        let mutes = allowing("GET, POST", get(handlers::list_mutes).merge(add_mute));
        let mute = allowing("DELETE", end_mute);
        let replay = allowing("POST", replay);
        let feedback = allowing("POST", feedback);
        Router::new()
            .route("/metrics", metrics.clone())
            .route("/metrics/", metrics)
            .route("/insights", insights.clone())
            .route("/insights/", insights)
            .route("/incidents", incidents.clone())
            .route("/incidents/", incidents)
            .route("/hosts", hosts.clone())
            .route("/hosts/", hosts)
            .route("/incidents/{incident_id}", incident.clone())
            .route("/incidents/{incident_id}/", incident)
            .route("/maintenance", maintenance.clone())
            .route("/maintenance/", maintenance)
            .route("/maintenance/{window_id}", maintenance_window.clone())
            .route("/maintenance/{window_id}/", maintenance_window)
            .route("/mutes", mutes.clone())
            .route("/mutes/", mutes)
            .route("/mutes/{window_id}", mute.clone())
            .route("/mutes/{window_id}/", mute)
            .route("/incidents/{incident_id}/feedback", feedback.clone())
            .route("/incidents/{incident_id}/feedback/", feedback)
            .route("/replay", replay.clone())
            .route("/replay/", replay)
            .fallback(handlers::not_found)
            .with_state(self.service)
            .merge(otlp_router)
    }
}

/// `methods`, with every other method (HEAD too, which axum would otherwise answer as GET)
/// answered 405 naming `allow`.
fn allowing(
    allow: &'static str,
    methods: MethodRouter<Arc<Service>>,
) -> MethodRouter<Arc<Service>> {
    let refuse = move || async move { respond::not_allowed(allow) };
    methods.head(refuse).fallback(refuse)
}
