//! Identifiers: a prefix saying what it names, and a ULID so ids sort by creation time.

pub fn event_id() -> String {
    format!("evt_{}", ulid::Ulid::new())
}

pub fn message_id() -> String {
    format!("msg_{}", ulid::Ulid::new())
}

/// Six hex digits, to tell apart the runs of a node that keeps its name.
pub fn short_random() -> String {
    format!("{:06x}", rand::random::<u32>() & 0xff_ffff)
}
