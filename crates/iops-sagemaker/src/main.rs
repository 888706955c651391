//! `iops-sagemaker serve | train`: the entrypoint of the SageMaker container (SageMaker runs
//! it as `docker run <image> serve` for hosting and `docker run <image> train` for training).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use iops_core::artifact::OffsetDateTime;
use iops_sagemaker::train::{train, write_failure, MlPaths};
use iops_sagemaker::{AppState, LoadedModel};

#[derive(Debug, Parser)]
#[command(name = "iops-sagemaker", version, about)]
struct Cli {
    /// Root of the SageMaker directory tree.
    #[arg(long, global = true, env = "IOPS_ML_ROOT", default_value = "/opt/ml")]
    ml_root: PathBuf,
    /// Model directory (default: <ml-root>/model).
    #[arg(long, global = true, env = "SM_MODEL_DIR")]
    model_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the model: GET /ping, POST /invocations, GET /execution-parameters.
    Serve {
        /// Address to bind.
        #[arg(long, default_value = "0.0.0.0")]
        host: IpAddr,
        /// Port to bind (0 picks a free one; the bound address is printed).
        #[arg(long, env = "SAGEMAKER_BIND_TO_PORT", default_value_t = 8080)]
        port: u16,
        /// Threads serving requests (default: one per core). SageMaker's inference toolkits
        /// read the same variable for their worker count.
        #[arg(long, env = "SAGEMAKER_MODEL_SERVER_WORKERS")]
        workers: Option<std::num::NonZeroUsize>,
    },
    /// Train on <ml-root>/input and write <ml-root>/model/model.json.
    Train,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let paths = MlPaths::new(&cli.ml_root, cli.model_dir.clone());
    match cli.command {
        Command::Serve {
            host,
            port,
            workers,
        } => match run_serve(&paths, SocketAddr::new(host, port), workers) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("serve failed: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Train => run_train(&paths),
    }
}

fn run_train(paths: &MlPaths) -> ExitCode {
    match train(paths, OffsetDateTime::now_utc()) {
        Ok(r) => {
            println!(
                "trained on {} rows x {} features from {} file(s); threshold {}; wrote {} ({} bytes)",
                r.rows,
                r.n_features,
                r.files.len(),
                r.threshold,
                r.model_path.display(),
                r.bytes
            );
            if let Some(groups) = &r.peer_groups {
                println!("peer groups: {groups}");
            }
            // SageMaker metric definitions can pick these up.
            println!("train:rows={}", r.rows);
            println!("train:threshold={}", r.threshold);
            ExitCode::SUCCESS
        }
        Err(e) => {
            let reason = e.to_string();
            eprintln!("training failed: {reason}");
            if let Err(w) = write_failure(paths, &reason) {
                eprintln!("cannot write the failure file: {w}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run_serve(
    paths: &MlPaths,
    addr: SocketAddr,
    workers: Option<std::num::NonZeroUsize>,
) -> Result<()> {
    let started = Instant::now();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n.get());
    }
    let runtime = builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot bind {addr}"))?;
        let local = listener.local_addr().context("no local address")?;
        let model = LoadedModel::load(paths.model_dir())?;
        let a = model.artifact();
        eprintln!(
            "loaded {} trees x {} features ({}) in {:.1} ms; listening on http://{local}",
            a.forest().n_trees(),
            a.forest().n_features(),
            model.version().to_str().unwrap_or("?"),
            started.elapsed().as_secs_f64() * 1e3
        );
        let state = AppState::new(model);
        iops_sagemaker::serve(listener, state, iops_http::shutdown_signal())
            .await
            .context("server error")?;
        eprintln!("stopped: in-flight requests drained");
        Ok(())
    })
}
