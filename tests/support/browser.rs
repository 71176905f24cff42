//! A real browser for the dashboard's tests and its benchmark: headless Chromium driven over
//! WebDriver.
//!
//! The dashboard is HTML, CSS and JavaScript served under a strict Content Security Policy.
//! Whether its scripts run, what it shows and how fast it paints can only be seen in a real
//! browser, so its stories drive one: [`Browser::start`] starts `chromedriver` on a free port
//! of 127.0.0.1 and opens a session of headless Chromium with a fresh profile in a temp dir.
//! Every wait has a deadline ([`WAIT`]) and fails the test naming what it was waiting for.
//! The parent module provides `watchdog` (`tests/support/watchdog.rs`).
//!
//! It needs Debian's `chromium` and `chromium-driver` packages (`/usr/bin/chromium` and
//! `/usr/bin/chromedriver`, of the same version), which `.ci/run` installs.
//!
//! No browser outlives the test: dropping a [`Browser`] kills chromedriver's whole process
//! group, Chromium's processes included, and a watchdog shell does the same if the test
//! process dies without unwinding. (Chromium's crash handlers start sessions of their own and
//! so leave the group; they exit by themselves once Chromium is gone.)
#![allow(dead_code)] // each story uses its own part of the browser

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// The deadline for anything a test awaits in the browser.
pub const WAIT: Duration = Duration::from_secs(15);

/// How long chromedriver and Chromium may take to start on a loaded CI machine.
const STARTUP: Duration = Duration::from_secs(30);

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);

/// How many times chromedriver is started again when its port turns out to be taken.
const PORT_ATTEMPTS: u32 = 5;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Lines of chromedriver's log shown when starting fails.
const LOG_TAIL_LINES: usize = 30;

/// A headless Chromium and the chromedriver that drives it, both gone when it is dropped.
pub struct Browser {
    /// The WebDriver session; `None` once [`Browser::close`] has ended it.
    client: Option<Client>,
    /// chromedriver, leader of a process group of its own that Chromium's processes join.
    driver: Child,
    /// chromedriver's pid, which is also the id of that process group.
    group: u32,
    /// Chromium's profile (`profile/`) and chromedriver's log; removed after both are killed.
    dir: TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port of 127.0.0.1, waits until its `/status` says it is
    /// ready, and opens a session of headless Chromium at 1280×900 with a fresh profile.
    /// Panics with the end of chromedriver's log if either does not come up within 30 s.
    pub async fn start() -> Browser {
        let dir = tempfile::Builder::new()
            .prefix("wasmhook-browser-")
            .tempdir()
            .expect("a temp dir for the browser");
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile).expect("creating the browser's profile directory");
        let (driver, port) = start_driver(dir.path()).await;
        let group = driver.id().expect("chromedriver's pid");
        spawn_watchdog(group, dir.path());
        let mut browser = Browser {
            client: None,
            driver,
            group,
            dir,
        };

        // chromedriver speaks plain HTTP on loopback: no TLS connector is needed.
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities(&profile));
        let url = format!("http://127.0.0.1:{port}/");
        let connecting = builder.connect(&url);
        let client = match tokio::time::timeout(STARTUP, connecting).await {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => panic!(
                "chromedriver could not start Chromium: {error}\n{}",
                browser.log_tail()
            ),
            Err(_) => panic!(
                "Chromium did not start within {STARTUP:?}\n{}",
                browser.log_tail()
            ),
        };
        browser.client = Some(client);
        browser.set_window_size(1280, 900).await;
        browser
    }

    /// The WebDriver session, for what the helpers here do not cover.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("the browser session is open")
    }

    /// Opens `url` and returns once the page has loaded (its `load` event), failing after
    /// [`WAIT`].
    pub async fn goto(&self, url: &str) {
        let loading = self.client().goto(url);
        match tokio::time::timeout(WAIT, loading).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("opening {url} in the browser: {error}"),
            Err(_) => panic!("timed out after {WAIT:?} opening {url} in the browser"),
        }
    }

    /// The element matching `css`, waiting until the page has one.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.poll(&format!("an element matching {css:?}"), async || {
            self.find(css).await
        })
        .await
    }

    /// Waits until the text of the element matching `css` matches `expected`: a `&str` is a
    /// substring it must contain, a closure `|text: &str| -> bool` a predicate. Returns the
    /// text that matched.
    pub async fn wait_for_text(&self, css: &str, expected: impl Expected) -> String {
        let what = format!("the text of {css:?} to {}", expected.describe());
        let mut last = None;
        let found = self
            .poll_or(&what, async || {
                let Some(element) = self.find(css).await? else {
                    return Ok(None);
                };
                let text = match element.text().await {
                    Ok(text) => text,
                    // Replaced by a re-render between the find and the read: look again.
                    Err(error) if is_stale(&error) => return Ok(None),
                    Err(error) => return Err(error),
                };
                if expected.matches(&text) {
                    return Ok(Some(text));
                }
                last = Some(text);
                Ok(None)
            })
            .await;
        found.unwrap_or_else(|| match last {
            Some(text) => panic!("timed out after {WAIT:?} waiting for {what}; it was {text:?}"),
            None => panic!("timed out after {WAIT:?} waiting for {what}; no such element"),
        })
    }

    /// The text of the element matching `css` (as rendered: hidden parts left out), waiting
    /// until the page has one.
    pub async fn text(&self, css: &str) -> String {
        self.poll(&format!("the text of {css:?}"), async || {
            let Some(element) = self.find(css).await? else {
                return Ok(None);
            };
            match element.text().await {
                Ok(text) => Ok(Some(text)),
                Err(error) if is_stale(&error) => Ok(None),
                Err(error) => Err(error),
            }
        })
        .await
    }

    /// Clicks the element matching `css`, waiting until it exists and can be clicked (shown,
    /// enabled, not covered).
    pub async fn click(&self, css: &str) {
        self.poll(
            &format!("a clickable element matching {css:?}"),
            async || {
                let Some(element) = self.find(css).await? else {
                    return Ok(None);
                };
                match element.click().await {
                    Ok(()) => Ok(Some(())),
                    Err(error) if is_not_ready(&error) => Ok(None),
                    Err(error) => Err(error),
                }
            },
        )
        .await
    }

    /// Replaces the value of the field matching `css` with `text`, as typed by a person
    /// (clear, then keystrokes), waiting until the field exists and can be typed into.
    pub async fn fill(&self, css: &str, text: &str) {
        self.poll(
            &format!("a field matching {css:?} to type into"),
            async || {
                let Some(element) = self.find(css).await? else {
                    return Ok(None);
                };
                let typed = async {
                    element.clear().await?;
                    element.send_keys(text).await
                };
                match typed.await {
                    Ok(()) => Ok(Some(())),
                    Err(error) if is_not_ready(&error) => Ok(None),
                    Err(error) => Err(error),
                }
            },
        )
        .await
    }

    /// Runs `script` as the body of a function in the page, with `args` as `arguments`, and
    /// returns what it returns, e.g.
    /// `execute("return performance.getEntriesByType('paint').map(e => e.toJSON())", vec![])`.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        match tokio::time::timeout(WAIT, self.client().execute(script, args)).await {
            Ok(Ok(value)) => value,
            Ok(Err(error)) => panic!("running script in the browser: {error}\n{script}"),
            Err(_) => panic!("timed out after {WAIT:?} running script in the browser\n{script}"),
        }
    }

    /// Runs a command of the DevTools protocol in the page's target, such as
    /// `Network.clearBrowserCache`, and returns its answer.
    pub async fn devtools(&self, command: &'static str, params: Value) -> Value {
        let issued = self.client().issue_cmd(DriverCommand {
            path: "goog/cdp/execute",
            body: json!({"cmd": command, "params": params}),
        });
        match tokio::time::timeout(WAIT, issued).await {
            Ok(Ok(value)) => value,
            Ok(Err(error)) => panic!("DevTools command {command}: {error}"),
            Err(_) => panic!("timed out after {WAIT:?} running DevTools command {command}"),
        }
    }

    /// Resizes the window so that the page's viewport (what [`Browser::screenshot`] shows) is
    /// `width`×`height` CSS pixels. Headless Chromium keeps room in its window for the
    /// toolbars it does not draw, so the window is made larger by that much.
    pub async fn set_window_size(&self, width: u32, height: u32) {
        const VIEWPORT: &str = "return [innerWidth, innerHeight, outerWidth, outerHeight]";
        let sizes = self.execute(VIEWPORT, vec![]).await;
        let size = |i: usize| {
            sizes[i]
                .as_i64()
                .unwrap_or_else(|| panic!("window sizes: {sizes}"))
        };
        let (extra_width, extra_height) = (size(2) - size(0), size(3) - size(1));
        let window_width = u32::try_from(i64::from(width) + extra_width).expect("a window width");
        let window_height =
            u32::try_from(i64::from(height) + extra_height).expect("a window height");
        let resizing = self.client().set_window_size(window_width, window_height);
        match tokio::time::timeout(WAIT, resizing).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("resizing the browser window for {width}x{height}: {error}"),
            Err(_) => panic!("timed out after {WAIT:?} resizing the browser window"),
        }
        let sizes = self.execute(VIEWPORT, vec![]).await;
        assert!(
            sizes[0] == width && sizes[1] == height,
            "the viewport is {}x{} instead of {width}x{height} (window {window_width}x{window_height})",
            sizes[0],
            sizes[1]
        );
    }

    /// Saves what the window shows as `docs/dashboard/<name>.png` in the repository and
    /// returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = match tokio::time::timeout(WAIT, self.client().screenshot()).await {
            Ok(Ok(png)) => png,
            Ok(Err(error)) => panic!("taking screenshot {name:?}: {error}"),
            Err(_) => panic!("timed out after {WAIT:?} taking screenshot {name:?}"),
        };
        // The tests belong to the host package, one level below the repository's root.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the repository's root");
        let folder = root.join("docs/dashboard");
        std::fs::create_dir_all(&folder)
            .unwrap_or_else(|e| panic!("creating {}: {e}", folder.display()));
        let path = folder.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// The errors the browser reported since the last call (reading the log empties it):
    /// uncaught exceptions, Content Security Policy violations, resources that failed to load,
    /// `console.error`. Each is the message of a `SEVERE` entry of the browser's console log,
    /// which starts with the URL and line it comes from. A page that names no icon counts a
    /// 404 for `/favicon.ico` among them.
    pub async fn browser_errors(&self) -> Vec<String> {
        let read = DriverCommand {
            path: "se/log",
            body: json!({"type": "browser"}),
        };
        let log = match tokio::time::timeout(WAIT, self.client().issue_cmd(read)).await {
            Ok(Ok(log)) => log,
            Ok(Err(error)) => panic!("reading the browser's console log: {error}"),
            Err(_) => panic!("timed out after {WAIT:?} reading the browser's console log"),
        };
        let entries = log
            .as_array()
            .unwrap_or_else(|| panic!("the browser's console log is not a list: {log}"));
        entries
            .iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
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

    /// The element matching `css`, or `None` while there is none.
    async fn find(&self, css: &str) -> Result<Option<Element>, CmdError> {
        match self.client().find(Locator::Css(css)).await {
            Ok(element) => Ok(Some(element)),
            Err(error) if error.is_no_such_element() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Calls `probe` every [`POLL`] until it returns `Some`; panics naming `what` after
    /// [`WAIT`] or when the browser answers with an error a wait cannot cure.
    async fn poll<T>(
        &self,
        what: &str,
        probe: impl AsyncFnMut() -> Result<Option<T>, CmdError>,
    ) -> T {
        self.poll_or(what, probe)
            .await
            .unwrap_or_else(|| panic!("timed out after {WAIT:?} waiting for {what}"))
    }

    /// [`Browser::poll`] that returns `None` at the deadline, for waits that say more then.
    async fn poll_or<T>(
        &self,
        what: &str,
        mut probe: impl AsyncFnMut() -> Result<Option<T>, CmdError>,
    ) -> Option<T> {
        let deadline = Instant::now() + WAIT;
        loop {
            // A probe is one or two WebDriver commands; one that hangs counts against the wait.
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, probe()).await {
                Ok(Ok(Some(value))) => return Some(value),
                Ok(Ok(None)) => {}
                Ok(Err(error)) => panic!("waiting for {what}: the browser answered {error}"),
                Err(_) => return None,
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(POLL).await;
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

    /// The end of chromedriver's log, which says why Chromium did not start.
    fn log_tail(&self) -> String {
        let path = self.dir.path().join("chromedriver.log");
        let log = std::fs::read(&path).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        format!("--- tail of {} ---\n{tail}", path.display())
    }
}

impl Drop for Browser {
    /// Kills chromedriver and Chromium at once (a test that panicked does not get to
    /// [`Browser::close`]); the temp dir goes after them.
    fn drop(&mut self) {
        self.kill();
        // Chromium's processes are children of chromedriver, reaped as it dies; wait briefly
        // so that none still writes into the profile while the temp dir is being removed.
        let deadline = Instant::now() + Duration::from_secs(2);
        while group_alive(self.group) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// What [`Browser::wait_for_text`] waits for: a substring, or a predicate on the whole text.
pub trait Expected {
    fn matches(&self, text: &str) -> bool;
    /// Completes "waiting for the text of ... to ...".
    fn describe(&self) -> String;
}

impl Expected for &str {
    fn matches(&self, text: &str) -> bool {
        text.contains(*self)
    }
    fn describe(&self) -> String {
        format!("contain {self:?}")
    }
}

impl Expected for &String {
    fn matches(&self, text: &str) -> bool {
        text.contains(self.as_str())
    }
    fn describe(&self) -> String {
        format!("contain {self:?}")
    }
}

impl<F: Fn(&str) -> bool> Expected for F {
    fn matches(&self, text: &str) -> bool {
        self(text)
    }
    fn describe(&self) -> String {
        "match the test's predicate".to_owned()
    }
}

/// A command of chromedriver's own, beyond WebDriver: `path` under the session, POSTed with
/// `body`. `goog/cdp/execute` runs a command of the DevTools protocol; `se/log` reads the
/// browser's console log since the last read (`goog:loggingPrefs` must ask for it when the
/// session starts).
#[derive(Debug)]
struct DriverCommand {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for DriverCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.expect("a browser session");
        base_url.join(&format!("session/{session}/{}", self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// What the session asks of Chromium: headless, without a sandbox (tests run as root), a
/// profile of its own, and none of the background traffic to Google's services (there is no
/// network beyond loopback, and each refused connection would be retried and logged).
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
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        "goog:loggingPrefs": {"browser": "ALL"},
        "timeouts": {"pageLoad": WAIT.as_millis() as u64, "script": WAIT.as_millis() as u64},
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("capabilities are an object"),
    }
}

/// Starts chromedriver in a process group of its own, on a port just found free, and waits
/// until it is ready; starts it again on another port if someone took that one meanwhile.
async fn start_driver(dir: &Path) -> (Child, u16) {
    let log = dir.join("chromedriver.log");
    for attempt in 1..=PORT_ATTEMPTS {
        let port = free_port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .current_dir(dir)
            // Chromium keeps its crash reports under the XDG config dir whatever the profile:
            // these keep them in the temp dir too.
            .env("XDG_CONFIG_HOME", dir)
            .env("XDG_CACHE_HOME", dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {CHROMEDRIVER} (Debian's chromium-driver): {e}"));
        let deadline = Instant::now() + STARTUP;
        loop {
            if driver_ready(port).await {
                return (driver, port);
            }
            if let Some(status) = driver.try_wait().expect("chromedriver's status") {
                // It exits with 1 when it cannot bind its port.
                if status.code() == Some(1) && attempt < PORT_ATTEMPTS {
                    break;
                }
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                panic!(
                    "chromedriver exited ({status}, signal {:?}) before it was ready:\n{tail}",
                    status.signal()
                );
            }
            if Instant::now() >= deadline {
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("chromedriver was not ready on port {port} within {STARTUP:?}:\n{tail}");
            }
            tokio::time::sleep(POLL).await;
        }
    }
    unreachable!("the last attempt panics or returns")
}

/// Whether chromedriver answers `GET /status` with `"ready": true`.
async fn driver_ready(port: u16) -> bool {
    let ask = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let request =
            format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        // chromedriver answers `Connection: close` but keeps the connection open: the answer
        // is complete once its body parses.
        let mut answer = Vec::new();
        let mut chunk = [0; 4096];
        loop {
            let read = stream.read(&mut chunk).await.ok()?;
            if read == 0 {
                return None;
            }
            answer.extend_from_slice(&chunk[..read]);
            let text = String::from_utf8_lossy(&answer);
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
                continue;
            };
            if let Ok(status) = serde_json::from_str::<Value>(body) {
                return Some(head.starts_with("HTTP/1.1 200") && status["value"]["ready"] == true);
            }
        }
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), ask).await,
        Ok(Some(true))
    )
}

/// A port on 127.0.0.1 that nothing listens on now: one just freed by a listener of our own.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// Whether process group `group` still has a live member (zombies count as gone).
fn group_alive(group: u32) -> bool {
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return false;
    };
    processes.flatten().any(|process| {
        let Ok(stat) = std::fs::read_to_string(process.path().join("stat")) else {
            return false;
        };
        // After the command name's `)`: state, parent, process group.
        let Some((_, after_name)) = stat.rsplit_once(") ") else {
            return false;
        };
        let mut fields = after_name.split(' ');
        let state = fields.next();
        let pgrp = fields.nth(1);
        state != Some("Z") && pgrp == Some(group.to_string().as_str())
    })
}

/// Starts a watchdog that kills chromedriver's process group and removes the temp dir once
/// this process is gone: a test process that is killed, or exits without unwinding, never
/// runs Drop. The shell also leaves as soon as the group is gone (the Browser was dropped), so
/// it never signals a later group that reuses the id.
fn spawn_watchdog(group: u32, dir: &Path) {
    const SCRIPT: &str = r#"pid=$1; group=$2; dir=$3
(
    while kill -0 "$pid" && kill -0 "-$group"; do sleep 1; done
    kill -KILL "-$group"
    rm -rf "$dir"
) >/dev/null 2>&1 &"#;
    let args = [group.to_string().into(), dir.as_os_str().to_owned()];
    super::watchdog::start("wasmhook-browser-watchdog", SCRIPT, args);
}

/// An element found a moment ago has since been replaced (the page re-rendered it).
fn is_stale(error: &CmdError) -> bool {
    error.is_stale_element_reference()
}

/// The element exists but cannot take a click or keys yet: hidden, disabled, covered, or
/// replaced by a re-render.
fn is_not_ready(error: &CmdError) -> bool {
    use fantoccini::error::ErrorStatus;
    matches!(
        error,
        CmdError::Standard(e) if matches!(
            e.error,
            ErrorStatus::ElementNotInteractable
                | ErrorStatus::ElementClickIntercepted
                | ErrorStatus::InvalidElementState
                | ErrorStatus::StaleElementReference
        )
    )
}
