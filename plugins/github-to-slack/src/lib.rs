//! A transform that turns GitHub `push`, `pull_request`, `issues`, `release` and `ping`
//! events into Slack incoming-webhook messages (`{"text": ...}` in Slack mrkdwn). Other
//! events are dropped.
//!
//! Config (optional): `channel`, added to the message as `"channel"`.

mod slack;

use serde::Deserialize;
use wasmhook_plugin_sdk::{Envelope, Error, Output, Value, json};

use slack::{escape, first_line, link};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    channel: Option<String>,
}

#[wasmhook_plugin_sdk::transform]
fn github_to_slack(e: Envelope) -> Result<Output, Error> {
    let config: Config = e.config_as()?;
    let body = &e.body;
    let text = match e.event_type.as_deref() {
        Some("push") => push(body),
        Some("pull_request") => pull_request(body),
        Some("issues") => issue(body),
        Some("release") => release(body),
        Some("ping") => ping(body),
        _ => return Ok(Output::drop()),
    };
    let mut message = json!({ "text": text });
    if let Some(channel) = config.channel {
        message["channel"] = channel.into();
    }
    Ok(wasmhook_plugin_sdk::Message::new(message).into())
}

fn str_at<'a>(body: &'a Value, pointer: &str) -> &'a str {
    body.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Who did it: the sender's login, else the pusher's name.
fn actor(body: &Value) -> String {
    let login = str_at(body, "/sender/login");
    let name = if login.is_empty() {
        str_at(body, "/pusher/name")
    } else {
        login
    };
    format!(
        "*{}*",
        escape(if name.is_empty() { "someone" } else { name })
    )
}

fn repository(body: &Value) -> String {
    link(
        str_at(body, "/repository/html_url"),
        str_at(body, "/repository/full_name"),
    )
}

fn push(body: &Value) -> String {
    let git_ref = str_at(body, "/ref");
    let branch = git_ref
        .strip_prefix("refs/heads/")
        .or_else(|| git_ref.strip_prefix("refs/tags/"))
        .unwrap_or(git_ref);
    let target = format!("{}:{}", repository(body), escape(branch));
    if body["deleted"].as_bool() == Some(true) {
        return format!("{} deleted {target}", actor(body));
    }
    let commits = body["commits"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let noun = if commits.len() == 1 {
        "commit"
    } else {
        "commits"
    };
    let mut text = format!(
        "{} pushed {} {noun} to {target}",
        actor(body),
        commits.len()
    );
    for commit in commits {
        let id = str_at(commit, "/id");
        let short = id.get(..7).unwrap_or(id);
        let message = first_line(str_at(commit, "/message"));
        text.push_str(&format!(
            "\n• {} {}",
            link(str_at(commit, "/url"), short),
            escape(message)
        ));
    }
    text
}

/// `opened`, `closed` (or `merged`), `reopened`, ... as words.
fn verb(body: &Value) -> String {
    let action = str_at(body, "/action");
    if action == "closed" && body.pointer("/pull_request/merged") == Some(&Value::Bool(true)) {
        return "merged".into();
    }
    match action {
        "" => "updated".into(),
        "synchronize" => "pushed to".into(),
        other => other.replace('_', " "),
    }
}

fn pull_request(body: &Value) -> String {
    let number = &body["pull_request"]["number"];
    let title = format!("#{number} {}", str_at(body, "/pull_request/title"));
    let pr = link(str_at(body, "/pull_request/html_url"), &title);
    format!(
        "{} {} pull request {pr} in {}",
        actor(body),
        verb(body),
        repository(body)
    )
}

fn issue(body: &Value) -> String {
    let number = &body["issue"]["number"];
    let title = format!("#{number} {}", str_at(body, "/issue/title"));
    let issue = link(str_at(body, "/issue/html_url"), &title);
    format!(
        "{} {} issue {issue} in {}",
        actor(body),
        verb(body),
        repository(body)
    )
}

fn release(body: &Value) -> String {
    let tag = str_at(body, "/release/tag_name");
    let name = str_at(body, "/release/name");
    let label = if name.is_empty() || name == tag {
        tag.to_string()
    } else {
        format!("{tag} {name}")
    };
    let release = link(str_at(body, "/release/html_url"), &label);
    format!(
        "{} {} release {release} in {}",
        actor(body),
        verb(body),
        repository(body)
    )
}

fn ping(body: &Value) -> String {
    let target = if body.pointer("/repository").is_some() {
        repository(body)
    } else {
        escape(str_at(body, "/organization/login"))
    };
    format!(
        "GitHub webhook for {target} is set up: _{}_",
        escape(str_at(body, "/zen"))
    )
}

#[cfg(test)]
mod tests;
