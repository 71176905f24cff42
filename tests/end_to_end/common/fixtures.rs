//! The shared provider fixtures (`../shared/fixtures`, read at run time, never copied) and
//! payloads derived from them.

use std::path::PathBuf;

use serde_json::{Value, json};

fn fixtures_dir() -> PathBuf {
    xtask::repo_root().join("../shared/fixtures")
}

/// The exact bytes of a fixture file, e.g. `fixture("github/push.payload.json")`.
pub fn fixture(relative: &str) -> Vec<u8> {
    let path = fixtures_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
}

pub fn fixture_json(relative: &str) -> Value {
    serde_json::from_slice(&fixture(relative))
        .unwrap_or_else(|e| panic!("fixture {relative} is not JSON: {e}"))
}

/// The id of the `n`th commit of [`push_to`]'s payloads: 40 hex digits, distinct per `n`.
pub fn commit_id(n: usize) -> String {
    format!("c0ffee{n:034x}")
}

/// A GitHub `push` of `commits` commits to `refs/heads/{branch}`, built from the octokit
/// `push.with-new-branch` example (the `push.payload.json` example is a tag push with no
/// commits). Commit `n` has id [`commit_id`]`(n)` and message `commit number n`.
pub fn push_to(branch: &str, commits: usize) -> Vec<u8> {
    let mut push = fixture_json("github/push.with-new-branch.payload.json");
    let template = push["commits"][0].clone();
    let commits: Vec<Value> = (0..commits)
        .map(|n| {
            let mut commit = template.clone();
            commit["id"] = json!(commit_id(n));
            commit["tree_id"] = json!(commit_id(n));
            commit["message"] = json!(format!("commit number {n}"));
            commit
        })
        .collect();
    push["ref"] = json!(format!("refs/heads/{branch}"));
    push["head_commit"] = commits.last().cloned().unwrap_or(Value::Null);
    push["commits"] = Value::Array(commits);
    serde_json::to_vec(&push).unwrap()
}

/// An envelope as the router hands it to plugins (SPEC section 5), for `wasmhook plugin run`.
pub fn envelope(source: &str, event_type: &str, body: &[u8], config: Value) -> Value {
    json!({
        "id": "evt_e2e",
        "source": source,
        "type": event_type,
        "received_at": "2026-11-28T17:30:00.123Z",
        "request": {
            "method": "POST",
            "path": format!("/hooks/{source}"),
            "query": {},
            "headers": { "content-type": "application/json", "x-github-event": event_type },
        },
        "headers": {},
        "body": serde_json::from_slice::<Value>(body).expect("envelope body is JSON"),
        "config": config,
    })
}
