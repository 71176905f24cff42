use super::*;
use wasmhook_plugin_sdk::Output;

fn event(event_type: &str, body: Value) -> Envelope {
    Envelope {
        source: "github".into(),
        event_type: Some(event_type.into()),
        body,
        config: json!({}),
        ..Envelope::default()
    }
}

fn text_of(output: Output) -> String {
    let messages = output.messages();
    assert_eq!(messages.len(), 1, "{output:?}");
    let body = messages[0].body.as_ref().unwrap();
    body["text"].as_str().unwrap().to_string()
}

fn repo() -> Value {
    json!({"full_name": "acme/api", "html_url": "https://github.com/acme/api"})
}

#[test]
fn a_push_lists_its_commits() {
    let body = json!({
        "ref": "refs/heads/main",
        "deleted": false,
        "repository": repo(),
        "pusher": {"name": "alice"},
        "sender": {"login": "alice"},
        "commits": [
            {"id": "abc1234def5678", "message": "Fix <script> & friends\n\nDetails",
             "url": "https://github.com/acme/api/commit/abc1234def5678"},
            {"id": "0123456789", "message": "Second",
             "url": "https://github.com/acme/api/commit/0123456789"},
            {"id": "fedcba987", "message": "Third", "url": "https://github.com/acme/api/commit/fedcba987"}
        ]
    });
    let text = text_of(github_to_slack(event("push", body)).unwrap());
    assert_eq!(
        text,
        "*alice* pushed 3 commits to <https://github.com/acme/api|acme/api>:main\n\
         • <https://github.com/acme/api/commit/abc1234def5678|abc1234> Fix &lt;script&gt; &amp; friends\n\
         • <https://github.com/acme/api/commit/0123456789|0123456> Second\n\
         • <https://github.com/acme/api/commit/fedcba987|fedcba9> Third"
    );
}

#[test]
fn one_commit_is_singular_and_deletions_say_so() {
    let body = json!({"ref": "refs/heads/dev", "repository": repo(), "pusher": {"name": "bob"},
                      "commits": [{"id": "1", "message": "m", "url": ""}]});
    let text = text_of(github_to_slack(event("push", body)).unwrap());
    assert_eq!(
        text,
        "*bob* pushed 1 commit to <https://github.com/acme/api|acme/api>:dev\n• 1 m"
    );
    let body = json!({"ref": "refs/heads/old", "deleted": true, "repository": repo(),
                      "sender": {"login": "bob"}, "commits": []});
    let text = text_of(github_to_slack(event("push", body)).unwrap());
    assert_eq!(
        text,
        "*bob* deleted <https://github.com/acme/api|acme/api>:old"
    );
}

#[test]
fn pull_requests_issues_and_releases() {
    let pr = json!({"action": "closed", "repository": repo(), "sender": {"login": "carol"},
                    "pull_request": {"number": 42, "title": "Add retries", "merged": true,
                                     "html_url": "https://github.com/acme/api/pull/42"}});
    assert_eq!(
        text_of(github_to_slack(event("pull_request", pr)).unwrap()),
        "*carol* merged pull request <https://github.com/acme/api/pull/42|#42 Add retries> in <https://github.com/acme/api|acme/api>"
    );
    let issue = json!({"action": "opened", "repository": repo(), "sender": {"login": "dan"},
                       "issue": {"number": 7, "title": "Crash", "html_url": "https://github.com/acme/api/issues/7"}});
    assert_eq!(
        text_of(github_to_slack(event("issues", issue)).unwrap()),
        "*dan* opened issue <https://github.com/acme/api/issues/7|#7 Crash> in <https://github.com/acme/api|acme/api>"
    );
    let release = json!({"action": "published", "repository": repo(), "sender": {"login": "erin"},
                         "release": {"tag_name": "v1.2.0", "name": "Spring",
                                     "html_url": "https://github.com/acme/api/releases/v1.2.0"}});
    assert_eq!(
        text_of(github_to_slack(event("release", release)).unwrap()),
        "*erin* published release <https://github.com/acme/api/releases/v1.2.0|v1.2.0 Spring> in <https://github.com/acme/api|acme/api>"
    );
}

#[test]
fn ping_says_the_hook_is_set_up() {
    let body = json!({"zen": "Keep it logically awesome.", "hook_id": 1, "repository": repo()});
    assert_eq!(
        text_of(github_to_slack(event("ping", body)).unwrap()),
        "GitHub webhook for <https://github.com/acme/api|acme/api> is set up: _Keep it logically awesome._"
    );
}

#[test]
fn other_events_are_dropped() {
    assert!(github_to_slack(event("star", json!({}))).unwrap().is_drop());
    let mut untyped = event("push", json!({}));
    untyped.event_type = None;
    assert!(github_to_slack(untyped).unwrap().is_drop());
}

#[test]
fn channel_comes_from_config() {
    let mut e = event(
        "ping",
        json!({"zen": "z", "organization": {"login": "acme"}}),
    );
    e.config = json!({"channel": "#deploys"});
    let output = github_to_slack(e).unwrap();
    let body = output.messages()[0].body.clone().unwrap();
    assert_eq!(
        body,
        json!({"text": "GitHub webhook for acme is set up: _z_", "channel": "#deploys"})
    );
}

#[test]
fn the_host_sees_one_object() {
    let input = br#"{"type": "ping", "body": {"zen": "z"}, "config": {}}"#;
    let out = wasmhook_plugin_sdk::run::transform(input, github_to_slack).unwrap();
    let value: Value = wasmhook_plugin_sdk::serde_json::from_slice(&out).unwrap();
    assert!(value["body"]["text"].is_string(), "{value}");
}
