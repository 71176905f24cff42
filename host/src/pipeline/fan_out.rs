//! What one transform makes of one event on a route, against its bounds: at most
//! `max_messages` messages, adding up to at most `max_messages_size` bytes.
//!
//! Both count every call of the transform for the event (after a transform that fanned the
//! event out, the next one is called once per message), so a chain cannot multiply past them.
//! The bytes count what each message holds once made, carried fields included: a message
//! that sets no `body` carries a copy of its envelope's, and 1,000 of them on a 1 MiB body
//! would be a gigabyte. Both are checked on a call's output before any message is built, so a
//! runaway fan-out costs no more than the output it wrote and the bytes up to the bound.

use serde_json::value::RawValue;

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
        output: &RawValue,
    ) -> Result<Vec<Envelope>, PluginError> {
        let settings = &self.plugin.settings;
        let mut parts = envelope::split_output(output).map_err(PluginError::BadOutput)?;
        let messages = self.messages.saturating_add(parts.len());
        if messages > settings.max_messages {
            return Err(PluginError::TooManyMessages {
                limit: settings.max_messages,
                plugin: self.plugin.name.clone(),
            });
        }
        let mut bytes = self.bytes;
        for part in &mut parts {
            if let Some(kept) = headers::keep_sendable(self.plugin, part) {
                headers::within_limits(&kept)?;
            }
            bytes = bytes.saturating_add(merged_size(parent, part));
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

/// The size of the message `part` becomes merged into `parent`: its own fields and those it
/// carries, each as its key and JSON text.
fn merged_size(parent: &Envelope, part: &Envelope) -> u64 {
    let own: u64 = part.iter().map(|(key, value)| field_size(key, value)).sum();
    let carried: u64 = parent
        .iter()
        .filter(|(key, _)| envelope::carries(part, key))
        .map(|(key, value)| field_size(key, value))
        .sum();
    own + carried
}

fn field_size(key: &str, value: &RawValue) -> u64 {
    (key.len() + value.get().len()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(json: &str) -> Envelope {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_message_counts_what_it_sets_and_what_it_carries() {
        let parent = object(&format!(
            r#"{{"body": "{}", "id": "evt"}}"#,
            "x".repeat(1000)
        ));
        // `key` and `"k"`, then the carried `body` and `id`.
        let carrying = object(r#"{"key": "k"}"#);
        assert_eq!(
            merged_size(&parent, &carrying),
            3 + 3 + (4 + 1002) + (2 + 5)
        );
        let replacing = object(r#"{"body": "short"}"#);
        assert_eq!(merged_size(&parent, &replacing), (4 + 7) + (2 + 5));
    }
}
