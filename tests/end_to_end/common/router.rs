//! A `wasmhook serve` process on port 0, its JSON logs, and clients for both listeners.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tempfile::TempDir;

use super::{WAIT, signature, wait_for};

/// Where the router may start slowly: the first start compiles every plugin.
const STARTUP: Duration = Duration::from_secs(60);

/// A running router. Its `routes.toml` and `data_dir` live in a temp dir of its own; the
/// child is killed on drop.
pub struct Router {
    dir: TempDir,
    /// `[server] admin`: where the admin listener binds.
    admin_listen: String,
    server_extra: String,
    /// More arguments of `serve`, e.g. `--watch`.
    args: Vec<String>,
    /// More environment variables of the process, e.g. `NOTIFY_SOCKET`.
    env: Vec<(String, String)>,
    child: Mutex<Option<Child>>,
    readers: Vec<JoinHandle<()>>,
    logs: Arc<Mutex<Vec<String>>>,
    ingest: Ingest,
    admin: String,
}

impl Router {
    /// Starts a router on `wiring` (sources, plugins, subscribers, routes); the harness adds
    /// the `[server]` table with both listeners on port 0 and `data_dir = "data"`.
    pub async fn start(wiring: &str) -> Router {
        Self::start_with_server("", wiring).await
    }

    /// [`Router::start`] with more `[server]` keys, e.g. `max_body = "1KiB"`.
    pub async fn start_with_server(server_extra: &str, wiring: &str) -> Router {
        Self::launch(server_extra, &[], wiring, |_| {}).await
    }

    /// [`Router::start_with_server`] with the admin listener on `admin` (e.g. `0.0.0.0:0`);
    /// the admin client still reaches it on 127.0.0.1.
    pub async fn start_with_admin(admin: &str, server_extra: &str, wiring: &str) -> Router {
        let mut router = Self::unstarted(server_extra, &[]);
        router.admin_listen = admin.to_owned();
        router.write_routes(wiring);
        router.spawn().await;
        router
    }

    /// [`Router::start`] with more arguments of `serve` (e.g. `--watch`); `prepare` gets the
    /// router's directory (where routes.toml will be) before the process starts.
    pub async fn start_with_args(
        args: &[&str],
        wiring: &str,
        prepare: impl FnOnce(&Path),
    ) -> Router {
        Self::launch("", args, wiring, prepare).await
    }

    /// A node named `name` sharing the store at `store_url` (a PostgreSQL database).
    pub async fn start_node(store_url: &str, name: &str, wiring: &str) -> Router {
        let store = format!("store = \"{store_url}\"");
        Self::launch(&store, &["--node", name], wiring, |_| {}).await
    }

    /// [`Router::start`] with more environment variables.
    pub async fn start_with_env(env: &[(&str, &str)], wiring: &str) -> Router {
        let mut router = Self::unstarted("", &[]);
        router.env = env
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        router.write_routes(wiring);
        router.spawn().await;
        router
    }

    async fn launch(
        server_extra: &str,
        args: &[&str],
        wiring: &str,
        prepare: impl FnOnce(&Path),
    ) -> Router {
        let mut router = Self::unstarted(server_extra, args);
        prepare(router.dir());
        router.write_routes(wiring);
        router.spawn().await;
        router
    }

    fn unstarted(server_extra: &str, args: &[&str]) -> Router {
        Router {
            dir: tempfile::tempdir().unwrap(),
            admin_listen: "127.0.0.1:0".to_owned(),
            server_extra: server_extra.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: Vec::new(),
            child: Mutex::new(None),
            readers: Vec::new(),
            logs: Arc::default(),
            ingest: Ingest::new(String::new()),
            admin: String::new(),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("routes.toml")
    }

    /// Writes `routes.toml` (the `[server]` table, then `wiring`) and returns the full text.
    pub fn write_routes(&self, wiring: &str) -> String {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nadmin = \"{}\"\ndata_dir = \"data\"\n{}\n{wiring}",
            self.admin_listen, self.server_extra
        );
        std::fs::write(self.config_path(), &text).unwrap();
        text
    }

    async fn spawn(&mut self) {
        let first_line = self.logs.lock().unwrap().len();
        let mut child = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
            .arg("serve")
            .arg("-c")
            .arg(self.config_path())
            .args(&self.args)
            .args(["--log-format", "json"])
            .env("RUST_LOG", "info,wasmhook=debug")
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning wasmhook serve");
        let pid = child.id();
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for stream in [out, err] {
            let logs = Arc::clone(&self.logs);
            self.readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    eprintln!("[wasmhook {pid}] {line}");
                    logs.lock().unwrap().push(line);
                }
            }));
        }
        *self.child.lock().unwrap() = Some(child);

        let (ingest, admin) = wait_for("the router's `listening` log lines", STARTUP, async || {
            if let Some(status) = self
                .child
                .lock()
                .unwrap()
                .as_mut()
                .unwrap()
                .try_wait()
                .unwrap()
            {
                panic!("wasmhook serve exited ({status}) before listening; its log is above");
            }
            let logs = self.logs.lock().unwrap();
            let addr_of = |listener: &str| {
                logs[first_line..].iter().find_map(|line| {
                    let fields = serde_json::from_str::<Value>(line)
                        .ok()?
                        .get("fields")?
                        .clone();
                    (fields["message"] == "listening" && fields["listener"] == listener)
                        .then(|| fields["addr"].as_str().map(str::to_owned))
                        .flatten()
                })
            };
            Some((addr_of("ingest")?, addr_of("admin")?))
        })
        .await;
        self.ingest = Ingest::new(format!("http://{ingest}"));
        // A listener on every address is reached on loopback, as a local operator would.
        let admin = admin.replace("0.0.0.0:", "127.0.0.1:");
        self.admin = format!("http://{admin}");
    }

    /// `kill -9`: no shutdown, no draining.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            child.kill().expect("killing wasmhook");
            child.wait().unwrap();
        }
        // The pipes are closed: the readers finish, so the next start's log is its own.
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
    }

    /// Starts the router again on the same directory and config (after [`Router::kill`]).
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// The running process's id.
    pub fn pid(&self) -> u32 {
        self.child
            .lock()
            .unwrap()
            .as_ref()
            .expect("the router runs")
            .id()
    }

    /// `kill -TERM`: asks the router to drain and stop.
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// `kill -<name>`, e.g. `HUP`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("running kill -{name}: {e}"));
        assert!(status.success(), "kill -{name} failed: {status}");
    }

    /// Waits until the process exits by itself and returns its status; its log is complete
    /// then, and [`Router::restart`] starts it again.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let status = wait_for("the router to exit", timeout, async || {
            self.child.lock().unwrap().as_mut()?.try_wait().unwrap()
        })
        .await;
        self.child.lock().unwrap().take();
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        status
    }

    pub fn is_running(&self) -> bool {
        self.child
            .lock()
            .unwrap()
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    pub fn logs_contain(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.logs.lock().unwrap().iter().any(|l| pred(l))
    }

    /// Waits for a log line matching `pred` and returns it.
    pub async fn wait_for_log(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        wait_for(what, timeout, async || {
            self.logs.lock().unwrap().iter().find(|l| pred(l)).cloned()
        })
        .await
    }

    pub fn ingest(&self) -> Ingest {
        self.ingest.clone()
    }

    pub fn ingest_url(&self) -> &str {
        &self.ingest.base
    }

    pub fn admin_url(&self) -> &str {
        &self.admin
    }

    pub async fn post_hook(
        &self,
        source: &str,
        body: impl Into<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        self.ingest.post_hook(source, body, headers).await
    }

    /// A signed GitHub `push` delivery to the `github` source.
    pub async fn github_push(&self, secret: &str, body: &[u8]) -> (StatusCode, Value) {
        self.ingest
            .github_event("github", "push", secret, body)
            .await
    }

    /// `GET` on the admin listener; panics unless the answer is 2xx JSON.
    pub async fn admin_get(&self, path: &str) -> Value {
        let text = self.admin_text(path).await;
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("GET {path} is not JSON ({e}): {text}"))
    }

    /// `GET` on the admin listener; panics unless the answer is 2xx.
    pub async fn admin_text(&self, path: &str) -> String {
        let resp = self
            .ingest
            .http
            .get(format!("{}{path}", self.admin))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e:?}"));
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "GET {path} answered {status}: {text}");
        text
    }

    /// `POST` on the admin listener: the status and the JSON answer (`null` if not JSON).
    pub async fn admin_post(&self, path: &str) -> (StatusCode, Value) {
        let resp = self
            .ingest
            .http
            .post(format!("{}{path}", self.admin))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e:?}"));
        let status = resp.status();
        let bytes = resp.bytes().await.unwrap_or_default();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// `GET /api/events/{id}`: the event, its messages and their attempts.
    pub async fn event(&self, id: &str) -> Value {
        self.admin_get(&format!("/api/events/{id}")).await
    }

    /// Waits until `GET /api/events/{id}` satisfies `pred`, and returns that answer.
    pub async fn wait_event(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait_for(what, WAIT, async || {
            let event = self.event(id).await;
            pred(&event).then_some(event)
        })
        .await
    }

    /// Waits until the event is `processed` and each of its messages (at least one) is
    /// settled: `delivered`, `dead` or `filtered`.
    pub async fn wait_settled(&self, id: &str) -> Value {
        self.wait_event(
            id,
            &format!("event {id} processed with every message settled"),
            |event| {
                let messages = event["messages"].as_array();
                event["status"] == "processed"
                    && messages.is_some_and(|ms| {
                        !ms.is_empty()
                            && ms.iter().all(|m| {
                                ["delivered", "dead", "filtered"]
                                    .contains(&m["status"].as_str().unwrap_or(""))
                            })
                    })
            },
        )
        .await
    }

    /// Waits until the `/api/plugins` entry of `name` satisfies `pred`, and returns it.
    pub async fn wait_plugin(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        wait_for(&format!("plugin {name}: {what}"), WAIT, async || {
            let plugin = self.plugin(name).await;
            pred(&plugin).then_some(plugin)
        })
        .await
    }

    /// The `/api/plugins` entry of the plugin named `name`.
    pub async fn plugin(&self, name: &str) -> Value {
        let all = self.admin_get("/api/plugins").await;
        all["plugins"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name).cloned())
            .unwrap_or_else(|| panic!("no plugin {name} in {all}"))
    }

    /// The `/api/subscribers` entry of `name`.
    pub async fn subscriber(&self, name: &str) -> Value {
        let all = self.admin_get("/api/subscribers").await;
        all["subscribers"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == name).cloned())
            .unwrap_or_else(|| panic!("no subscriber {name} in {all}"))
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock()
            && let Some(child) = child.as_mut()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A client of the ingest listener; cheap to clone into sender tasks.
#[derive(Clone)]
pub struct Ingest {
    base: String,
    http: reqwest::Client,
}

impl Ingest {
    /// A client of the ingest listener at `base` (`http://127.0.0.1:8080`).
    pub fn new(base: String) -> Ingest {
        let http = reqwest::Client::builder().timeout(WAIT).build().unwrap();
        Ingest { base, http }
    }

    /// `POST /hooks/{source}`; the answer's body is its JSON, or a JSON string of its text.
    pub async fn post_hook(
        &self,
        source: &str,
        body: impl Into<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let (status, _, body) = self
            .try_post_hook(source, body, headers)
            .await
            .unwrap_or_else(|e| panic!("POST /hooks/{source}: {e}"));
        (status, body)
    }

    /// [`Ingest::post_hook`] that also returns the answer's headers, and a failure to get an
    /// answer (the router is down) as an error.
    pub async fn try_post_hook(
        &self,
        source: &str,
        body: impl Into<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> reqwest::Result<(StatusCode, HeaderMap, Value)> {
        let mut request = self
            .http
            .post(format!("{}/hooks/{source}", self.base))
            .body(body.into());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let resp = request.send().await?;
        let (status, answer_headers) = (resp.status(), resp.headers().clone());
        let bytes = resp.bytes().await?;
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok((status, answer_headers, body))
    }

    /// A GitHub delivery of `event` as GitHub sends it: signed `X-Hub-Signature-256`, a fresh
    /// `X-GitHub-Delivery`.
    pub async fn github_event(
        &self,
        source: &str,
        event: &str,
        secret: &str,
        body: &[u8],
    ) -> (StatusCode, Value) {
        static DELIVERIES: AtomicU64 = AtomicU64::new(0);
        let delivery = format!(
            "e2e-{}-{}",
            std::process::id(),
            DELIVERIES.fetch_add(1, Ordering::Relaxed)
        );
        self.github_delivery(source, event, secret, body, &delivery)
            .await
    }

    /// A GitHub delivery with the given `X-GitHub-Delivery`, as GitHub sends a redelivery.
    pub async fn github_delivery(
        &self,
        source: &str,
        event: &str,
        secret: &str,
        body: &[u8],
        delivery: &str,
    ) -> (StatusCode, Value) {
        let signature = signature::github(secret, body);
        let headers = [
            ("content-type", "application/json"),
            ("x-github-event", event),
            ("x-github-delivery", delivery),
            ("x-hub-signature-256", signature.as_str()),
        ];
        self.post_hook(source, body.to_vec(), &headers).await
    }

    /// `GET` on the ingest listener (`/healthz`, `/readyz`).
    pub async fn get(&self, path: &str) -> StatusCode {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e:?}"))
            .status()
    }
}
