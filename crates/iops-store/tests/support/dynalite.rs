//! A real dynalite (the npm package, a local DynamoDB) on 127.0.0.1 and a free port, started
//! by the test and killed when dropped. `npm ci` in the package folder installs it
//! (scripts/test.sh does). Without `node` on PATH the tests that need it skip, saying why;
//! with node but without the package they fail, saying what to run.
//!
//! Shared by iops-store's, iops-service's and iops-lambda's tests (`#[path]`), hence the
//! folder argument.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One start at a time in a process: between probing a free port and dynalite binding it, a
/// second start could probe the same port; its dynalite would then fail to bind while the
/// readiness probe connected to the first one's, and that test would lose its server when the
/// other test ends (seen as "connection refused" mid-test).
static STARTING: Mutex<()> = Mutex::new(());

/// A running dynalite; killed on drop.
#[derive(Debug)]
pub struct Dynalite {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// Its port.
    pub port: u16,
}

/// The folder holding dynalite's package.json and node_modules: `IOPS_DYNALITE_DIR` or
/// crates/iops-store/tests/dynalite, given as `default`.
fn package_dir(default: &str) -> PathBuf {
    std::env::var_os("IOPS_DYNALITE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

fn node_version() -> Option<String> {
    let out = Command::new("node").arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

impl Dynalite {
    /// A store on this dynalite with its tables created, named `<prefix>-…`.
    pub async fn store(&self, prefix: &str) -> iops_store::DynamoStore {
        let store = iops_store::DynamoStore::connect(iops_store::DynamoOptions::local(
            iops_store::TableNames::with_prefix(prefix),
            &self.endpoint,
        ))
        .await
        .unwrap();
        store.create_tables().await.unwrap();
        store
    }

    /// Starts dynalite from `dir` (see [`package_dir`]); `None` when node is not installed.
    pub fn start(dir: &str) -> Option<Dynalite> {
        Self::start_on(dir, None, None)
    }

    /// [`Dynalite::start`] on `port` (a free one when `None`), keeping its tables in a
    /// LevelDB at `path` (in memory when `None`): started again on the same port and path,
    /// it serves what it held, as a DynamoDB back from an outage.
    pub fn start_on(dir: &str, port: Option<u16>, path: Option<&Path>) -> Option<Dynalite> {
        let Some(version) = node_version() else {
            eprintln!("SKIP: `node` is not on PATH, so dynalite (the local DynamoDB) cannot run");
            return None;
        };
        let dir = package_dir(dir);
        let cli = dir.join("node_modules/dynalite/cli.js");
        assert!(
            cli.is_file(),
            "dynalite is not installed in {}: run `npm ci --prefix {}` (node {version})",
            dir.display(),
            dir.display()
        );
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        // Several attempts: another process may take the free port between probing and binding.
        for _ in 0..5 {
            let port = port.unwrap_or_else(free_port);
            let mut command = Command::new("node");
            if let Some(path) = path {
                command.arg(&cli).arg("--path").arg(path);
            } else {
                command.arg(&cli);
            }
            let child = command
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--createTableMs", "0", "--deleteTableMs", "0"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start node {}: {e}", cli.display()));
            let mut d = Dynalite {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
                port,
            };
            if d.wait_ready(port, Duration::from_secs(20)) {
                return Some(d);
            }
        }
        panic!("dynalite did not start from {}", cli.display());
    }

    fn wait_ready(&mut self, port: u16, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false; // exited: port taken, or a broken install
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Dynalite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// The `aws` CLI to run the runbook's commands with: next to `IOPS_PYTHON` (the venv of
/// scripts/test.sh, where awscli is pinned), else on PATH; `None` if neither runs.
pub fn aws_cli() -> Option<PathBuf> {
    let venv = std::env::var_os("IOPS_PYTHON")
        .map(PathBuf::from)
        .and_then(|py| py.parent().map(|bin| bin.join("aws")));
    let candidates = venv.into_iter().chain([PathBuf::from("aws")]);
    for aws in candidates {
        let ok = Command::new(&aws)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(aws);
        }
    }
    None
}

/// The folder of the `aws` executable, to put first on PATH for a shell command.
pub fn bin_dir(aws: &Path) -> Option<PathBuf> {
    aws.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
}
