//! `bootstrap`: the Lambda function. Reads its configuration at cold start (a bad value exits
//! non-zero with a message naming the variable), then serves invocations. JSON logs go to
//! stderr, EMF metric lines to stdout; both land in CloudWatch Logs.

use std::process::ExitCode;
use std::time::Instant;

use iops_lambda::{build, json_subscriber, App, Config, MetricsSink};

fn log_level() -> tracing::Level {
    // AWS_LAMBDA_LOG_LEVEL (Lambda's advanced logging), else a plain level in RUST_LOG.
    ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok()?.parse().ok())
        .unwrap_or(tracing::Level::INFO)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let started = Instant::now();
    let _ = tracing::subscriber::set_global_default(json_subscriber(std::io::stderr, log_level()));
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let app: App = match build(&config, MetricsSink::Stdout).await {
        Ok(app) => app,
        Err(e) => return fail(&e),
    };
    tracing::info!(
        init_ms = started.elapsed().as_secs_f64() * 1e3,
        canary = config.canary.as_ref().map(|c| c.percentage),
        forest = config.model_path.is_some(),
        "ready"
    );
    let handler = lambda_http::service_fn(move |event| {
        let app = app.clone();
        async move { app.invoke(event).await }
    });
    match lambda_http::lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "runtime stopped");
            ExitCode::FAILURE
        }
    }
}

fn fail(e: &dyn std::error::Error) -> ExitCode {
    tracing::error!(error = %e, "cannot start");
    eprintln!("bootstrap: {e}");
    ExitCode::FAILURE
}
