//! Identifiers: a prefix saying what it names, and a ULID so ids sort by creation time.

pub fn event_id() -> String {
    format!("evt_{}", ulid::Ulid::new())
}

pub fn message_id() -> String {
    format!("msg_{}", ulid::Ulid::new())
}
