//! Scenario 10: the dashboard with 100,000 events stored, beside an empty store.
//!
//! One `wasmhook serve` takes 100,000 events through a route without plugins (signed GitHub
//! pushes, each with its delivery id, to one subscriber), sent by the load generator and all
//! delivered; a second starts with an empty store. On both, taking turns: headless Chromium
//! opens `/#/events` and `/#/overview` afresh (from `about:blank`, its cache cleared) and
//! reads the first contentful paint and the moment the view marked itself ready
//! (`main#view[data-ready]`), both from the start of the navigation; then the API calls
//! behind those views are timed over plain HTTP, one at a time: the first page of events, a
//! page 1,000 events down (following the cursor as the dashboard's "older" does), a search
//! for the event in the middle of the store by its id and by its GitHub delivery id, and the
//! overview. On the empty store the same cursor and searches find nothing. Last, the bytes
//! of the page: `index.html`, `app.js` and `style.css`.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::events::{github_source, signed_push};
use crate::scenarios::{Bench, PLAIN_EVENT_SIZE, Pace, sinks, wait_for_deliveries};
use crate::servers::Server;
use crate::sink::Sink;
use crate::stats::{Percentiles, human};

/// The dashboard's page of events.
const PAGE: usize = 50;
/// The API calls timed: [`calls`].
const CALLS: usize = 5;
/// How far down the deep page is (or half the store, if that is less).
const DEPTH: usize = 1000;
/// The views opened in the browser.
const VIEWS: [&str; 2] = ["events", "overview"];
/// The files of the page.
const FILES: [&str; 3] = ["/", "/assets/app.js", "/assets/style.css"];

/// Injected into every document before its own scripts: notes when `main#view` first
/// carries each `data-ready` value, on the document's clock (0 = the navigation's start).
const READY_OBSERVER: &str = "window.__ready = {};
new MutationObserver(() => {
  const view = document.getElementById('view');
  const name = view && view.dataset.ready;
  if (name && !(name in window.__ready)) window.__ready[name] = performance.now();
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-ready']});";

/// The moments of a page load, from the navigation's start, in the order of [`STAGES`]; null
/// for those not reported yet. The API's is the last answer before the view `arguments[0]`
/// was ready.
const TIMES: &str = "const [nav] = performance.getEntriesByType('navigation');
const paint = performance.getEntriesByName('first-contentful-paint')[0];
const ready = window.__ready?.[arguments[0]];
const api = performance.getEntriesByType('resource')
  .filter((e) => e.name.includes('/api/') && e.responseEnd <= ready)
  .reduce((last, e) => Math.max(last, e.responseEnd), 0);
return [nav?.responseStart || null, nav?.domContentLoadedEventEnd || null,
  paint?.startTime ?? null, api || null, ready ?? null];";

/// What [`TIMES`] reads.
const STAGES: [&str; 5] = [
    "first byte of the page",
    "DOMContentLoaded",
    "first paint",
    "last API answer",
    "ready",
];
const PAINT: usize = 2;
const READY: usize = 4;

/// What one server's dashboard measured.
#[derive(Default)]
struct Figures {
    /// Per view of [`VIEWS`], the [`STAGES`] of each load.
    loads: [Vec<[Duration; 5]>; 2],
    /// Per API call of [`calls`].
    api: [Vec<Duration>; CALLS],
    page_bytes: usize,
}

pub async fn run(bench: &Bench<'_>) -> anyhow::Result<()> {
    let (events, loads, requests) = if bench.settings.smoke {
        (300, 2, 20)
    } else {
        (100_000, 5, 100)
    };
    let sinks = sinks(1).await?;
    let wiring = format!(
        "{}\n[subscribers.s0]\nurl = \"{}\"\n\n[[routes]]\nsource = \"github\"\nsubscribers = [\"s0\"]\n",
        github_source("github"),
        sinks[0].url
    );
    let dir = tempfile::tempdir()?;
    let full = bench.start(dir.path(), &wiring)?;
    let seeding = seed(bench, &full, &sinks, events).await?;
    let empty_dir = tempfile::tempdir()?;
    let empty = bench.start(empty_dir.path(), &wiring)?;
    let admins = [&full, &empty].map(|server| server.admin.clone().unwrap_or_default());

    let http = reqwest::Client::new();
    let depth = DEPTH.min(events as usize / 2) / PAGE * PAGE;
    let (cursor, middle, delivery) = probes(&http, &admins[0], depth, events).await?;
    let calls = calls(&cursor, &middle, &delivery);
    let mut figures = [Figures::default(), Figures::default()];

    eprintln!("dashboard: {loads} loads of each view in Chromium…");
    let browser = Browser::start().await;
    browser
        .devtools(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": READY_OBSERVER}),
        )
        .await;
    // A first load of each view, not counted: it starts the browser's renderer, which an
    // operator's browser has running already.
    for admin in &admins {
        for view in VIEWS {
            open(&browser, admin, view).await?;
        }
    }
    for _ in 0..loads {
        for (v, view) in VIEWS.into_iter().enumerate() {
            for (admin, figures) in admins.iter().zip(&mut figures) {
                figures.loads[v].push(open(&browser, admin, view).await?);
            }
        }
    }
    browser.close().await;

    eprintln!("dashboard: {requests} requests of each API call…");
    for (c, (_, path)) in calls.iter().enumerate() {
        for _ in 0..requests {
            for (admin, figures) in admins.iter().zip(&mut figures) {
                let started = Instant::now();
                fetch(&http, &format!("{admin}{path}")).await?;
                figures.api[c].push(started.elapsed());
            }
        }
    }
    for (admin, figures) in admins.iter().zip(&mut figures) {
        for file in FILES {
            figures.page_bytes += fetch(&http, &format!("{admin}{file}")).await?.len();
        }
    }
    print(events, (loads, requests, depth), &calls, &figures, seeding);
    Ok(())
}

/// Sends `events` to `server` and waits until the sink has each one: how long that took.
async fn seed(
    bench: &Bench<'_>,
    server: &Server,
    sinks: &[Sink],
    events: u64,
) -> anyhow::Result<Duration> {
    eprintln!("dashboard: storing {events} events…");
    let mut load = bench.load(format!("{}/hooks/github", server.base), Pace::Max);
    load.events = events;
    load.max_time = Duration::from_secs(3600);
    let sent = load.run(|seq| signed_push(seq, PLAIN_EVENT_SIZE)).await;
    ensure!(
        sent.accepted as u64 == events,
        "{} of {events} events were accepted",
        sent.accepted
    );
    let delivered = wait_for_deliveries(sinks, sent.accepted).await;
    ensure!(
        delivered >= sent.accepted,
        "{delivered} of {} events were delivered",
        sent.accepted
    );
    let last = sinks[0].last_arrival().unwrap_or_else(Instant::now);
    sinks[0].take();
    Ok(last.duration_since(sent.started))
}

/// On the full store: the cursor `depth` events down, followed a page at a time, and the id
/// of the event in the middle; checked to find what they are timed for.
async fn probes(
    http: &reqwest::Client,
    admin: &str,
    depth: usize,
    events: u64,
) -> anyhow::Result<(String, String, String)> {
    let next = |page: &Value| page["next"].as_str().map(str::to_owned);
    let mut cursor = String::new();
    for _ in 0..depth / PAGE {
        let page = api(
            http,
            admin,
            &format!("/api/events?limit={PAGE}&before={cursor}"),
        )
        .await?;
        cursor = next(&page).context("the events ran out before the deep page")?;
    }
    let (middle, mut passed, mut before) = (events as usize / 2, 0, String::new());
    let id = loop {
        let page = api(
            http,
            admin,
            &format!("/api/events?limit=1000&before={before}"),
        )
        .await?;
        let list = page["events"].as_array().context("a page without events")?;
        if let Some(event) = list.get(middle - passed) {
            break event["id"]
                .as_str()
                .context("an event without an id")?
                .to_owned();
        }
        passed += list.len();
        before = next(&page).context("the events ran out before the middle")?;
    };
    let shown = api(http, admin, &format!("/api/events/{id}")).await?;
    let delivery = shown["request"]["headers"]["x-github-delivery"]
        .as_str()
        .context("the event's delivery id")?
        .to_owned();
    let [_, (_, deep), (_, found), (_, found_by_delivery), _] = calls(&cursor, &id, &delivery);
    let deep = api(http, admin, &deep).await?;
    let shown = deep["events"].as_array().map_or(0, Vec::len);
    ensure!(shown == PAGE, "the deep page has {shown} events");
    for search in [found, found_by_delivery] {
        let found = api(http, admin, &search).await?;
        ensure!(
            found["events"][0]["id"] == id.as_str(),
            "{search} found {found}"
        );
    }
    Ok((cursor, id, delivery))
}

/// The answer of the admin API to `GET path`.
async fn api(http: &reqwest::Client, admin: &str, path: &str) -> anyhow::Result<Value> {
    Ok(serde_json::from_slice(
        &fetch(http, &format!("{admin}{path}")).await?,
    )?)
}

/// The API calls behind the two views, by the labels of the table.
fn calls(cursor: &str, middle: &str, delivery: &str) -> [(&'static str, String); CALLS] {
    [
        ("API first page", format!("/api/events?limit={PAGE}")),
        (
            "API deep page",
            format!("/api/events?limit={PAGE}&before={cursor}"),
        ),
        ("API search", format!("/api/events?q={middle}&limit={PAGE}")),
        (
            "API search delivery id",
            format!("/api/events?q={delivery}&limit={PAGE}"),
        ),
        ("API overview", "/api/overview".to_owned()),
    ]
}

/// The body of `url`, which must answer `200`.
async fn fetch(http: &reqwest::Client, url: &str) -> anyhow::Result<bytes::Bytes> {
    let answer = http.get(url).send().await?;
    let status = answer.status();
    let body = answer.bytes().await?;
    ensure!(status.is_success(), "GET {url}: {status}");
    Ok(body)
}

/// Opens `/#/view` afresh and returns the moments of its load, [`STAGES`].
async fn open(browser: &Browser, admin: &str, view: &str) -> anyhow::Result<[Duration; 5]> {
    browser.goto("about:blank").await;
    browser
        .devtools("Network.clearBrowserCache", json!({}))
        .await;
    browser.goto(&format!("{admin}/#/{view}")).await;
    browser
        .wait_for(&format!("main#view[data-ready=\"{view}\"]"))
        .await;
    // The paint is reported a frame after it happened: look again until it is.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let times = browser.execute(TIMES, vec![json!(view)]).await;
        let stages: Option<Vec<Duration>> = (0..STAGES.len())
            .map(|i| Some(Duration::from_secs_f64(times[i].as_f64()? / 1000.0)))
            .collect();
        if let Some(stages) = stages {
            return Ok(stages.try_into().expect("one time per stage"));
        }
        ensure!(
            Instant::now() < deadline,
            "/#/{view}: a moment of the load was not reported ({times})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Figures {
    /// The median of one stage of the loads of view `v`.
    fn median(&self, v: usize, stage: usize) -> Duration {
        Percentiles::new(self.loads[v].iter().map(|load| load[stage]).collect()).at(0.5)
    }
}

fn print(
    events: u64,
    (loads, requests, depth): (usize, usize, usize),
    calls: &[(&str, String); CALLS],
    figures: &[Figures; 2],
    seeding: Duration,
) {
    let mut rows: Vec<(String, [String; 2])> = Vec::new();
    for (v, view) in VIEWS.into_iter().enumerate() {
        for (stage, label) in [(PAINT, "first paint"), (READY, "ready")] {
            rows.push((
                format!("{label} /#/{view}"),
                figures.each_ref().map(|f| human(f.median(v, stage))),
            ));
        }
    }
    for (c, (label, _)) in calls.iter().enumerate() {
        for (p, name) in [(0.5, "p50"), (0.99, "p99")] {
            rows.push((
                format!("{label} {name}"),
                figures
                    .each_ref()
                    .map(|f| human(Percentiles::new(f.api[c].clone()).at(p))),
            ));
        }
    }
    rows.push((
        "page bytes".to_owned(),
        figures
            .each_ref()
            .map(|f| format!("{} B", thousands(f.page_bytes as u64))),
    ));

    let stored = thousands(events);
    println!(
        "\n== 10. the dashboard: {stored} events stored ({PLAIN_EVENT_SIZE} B pushes through one route, all delivered) beside an empty store; \
         browser: median of {loads} fresh loads (cache cleared), from the navigation's start; API: {requests} requests each, one at a time"
    );
    println!(
        "{:<26} {:>15} {:>15}",
        "",
        format!("{stored} events"),
        "empty store"
    );
    for (label, [full, empty]) in &rows {
        println!("{label:<26} {full:>15} {empty:>15}");
    }
    for (v, view) in VIEWS.into_iter().enumerate() {
        let stages: Vec<String> = STAGES
            .iter()
            .enumerate()
            .map(|(stage, name)| format!("{name} {}", human(figures[0].median(v, stage))))
            .collect();
        println!(
            "/#/{view} with {stored} events, medians: {}",
            stages.join(", ")
        );
    }
    println!(
        "stored {stored} events in {:.1} s ({}/s), from the first request to the last delivery",
        seeding.as_secs_f64(),
        thousands((events as f64 / seeding.as_secs_f64().max(1e-9)) as u64)
    );
    println!(
        "deep page: {} events down by the cursor; search: the id of the event in the middle of the store, and its GitHub delivery id (on the empty store they find nothing)",
        thousands(depth as u64)
    );
    let (paint, ready) = (figures[0].median(0, PAINT), figures[0].median(0, READY));
    println!(
        "target: first paint of /#/events under 1 s with {stored} events stored: {} ({}, ready {})",
        if paint < Duration::from_secs(1) {
            "met"
        } else {
            "not met"
        },
        human(paint),
        human(ready)
    );
}

/// `100,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(300), "300");
        assert_eq!(super::thousands(69_888), "69,888");
        assert_eq!(super::thousands(100_000), "100,000");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }
}
