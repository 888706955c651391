//! `iops`: the command line of the iops anomaly-detection engine.

mod demo;
mod detect;
mod eval;
mod labels;
mod loadgen;
mod replay;
mod serve;
mod tabular;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "iops",
    version,
    about = "Anomaly detection for infrastructure metrics"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (POST/GET /metrics, GET /insights, GET /health) and a dashboard
    /// at `/`, over a SQLite database.
    Serve(serve::ServeArgs),
    /// Serve the dashboard while a synthetic fleet with incidents streams through it, in
    /// accelerated time (`--terminal`: print only, no server).
    Demo(demo::DemoArgs),
    /// Evaluate detection quality on a benchmark.
    #[command(subcommand)]
    Eval(EvalAll),
    /// Score a data set with the engine and write per-row anomaly scores.
    Detect(detect::DetectArgs),
    /// Fit an isolation forest on metric samples and write model.json.
    Train(train::TrainArgs),
    /// Post synthetic metrics to a running server for a while and print requests/s,
    /// latency percentiles and non-200 counts as JSON.
    Loadgen(loadgen::LoadgenArgs),
    /// Run a stretch of stored metrics again through an engine with other parameters and
    /// print, per host and in total, the incidents stored, the ones it would raise, and the
    /// difference.
    Replay(replay::ReplayArgs),
    /// Print the operator's verdicts on incidents (`POST /incidents/{id}/feedback`), one
    /// JSON object per line.
    ExportLabels(labels::ExportLabelsArgs),
}

/// `iops eval …`: the engine's benchmarks plus the isolation forest's tabular sets.
#[derive(Debug, Subcommand)]
enum EvalAll {
    #[command(flatten)]
    Engine(eval::EvalCommand),
    /// Isolation-forest ROC AUC and average precision per labelled CSV (first column
    /// `label`), mean over seeds; prints JSON.
    Tabular(tabular::TabularArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Eval(EvalAll::Engine(cmd)) => eval::run(cmd),
        Command::Eval(EvalAll::Tabular(args)) => tabular::run(args),
        Command::Detect(args) => detect::run(args),
        Command::Train(args) => train::run(args),
        Command::Loadgen(args) => loadgen::run(args),
        Command::Replay(args) => replay::run(args),
        Command::ExportLabels(args) => labels::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
