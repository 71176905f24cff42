//! A headless Chromium for the `dashboard` scenario, driven over WebDriver as the dashboard's
//! browser tests drive theirs: `chromedriver` on a free port of 127.0.0.1, in a process group
//! of its own that Chromium's processes join, and a session with a fresh profile in a temp
//! dir. Dropping a [`Browser`] kills that group; a watchdog shell (the tests' own) does the
//! same if the benchmark dies without unwinding (Ctrl-C).
//!
//! It needs Debian's `chromium` and `chromium-driver` packages (`/usr/bin/chromium` and
//! `/usr/bin/chromedriver`, of the same version).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use fantoccini::error::CmdError;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::process::{Child, Command};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// The deadline of anything awaited in the browser, its start included.
const WAIT: Duration = Duration::from_secs(30);

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(10);

/// A headless Chromium and the chromedriver that drives it, both gone when it is dropped.
pub struct Browser {
    /// The WebDriver session; `None` until it is open, and once [`Browser::close`] ended it.
    client: Option<Client>,
    /// chromedriver, leader of the process group.
    driver: Child,
    group: u32,
    /// Chromium's profile and chromedriver's log, removed after both are killed.
    _dir: TempDir,
}

impl Browser {
    /// Starts chromedriver and opens a session of headless Chromium with a fresh profile.
    pub async fn start() -> anyhow::Result<Browser> {
        let dir = tempfile::Builder::new()
            .prefix("wasmhook-bench-browser-")
            .tempdir()?;
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                dir.path().join("chromedriver.log").display()
            ))
            .current_dir(dir.path())
            // Chromium keeps crash reports under the XDG dirs whatever its profile.
            .env("XDG_CONFIG_HOME", dir.path())
            .env("XDG_CACHE_HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {CHROMEDRIVER} (Debian's chromium-driver)"))?;
        let group = driver.id().context("chromedriver's pid")?;
        spawn_watchdog(group, dir.path());
        let mut browser = Browser {
            client: None,
            driver,
            group,
            _dir: dir,
        };
        browser.wait_until_ready(port).await?;
        // chromedriver speaks plain HTTP on loopback: no TLS connector is needed.
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities(&profile));
        let url = format!("http://127.0.0.1:{port}/");
        let connecting = builder.connect(&url);
        let client = tokio::time::timeout(WAIT, connecting)
            .await
            .map_err(|_| anyhow!("Chromium did not start within {WAIT:?}"))?
            .context("chromedriver could not start Chromium")?;
        browser.client = Some(client);
        Ok(browser)
    }

    /// Opens `url` and returns once the page has loaded (its `load` event).
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        within(self.client()?.goto(url))
            .await
            .with_context(|| format!("opening {url} in the browser"))
    }

    /// Waits until the page has an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            match within(self.client()?.find(Locator::Css(css))).await {
                Ok(_) => return Ok(()),
                Err(error) if !is_no_such_element(&error) => {
                    return Err(error.context(format!("waiting for {css:?}")));
                }
                Err(_) => {}
            }
            ensure!(
                Instant::now() < deadline,
                "no element matched {css:?} within {WAIT:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs `script` as the body of a function in the page, with `args` as `arguments`, and
    /// returns what it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        within(self.client()?.execute(script, args))
            .await
            .with_context(|| format!("running a script in the browser:\n{script}"))
    }

    /// Runs a command of the DevTools protocol in the page's target, such as
    /// `Network.clearBrowserCache`.
    pub async fn devtools(&self, command: &'static str, params: Value) -> anyhow::Result<Value> {
        within(self.client()?.issue_cmd(DevTools { command, params }))
            .await
            .with_context(|| format!("DevTools command {command}"))
    }

    /// Ends the session (Chromium quits) and stops chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            // Chromium is killed with chromedriver's group below whether or not this works.
            let _ = tokio::time::timeout(WAIT, client.close()).await;
        }
        self.kill();
        let _ = tokio::time::timeout(WAIT, self.driver.wait()).await;
    }

    fn client(&self) -> anyhow::Result<&Client> {
        self.client
            .as_ref()
            .context("the browser session is closed")
    }

    /// Waits until chromedriver's `/status` says it is ready.
    async fn wait_until_ready(&mut self, port: u16) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        loop {
            let asked = http
                .get(format!("http://127.0.0.1:{port}/status"))
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if let Ok(answer) = asked
                && let Ok(body) = answer.bytes().await
                && serde_json::from_slice::<Value>(&body).is_ok_and(|s| s["value"]["ready"] == true)
            {
                return Ok(());
            }
            if let Some(status) = self.driver.try_wait()? {
                bail!("chromedriver exited ({status}) before it was ready");
            }
            ensure!(
                Instant::now() < deadline,
                "chromedriver was not ready on port {port} within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills chromedriver's process group, Chromium's processes with it.
    fn kill(&mut self) {
        // `kill -KILL -GROUP` signals every process of the group; std has no killpg.
        let _ = std::process::Command::new("sh")
            .args(["-c", "kill -KILL -$0", &self.group.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.start_kill();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `work` within [`WAIT`].
async fn within<T>(work: impl Future<Output = Result<T, CmdError>>) -> anyhow::Result<T> {
    match tokio::time::timeout(WAIT, work).await {
        Ok(done) => Ok(done?),
        Err(_) => bail!("the browser did not answer within {WAIT:?}"),
    }
}

fn is_no_such_element(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<CmdError>()
        .is_some_and(CmdError::is_no_such_element)
}

/// chromedriver's own command running a command of the DevTools protocol.
#[derive(Debug)]
struct DevTools {
    command: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session.unwrap_or_default();
        base.join(&format!("session/{session}/goog/cdp/execute"))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"cmd": self.command, "params": self.params});
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Headless, without a sandbox (the benchmark may run as root), a profile of its own, and
/// none of the background traffic to Google's services: the flags of the browser tests.
fn capabilities(profile: &Path) -> Capabilities {
    let args = [
        "--headless=new".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        format!("--user-data-dir={}", profile.display()),
        "--window-size=1280,900".to_owned(),
    ];
    let wait = WAIT.as_millis() as u64;
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        "timeouts": {"pageLoad": wait, "script": wait},
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("capabilities are an object"),
    }
}

/// Starts a watchdog that kills chromedriver's process group and removes the temp dir once
/// this process is gone: a benchmark stopped by Ctrl-C never runs Drop. The shell also leaves
/// as soon as the group is gone (the [`Browser`] was dropped), so it never signals a later
/// group that reuses the id.
fn spawn_watchdog(group: u32, dir: &Path) {
    const SCRIPT: &str = r#"pid=$1; group=$2; dir=$3
(
    while kill -0 "$pid" && kill -0 "-$group"; do sleep 1; done
    kill -KILL "-$group"
    rm -rf "$dir"
) >/dev/null 2>&1 &"#;
    let args = [group.to_string().into(), dir.as_os_str().to_owned()];
    crate::watchdog::start("wasmhook-bench-browser-watchdog", SCRIPT, args);
}
