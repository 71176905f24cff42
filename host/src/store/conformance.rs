//! The rules every store keeps (see the module documentation), checked on both: each test
//! below runs once on a SQLite store in a temporary folder and once on a PostgreSQL database
//! of its own, on a server the tests start (`tests/support/postgres.rs`). The shared store's
//! own rules, between several nodes, follow at the end.

#[path = "../../../tests/support/postgres.rs"]
mod postgres_server;
#[path = "../../../tests/support/watchdog.rs"]
mod watchdog;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;

use super::*;
use postgres_server::PgServer;

const NOW: i64 = 1_800_000_000_000;

/// Which store a test runs on.
#[derive(Clone, Copy)]
enum Kind {
    Sqlite,
    Postgres,
}

/// A store and where it keeps its data, to open it again as a restarted node would.
struct Opened {
    store: Store,
    kind: Kind,
    dir: tempfile::TempDir,
    url: String,
}

impl Opened {
    async fn new(kind: Kind) -> Opened {
        let dir = tempfile::tempdir().unwrap();
        let url = match kind {
            Kind::Sqlite => String::new(),
            Kind::Postgres => PgServer::shared().create_database(),
        };
        let store = open(kind, dir.path(), &url, "node-a").await;
        Opened {
            store,
            kind,
            dir,
            url,
        }
    }

    /// The same data, opened anew by the next run of the node.
    async fn restart(self) -> Opened {
        drop(self.store);
        Opened {
            store: open(self.kind, self.dir.path(), &self.url, "node-a").await,
            ..self
        }
    }
}

async fn open(kind: Kind, dir: &Path, url: &str, node: &str) -> Store {
    match kind {
        Kind::Sqlite => Store::open(dir).unwrap(),
        Kind::Postgres => Store::connect(url, node_state(node, 10_000)).await.unwrap(),
    }
}

fn node_state(name: &str, lease_ms: i64) -> NodeState {
    NodeState {
        name: name.to_owned(),
        address: "127.0.0.1:8080".to_owned(),
        routes_sha256: "ab".repeat(32),
        plugins: BTreeMap::from([("redact".to_owned(), "cd".repeat(32))]),
        lease_ms,
    }
}

fn event(id: &str) -> Arc<NewEvent> {
    event_at(id, NOW)
}

fn event_at(id: &str, received_at: i64) -> Arc<NewEvent> {
    Arc::new(NewEvent {
        id: id.to_owned(),
        source: "github".to_owned(),
        event_type: Some("push".to_owned()),
        received_at,
        request: RequestMeta {
            method: "POST".to_owned(),
            path: "/hooks/github".to_owned(),
            query: BTreeMap::new(),
            headers: BTreeMap::from([("x-github-event".to_owned(), "push".to_owned())]),
        },
        body: Bytes::from_static(b"{\"ref\":\"main\"}"),
    })
}

fn pending(id: &str, event_id: &str) -> NewMessage {
    NewMessage {
        id: id.to_owned(),
        event_id: event_id.to_owned(),
        route: "pushes".to_owned(),
        subscriber: "ci".to_owned(),
        status: MessageStatus::Pending,
        message_type: Some("push".to_owned()),
        key: None,
        headers: BTreeMap::from([("x-n".to_owned(), id.to_owned())]),
        body: Some(Bytes::from(format!("{{\"id\":\"{id}\"}}"))),
        body_is_event: false,
        error: None,
        plugins: vec!["ef".repeat(32)],
        created_at: NOW,
        claimed: false,
    }
}

fn keyed(id: &str, event_id: &str, key: &str) -> NewMessage {
    NewMessage {
        key: Some(key.to_owned()),
        ..pending(id, event_id)
    }
}

fn attempt(status: Option<u16>, error: Option<&str>) -> Attempt {
    Attempt {
        at: NOW,
        status,
        latency_ms: 3,
        error: error.map(str::to_owned),
        response: status.map(|_| Bytes::from_static(b"ok")),
    }
}

async fn received(store: &Store, id: &str) {
    let inserted = store
        .insert_event(event(id), Vec::new(), EventStatus::Received, Vec::new())
        .await
        .unwrap();
    assert_eq!(inserted, Inserted::New);
}

/// An event processed with `messages`.
async fn processed(store: &Store, id: &str, messages: Vec<NewMessage>) {
    received(store, id).await;
    store.finish_event(id.to_owned(), messages).await.unwrap();
}

async fn due_ids(store: &Store, at: i64, per_key: bool) -> Vec<String> {
    let read = store.due_messages("ci".to_owned(), at, (10, 1 << 20), HashSet::new(), per_key);
    read.await
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.id)
        .collect()
}

async fn status_of(store: &Store, message: &str) -> String {
    store
        .message(message.to_owned())
        .await
        .unwrap()
        .unwrap()
        .status
}

/// Runs each test on both stores.
macro_rules! on_both_stores {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$test(super::Kind::Sqlite).await
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$test(super::Kind::Postgres).await
            })*
        }
    };
}

on_both_stores!(
    an_event_is_received_until_its_messages_commit_and_all_of_it_survives_a_restart,
    a_redelivery_within_its_window_is_the_first_event,
    redeliveries_arriving_together_store_one_event,
    due_messages_come_oldest_first_without_those_in_flight_and_say_when_cut_short,
    per_key_only_the_oldest_message_of_a_key_is_due,
    a_held_route_is_released_once_and_holds_back_later_keyed_messages,
    an_attempt_records_the_message_state_it_leads_to,
    dead_messages_are_retried_one_at_a_time_or_all_of_a_subscriber,
    disabled_subscribers_and_open_circuits_are_kept,
    a_replayed_event_is_received_again,
    a_prune_removes_expired_events_and_keeps_what_is_pending,
    the_admin_reads_list_the_latest_first_and_filter,
    a_node_is_listed_with_what_it_runs,
);

async fn an_event_is_received_until_its_messages_commit_and_all_of_it_survives_a_restart(
    kind: Kind,
) {
    let opened = Opened::new(kind).await;
    let store = &opened.store;
    received(store, "evt_1").await;
    received(store, "evt_2").await;
    let unprocessed = store.unprocessed_events(10).await.unwrap();
    let ids: Vec<_> = unprocessed.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["evt_1", "evt_2"], "oldest first");
    assert_eq!(unprocessed[0].body, event("evt_1").body);
    assert_eq!(unprocessed[0].request.headers["x-github-event"], "push");

    let passed_on = NewMessage {
        body: Some(event("evt_1").body.clone()),
        body_is_event: true,
        ..pending("msg_2", "evt_1")
    };
    let filtered = NewMessage {
        status: MessageStatus::Filtered,
        body: None,
        error: Some("the filter said no".to_owned()),
        ..pending("msg_3", "evt_1")
    };
    let messages = vec![pending("msg_1", "evt_1"), passed_on, filtered];
    store
        .finish_event("evt_1".to_owned(), messages.clone())
        .await
        .unwrap();
    // A second run of the pipeline on it (from a stale read) adds nothing.
    store
        .finish_event("evt_1".to_owned(), messages)
        .await
        .unwrap();
    let ids: Vec<_> = store.unprocessed_events(10).await.unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].id, "evt_2");

    let restarted = opened.restart().await;
    let restarted = &restarted.store;
    let event = restarted.event("evt_1".to_owned()).await.unwrap().unwrap();
    assert_eq!(event.summary.status, "processed");
    assert_eq!(event.request["headers"]["x-github-event"], "push");
    let messages: Vec<_> = event
        .messages
        .iter()
        .map(|m| (m.id.as_str(), m.status.as_str(), m.body.clone()))
        .collect();
    assert_eq!(
        messages,
        [
            ("msg_1", "pending", serde_json::json!({"id": "msg_1"})),
            ("msg_2", "pending", serde_json::json!({"ref": "main"})),
            ("msg_3", "filtered", serde_json::Value::Null),
        ]
    );
    assert_eq!(event.messages[0].headers["x-n"], "msg_1");
    assert_eq!(
        event.messages[0].plugins,
        serde_json::json!(["ef".repeat(32)])
    );
    assert_eq!(
        event.messages[2].error.as_deref(),
        Some("the filter said no")
    );
    let loaded = restarted.load_event("evt_2".to_owned()).await.unwrap();
    assert_eq!(loaded.unwrap().body, event_at("evt_2", NOW).body);
    assert!(
        restarted
            .load_event("evt_9".to_owned())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(due_ids(restarted, NOW, false).await, ["msg_1", "msg_2"]);
}

async fn a_redelivery_within_its_window_is_the_first_event(kind: Kind) {
    let opened = Opened::new(kind).await;
    let store = &opened.store;
    let dedup = |key: &str| {
        vec![Dedup {
            key: key.to_owned(),
            window_ms: 60_000,
        }]
    };
    let insert = |id: &str, at: i64, key: &str| {
        store.insert_event(
            event_at(id, at),
            dedup(key),
            EventStatus::Processed,
            Vec::new(),
        )
    };
    assert_eq!(insert("evt_1", NOW, "d1").await.unwrap(), Inserted::New);
    assert_eq!(
        insert("evt_2", NOW + 1_000, "d1").await.unwrap(),
        Inserted::Duplicate("evt_1".to_owned())
    );
    assert!(store.event("evt_2".to_owned()).await.unwrap().is_none());
    assert_eq!(
        insert("evt_3", NOW + 1_000, "d2").await.unwrap(),
        Inserted::New
    );
    // Past the window, the same id is a new event, which later ones are redeliveries of.
    assert_eq!(
        insert("evt_4", NOW + 61_000, "d1").await.unwrap(),
        Inserted::New
    );
    assert_eq!(
        insert("evt_5", NOW + 62_000, "d1").await.unwrap(),
        Inserted::Duplicate("evt_4".to_owned())
    );
}

/// Sent together, so that they are committed together where writes share a commit.
async fn redeliveries_arriving_together_store_one_event(kind: Kind) {
    let opened = Opened::new(kind).await;
    let inserts = (0..8).map(|n| insert_with_id(&opened.store, format!("evt_{n}"), "d1"));
    let outcomes = futures_util::future::join_all(inserts).await;
    assert_one_new_and_its_duplicates(outcomes);
}

fn insert_with_id(
    store: &Store,
    id: String,
    key: &str,
) -> impl Future<Output = Result<Inserted, StoreError>> {
    let dedup = vec![Dedup {
        key: key.to_owned(),
        window_ms: 60_000,
    }];
    store.insert_event(event(&id), dedup, EventStatus::Processed, Vec::new())
}

/// One of them was stored, and every other one is answered as a redelivery of it.
fn assert_one_new_and_its_duplicates(outcomes: Vec<Result<Inserted, StoreError>>) {
    let outcomes: Vec<Inserted> = outcomes.into_iter().map(Result::unwrap).collect();
    let new = outcomes.iter().filter(|o| **o == Inserted::New).count();
    assert_eq!(new, 1, "{outcomes:?}");
    let firsts: HashSet<&str> = outcomes
        .iter()
        .filter_map(|o| match o {
            Inserted::Duplicate(first) => Some(first.as_str()),
            Inserted::New => None,
        })
        .collect();
    assert_eq!(
        firsts.len(),
        1,
        "all redeliveries of the same event: {outcomes:?}"
    );
}

async fn due_messages_come_oldest_first_without_those_in_flight_and_say_when_cut_short(kind: Kind) {
    let opened = Opened::new(kind).await;
    let store = &opened.store;
    let messages = (1..=3)
        .map(|n| pending(&format!("msg_{n}"), "evt_1"))
        .collect();
    processed(store, "evt_1", messages).await;
    let read = |limits, in_flight: &[&str]| {
        let in_flight = in_flight.iter().map(|id| id.to_string()).collect();
        store.due_messages("ci".to_owned(), NOW, limits, in_flight, false)
    };
    let ids = |read: &DueRead| {
        read.messages
            .iter()
            .map(|m| m.id.clone())
            .collect::<Vec<_>>()
    };

    let all = read((10, 1 << 20), &[]).await.unwrap();
    assert_eq!(ids(&all), ["msg_1", "msg_2", "msg_3"]);
    assert!(all.complete);
    assert_eq!(
        all.messages[0].body,
        Bytes::from_static(b"{\"id\":\"msg_1\"}")
    );
    assert_eq!(all.messages[0].headers["x-n"], "msg_1");
    assert_eq!(all.messages[0].attempts, 0);

    let two = read((2, 1 << 20), &[]).await.unwrap();
    assert_eq!(ids(&two), ["msg_1", "msg_2"]);
    assert!(!two.complete, "a limit cut it short");

    let skipping = read((10, 1 << 20), &["msg_1"]).await.unwrap();
    assert_eq!(ids(&skipping), ["msg_2", "msg_3"]);
    assert!(skipping.complete);

    // Past the byte budget only the first comes.
    let small = read((10, 5), &[]).await.unwrap();
    assert_eq!(ids(&small), ["msg_1"]);
    assert!(!small.complete);

    assert!(
        due_ids(store, NOW - 1, false).await.is_empty(),
        "not due yet"
    );
    let other = store.due_messages("cd".to_owned(), NOW, (10, 1 << 20), HashSet::new(), false);
    assert!(
        other.await.unwrap().messages.is_empty(),
        "another subscriber's"
    );
}

async fn per_key_only_the_oldest_message_of_a_key_is_due(kind: Kind) {
    let opened = Opened::new(kind).await;
    let store = &opened.store;
    processed(
        store,
        "evt_1",
        vec![keyed("msg_1", "evt_1", "a"), keyed("msg_2", "evt_1", "b")],
    )
    .await;
    processed(store, "evt_2", vec![keyed("msg_3", "evt_2", "a")]).await;
    assert_eq!(due_ids(store, NOW, true).await, ["msg_1", "msg_2"]);
    // An earlier event still in the pipeline may yet add an older message to any key.
    received(store, "evt_0").await;
    processed(store, "evt_3", vec![keyed("msg_4", "evt_3", "c")]).await;
    assert_eq!(due_ids(store, NOW, true).await, ["msg_1", "msg_2"]);
    store
        .finish_event("evt_0".to_owned(), Vec::new())
        .await
        .unwrap();
    assert_eq!(due_ids(store, NOW, true).await, ["msg_1", "msg_2", "msg_4"]);

    let delivered = attempt(Some(200), None);
    store
        .record_attempt("msg_1".to_owned(), delivered, AttemptOutcome::Delivered)
        .await
        .unwrap();
    assert_eq!(due_ids(store, NOW, true).await, ["msg_2", "msg_3", "msg_4"]);
    // A retry waits, and so does the rest of its key.
    let failed = attempt(Some(503), Some("HTTP 503"));
    store
        .record_attempt(
            "msg_3".to_owned(),
            failed,
            AttemptOutcome::RetryAt(NOW + 5_000),
        )
        .await
        .unwrap();
    processed(store, "evt_4", vec![keyed("msg_5", "evt_4", "a")]).await;
    assert_eq!(due_ids(store, NOW, true).await, ["msg_2", "msg_4"]);
    assert_eq!(
        due_ids(store, NOW + 5_000, true).await,
        ["msg_2", "msg_3", "msg_4"]
    );
}

async fn a_held_route_is_released_once_and_holds_back_later_keyed_messages(kind: Kind) {
    let opened = Opened::new(kind).await;
    let store = &opened.store;
    let held = NewMessage {
        status: MessageStatus::Held,
        body: None,
        ..keyed("msg_1", "evt_1", "a")
    };
    processed(store, "evt_1", vec![held]).await;
    processed(store, "evt_2", vec![keyed("msg_2", "evt_2", "b")]).await;
    assert!(
        due_ids(store, NOW, true).await.is_empty(),
        "behind the held event"
    );
    let events = store.held_events("pushes".to_owned(), 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id, "evt_1");
    assert!(
        store
            .held_events("other".to_owned(), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let released = vec![keyed("msg_3", "evt_1", "a")];
    assert!(
        store
            .release_held("evt_1".to_owned(), "pushes".to_owned(), released.clone())
            .await
            .unwrap()
    );
    assert!(
        !store
            .release_held("evt_1".to_owned(), "pushes".to_owned(), released)
            .await
            .unwrap(),
        "released once"
    );
    assert!(store.message("msg_1".to_owned()).await.unwrap().is_none());
    assert_eq!(due_ids(store, NOW, true).await, ["msg_3", "msg_2"]);
}

async fn an_attempt_records_the_message_state_it_leads_to(kind: Kind) {
    let opened = Opened::new(kind).await;
    let store = &opened.store;
    let messages = (1..=4)
        .map(|n| pending(&format!("msg_{n}"), "evt_1"))
        .collect();
    processed(store, "evt_1", messages).await;
    let record = |id: &str, attempt, outcome| store.record_attempt(id.to_owned(), attempt, outcome);
    record("msg_1", attempt(Some(200), None), AttemptOutcome::Delivered)
        .await
        .unwrap();
    record(
        "msg_2",
        attempt(Some(500), Some("HTTP 500")),
        AttemptOutcome::RetryAt(NOW + 10_000),
    )
    .await
    .unwrap();
    record(
        "msg_3",
        attempt(Some(400), Some("HTTP 400")),
        AttemptOutcome::Dead,
    )
    .await
    .unwrap();
    record(
        "msg_4",
        attempt(None, Some("cannot connect")),
        AttemptOutcome::Probed,
    )
    .await
    .unwrap();

    assert_eq!(status_of(store, "msg_1").await, "delivered");
    assert_eq!(status_of(store, "msg_3").await, "dead");
    assert_eq!(
        due_ids(store, NOW, false).await,
        ["msg_4"],
        "a probe spends no retry"
    );
    assert_eq!(
        due_ids(store, NOW + 10_000, false).await,
        ["msg_4", "msg_2"]
    );
    let subscribers = vec!["ci".to_owned(), "cd".to_owned()];
    assert_eq!(
        store
            .next_due_after(subscribers.clone(), NOW)
            .await
            .unwrap(),
        Some(NOW + 10_000)
    );
    assert_eq!(
        store
            .next_due_after(subscribers, NOW + 10_000)
            .await
            .unwrap(),
        None
    );

    let event = store.event("evt_1".to_owned()).await.unwrap().unwrap();
    let by_id = |id: &str| event.messages.iter().find(|m| m.id == id).unwrap();
    let retried = by_id("msg_2");
    assert_eq!(retried.error.as_deref(), Some("HTTP 500"));
    let attempts = retried.attempts.as_ref().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!((attempts[0].status, attempts[0].latency_ms), (Some(500), 3));
    assert_eq!(attempts[0].response.as_deref(), Some("ok"));
    let probed = by_id("msg_4");
    assert_eq!(probed.error.as_deref(), Some("cannot connect"));
    assert_eq!(probed.attempts.as_ref().unwrap().len(), 1);
    let dueing = store.due_messages(
        "ci".to_owned(),
        NOW + 10_000,
        (10, 1 << 20),
        HashSet::new(),
        false,
    );
    let attempts_made: Vec<_> = dueing
        .await
        .unwrap()
        .messages
        .iter()
        .map(|m| m.attempts)
        .collect();
    assert_eq!(attempts_made, [0, 1], "msg_4 probed, msg_2 tried once");
    assert_eq!(
        store.count_messages(MessageStatus::Pending).await.unwrap(),
        2
    );
    assert_eq!(store.count_messages(MessageStatus::Dead).await.unwrap(), 1);
}

async fn dead_messages_are_retried_one_at_a_time_or_all_of_a_subscriber(kind: Kind) {
    let opened = Opened::new(kind).await;
    let store = &opened.store;
    let never_sent = NewMessage {
        status: MessageStatus::Dead,
        body: None,
        ..pending("msg_4", "evt_1")
    };
    let mut messages: Vec<_> = (1..=3)
        .map(|n| pending(&format!("msg_{n}"), "evt_1"))
        .collect();
    messages.push(never_sent);
    processed(store, "evt_1", messages).await;
    for n in 1..=3 {
        store
            .record_attempt(
                format!("msg_{n}"),
                attempt(Some(400), None),
                AttemptOutcome::Dead,
            )
            .await
            .unwrap();
    }
    assert!(store.retry_message("msg_1".to_owned()).await.unwrap());
    assert!(
        !store.retry_message("msg_1".to_owned()).await.unwrap(),
        "pending now"
    );
    assert!(
        !store.retry_message("msg_4".to_owned()).await.unwrap(),
        "nothing to send"
    );
    let now = crate::clock::now_ms();
    assert_eq!(due_ids(store, now, false).await, ["msg_1"]);
    assert_eq!(store.retry_dead_of("ci".to_owned()).await.unwrap(), 2);
    assert_eq!(store.retry_dead_of("cd".to_owned()).await.unwrap(), 0);
    let now = crate::clock::now_ms();
    assert_eq!(due_ids(store, now, false).await.len(), 3);
    assert_eq!(status_of(store, "msg_4").await, "dead");
}

async fn disabled_subscribers_and_open_circuits_are_kept(kind: Kind) {
    let opened = Opened::new(kind).await;
    let store = &opened.store;
    store
        .disable_subscriber("ci".to_owned(), "answered 410 Gone".to_owned())
        .await
        .unwrap();
    let circuit = OpenCircuit {
        opened_at: NOW,
        probe_at: NOW + 5_000,
        probe_interval_ms: 5_000,
        probes: 0,
        reason: "HTTP 503".to_owned(),
    };
    store
        .open_circuit("cd".to_owned(), circuit.clone())
        .await
        .unwrap();
    let probed = OpenCircuit {
        probes: 1,
        probe_at: NOW + 15_000,
        probe_interval_ms: 10_000,
        ..circuit
    };
    store
        .open_circuit("cd".to_owned(), probed.clone())
        .await
        .unwrap();
    store
        .open_circuit("qa".to_owned(), probed.clone())
        .await
        .unwrap();
    store.close_circuit("qa".to_owned()).await.unwrap();

    let restarted = opened.restart().await;
    let restarted = &restarted.store;
    let disabled = restarted.disabled_subscribers().await.unwrap();
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled["ci"].1, "answered 410 Gone");
    assert_eq!(
        restarted.open_circuits().await.unwrap(),
        BTreeMap::from([("cd".to_owned(), probed)])
    );
    assert!(restarted.enable_subscriber("ci".to_owned()).await.unwrap());
    assert!(!restarted.enable_subscriber("ci".to_owned()).await.unwrap());
    assert!(restarted.disabled_subscribers().await.unwrap().is_empty());
}

async fn a_replayed_event_is_received_again(kind: Kind) {
    let opened = Opened::new(kind).await;
    let store = &opened.store;
    processed(store, "evt_1", vec![pending("msg_1", "evt_1")]).await;
    assert!(store.unprocessed_events(10).await.unwrap().is_empty());
    assert!(store.mark_for_replay("evt_1".to_owned()).await.unwrap());
    assert!(!store.mark_for_replay("evt_9".to_owned()).await.unwrap());
    let again = store.unprocessed_events(10).await.unwrap();
    assert_eq!(again.len(), 1);
    store
        .finish_event("evt_1".to_owned(), vec![pending("msg_2", "evt_1")])
        .await
        .unwrap();
    let event = store.event("evt_1".to_owned()).await.unwrap().unwrap();
    assert_eq!(
        event.messages.len(),
        2,
        "the replay's messages beside the first run's"
    );
}

async fn a_prune_removes_expired_events_and_keeps_what_is_pending(kind: Kind) {
    let opened = Opened::new(kind).await;
    let store = &opened.store;
    let dedup = vec![Dedup {
        key: "d1".to_owned(),
        window_ms: 60_000,
    }];
    let old = event_at("evt_1", NOW - 100_000);
    store
        .insert_event(old, dedup.clone(), EventStatus::Received, Vec::new())
        .await
        .unwrap();
    store
        .finish_event("evt_1".to_owned(), vec![pending("msg_1", "evt_1")])
        .await
        .unwrap();
    store
        .record_attempt(
            "msg_1".to_owned(),
            attempt(Some(200), None),
            AttemptOutcome::Delivered,
        )
        .await
        .unwrap();
    let waiting = event_at("evt_2", NOW - 100_000);
    store
        .insert_event(waiting, Vec::new(), EventStatus::Received, Vec::new())
        .await
        .unwrap();
    store
        .finish_event("evt_2".to_owned(), vec![pending("msg_2", "evt_2")])
        .await
        .unwrap();
    processed(store, "evt_3", vec![pending("msg_3", "evt_3")]).await;
    store
        .record_attempt(
            "msg_3".to_owned(),
            attempt(Some(200), None),
            AttemptOutcome::Delivered,
        )
        .await
        .unwrap();

    let expiry = Expiry {
        settled_before: NOW - 50_000,
        dead_before: NOW - 50_000,
        dedup_before: NOW - 50_000,
    };
    assert_eq!(store.prune(expiry).await.unwrap(), 1);
    assert!(store.event("evt_1".to_owned()).await.unwrap().is_none());
    assert!(store.message("msg_1".to_owned()).await.unwrap().is_none());
    assert!(
        store.event("evt_2".to_owned()).await.unwrap().is_some(),
        "pending"
    );
    assert!(
        store.event("evt_3".to_owned()).await.unwrap().is_some(),
        "young"
    );
    assert_eq!(store.prune(expiry).await.unwrap(), 0);
    // The delivery id was forgotten with it: the same id is a new event.
    let again = store.insert_event(
        event_at("evt_4", NOW),
        dedup,
        EventStatus::Processed,
        Vec::new(),
    );
    assert_eq!(again.await.unwrap(), Inserted::New);
}

async fn the_admin_reads_list_the_latest_first_and_filter(kind: Kind) {
    let opened = Opened::new(kind).await;
    let store = &opened.store;
    processed(store, "evt_1", vec![pending("msg_1", "evt_1")]).await;
    received(store, "evt_2").await;
    let other_source = NewEvent {
        source: "stripe".to_owned(),
        event_type: Some("charge.failed".to_owned()),
        received_at: NOW + 5_000,
        ..(*event("evt_3")).clone()
    };
    let delivery_id = Dedup {
        key: "dlv-3".to_owned(),
        window_ms: 60_000,
    };
    store
        .insert_event(
            Arc::new(other_source),
            vec![delivery_id],
            EventStatus::Processed,
            vec![pending("msg_2", "evt_3")],
        )
        .await
        .unwrap();
    store
        .record_attempt(
            "msg_2".to_owned(),
            attempt(Some(400), None),
            AttemptOutcome::Dead,
        )
        .await
        .unwrap();

    let list = async |query: EventQuery| {
        let page = store
            .list_events(EventQuery { limit: 10, ..query })
            .await
            .unwrap();
        let ids: Vec<String> = page.items.into_iter().map(|e| e.id).collect();
        ids
    };
    assert_eq!(
        list(EventQuery::default()).await,
        ["evt_3", "evt_2", "evt_1"]
    );
    let github = EventQuery {
        source: Some("github".to_owned()),
        ..EventQuery::default()
    };
    assert_eq!(list(github).await, ["evt_2", "evt_1"]);
    let received = EventQuery {
        status: Some(EventStatus::Received),
        ..EventQuery::default()
    };
    assert_eq!(list(received).await, ["evt_2"]);
    let charges = EventQuery {
        event_type: Some("charge.failed".to_owned()),
        ..EventQuery::default()
    };
    assert_eq!(list(charges).await, ["evt_3"]);
    let later = EventQuery {
        since: Some(NOW + 1),
        ..EventQuery::default()
    };
    assert_eq!(list(later).await, ["evt_3"]);
    let earlier = EventQuery {
        until: Some(NOW + 1),
        ..EventQuery::default()
    };
    assert_eq!(list(earlier).await, ["evt_2", "evt_1"]);
    for search in ["evt_1", "msg_1"] {
        let query = EventQuery {
            search: Some(search.to_owned()),
            ..EventQuery::default()
        };
        assert_eq!(list(query).await, ["evt_1"], "search {search}");
    }
    let by_delivery_id = EventQuery {
        search: Some("dlv-3".to_owned()),
        search_sources: vec!["github".to_owned(), "stripe".to_owned()],
        ..EventQuery::default()
    };
    assert_eq!(list(by_delivery_id).await, ["evt_3"]);

    // Page by page: each names the cursor of the next until the last.
    let first = EventQuery {
        limit: 2,
        ..EventQuery::default()
    };
    let first = store.list_events(first).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.next.as_deref(), Some("evt_2"));
    let second = EventQuery {
        before: first.next,
        limit: 2,
        ..EventQuery::default()
    };
    let second = store.list_events(second).await.unwrap();
    let ids: Vec<_> = second.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!((ids, second.next), (vec!["evt_1"], None));

    let latest = store.list_events(EventQuery {
        limit: 1,
        ..EventQuery::default()
    });
    let summary = &latest.await.unwrap().items[0];
    assert_eq!(
        (summary.source.as_str(), summary.event_type.as_deref()),
        ("stripe", Some("charge.failed"))
    );
    assert_eq!(summary.received_at, crate::clock::rfc3339(NOW + 5_000));
    let shown = store.event("evt_1".to_owned()).await.unwrap().unwrap();
    assert_eq!(shown.body, serde_json::json!({"ref": "main"}));

    let messages = async |query: MessageQuery| {
        let page = store
            .list_messages(MessageQuery { limit: 10, ..query })
            .await
            .unwrap();
        let ids: Vec<String> = page.items.into_iter().map(|m| m.id).collect();
        ids
    };
    assert_eq!(messages(MessageQuery::default()).await, ["msg_2", "msg_1"]);
    let dead = MessageQuery {
        status: Some(MessageStatus::Dead),
        ..MessageQuery::default()
    };
    assert_eq!(messages(dead).await, ["msg_2"]);
    let elsewhere = MessageQuery {
        subscriber: Some("crm".to_owned()),
        ..MessageQuery::default()
    };
    assert!(messages(elsewhere).await.is_empty());
    let after_first = MessageQuery {
        before: Some("msg_2".to_owned()),
        ..MessageQuery::default()
    };
    assert_eq!(messages(after_first).await, ["msg_1"]);
    let message = store.message("msg_1".to_owned()).await.unwrap().unwrap();
    assert_eq!(
        (message.route.as_str(), message.subscriber.as_str()),
        ("pushes", "ci")
    );
    assert_eq!(message.next_attempt_at, Some(crate::clock::rfc3339(NOW)));
    assert!(store.message("msg_9".to_owned()).await.unwrap().is_none());

    assert_eq!(
        store.subscriber_queues().await.unwrap(),
        [SubscriberQueue {
            subscriber: "ci".to_owned(),
            pending: 1,
            oldest_pending_at: Some(NOW),
            dead: 1,
        }]
    );
}

async fn a_node_is_listed_with_what_it_runs(kind: Kind) {
    let opened = Opened::new(kind).await;
    let store = &opened.store;
    let state = NodeState {
        routes_sha256: "12".repeat(32),
        ..node_state("node-a", 10_000)
    };
    store.heartbeat(&state).await.unwrap();
    let nodes = store.nodes().await.unwrap();
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert_eq!((nodes[0].name.as_str(), nodes[0].state), ("node-a", "live"));
    assert_eq!(nodes[0].routes_sha256, "12".repeat(32));
    assert_eq!(nodes[0].plugins["redact"], "cd".repeat(32));
    assert!(store.may_deliver());
}

// The shared store between nodes.

async fn shared(lease_ms: i64) -> (String, Store, Store) {
    let url = PgServer::shared().create_database();
    let a = Store::connect(&url, node_state("node-a", lease_ms))
        .await
        .unwrap();
    let b = Store::connect(&url, node_state("node-b", lease_ms))
        .await
        .unwrap();
    (url, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once_and_see_each_other() {
    let url = PgServer::shared().create_database();
    let connects = (0..4).map(|n| Store::connect(&url, node_state(&format!("node-{n}"), 10_000)));
    let stores = futures_util::future::join_all(connects).await;
    let stores: Vec<Store> = stores.into_iter().map(Result::unwrap).collect();
    let versions = PgServer::shared().psql(&url, "SELECT count(*) FROM wasmhook_migrations");
    assert_eq!(versions, "1");
    let nodes = stores[0].nodes().await.unwrap();
    assert_eq!(nodes.len(), 4, "{nodes:?}");
    assert!(nodes.iter().all(|n| n.state == "live"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_reading_at_once_claim_different_messages() {
    let (_url, a, b) = shared(10_000).await;
    let messages = (1..=200)
        .map(|n| pending(&format!("msg_{n}"), "evt_1"))
        .collect();
    processed(&a, "evt_1", messages).await;
    let mut claimed = HashSet::new();
    loop {
        let (from_a, from_b) = tokio::join!(due_ids(&a, NOW, false), due_ids(&b, NOW, false));
        if from_a.is_empty() && from_b.is_empty() {
            break;
        }
        for id in from_a.iter().chain(&from_b) {
            assert!(claimed.insert(id.clone()), "{id} claimed twice");
            let delivered = attempt(Some(200), None);
            let store = if from_a.contains(id) { &a } else { &b };
            store
                .record_attempt(id.clone(), delivered, AttemptOutcome::Delivered)
                .await
                .unwrap();
        }
    }
    assert_eq!(claimed.len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_holds_while_its_node_lives_and_passes_on_when_its_lease_runs_out() {
    let (url, a, b) = shared(1_000).await;
    let claimed = NewMessage {
        claimed: true,
        ..pending("msg_1", "evt_1")
    };
    processed(&a, "evt_1", vec![claimed, pending("msg_2", "evt_1")]).await;
    assert_eq!(
        due_ids(&b, NOW, false).await,
        ["msg_2"],
        "msg_1 is node-a's"
    );
    assert_eq!(
        due_ids(&a, NOW, false).await,
        ["msg_1"],
        "msg_2 is node-b's now"
    );
    received(&a, "evt_2").await;
    assert!(
        b.unprocessed_events(10).await.unwrap().is_empty(),
        "node-a runs it"
    );

    // node-a stops renewing its lease, as a node killed would.
    let a_id = match &a {
        Store::Postgres(store) => store.node_id().to_owned(),
        Store::Sqlite(_) => unreachable!(),
    };
    drop(a);
    let lapsed = format!(
        "UPDATE nodes SET heartbeat_at = {} - lease_ms - 1 WHERE id = '{a_id}'",
        super::postgres::db_now!()
    );
    PgServer::shared().psql(&url, &lapsed);
    let mut catch_ups = b.catch_ups();
    catch_ups.borrow_and_update();
    b.heartbeat(&node_state("node-b", 1_000)).await.unwrap();
    assert!(
        catch_ups.has_changed().unwrap(),
        "node-b learns node-a is lost"
    );
    assert_eq!(due_ids(&b, NOW, false).await, ["msg_1", "msg_2"]);
    let taken: Vec<_> = b
        .unprocessed_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(taken, ["evt_2"]);
    let nodes = b.nodes().await.unwrap();
    let states: Vec<_> = nodes.iter().map(|n| (n.name.as_str(), n.state)).collect();
    assert_eq!(states, [("node-b", "live"), ("node-a", "lost")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_of_a_key_is_in_flight_across_nodes() {
    let (_url, a, b) = shared(10_000).await;
    processed(
        &a,
        "evt_1",
        vec![keyed("msg_1", "evt_1", "k"), keyed("msg_2", "evt_1", "j")],
    )
    .await;
    processed(&b, "evt_2", vec![keyed("msg_3", "evt_2", "k")]).await;
    assert_eq!(due_ids(&a, NOW, true).await, ["msg_1", "msg_2"]);
    assert!(
        due_ids(&b, NOW, true).await.is_empty(),
        "the oldest of each key is node-a's"
    );
    a.record_attempt(
        "msg_1".to_owned(),
        attempt(Some(200), None),
        AttemptOutcome::Delivered,
    )
    .await
    .unwrap();
    assert_eq!(due_ids(&b, NOW, true).await, ["msg_3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_hands_work_over_at_once_and_wakes_the_others() {
    let (_url, a, b) = shared(60_000).await;
    let claimed = NewMessage {
        claimed: true,
        ..pending("msg_1", "evt_1")
    };
    let mut woken = b.catch_ups();
    woken.borrow_and_update();
    processed(&a, "evt_1", vec![claimed]).await;
    assert!(due_ids(&b, NOW, false).await.is_empty());
    a.leave().await.unwrap();
    let taken_over = async {
        loop {
            woken.changed().await.unwrap();
            let due = due_ids(&b, NOW, false).await;
            if !due.is_empty() {
                return due;
            }
        }
    };
    let due = tokio::time::timeout(std::time::Duration::from_secs(10), taken_over).await;
    assert_eq!(
        due.expect("node-b is woken and finds the message"),
        ["msg_1"]
    );
    let nodes = b.nodes().await.unwrap();
    assert!(
        nodes
            .iter()
            .any(|n| n.name == "node-a" && n.state == "stopped"),
        "{nodes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeliveries_to_two_nodes_at_once_store_one_event() {
    let (_url, a, b) = shared(10_000).await;
    let inserts = (0..16).map(|n| {
        let node = if n % 2 == 0 { &a } else { &b };
        insert_with_id(node, format!("evt_{n}"), "d1")
    });
    let outcomes = futures_util::future::join_all(inserts).await;
    assert_one_new_and_its_duplicates(outcomes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_cannot_renew_its_lease_stops_delivering_until_it_does() {
    let url = PgServer::shared().create_database();
    let state = node_state("node-a", 400);
    let store = Store::connect(&url, state.clone()).await.unwrap();
    assert!(store.may_deliver(), "just renewed");
    // No heartbeat for half the lease: another node may soon take its messages.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while store.may_deliver() {
        assert!(std::time::Instant::now() < deadline, "still delivering");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    store.heartbeat(&state).await.unwrap();
    assert!(store.may_deliver(), "renewed again");
}
