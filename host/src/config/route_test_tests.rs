//! What `[[tests]]` tables turn into. The messages for bad ones are in `host/tests/ui`
//! (`tests_*.toml`).

use std::path::{Path, PathBuf};

use serde_json::json;

use super::*;

const WIRING: &str = r#"
[sources.github]
[plugins.to-chat]
wasm = "to_chat.wasm"
[subscribers.chat]
url = "http://127.0.0.1:9000/chat"
[subscribers.commits]
url = "http://127.0.0.1:9000/commits"
[[routes]]
source = "github"
transforms = ["to-chat"]
subscribers = ["chat", "commits"]
"#;

fn parse(tests: &str) -> Result<Config, ConfigErrors> {
    let text = format!("{WIRING}{tests}");
    Config::parse(Path::new("/srv/hooks/routes.toml"), &text, &|_| None)
}

#[test]
fn reads_each_kind_of_body_and_expectation() {
    let config = parse(
        r#"
[[tests]]
name = "from a file"
source = "github"
file = "fixtures/push.json"
headers = { "X-GitHub-Event" = "push" }
[tests.expect]
chat = [{ body = { text = "hi" }, headers = { "X-Team" = "platform" } }, { body = "plain" }]
commits = "dropped"

[[tests]]
name = "inline json"
source = "github"
json = { ref = "refs/heads/main", n = 1 }
expect = { chat = [] }

[[tests]]
name = "text"
source = "github"
body = "a=1"
expect = { commits = "dropped" }
"#,
    )
    .unwrap();
    assert_eq!(config.tests.len(), 3);
    let file = &config.tests[0];
    assert_eq!(file.name, "from a file");
    assert_eq!(file.source, "github");
    assert_eq!(
        file.body,
        TestBody::File(PathBuf::from("/srv/hooks/fixtures/push.json"))
    );
    assert_eq!(file.headers, [("x-github-event".into(), "push".into())]);
    assert_eq!(
        file.expect["chat"],
        Expectation::Messages(vec![
            ExpectedMessage {
                body: json!({"text": "hi"}),
                headers: vec![("x-team".into(), "platform".into())],
            },
            ExpectedMessage {
                body: json!("plain"),
                headers: Vec::new(),
            },
        ])
    );
    assert_eq!(file.expect["commits"], Expectation::Dropped);
    assert_eq!((file.location.line, file.location.column), (14, 1));
    assert_eq!(
        config.tests[1].body,
        TestBody::Json(json!({"ref": "refs/heads/main", "n": 1}))
    );
    assert_eq!(
        config.tests[1].expect["chat"],
        Expectation::Messages(vec![])
    );
    assert_eq!(config.tests[2].body, TestBody::Text("a=1".into()));
}

#[test]
fn no_tests_is_fine() {
    assert!(parse("").unwrap().tests.is_empty());
}

fn messages(tests: &str) -> Vec<String> {
    parse(tests)
        .unwrap_err()
        .0
        .into_iter()
        .map(|d| d.message)
        .collect()
}

#[test]
fn a_test_needs_one_body_and_an_expectation() {
    assert_eq!(
        messages("[[tests]]\nname = \"t\"\nsource = \"github\"\n"),
        [
            "test \"t\" has no request body; give one of `body` (a string), `json` (any value) or `file` (a path)",
            "missing key `expect` in test \"t\"; say what each subscriber must get, e.g. [tests.expect] chat = [{ body = { text = \"...\" } }] or commits = \"dropped\"",
        ]
    );
    assert_eq!(
        messages(
            "[[tests]]\nname = \"t\"\nsource = \"github\"\nbody = \"x\"\njson = 1\nexpect = { chat = \"dropped\" }\n"
        ),
        ["test \"t\" has `body` and `json`; give only one request body"]
    );
}

#[test]
fn names_must_exist_and_be_reached() {
    let tests = r#"
[[tests]]
name = "t"
source = "gitlab"
body = "x"
expect = { chta = "dropped" }
"#;
    assert_eq!(
        messages(tests),
        [
            "test \"t\": no source named \"gitlab\"; did you mean \"github\"?",
            "test \"t\": no subscriber named \"chta\"; did you mean \"chat\"?",
        ]
    );
}
