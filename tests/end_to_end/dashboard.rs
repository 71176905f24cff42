//! The dashboard, used in a real browser as an operator would: watching rates move, retrying
//! dead letters, switching a subscriber off and on, running the route debugger, and reading
//! an event whose body holds markup. Each story saves a screenshot under `docs/dashboard/`.

use crate::common::browser::Browser;
use crate::common::*;

/// GitHub pushes through `push-only` and `to-chat` to `chat`, and every event of `plain` to
/// `sink`, which gives up at once (`retry = []`).
fn wiring(chat: &Subscriber, sink: &Subscriber) -> String {
    let plugins = plugins();
    format!(
        r#"{github}
[sources.plain]

[plugins.push-only]
wasm = {push_only:?}

[plugins.to-chat]
wasm = {to_chat:?}

[subscribers.chat]
url = "{chat}/services/T0001AB2C/B0002XY3Z/aBcDeFgHiJkLmNoPqRsTuVwX"
secret = "{SUBSCRIBER_SECRET}"
retry = ["1s", "1m"]

[subscribers.sink]
url = "{sink}"
retry = []

[[routes]]
name = "chat"
source = "github"
filters = ["push-only"]
transforms = ["to-chat"]
subscribers = ["chat"]

[[routes]]
name = "sink"
source = "plain"
subscribers = ["sink"]
"#,
        github = github_source("github"),
        push_only = plugins.push_only,
        to_chat = plugins.github_to_slack,
        chat = chat.url(),
        sink = sink.url(),
    )
}

/// The router, its subscribers and a browser on its dashboard.
struct Dashboard {
    router: Router,
    chat: Subscriber,
    sink: Subscriber,
    browser: Browser,
}

impl Dashboard {
    async fn open() -> Dashboard {
        let (chat, sink) = (Subscriber::ok().await, Subscriber::ok().await);
        let router = Router::start(&wiring(&chat, &sink)).await;
        let browser = Browser::start().await;
        Dashboard {
            router,
            chat,
            sink,
            browser,
        }
    }

    /// Opens `#/view` and waits until the view has drawn its data.
    async fn show(&self, view: &str, ready: &str) {
        let url = format!("{}/#/{view}", self.router.admin_url());
        self.browser.goto(&url).await;
        self.ready(ready).await;
    }

    async fn ready(&self, ready: &str) {
        self.browser
            .wait_for(&format!("main#view[data-ready=\"{ready}\"]"))
            .await;
    }

    /// A signed push to `branch`, accepted; its event id.
    async fn push(&self, branch: &str) -> String {
        accepted(
            self.router
                .github_push(GITHUB_SECRET, &push_to(branch, 1))
                .await,
        )
    }

    async fn close(self) {
        let errors = self.browser.browser_errors().await;
        // Expected answers of the API (a 409, a 404) are logged as failed loads; scripts that
        // throw or break the page's security policy are not.
        let broken: Vec<&String> = errors
            .iter()
            .filter(|error| !error.contains("the server responded with a status"))
            .collect();
        assert!(broken.is_empty(), "the page logged errors: {broken:#?}");
        self.browser.close().await;
    }
}

/// A count shown as `expected` and nothing more: a count shown twice over must not match.
fn exactly(expected: &'static str) -> impl Fn(&str) -> bool {
    move |text: &str| text.trim() == expected
}

/// The text of `css` as a number.
async fn number(browser: &Browser, css: &str) -> u64 {
    let text = browser.text(css).await;
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{css} holds {text:?}, not a count"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_draws_each_route_and_its_rates_move_while_events_are_sent() {
    let dashboard = Dashboard::open().await;
    let browser = &dashboard.browser;
    dashboard.show("overview", "overview").await;
    let chat = "section.route[data-route=\"chat\"]";
    for stage in ["push-only", "to-chat", "chat"] {
        browser.wait_for_text(chat, stage).await;
    }
    let accepted_count = format!("{chat} [data-rate=\"accepted\"] .count");
    let filtered_count = format!("{chat} [data-rate=\"filtered\"] .count");
    let delivered_count = "[data-subscriber=\"chat\"] [data-rate=\"delivered\"] .count";
    assert_eq!(number(browser, &accepted_count).await, 0);

    // Three pushes to main go through; two to a feature branch are filtered out.
    let mut to_main = Vec::new();
    for branch in ["main", "feature", "main", "feature", "main"] {
        let id = dashboard.push(branch).await;
        if branch == "main" {
            to_main.push(id);
        }
    }
    browser.wait_for_text(&accepted_count, exactly("5")).await;
    browser.wait_for_text(&filtered_count, exactly("2")).await;
    browser.wait_for_text(delivered_count, exactly("3")).await;
    assert_eq!(dashboard.chat.count(), 3);
    assert_eq!(
        number(browser, "[data-subscriber=\"chat\"] .pending").await,
        0
    );
    browser.screenshot("overview").await;

    browser.set_window_size(390, 844).await;
    dashboard.show("overview", "overview").await;
    browser.wait_for_text(&accepted_count, exactly("5")).await;
    browser.screenshot("overview-phone").await;
    dashboard.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_retried_one_and_all_and_then_delivered() {
    let dashboard = Dashboard::open().await;
    let (router, browser) = (&dashboard.router, &dashboard.browser);
    dashboard.sink.answer_always(503);
    let mut dead = Vec::new();
    for n in 0..3 {
        let event = accepted(
            router
                .post_hook("plain", format!(r#"{{"n":{n}}}"#), JSON)
                .await,
        );
        let event = router.wait_settled(&event).await;
        let [message] = messages(&event) else {
            panic!("one message: {event}")
        };
        assert_eq!(message["status"], "dead", "{event}");
        dead.push(message["id"].as_str().unwrap().to_owned());
    }
    dashboard.sink.answer_always(200);
    // The rates count whole seconds: the failures show once their second is over.
    wait_until("the three failures counted", WAIT, async || {
        let listed = router.admin_get("/api/subscribers").await;
        listed["subscribers"][1]["rates"]["failed"]["last_5m"] == 3
    })
    .await;
    let listed = router.admin_get("/api/subscribers").await;
    let sink = &listed["subscribers"][1];
    assert_eq!(
        (&sink["dead"], &sink["last_error"]["status"]),
        (&json!(3), &json!(503)),
        "{sink}"
    );

    dashboard.show("dead", "dead").await;
    let first = format!("tr[data-message=\"{}\"]", dead[0]);
    browser.click(&format!("{first} button.retry")).await;
    browser
        .wait_for_text(&format!("{first} .status"), "pending")
        .await;
    let delivered = dashboard.sink.wait_for_requests(1, WAIT).await;
    assert_eq!(delivered[0].webhook_id(), dead[0]);
    browser.screenshot("dead-letters").await;

    // The other two, all at once, with the count falling to nothing.
    dashboard.show("dead", "dead").await;
    browser
        .click("button.retry-all[data-subscriber=\"sink\"]")
        .await;
    let progress = browser
        .wait_for_text(".progress[data-subscriber=\"sink\"]", "done")
        .await;
    assert!(progress.starts_with("2 retried"), "{progress}");
    dashboard.sink.wait_for_requests(3, WAIT).await;
    let listed = router.admin_get("/api/messages?status=dead").await;
    assert_eq!(listed["messages"], json!([]));
    dashboard.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_switched_off_keeps_its_messages_until_switched_on() {
    let dashboard = Dashboard::open().await;
    let (router, browser) = (&dashboard.router, &dashboard.browser);
    dashboard.show("subscribers", "subscribers").await;
    let sink = "tr[data-subscriber=\"sink\"]";
    assert_eq!(browser.text(&format!("{sink} .state")).await, "enabled");
    browser.click(&format!("{sink} button.toggle")).await;
    browser
        .wait_for_text(&format!("{sink} .state"), "disabled")
        .await;
    browser
        .wait_for_text(&format!("{sink} button.toggle"), "Enable")
        .await;
    let listed = router.admin_get("/api/subscribers").await;
    let shown = &listed["subscribers"][1];
    assert_eq!(
        (&shown["name"], &shown["disabled"]),
        (&json!("sink"), &json!(true))
    );

    let event = accepted(router.post_hook("plain", r#"{"kept":true}"#, JSON).await);
    let event = router
        .wait_event(&event, "its message made", |event| {
            event["status"] == "processed"
        })
        .await;
    assert_eq!(messages(&event)[0]["status"], "pending", "{event}");
    assert_eq!(
        dashboard.sink.count(),
        0,
        "nothing is sent to a disabled subscriber"
    );

    // What the page shows of the chat subscriber: no secret and no URL token.
    let chat = browser.text("tr[data-subscriber=\"chat\"]").await;
    assert!(chat.contains("whsec_…LaSw"), "{chat}");
    assert!(!chat.contains("MfKQ9r8GKYqrTwjUPD8I"), "{chat}");
    assert!(!chat.contains("aBcDeFgHiJkLmNoPqRsTuVwX"), "{chat}");
    assert!(chat.contains("1s → 1m"), "the retry schedule: {chat}");
    browser.screenshot("subscribers").await;

    browser.click(&format!("{sink} button.toggle")).await;
    browser
        .wait_for_text(&format!("{sink} .state"), "enabled")
        .await;
    let received = dashboard.sink.wait_for_requests(1, WAIT).await;
    assert_eq!(received[0].json(), json!({"kept": true}));
    dashboard.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_debugger_shows_each_stage_of_a_stored_event_and_sends_nothing() {
    let dashboard = Dashboard::open().await;
    let browser = &dashboard.browser;
    let event = dashboard.push("main").await;
    let settled = dashboard.router.wait_settled(&event).await;
    dashboard.chat.wait_for_requests(1, WAIT).await;
    // The message names the plugin versions that shaped it.
    let loaded = dashboard.router.admin_get("/api/plugins").await;
    let versions: Vec<Value> = loaded["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| json!({"name": p["name"], "sha256": p["sha256"], "version": 1}))
        .collect();
    assert_eq!(
        messages(&settled)[0]["plugins"],
        json!(versions),
        "{settled}"
    );

    dashboard
        .show(&format!("debugger?route=chat&event={event}"), "debugger")
        .await;
    browser.click("#dbg-run").await;
    let verdict = browser
        .wait_for_text(".stage[data-plugin=\"push-only\"] pre.stage-output", "true")
        .await;
    assert_eq!(verdict.trim(), "true");
    let output = browser
        .text(".stage[data-plugin=\"to-chat\"] pre.stage-output")
        .await;
    assert!(output.contains("pushed 1 commit"), "{output}");
    let body = browser
        .text(".dbg-message[data-subscriber=\"chat\"] pre.dbg-body")
        .await;
    assert!(body.contains("pushed 1 commit"), "{body}");
    browser.screenshot("debugger").await;

    // A push to another branch, pasted in: the filter says no, and nothing would be sent.
    browser.fill("#dbg-event", "").await;
    // Pasted, as an operator would: typed key by key it takes seconds.
    let body = String::from_utf8(push_to("feature", 1)).unwrap();
    let paste = "document.querySelector('#dbg-body').value = arguments[0]";
    browser.execute(paste, vec![json!(body)]).await;
    browser
        .fill(
            "#dbg-headers",
            "content-type: application/json\nx-github-event: push",
        )
        .await;
    browser.click("#dbg-run").await;
    browser
        .wait_for_text(
            ".stage[data-plugin=\"push-only\"] pre.stage-output",
            "false",
        )
        .await;
    browser.wait_for_text(".outcome", "dropped").await;

    assert_eq!(dashboard.chat.count(), 1, "a dry run sends nothing");
    let listed = dashboard.router.admin_get("/api/events").await;
    assert_eq!(
        listed["events"].as_array().unwrap().len(),
        1,
        "and stores nothing"
    );
    dashboard.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_body_holding_markup_is_shown_as_text() {
    let dashboard = Dashboard::open().await;
    let browser = &dashboard.browser;
    let hostile = r#"{"comment": "<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">"}"#;
    let event = accepted(dashboard.router.post_hook("plain", hostile, JSON).await);
    dashboard.router.wait_settled(&event).await;

    dashboard.show(&format!("events/{event}"), "event").await;
    let shown = browser.text("pre#event-body").await;
    assert!(
        shown.contains("<script>window.pwned = 1</script>"),
        "{shown}"
    );
    let ran = browser
        .execute(
            "return [typeof window.pwned, document.querySelectorAll('#view script, #view img').length]",
            vec![],
        )
        .await;
    assert_eq!(ran, json!(["undefined", 0]), "the markup stayed text");
    browser.screenshot("event").await;

    // Replayed through today's routes: a second message beside the first, delivered too.
    browser.click("button#replay").await;
    let shown = "return document.querySelectorAll('section.message').length";
    wait_until("the replay's message on the page", WAIT, async || {
        browser.execute(shown, vec![]).await == json!(2)
    })
    .await;
    dashboard.sink.wait_for_requests(2, WAIT).await;

    // The list finds it by its message id, the `webhook-id` its subscriber got.
    let message = dashboard.sink.wait_for_requests(1, WAIT).await[0]
        .webhook_id()
        .to_owned();
    dashboard
        .show(&format!("events?q={message}"), "events")
        .await;
    browser
        .wait_for(&format!("tr[data-event=\"{event}\"]"))
        .await;
    browser.screenshot("events").await;
    dashboard.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_asks_for_the_token_once_a_session_and_sends_no_cookie() {
    let (chat, sink) = (Subscriber::ok().await, Subscriber::ok().await);
    let token = "dashboard-token-0123456789";
    let server = format!("admin_token = \"{token}\"");
    let router = Router::start_with_server(&server, &wiring(&chat, &sink)).await;
    for branch in ["main", "feature"] {
        accepted(router.github_push(GITHUB_SECRET, &push_to(branch, 1)).await);
    }
    let plugins = format!("{}/api/plugins", router.admin_url());
    let client = reqwest::Client::new();
    wait_until("the filter to have run on both pushes", WAIT, async || {
        let answer = client.get(&plugins).bearer_auth(token).send().await;
        let text = answer.unwrap().text().await.unwrap();
        let listed: Value = serde_json::from_str(&text).unwrap();
        listed["plugins"][0]["stats"]["calls"] == 2
    })
    .await;
    let browser = Browser::start().await;
    browser
        .goto(&format!("{}/#/plugins", router.admin_url()))
        .await;
    browser.wait_for("form#login").await;
    browser.screenshot("login").await;
    browser.fill("input#token", "wrong").await;
    browser.click("form#login button[type=submit]").await;
    browser
        .wait_for_text("form#login .error", "did not accept")
        .await;
    browser.fill("input#token", token).await;
    browser.click("form#login button[type=submit]").await;
    browser.wait_for("main#view[data-ready=\"plugins\"]").await;
    let calls = browser.text("tr[data-plugin=\"push-only\"] td.num").await;
    assert_eq!(calls, "2", "the filter ran on both pushes");
    browser.screenshot("plugins").await;

    // Another page in the same session asks for nothing. A route naming a source that does
    // not exist is refused at the reload, with where it is written.
    let mut broken = wiring(&chat, &sink);
    broken.push_str("\n[[routes]]\nsource = \"nowhere\"\nsubscribers = [\"chat\"]\n");
    router.write_routes(&broken);
    browser
        .goto(&format!("{}/#/config", router.admin_url()))
        .await;
    browser.wait_for("main#view[data-ready=\"config\"]").await;
    browser.click("button#reload").await;
    let history = browser
        .wait_for_text("table#reloads", |text: &str| text.contains("api"))
        .await;
    let at = history
        .find("routes.toml:")
        .expect("the error names routes.toml");
    let place: Vec<&str> = history[at..].splitn(4, ':').collect();
    let numbers = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
    assert!(
        numbers(place[1]) && numbers(place[2]),
        "file:line:col in {history}"
    );
    browser.screenshot("config").await;
    let cookies = browser.execute("return document.cookie", vec![]).await;
    assert_eq!(cookies, json!(""));
    browser.close().await;
}

/// Every route the OpenAPI description names is one the running server has: an unknown
/// route is a bare 404 (or 405), a known one answers with its own JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_of_the_openapi_description_is_served() {
    let (chat, sink) = (Subscriber::ok().await, Subscriber::ok().await);
    let router = Router::start(&wiring(&chat, &sink)).await;
    let document = router.admin_get("/api/openapi.json").await;
    assert_eq!(document["openapi"], "3.1.0");
    let client = reqwest::Client::new();
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 15, "{paths:?}");
    for (path, operations) in paths {
        let concrete = path
            .replace("{name}", "chat")
            .replace("{id}", "evt_00000000000000000000000000");
        let methods = operations.as_object().unwrap().keys();
        for method in methods.filter(|key| *key != "parameters") {
            let url = format!("{}{concrete}", router.admin_url());
            let request = match method.as_str() {
                "get" => client.get(&url),
                "post" => client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(r#"{"body": "{}"}"#),
                other => panic!("{other} {path}: the admin API has GET and POST only"),
            };
            let answer = request.send().await.unwrap();
            let status = answer.status();
            let body = answer.text().await.unwrap();
            let served = status != StatusCode::METHOD_NOT_ALLOWED
                && (status != StatusCode::NOT_FOUND || body.contains("\"error\""));
            assert!(served, "{method} {path}: {status} {body}");
        }
    }
}
