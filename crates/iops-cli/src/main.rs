//! `iops`: the command line of the iops anomaly-detection engine.

mod demo;
mod detect;
mod eval;
mod nab_dir;

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
    /// Stream a synthetic fleet through the engine and show the insights it raises.
    Demo(demo::DemoArgs),
    /// Evaluate detection quality on a benchmark.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Score a data set with the engine and write per-row anomaly scores.
    Detect(detect::DetectArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Eval(cmd) => eval::run(cmd),
        Command::Detect(args) => detect::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
