//! # iops-sagemaker
//!
//! A SageMaker bring-your-own container for iops isolation forests, speaking the protocol
//! clients of SageMaker's built-in Random Cut Forest (and of the scikit-learn BYOC sample)
//! already use:
//!
//! - `serve`: [`app`] answers GET /ping (200 once a model is loaded), POST /invocations and
//!   POST /endpoints/{name}/invocations (text/csv, application/json, application/jsonlines in;
//!   the same out, chosen by Accept), GET /execution-parameters (batch transform).
//! - `train`: [`train::train`] reads /opt/ml/input and writes /opt/ml/model/model.json.
//!
//! ```
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode};
//! use iops_core::artifact::{ModelArtifact, OffsetDateTime};
//! use iops_core::forest::IsolationForestParams;
//! use iops_core::ndarray::Array2;
//! use iops_core::ParamGuard;
//! use iops_sagemaker::{app, AppState, LoadedModel};
//! use tower::ServiceExt;
//!
//! let x = Array2::from_shape_fn((200, 4), |(i, j)| ((i * (j + 3)) % 17) as f64);
//! let params = IsolationForestParams::new().n_trees(10).seed(1).check()?;
//! let names = ["cpuUsage", "memoryUsage", "diskIO", "networkIO"].map(String::from).to_vec();
//! let artifact = ModelArtifact::train(&params, x.view(), names, OffsetDateTime::UNIX_EPOCH)?;
//! let router = app(AppState::new(LoadedModel::new(artifact, "v1")));
//!
//! let request = Request::post("/invocations")
//!     .header("content-type", "text/csv")
//!     .body(Body::from("1,2,3,4\n"))?;
//! let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! let response = rt.block_on(router.oneshot(request))?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()["x-iops-model-version"], "v1");
//! assert_eq!(response.headers()["x-amzn-sagemaker-custom-attributes"], "model-version=v1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod decode;
pub mod encode;
pub mod error;
pub mod media;
pub mod server;
pub mod state;
pub mod train;

pub use error::{Error, Result};
pub use server::{app, serve, CUSTOM_ATTRIBUTES_HEADER, MAX_PAYLOAD_BYTES, MODEL_VERSION_HEADER};
pub use state::{AppState, LoadedModel, MODEL_FILE};
