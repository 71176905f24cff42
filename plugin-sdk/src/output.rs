//! What a transform returns.

use serde::{Serialize, Serializer};

use crate::{Envelope, Message};

/// The result of a transform: drop the event, one message, or several (fan-out).
///
/// Serialised as the host expects: `null`, an object, or an array of objects.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Drop the event: nothing is delivered.
    Drop,
    /// One message.
    One(Message),
    /// Several messages; an empty list drops the event.
    Many(Vec<Message>),
}

impl Output {
    /// Drops the event.
    pub fn drop() -> Self {
        Self::Drop
    }

    /// The envelope unchanged: the identity transform.
    pub fn identity(envelope: Envelope) -> Self {
        Self::One(Message::from(envelope))
    }

    /// The messages of this output, in order.
    pub fn messages(&self) -> &[Message] {
        match self {
            Self::Drop => &[],
            Self::One(m) => std::slice::from_ref(m),
            Self::Many(ms) => ms,
        }
    }

    /// `true` when no message comes out.
    pub fn is_drop(&self) -> bool {
        self.messages().is_empty()
    }

    /// The JSON the host reads.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising maps with string keys and `serde_json::Value`s cannot fail.
        serde_json::to_vec(self).expect("an output serialises to JSON")
    }
}

impl Serialize for Output {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Drop => serializer.serialize_unit(),
            Self::One(m) => m.serialize(serializer),
            Self::Many(ms) => ms.serialize(serializer),
        }
    }
}

impl From<Message> for Output {
    fn from(m: Message) -> Self {
        Self::One(m)
    }
}

impl From<Vec<Message>> for Output {
    fn from(ms: Vec<Message>) -> Self {
        Self::Many(ms)
    }
}

impl From<Option<Message>> for Output {
    fn from(m: Option<Message>) -> Self {
        m.map_or(Self::Drop, Self::One)
    }
}

impl From<Envelope> for Output {
    fn from(e: Envelope) -> Self {
        Self::identity(e)
    }
}

impl FromIterator<Message> for Output {
    fn from_iter<I: IntoIterator<Item = Message>>(iter: I) -> Self {
        Self::Many(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn json_of(o: Output) -> Value {
        serde_json::from_slice(&o.to_json()).unwrap()
    }

    #[test]
    fn drop_is_null() {
        assert_eq!(json_of(Output::drop()), Value::Null);
        assert!(Output::drop().is_drop());
        assert!(Output::from(Vec::new()).is_drop());
        assert!(Output::from(None).is_drop());
    }

    #[test]
    fn one_is_an_object_and_many_an_array() {
        assert_eq!(json_of(Message::new(1).into()), json!({"body": 1}));
        let many: Output = (1..=2).map(Message::new).collect();
        assert_eq!(many.messages().len(), 2);
        assert_eq!(json_of(many), json!([{"body": 1}, {"body": 2}]));
    }

    #[test]
    fn identity_is_the_envelope() {
        let input = json!({
            "id": "evt_1", "source": "github", "type": "push", "received_at": "t",
            "request": {"method": "POST", "path": "/hooks/github", "query": {}, "headers": {}},
            "headers": {}, "body": {"ref": "refs/heads/main"}, "config": {}
        });
        let e: Envelope = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(json_of(e.into()), input);
    }
}
