//! The function as one tower service: the API's router ([`iops_service::http`], shared with
//! `iops serve`) with the EMF line as a layer inside it ([`emf::record`]), and the stage
//! prefix removed before routing ([`stage`]). [`App::handle`] answers one request as the
//! runtime does, so tests and benches build requests from event JSON and need no runtime.

use std::sync::Arc;

use axum::middleware::from_fn_with_state;
use axum::Router;
use iops_service::http::Api;
use iops_service::Service;
use lambda_http::{Body, IntoResponse, Request, Response};
use tower::util::MapRequest;
use tower::{Layer, ServiceExt};

pub use crate::emf::MetricsSink;
use crate::{emf, stage};

/// What `bootstrap` runs: lambda_http turns each event into a [`Request`] for it.
pub type Function = MapRequest<Router, fn(Request) -> Request>;

/// The function's shared state: built once at cold start, used by every invocation.
#[derive(Debug, Clone)]
pub struct App {
    service: Arc<Service>,
    function: Function,
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
        }
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
}
