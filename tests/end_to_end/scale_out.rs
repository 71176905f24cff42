//! Several nodes on one PostgreSQL database, behind a load balancer: the work is shared, a
//! node killed with `kill -9` loses nothing (its claims pass on when its lease runs out), the
//! order of a key holds across nodes, and a database restart costs senders a `503` to retry,
//! never an event.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::crash::{Senders, deliveries_by_seq};
use crate::common::postgres::PgServer;
use crate::common::*;

/// A 4 s timeout makes the nodes' lease the shortest, 10 s: twice the longest attempt, plus a
/// heartbeat.
const RETRY: &str = r#"retry = ["100ms", "500ms", "1s", "2s", "5s"]
timeout = "4s""#;
/// A killed node's claims pass on after its lease (10 s) and a heartbeat (2 s).
const DRAIN: Duration = Duration::from_secs(90);

/// Every accepted sequence number reached the subscriber; returns how often each did.
async fn wait_all_delivered(
    subscriber: &Subscriber,
    accepted: &BTreeMap<u64, String>,
) -> BTreeMap<u64, usize> {
    let waited = wait_for("every accepted event delivered", DRAIN, async || {
        let seen = deliveries_by_seq(subscriber);
        accepted
            .keys()
            .all(|seq| seen.contains_key(seq))
            .then_some(seen)
    });
    waited.await
}

/// No two deliveries of one message overlapped in time: it was never being sent by two
/// nodes at once.
fn assert_never_sent_twice_at_once(subscriber: &Subscriber) {
    let mut by_id: BTreeMap<String, Vec<(Instant, Instant)>> = BTreeMap::new();
    for request in subscriber.received() {
        let answered = request.answered.unwrap_or(request.at);
        by_id
            .entry(request.webhook_id().to_owned())
            .or_default()
            .push((request.at, answered));
    }
    for (id, mut spans) in by_id {
        spans.sort();
        for pair in spans.windows(2) {
            assert!(
                pair[1].0 >= pair[0].1,
                "{id} was being delivered twice at once"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_the_work_and_a_node_killed_twice_loses_nothing() {
    const EVENTS: usize = 1500;
    let database = PgServer::shared().create_database();
    let subscriber = Subscriber::ok().await;
    // Slow enough that node-3 has attempts in flight whenever it is killed.
    subscriber.answer_after(Duration::from_millis(20));
    let wiring = plain_route(&[("sink", &subscriber, RETRY)]);
    let mut nodes = Vec::new();
    for name in ["node-1", "node-2", "node-3"] {
        nodes.push(Router::start_node(&database, name, &wiring).await);
    }
    let ingests = nodes.iter().map(Router::ingest).collect();
    let senders = Senders::spread(ingests, "plain", 4, EVENTS, Duration::from_secs(60));

    for moment in [EVENTS / 4, EVENTS * 3 / 5] {
        wait_until(&format!("{moment} accepted"), WAIT, async || {
            senders.accepted() >= moment
        })
        .await;
        // Deliveries are in flight: node-3 dies in the middle of them.
        nodes[2].kill();
        println!(
            "node-3 killed with kill -9 after {} accepted",
            senders.accepted()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        nodes[2].restart().await;
        senders.retarget_one(2, nodes[2].ingest());
    }
    let tally = senders.finish().await;
    let accepted = tally.accepted.len();
    assert!(accepted >= EVENTS / 2, "too few accepted: {tally:?}");

    let draining = Instant::now();
    wait_all_delivered(&subscriber, &tally.accepted).await;
    // The attempts the killed runs had in flight were never recorded: their messages stay
    // pending, claimed by a dead run, until its lease runs out and another node sends them.
    wait_until("no message left pending", DRAIN, async || {
        let pending = nodes[0]
            .admin_get("/api/messages?status=pending&limit=1")
            .await;
        pending["messages"].as_array().is_some_and(Vec::is_empty)
    })
    .await;
    let seen = deliveries_by_seq(&subscriber);
    let requests: usize = seen.values().sum();
    println!(
        "3 nodes, 2 kill -9s: {accepted} accepted ({} refused, {} unanswered), {requests} deliveries, {} duplicates, nothing pending after {:?}",
        tally.refused,
        tally.failed,
        requests - seen.len(),
        draining.elapsed()
    );
    assert_never_sent_twice_at_once(&subscriber);

    // Every node lists all of them: the three live ones, and node-3's two killed runs as
    // lost once their leases ran out.
    let expected = [
        ("node-1", "live"),
        ("node-2", "live"),
        ("node-3", "live"),
        ("node-3", "lost"),
        ("node-3", "lost"),
    ];
    let deadline = Instant::now() + WAIT;
    let listed = loop {
        let listed = nodes[0].admin_get("/api/nodes").await;
        let states: Vec<(&str, &str)> = listed["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["name"].as_str().unwrap(), n["state"].as_str().unwrap()))
            .collect();
        if states == expected {
            break listed;
        }
        assert!(
            Instant::now() < deadline,
            "the killed runs are not listed as lost: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        listed["nodes"][0]["address"],
        nodes[0].ingest_url().trim_start_matches("http://")
    );
    let routes = &listed["nodes"][0]["routes_sha256"];
    assert!(
        listed["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| &n["routes_sha256"] == routes)
    );

    // Each attempt names the node that made it, and all three made some.
    let mut makers = std::collections::BTreeSet::new();
    for id in tally.accepted.values().take(200) {
        let event = nodes[1].event(id).await;
        for attempt in event["messages"][0]["attempts"].as_array().unwrap() {
            makers.insert(attempt["node"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(makers.len(), 3, "attempts by {makers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_of_a_key_holds_across_nodes() {
    let database = PgServer::shared().create_database();
    let subscriber = Subscriber::ok().await;
    subscriber.answer_after(Duration::from_millis(20));
    let extra = format!("{RETRY}\nordering = \"per-key\"\nconcurrency = 8");
    let wiring = plain_route(&[("sink", &subscriber, &extra)]);
    let first = Router::start_node(&database, "node-1", &wiring).await;
    let second = Router::start_node(&database, "node-2", &wiring).await;
    // One key (the source's events have no type), accepted in turn by the two nodes.
    for seq in 0..40u64 {
        let node = if seq % 2 == 0 { &first } else { &second };
        let (status, answer) = node
            .post_hook("plain", json!({ "seq": seq }).to_string(), JSON)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    let received = subscriber.wait_for_requests(40, DRAIN).await;
    let order: Vec<u64> = received
        .iter()
        .map(|r| r.json()["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(order, (0..40).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_costs_senders_a_503_and_loses_nothing() {
    let server = PgServer::start();
    let database = server.create_database();
    let subscriber = Subscriber::ok().await;
    let wiring = plain_route(&[("sink", &subscriber, RETRY)]);
    let first = Router::start_node(&database, "node-1", &wiring).await;
    let second = Router::start_node(&database, "node-2", &wiring).await;
    let senders = Senders::spread(
        vec![first.ingest(), second.ingest()],
        "plain",
        4,
        usize::MAX,
        Duration::from_secs(20),
    );
    wait_until("200 accepted", WAIT, async || senders.accepted() >= 200).await;

    server.kill();
    let (status, headers, answer) = first
        .ingest()
        .try_post_hook("plain", json!({ "seq": u64::MAX }).to_string(), JSON)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    let during = senders.accepted();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        senders.accepted(),
        during,
        "nothing is accepted while the database is down"
    );

    server.restart();
    wait_until("events accepted again", WAIT, async || {
        senders.accepted() > during + 100
    })
    .await;
    let tally = senders.finish().await;
    println!(
        "database restart: {} accepted, {} refused (503), {} unanswered",
        tally.accepted.len(),
        tally.refused,
        tally.failed
    );
    assert!(tally.refused > 0, "senders were told to retry");
    wait_all_delivered(&subscriber, &tally.accepted).await;
    for node in [&first, &second] {
        let nodes = node.admin_get("/api/nodes").await;
        assert_eq!(nodes["nodes"].as_array().unwrap().len(), 2, "{nodes}");
    }
}

/// A new build of `wasm`: the same code with a custom section of `note` appended, so its
/// sha256 differs.
fn rebuilt(wasm: &std::path::Path, note: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(wasm).unwrap();
    let name = b"wasmhook-test";
    let size = 1 + name.len() + note.len();
    assert!(size < 128 && name.len() < 128, "one-byte LEB128 lengths");
    bytes.extend([0, size as u8, name.len() as u8]);
    bytes.extend(name);
    bytes.extend(note.as_bytes());
    bytes
}

/// The sha256 of `plugin` each live node runs, by node name.
async fn versions(node: &Router, plugin: &str) -> BTreeMap<String, String> {
    let listed = node.admin_get("/api/nodes").await;
    listed["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["state"] == "live")
        .map(|n| {
            let sha256 = n["plugins"][plugin].as_str().unwrap_or_default().to_owned();
            (n["name"].as_str().unwrap().to_owned(), sha256)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_rolled_out_node_by_node_shows_in_the_nodes_list() {
    use sha2::Digest;
    let database = PgServer::shared().create_database();
    let subscriber = Subscriber::ok().await;
    let push_only = &plugins().push_only;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let files: Vec<_> = dirs
        .iter()
        .map(|dir| crate::common::plugins::copy(push_only, dir.path(), "filter.wasm"))
        .collect();
    let wiring = |wasm: &std::path::Path| {
        format!(
            "{github}\n[plugins.filter]\nwasm = {wasm:?}\n\n[subscribers.sink]\nurl = \"{url}\"\n\n\
             [[routes]]\nsource = \"github\"\nfilters = [\"filter\"]\nsubscribers = [\"sink\"]\n",
            github = github_source("github"),
            url = subscriber.url(),
        )
    };
    let first = Router::start_node(&database, "node-1", &wiring(&files[0])).await;
    let _second = Router::start_node(&database, "node-2", &wiring(&files[1])).await;
    let old = format!(
        "{:x}",
        sha2::Sha256::digest(std::fs::read(push_only).unwrap())
    );
    let both_old = BTreeMap::from([
        ("node-1".to_owned(), old.clone()),
        ("node-2".to_owned(), old),
    ]);
    wait_until("both nodes listed with the first build", WAIT, async || {
        versions(&first, "filter").await == both_old
    })
    .await;

    // The new build reaches node-1 first: for a while, the list shows both versions.
    let new_build = rebuilt(push_only, "2");
    let new = format!("{:x}", sha2::Sha256::digest(&new_build));
    crate::common::plugins::replace_atomically(&files[0], &new_build);
    let half_done = BTreeMap::from([
        ("node-1".to_owned(), new.clone()),
        ("node-2".to_owned(), both_old["node-2"].clone()),
    ]);
    wait_until("node-1 listed with the new build", WAIT, async || {
        versions(&first, "filter").await == half_done
    })
    .await;
    crate::common::plugins::replace_atomically(&files[1], &new_build);
    let done = BTreeMap::from([
        ("node-1".to_owned(), new.clone()),
        ("node-2".to_owned(), new),
    ]);
    wait_until("both nodes listed with the new build", WAIT, async || {
        versions(&first, "filter").await == done
    })
    .await;
}
