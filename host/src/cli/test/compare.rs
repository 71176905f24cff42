//! What a subscriber got, against what a test expects of it.
//!
//! Both sides are rendered to JSON in the same shape (`"dropped"`, or a list of
//! `{"body": ..., "headers": {...}}`) showing only what the test checks: the headers it names,
//! no others. The subscriber passes when the two renderings are equal, and their pretty-printed
//! forms are what a failure diffs.

use serde_json::{Map, Value as Json, json};

use crate::config::{Expectation, ExpectedMessage};

/// A message a route made for the subscriber.
pub enum Actual {
    /// To be delivered: its body and the headers it would be sent with.
    Message {
        body: bytes::Bytes,
        headers: http::HeaderMap,
    },
    /// Stopped by a plugin failure, kept as a dead letter.
    Dead(String),
}

/// `(expected, actual)`, rendered alike.
pub fn render(expectation: &Expectation, actual: &[Actual]) -> (Json, Json) {
    let expected_messages: &[ExpectedMessage] = match expectation {
        Expectation::Dropped => &[],
        Expectation::Messages(messages) => messages,
    };
    let expected = match expectation {
        Expectation::Dropped => json!("dropped"),
        Expectation::Messages(messages) => messages.iter().map(render_expected).collect(),
    };
    let actual = if actual.is_empty() {
        json!("dropped")
    } else {
        actual
            .iter()
            .enumerate()
            .map(|(i, message)| render_actual(message, expected_messages.get(i)))
            .collect()
    };
    (expected, actual)
}

fn render_expected(message: &ExpectedMessage) -> Json {
    let mut out = Map::new();
    out.insert("body".into(), message.body.clone());
    if !message.headers.is_empty() {
        let headers = message
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), Json::String(value.clone())))
            .collect();
        out.insert("headers".into(), Json::Object(headers));
    }
    Json::Object(out)
}

/// `like`: the expected message at the same position, whose header names are the ones shown.
fn render_actual(message: &Actual, like: Option<&ExpectedMessage>) -> Json {
    let (body, headers) = match message {
        Actual::Dead(reason) => return json!({ "dead_letter": reason }),
        Actual::Message { body, headers } => (body, headers),
    };
    let mut out = Map::new();
    out.insert("body".into(), body_json(body, like.map(|m| &m.body)));
    let wanted = like.map(|m| m.headers.as_slice()).unwrap_or_default();
    if !wanted.is_empty() {
        let shown = wanted
            .iter()
            .map(|(name, _)| {
                let value = headers
                    .get(name)
                    .map_or(Json::Null, |v| String::from_utf8_lossy(v.as_bytes()).into());
                (name.clone(), value)
            })
            .collect();
        out.insert("headers".into(), Json::Object(shown));
    }
    Json::Object(out)
}

/// The body parsed as JSON; as a string when it is not JSON, or when the test expects this
/// very text (a string body is sent as is, so `"42"` goes out as `42`).
fn body_json(body: &[u8], expected: Option<&Json>) -> Json {
    let text = String::from_utf8_lossy(body);
    if let Some(Json::String(wanted)) = expected
        && *wanted == text
    {
        return Json::String(text.into_owned());
    }
    serde_json::from_slice(body).unwrap_or_else(|_| Json::String(text.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str, headers: &[(&str, &str)]) -> Actual {
        let mut map = http::HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        Actual::Message {
            body: bytes::Bytes::from(body.to_owned()),
            headers: map,
        }
    }

    fn expected(body: Json, headers: &[(&str, &str)]) -> ExpectedMessage {
        ExpectedMessage {
            body,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn headers_are_a_subset_and_bodies_compare_as_json() {
        let want = Expectation::Messages(vec![expected(json!({"a": 1}), &[("x-id", "7")])]);
        let got = [message(
            r#"{ "a" : 1 }"#,
            &[("x-id", "7"), ("x-other", "y")],
        )];
        let (e, a) = render(&want, &got);
        assert_eq!(e, a);
    }

    #[test]
    fn a_missing_header_shows_as_null() {
        let want = Expectation::Messages(vec![expected(json!(1), &[("x-id", "7")])]);
        let (e, a) = render(&want, &[message("1", &[])]);
        assert_ne!(e, a);
        assert_eq!(a, json!([{"body": 1, "headers": {"x-id": null}}]));
    }

    #[test]
    fn a_text_body_matches_the_expected_string() {
        let want = Expectation::Messages(vec![expected(json!("42"), &[])]);
        let (e, a) = render(&want, &[message("42", &[])]);
        assert_eq!(e, a);
        let (e, a) = render(&want, &[message("hello", &[])]);
        assert_ne!(e, a);
        assert_eq!(a, json!([{"body": "hello"}]));
    }

    #[test]
    fn dropped_means_no_message_and_no_dead_letter() {
        let (e, a) = render(&Expectation::Dropped, &[]);
        assert_eq!(e, a);
        let (e, a) = render(&Expectation::Dropped, &[Actual::Dead("trap".into())]);
        assert_ne!(e, a);
        assert_eq!(a, json!([{"dead_letter": "trap"}]));
    }
}
