//! The processes under test, each on port 0 of 127.0.0.1: `wasmhook serve`, and the
//! baselines, a bare axum receiver and a bare axum → reqwest forwarder (this binary, run as
//! `wasmhook-bench baseline ...`, so that they are measured as separate processes too).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;

/// A server process; killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The admin listener, for wasmhook.
    pub admin: Option<String>,
    /// The warnings and errors it logged so far.
    pub log: Arc<LogTally>,
    /// Where it keeps its data: the device whose writes are counted for it.
    pub data_dir: PathBuf,
}

/// Whether a server's `ERROR` lines are echoed to the benchmark's stderr: they are news in a
/// load scenario, and expected by the thousand where faults are injected on purpose.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Errors {
    Echo,
    Expected,
}

/// How many `WARN` and `ERROR` lines a server logged, by message.
#[derive(Default)]
pub struct LogTally(Mutex<BTreeMap<String, u64>>);

impl LogTally {
    /// Lines so far whose message starts with `prefix`.
    pub fn count(&self, prefix: &str) -> u64 {
        let lines = self.0.lock().unwrap();
        lines
            .iter()
            .filter(|(message, _)| message.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }

    /// Notes `line` if it is a warning or an error in wasmhook's JSON log format.
    fn note(&self, line: &str) {
        if !line.contains("\"level\":\"WARN\"") && !line.contains("\"level\":\"ERROR\"") {
            return;
        }
        let Ok(fields) = serde_json::from_str::<serde_json::Value>(line) else {
            return;
        };
        let message = fields["fields"]["message"].as_str().unwrap_or_default();
        *self
            .0
            .lock()
            .unwrap()
            .entry(message.to_owned())
            .or_default() += 1;
    }
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `wasmhook serve` on `wiring` (sources, plugins, subscribers, routes) in `dir`.
    pub fn wasmhook(
        binary: &Path,
        dir: &Path,
        wiring: &str,
        errors: Errors,
    ) -> anyhow::Result<Server> {
        Server::wasmhook_node(binary, dir, wiring, errors, None)
    }

    /// [`Server::wasmhook`] as the node `name` of those sharing the PostgreSQL store `url`.
    pub fn wasmhook_node(
        binary: &Path,
        dir: &Path,
        wiring: &str,
        errors: Errors,
        shared: Option<(&str, &str)>,
    ) -> anyhow::Result<Server> {
        let routes = dir.join("routes.toml");
        let store = shared.map_or(String::new(), |(url, _)| format!("store = \"{url}\"\n"));
        std::fs::write(
            &routes,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\ndata_dir = \"data\"\n{store}\n{wiring}"
            ),
        )?;
        let mut command = Command::new(binary);
        if let Some((_, name)) = shared {
            command.env("WASMHOOK_NODE", name);
        }
        command
            .args(["serve", "-c"])
            .arg(&routes)
            .args(["--log-format", "json"])
            .env("RUST_LOG", "warn,wasmhook=info")
            .current_dir(dir);
        let mut lines = spawn(&mut command, errors)?;
        let mut addr = |listener: &str| -> anyhow::Result<String> {
            loop {
                let line = lines.next_line(Duration::from_secs(120))?;
                let Ok(fields) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let fields = &fields["fields"];
                if fields["message"] == "listening" && fields["listener"] == listener {
                    return Ok(fields["addr"].as_str().unwrap_or_default().to_owned());
                }
            }
        };
        let ingest = addr("ingest")?;
        let admin = addr("admin")?;
        Ok(Server {
            child: lines.child,
            base: format!("http://{ingest}"),
            admin: Some(format!("http://{admin}")),
            log: lines.tally,
            data_dir: dir.join("data"),
        })
    }

    /// Starts this binary's `baseline <args>`.
    pub fn baseline(args: &[&str]) -> anyhow::Result<Server> {
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("baseline").args(args);
        let mut lines = spawn(&mut command, Errors::Echo)?;
        loop {
            let line = lines.next_line(Duration::from_secs(10))?;
            if let Some(addr) = line.strip_prefix("listening ") {
                return Ok(Server {
                    base: format!("http://{addr}"),
                    child: lines.child,
                    admin: None,
                    log: lines.tally,
                    data_dir: std::env::temp_dir(),
                });
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child and the lines of its stdout and stderr, read by threads so that it never blocks
/// on a full pipe.
struct Lines {
    child: Child,
    lines: mpsc::Receiver<String>,
    tally: Arc<LogTally>,
}

impl Lines {
    fn next_line(&mut self, timeout: Duration) -> anyhow::Result<String> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Ok(line),
            Err(_) => match self.child.try_wait()? {
                Some(status) => bail!("the server exited ({status}) before listening"),
                None => bail!("the server did not start listening within {timeout:?}"),
            },
        }
    }
}

fn spawn(command: &mut Command, errors: Errors) -> anyhow::Result<Lines> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {:?}", command.get_program()))?;
    let (send, lines) = mpsc::channel();
    let tally = Arc::new(LogTally::default());
    let out: Box<dyn Read + Send> = Box::new(child.stdout.take().expect("piped"));
    let err: Box<dyn Read + Send> = Box::new(child.stderr.take().expect("piped"));
    for stream in [out, err] {
        let (send, tally) = (send.clone(), Arc::clone(&tally));
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if errors == Errors::Echo && line.contains("\"level\":\"ERROR\"") {
                    eprintln!("  [server] {line}");
                }
                tally.note(&line);
                let _ = send.send(line);
            }
        });
    }
    Ok(Lines {
        child,
        lines,
        tally,
    })
}

/// `wasmhook-bench baseline receive` or `baseline forward URL...`: serves until killed.
pub async fn run_baseline(args: &[String]) -> anyhow::Result<()> {
    let targets: Vec<String> = match args {
        [mode] if mode == "receive" => Vec::new(),
        [mode, targets @ ..] if mode == "forward" && !targets.is_empty() => targets.to_vec(),
        _ => bail!("usage: wasmhook-bench baseline receive | baseline forward URL..."),
    };
    let client = reqwest::Client::new();
    let app = axum::Router::new()
        .route("/hooks/{source}", axum::routing::post(accept))
        .with_state(std::sync::Arc::new((client, targets)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

type Forward = std::sync::Arc<(reqwest::Client, Vec<String>)>;

/// Parses the JSON as a router must, answers `202`, and forwards the body to every target
/// in the background: a router without durability, retries or plugins.
async fn accept(State(forward): State<Forward>, body: Bytes) -> StatusCode {
    if serde_json::from_slice::<serde_json::Value>(&body).is_err() {
        return StatusCode::BAD_REQUEST;
    }
    for target in &forward.1 {
        let (client, target, body) = (forward.0.clone(), target.clone(), body.clone());
        tokio::spawn(async move {
            let _ = client
                .post(target)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
        });
    }
    StatusCode::ACCEPTED
}

/// `target/release/wasmhook`, built first (`cargo build --release -p wasmhook`).
pub fn build_wasmhook(root: &Path) -> anyhow::Result<PathBuf> {
    eprintln!("building wasmhook (release)…");
    let status = xtask::cargo()
        .current_dir(root)
        .args(["build", "--release", "-p", "wasmhook"])
        .status()?;
    if !status.success() {
        bail!("`cargo build --release -p wasmhook` failed ({status})");
    }
    Ok(root.join("target").join("release").join("wasmhook"))
}
