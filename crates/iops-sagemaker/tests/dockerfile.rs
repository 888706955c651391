//! The container definition cannot be built here (no Docker engine), so check what can go
//! stale silently: the binary, package and ports it names, the /opt/ml layout, the stages,
//! and the build context's .dockerignore.

use std::path::Path;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn dockerfile() -> String {
    read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile"))
}

/// Instructions (keyword, arguments), comments and line continuations removed.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                let (k, rest) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((k.to_ascii_uppercase(), rest.trim().to_owned()));
                current.clear();
            }
        }
    }
    out
}

#[test]
fn dockerfile_builds_and_runs_this_binary() {
    let bin_path = env!("CARGO_BIN_EXE_iops-sagemaker");
    let bin = Path::new(bin_path)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap();
    assert_eq!(bin, "iops-sagemaker");
    let text = dockerfile();
    let ins = instructions(&text);
    let all = |k: &str| -> Vec<String> {
        ins.iter()
            .filter(|(kw, _)| kw == k)
            .map(|(_, a)| a.clone())
            .collect()
    };

    // Multi-stage: a Rust builder, then a runtime without the toolchain.
    let froms = all("FROM");
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(froms[0].starts_with("rust:") && froms[0].ends_with(" AS build"));
    assert!(
        !froms[1].starts_with("rust:"),
        "runtime stage {:?}",
        froms[1]
    );

    // The builder is at least the workspace's rust-version.
    let root = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml"));
    let msrv = root
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap();
    let tag = froms[0]["rust:".len()..].split('-').next().unwrap();
    let version = |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap()).collect() };
    assert!(
        version(tag) >= version(&msrv),
        "builder {tag} < rust-version {msrv}"
    );

    // The release build of this package, locked, and the binary it produces is what runs.
    let runs = all("RUN").join("\n");
    assert!(runs.contains(&format!(
        "cargo build --release -p {} --locked",
        env!("CARGO_PKG_NAME")
    )));
    assert!(runs.contains(&format!("target/release/{bin} /out/usr/local/bin/{bin}")));
    let copies = all("COPY");
    assert!(copies
        .iter()
        .any(|c| c == &format!("--from=build /out/usr/local/bin/{bin} /usr/local/bin/{bin}")));
    assert_eq!(all("ENTRYPOINT"), [format!("[\"{bin}\"]")]);
    assert_eq!(all("CMD"), ["[\"serve\"]"]);

    // SageMaker's port and directories.
    assert_eq!(all("EXPOSE"), ["8080"]);
    assert!(all("ENV").contains(&"SAGEMAKER_BIND_TO_PORT=8080".to_owned()));
    for dir in ["/opt/ml/model", "/opt/ml/output", "/opt/ml/input"] {
        assert!(runs.contains(&format!("/out{dir}")), "{dir} not created");
    }
    assert!(copies.iter().any(|c| c.ends_with("/out/opt/ml /opt/ml")));
    assert_eq!(all("USER"), ["${RUN_AS}"]);
    assert!(all("ARG").iter().any(|a| a.starts_with("RUN_AS=")));
}

#[test]
fn dockerignore_keeps_build_outputs_and_git_out_of_the_context() {
    let text = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.dockerignore"));
    let entries: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for must in ["target", ".git", "fuzz/target"] {
        assert!(entries.contains(&must), "{must} missing from .dockerignore");
    }
    // The workspace manifests the build needs must stay in the context.
    for keep in [
        "Cargo.toml",
        "Cargo.lock",
        "crates",
        "python",
        "benches",
        "tests",
        "examples",
    ] {
        assert!(
            !entries.iter().any(|e| e.trim_start_matches('/') == keep),
            "{keep} is ignored but the workspace build needs it"
        );
    }
}
