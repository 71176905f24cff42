//! The request headers that are the router's own on every delivery, which neither a plugin's
//! message nor a subscriber's `headers` may set: those that frame the request (`host`,
//! `content-length`, `transfer-encoding`, `trailer`), the hop-by-hop ones that manage the
//! connection, and the Standard Webhooks `webhook-*` headers that identify and sign the
//! message. A forged `host` or framing header would make the request mean something other
//! than what the router sends; a forged `webhook-*` header would pass another message's
//! identity or signature to a subscriber that trusts them.

/// Why `name` (in any case) is the router's to set, if it is. Asked for every header of every
/// delivery and plugin output, so it compares without allocating.
pub fn reserved(name: &str) -> Option<&'static str> {
    const FRAMING: &[&str] = &["host", "content-length", "transfer-encoding", "trailer"];
    const HOP_BY_HOP: &[&str] = &[
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "upgrade",
    ];
    let is_one_of = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(name));
    if is_one_of(FRAMING) {
        Some("it frames the request")
    } else if is_one_of(HOP_BY_HOP) {
        Some("it is hop-by-hop")
    } else if name
        .get(..WEBHOOK.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(WEBHOOK))
    {
        Some("it identifies and signs the message")
    } else {
        None
    }
}

/// The prefix of the Standard Webhooks headers.
const WEBHOOK: &str = "webhook-";

#[cfg(test)]
mod tests {
    use super::reserved;

    #[test]
    fn framing_hop_by_hop_and_webhook_headers_are_the_routers() {
        for name in [
            "host",
            "content-length",
            "transfer-encoding",
            "connection",
            "upgrade",
            "webhook-id",
            "webhook-signature",
            "webhook-anything",
            "Host",
            "Webhook-Id",
            "CONTENT-LENGTH",
        ] {
            assert!(reserved(name).is_some(), "{name}");
        }
        for name in [
            "content-type",
            "x-team",
            "authorization",
            "webhooks",
            "user-agent",
        ] {
            assert!(reserved(name).is_none(), "{name}");
        }
    }
}
