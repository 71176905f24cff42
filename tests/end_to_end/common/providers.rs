//! The harness of the provider-source stories (`sources/`): a router whose verification clock
//! is pinned to a vector's time, raw requests of any method to `/hooks/...`, the checks that
//! an answer is an event of the expected `type`, a refusal that stored nothing, a handshake
//! answered byte for byte, or a redelivery; and the providers' signatures, computed here
//! independently of the router.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
pub use serde_json::{Value, json};

pub use super::Router;
use super::WAIT;
pub use super::fixtures::{fixture, fixture_json};

/// `[server]` lines that pin the verification clock to `unix` seconds.
pub fn clock(unix: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).expect("a time after 1970"));
    format!("clock = \"{}\"\n", humantime::format_rfc3339_seconds(at))
}

/// A router on `wiring` whose schemes check timestamps against `unix` seconds.
pub async fn start_at(unix: i64, wiring: &str) -> Router {
    Router::start_with_server(&clock(unix), wiring).await
}

/// `[server]` lines that pin the clock to `unix` seconds and serve each certificate URL from a
/// PEM file instead of downloading it.
pub fn clock_and_certificates(unix: i64, certificates: &[(&str, &Path)]) -> String {
    let mut server = clock(unix);
    server += "[server.certificates]\n";
    for (url, path) in certificates {
        server += &format!("{url:?} = {:?}\n", path.display().to_string());
    }
    server
}

/// Unix seconds of an RFC 3339 time.
pub fn unix(rfc3339: &str) -> i64 {
    let at = humantime::parse_rfc3339(rfc3339).unwrap_or_else(|e| panic!("{rfc3339}: {e}"));
    at.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The path of a fixture file, for `[server.certificates]`.
pub fn fixture_path(relative: &str) -> PathBuf {
    xtask::repo_root().join("../shared/fixtures").join(relative)
}

/// The `vectors` array of `folder/vectors.json`.
pub fn vectors(folder: &str) -> Vec<Value> {
    fixture_json(&format!("{folder}/vectors.json"))["vectors"]
        .as_array()
        .unwrap_or_else(|| panic!("{folder}/vectors.json has no vectors"))
        .clone()
}

/// The names of the files in a fixture folder that end with `suffix`, sorted.
pub fn fixture_files(folder: &str, suffix: &str) -> Vec<String> {
    let dir = fixture_path(folder);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(suffix))
        .collect();
    names.sort();
    names
}

/// A request to `/hooks/{path}`, where `path` is the source's name and whatever follows it:
/// `"stripe"`, `"list/s3cr3t"`, `"grid?code=..."`.
#[derive(Clone, Debug)]
pub struct Hook {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A `POST` of `body`.
pub fn post(path: &str, body: impl Into<Vec<u8>>) -> Hook {
    Hook {
        method: Method::POST,
        path: path.to_owned(),
        headers: Vec::new(),
        body: body.into(),
    }
}

/// A request without a body (`GET`, `HEAD`, `OPTIONS`).
pub fn request(method: &str, path: &str) -> Hook {
    Hook {
        method: Method::from_bytes(method.as_bytes()).unwrap(),
        path: path.to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

impl Hook {
    /// With the header `name` set to `value` (replacing any earlier one of that name).
    pub fn header(self, name: &str, value: &str) -> Hook {
        let mut hook = self.without(name);
        hook.headers.push((name.to_owned(), value.to_owned()));
        hook
    }

    /// `content-type: application/json`.
    pub fn json(self) -> Hook {
        self.header("content-type", "application/json")
    }

    /// `content-type: application/x-www-form-urlencoded`.
    pub fn form(self) -> Hook {
        self.header("content-type", "application/x-www-form-urlencoded")
    }

    /// Without the header `name`.
    pub fn without(mut self, name: &str) -> Hook {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// With another body (the headers, signatures included, stay as they are).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Hook {
        self.body = body.into();
        self
    }

    /// To another path (`source`, `source/rest`, `source?query`).
    pub fn to(mut self, path: &str) -> Hook {
        self.path = path.to_owned();
        self
    }

    /// The source the request is for: `path` up to `/` or `?`.
    fn source(&self) -> &str {
        self.path.split(['/', '?']).next().unwrap()
    }
}

/// What the router answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {self}"))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, String::from_utf8_lossy(&self.body))
    }
}

/// The ingest listener of one router, with the checks the provider stories make.
pub struct Hooks<'a> {
    router: &'a Router,
    http: reqwest::Client,
}

impl<'a> Hooks<'a> {
    pub fn new(router: &'a Router) -> Hooks<'a> {
        let http = reqwest::Client::builder().timeout(WAIT).build().unwrap();
        Hooks { router, http }
    }

    /// The `Host` the router sees from this client: `127.0.0.1:PORT`.
    pub fn host(&self) -> &str {
        self.router.ingest_url().trim_start_matches("http://")
    }

    pub async fn send(&self, hook: &Hook) -> Answer {
        let url = format!("{}/hooks/{}", self.router.ingest_url(), hook.path);
        let mut request = self.http.request(hook.method.clone(), &url);
        for (name, value) in &hook.headers {
            request = request.header(name, value);
        }
        if !hook.body.is_empty() {
            request = request.body(hook.body.clone());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} {url}: {e:?}", hook.method));
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.bytes().await.unwrap().to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// How many events the store holds (`GET /api/events`).
    pub async fn stored(&self) -> usize {
        let events = self.router.admin_get("/api/events?limit=1000").await;
        events["events"].as_array().expect("events").len()
    }

    /// Sends `hook` and checks it is stored: `202 {"id"}`, and `GET /api/events/{id}` shows it
    /// for its source with `expected_type`. Returns the event id.
    pub async fn accepts(&self, hook: Hook, expected_type: Option<&str>) -> String {
        let answer = self.send(&hook).await;
        assert_eq!(
            answer.status,
            StatusCode::ACCEPTED,
            "{} /hooks/{} should be stored, got {answer}",
            hook.method,
            hook.path
        );
        let id = answer.json()["id"]
            .as_str()
            .unwrap_or_else(|| panic!("202 without an id: {answer}"))
            .to_owned();
        let event = self.router.event(&id).await;
        assert_eq!(event["source"], hook.source(), "{event}");
        assert_eq!(
            event["type"],
            json!(expected_type),
            "the type of the event from /hooks/{}: {event}",
            hook.path
        );
        id
    }

    /// The ids of the events the store holds, newest first.
    pub async fn stored_ids(&self) -> Vec<String> {
        let events = self.router.admin_get("/api/events?limit=1000").await;
        events["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|event| event["id"].as_str().expect("an event id").to_owned())
            .collect()
    }

    /// Sends `hook` and checks it is stored but answered `status` with exactly `body` (an
    /// acknowledgement the provider expects instead of `202 {"id"}`), the event shown with
    /// `expected_type`. Returns the event id.
    pub async fn acknowledges(
        &self,
        hook: Hook,
        status: u16,
        body: &[u8],
        expected_type: Option<&str>,
    ) -> String {
        let before = self.stored_ids().await;
        self.send_answered(&hook, status, body).await;
        let after = self.stored_ids().await;
        let new: Vec<&String> = after.iter().filter(|id| !before.contains(id)).collect();
        assert_eq!(new.len(), 1, "one event stored for /hooks/{}", hook.path);
        let event = self.router.event(new[0]).await;
        assert_eq!(event["source"], hook.source(), "{event}");
        assert_eq!(event["type"], json!(expected_type), "{event}");
        new[0].clone()
    }

    /// Sends `hook` and checks it is refused with `status` and a JSON `{"error"}`, and that the
    /// store holds no more events than before. Returns the error sentence.
    pub async fn refuses_with(&self, hook: Hook, status: u16, why: &str) -> String {
        let before = self.stored().await;
        let answer = self.send(&hook).await;
        assert_eq!(
            answer.status.as_u16(),
            status,
            "{why}: expected {status}, got {answer}"
        );
        let error = answer.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{why}: the error body is not {{\"error\"}}: {answer}"))
            .to_owned();
        assert!(!error.is_empty(), "{why}: empty error sentence");
        assert_eq!(self.stored().await, before, "{why}: something was stored");
        error
    }

    /// [`Hooks::refuses_with`] `401`: verification failed.
    pub async fn refuses(&self, hook: Hook, why: &str) -> String {
        self.refuses_with(hook, 401, why).await
    }

    /// Sends a handshake and checks it is answered `status` with exactly `body`, and that
    /// nothing is stored. Returns the answer, for its headers.
    pub async fn answers(&self, hook: Hook, status: u16, body: &[u8]) -> Answer {
        let before = self.stored().await;
        let answer = self.send_answered(&hook, status, body).await;
        assert_eq!(self.stored().await, before, "a handshake was stored");
        answer
    }

    /// Sends `hook` and checks it is answered `status` with exactly `body`.
    async fn send_answered(&self, hook: &Hook, status: u16, body: &[u8]) -> Answer {
        let answer = self.send(hook).await;
        assert_eq!(
            (answer.status.as_u16(), answer.body.as_slice()),
            (status, body),
            "{} /hooks/{}: expected {status} {:?}, got {answer}",
            hook.method,
            hook.path,
            String::from_utf8_lossy(body)
        );
        answer
    }

    /// Sends a redelivery and checks it is answered `200 {"id": first, "duplicate": true}`
    /// and stores nothing new.
    pub async fn duplicate(&self, hook: Hook, first: &str) {
        let before = self.stored().await;
        let answer = self.send(&hook).await;
        assert_eq!(answer.status, StatusCode::OK, "redelivery: {answer}");
        assert_eq!(answer.json(), json!({ "id": first, "duplicate": true }));
        assert_eq!(self.stored().await, before, "a redelivery was stored");
    }
}

/// The HMAC of the concatenated `parts` with `key`, for any hash (`Hmac<Sha256>`...).
pub fn mac<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any size");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    mac::<Hmac<sha2::Sha256>>(key, parts)
}

pub fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    mac::<Hmac<sha1::Sha1>>(key, parts)
}

pub fn base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// `bytes` with one byte changed (the last letter or digit flipped), so that any signature
/// over them no longer matches while the body stays well-formed.
pub fn tampered(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = out
        .iter()
        .rposition(u8::is_ascii_alphanumeric)
        .expect("a body with a letter or digit");
    out[at] = match out[at] {
        b'0' => b'1',
        b'a' => b'b',
        b'A' => b'B',
        _ => b'0',
    };
    out
}
