//! A command plugin (a WASI program: envelope on stdin, result on stdout) that fans a GitHub
//! push out into one message per commit. A push without commits is dropped.

use wasmhook_plugin_sdk::{Envelope, Message, Output, json};

pub fn split_commits(e: Envelope) -> Output {
    let Some(commits) = e.body["commits"].as_array() else {
        return Output::drop();
    };
    let repository = &e.body["repository"]["full_name"];
    let git_ref = &e.body["ref"];
    commits
        .iter()
        .map(|commit| {
            let id = commit["id"].as_str().unwrap_or_default();
            let body = json!({
                "repository": repository,
                "ref": git_ref,
                "commit": {
                    "id": id,
                    "message": commit["message"],
                    "author": commit["author"],
                    "url": commit["url"],
                    "timestamp": commit["timestamp"],
                },
            });
            Message::new(body).key(id).header("x-commit-id", id)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmhook_plugin_sdk::Value;

    fn push(commits: Value) -> Envelope {
        Envelope {
            event_type: Some("push".into()),
            body: json!({
                "ref": "refs/heads/main",
                "repository": {"full_name": "acme/api"},
                "commits": commits,
            }),
            ..Envelope::default()
        }
    }

    #[test]
    fn one_message_per_commit() {
        let author = json!({"name": "Alice", "email": "alice@example.com", "username": "alice"});
        let output = split_commits(push(json!([
            {"id": "aaa", "message": "first", "author": author, "url": "https://x/aaa",
             "timestamp": "2026-11-28T17:30:00Z", "added": ["x"]},
            {"id": "bbb", "message": "second", "author": author, "url": "https://x/bbb",
             "timestamp": "2026-11-28T17:31:00Z"},
        ])));
        let messages = output.messages();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].key.as_deref(), Some("aaa"));
        assert_eq!(messages[1].headers.as_ref().unwrap()["x-commit-id"], "bbb");
        assert_eq!(
            messages[0].body.as_ref().unwrap(),
            &json!({
                "repository": "acme/api",
                "ref": "refs/heads/main",
                "commit": {"id": "aaa", "message": "first", "author": author,
                           "url": "https://x/aaa", "timestamp": "2026-11-28T17:30:00Z"},
            })
        );
    }

    #[test]
    fn no_commits_is_a_drop() {
        assert!(split_commits(push(json!([]))).is_drop());
        assert!(split_commits(Envelope::default()).is_drop());
    }

    #[test]
    fn the_host_sees_an_array() {
        let input = br#"{"type":"push","body":{"commits":[{"id":"c1"}]}}"#;
        let out = wasmhook_plugin_sdk::run::transform(input, split_commits).unwrap();
        let value: Value = wasmhook_plugin_sdk::serde_json::from_slice(&out).unwrap();
        assert_eq!(value[0]["key"], "c1");
        assert_eq!(value[0]["headers"], json!({"x-commit-id": "c1"}));
    }
}
