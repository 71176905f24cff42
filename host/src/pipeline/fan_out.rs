//! What one transform makes of one event on a route, against its bounds: at most
//! `max_messages` messages, adding up to at most `max_messages_size` bytes.
//!
//! Both count every call of the transform for the event (after a transform that fanned the
//! event out, the next one is called once per message), so a chain cannot multiply past them.
//! The bytes count what each message holds once made, carried fields included: a message
//! that sets no `body` carries a copy of its envelope's, and 1,000 of them on a 1 MiB body
//! would be a gigabyte. Both are checked on a call's output before any message is built, so a
//! runaway fan-out costs no more than the output it wrote and the bytes up to the bound.

use std::cell::OnceCell;

use serde_json::{Map, Value};

use crate::plugin::{Plugin, PluginError};

use super::envelope::{self, Envelope};
use super::headers;

/// The messages and bytes a transform has made of one event so far.
pub struct FanOut<'p> {
    plugin: &'p Plugin,
    messages: usize,
    bytes: u64,
}

impl<'p> FanOut<'p> {
    pub fn new(plugin: &'p Plugin) -> FanOut<'p> {
        FanOut {
            plugin,
            messages: 0,
            bytes: 0,
        }
    }

    /// Reads the output of one call on `parent`: the messages to merge into it, without the
    /// headers the router does not send, or the plugin error that puts them over a bound.
    /// What it accepts counts against the bounds of the next calls.
    pub fn take(
        &mut self,
        parent: &Envelope,
        output: Value,
    ) -> Result<Vec<Map<String, Value>>, PluginError> {
        let settings = &self.plugin.settings;
        let mut parts = envelope::split_output(output).map_err(PluginError::BadOutput)?;
        let messages = self.messages.saturating_add(parts.len());
        if messages > settings.max_messages {
            return Err(PluginError::TooManyMessages {
                limit: settings.max_messages,
                plugin: self.plugin.name.clone(),
            });
        }
        let carried = Carried::new(parent);
        let mut bytes = self.bytes;
        for part in &mut parts {
            headers::keep_sendable(self.plugin, part);
            headers::within_limits(part)?;
            bytes = bytes.saturating_add(carried.size_of(part));
            if bytes > settings.max_messages_size {
                return Err(PluginError::MessagesTooLarge {
                    limit: settings.max_messages_size,
                    plugin: self.plugin.name.clone(),
                });
            }
        }
        (self.messages, self.bytes) = (messages, bytes);
        Ok(parts)
    }
}

/// The envelope a call's messages are made of. Each field's size is measured once, the first
/// time a message carries it: most transforms set their own body and never carry the
/// envelope's, the largest field.
struct Carried<'e> {
    fields: Vec<(&'e String, &'e Value, OnceCell<u64>)>,
}

impl<'e> Carried<'e> {
    fn new(envelope: &'e Envelope) -> Carried<'e> {
        let fields = envelope
            .iter()
            .map(|(key, value)| (key, value, OnceCell::new()))
            .collect();
        Carried { fields }
    }

    /// The size of the message `part` becomes merged into this envelope: its own fields and
    /// those it carries, each as its key and JSON value.
    fn size_of(&self, part: &Map<String, Value>) -> u64 {
        let own: u64 = part.iter().map(|(key, value)| field_size(key, value)).sum();
        let carried: u64 = self
            .fields
            .iter()
            .filter(|(key, _, _)| envelope::carries(part, key))
            .map(|(key, value, size)| *size.get_or_init(|| field_size(key, value)))
            .sum();
        own + carried
    }
}

fn field_size(key: &str, value: &Value) -> u64 {
    key.len() as u64 + json_len(value)
}

/// The length of `value` as JSON, counted without building the text.
fn json_len(value: &Value) -> u64 {
    struct Counter(u64);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len() as u64;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, value).expect("a JSON value serialises");
    counter.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn a_message_counts_what_it_sets_and_what_it_carries() {
        let parent = object(json!({"body": "x".repeat(1000), "id": "evt"}));
        let carried = Carried::new(&parent);
        // `key` and `"k"`, then the carried `body` and `id`.
        let carrying = object(json!({"key": "k"}));
        assert_eq!(carried.size_of(&carrying), 3 + 3 + (4 + 1002) + (2 + 5));
        let replacing = object(json!({"body": "short"}));
        assert_eq!(carried.size_of(&replacing), (4 + 7) + (2 + 5));
    }

    #[test]
    fn json_len_is_the_length_of_the_json_text() {
        let value = json!({"a": [1, "two", null], "é": true});
        assert_eq!(
            json_len(&value),
            serde_json::to_vec(&value).unwrap().len() as u64
        );
    }
}
