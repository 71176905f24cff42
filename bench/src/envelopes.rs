//! Scenario 5: what each example plugin costs per event, on an envelope of about 2 KiB of the
//! kind it is written for, measured by `wasmhook plugin run --repeat`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// One example plugin and the event it is measured on.
pub struct Example {
    pub file: &'static str,
    pub language: &'static str,
    pub filter: bool,
    /// A function plugin, which can keep warm instances (`reuse = true`).
    pub function: bool,
    pub envelope: fn() -> Value,
    /// The plugin's `config`, as JSON.
    pub config: &'static str,
}

/// A plugin's entry point: envelope JSON in, result JSON out.
pub type Handle = fn(&[u8]) -> Result<Vec<u8>, String>;

/// A function plugin: a transform, with an empty `config`.
const TRANSFORM: Example = Example {
    file: "",
    language: "Rust",
    filter: false,
    function: true,
    envelope: github_push,
    config: "{}",
};

pub const EXAMPLES: &[Example] = &[
    Example {
        file: "push_only.wasm",
        filter: true,
        ..TRANSFORM
    },
    Example {
        file: "github_to_slack.wasm",
        ..TRANSFORM
    },
    Example {
        file: "split_commits.wasm",
        language: "Rust, command",
        function: false,
        ..TRANSFORM
    },
    Example {
        file: "stripe_to_slack.wasm",
        envelope: stripe_charge,
        ..TRANSFORM
    },
    Example {
        file: "shopify_order_compact.wasm",
        envelope: shopify_order,
        ..TRANSFORM
    },
    Example {
        file: "sns_unwrap.wasm",
        language: "Rust, command component",
        function: false,
        envelope: sns_notification,
        ..TRANSFORM
    },
    Example {
        file: "drop_bots.wasm",
        language: "C, command",
        filter: true,
        function: false,
        ..TRANSFORM
    },
    Example {
        file: "sendgrid_bounces.wasm",
        language: "Zig",
        envelope: sendgrid_batch,
        ..TRANSFORM
    },
    Example {
        file: "github_to_discord.wasm",
        language: "Go",
        ..TRANSFORM
    },
    Example {
        file: "form_to_json.wasm",
        language: "Python",
        envelope: mailchimp_form,
        ..TRANSFORM
    },
    Example {
        file: "redact.wasm",
        language: "JavaScript",
        envelope: stripe_charge,
        config: r#"{"paths": ["/data/object/billing_details/*"], "emails": true, "card_numbers": true}"#,
        ..TRANSFORM
    },
    Example {
        file: "sample.wasm",
        language: "AssemblyScript",
        filter: true,
        config: r#"{"percent": 50}"#,
        ..TRANSFORM
    },
];

/// An envelope around `body`, padded with a `padding` field of the body to about 2 KiB.
fn envelope(source: &str, event_type: &str, mut body: Value) -> Value {
    let length = serde_json::to_vec(&body).map_or(0, |b| b.len());
    if let Some(object) = body.as_object_mut() {
        object.insert(
            "padding".into(),
            "x".repeat(2048usize.saturating_sub(length + 300)).into(),
        );
    }
    json!({
        "id": "evt_01JDX3Q4Z9BENCH000000000000",
        "source": source,
        "type": event_type,
        "received_at": "2026-11-28T17:30:00.123Z",
        "request": { "method": "POST", "path": format!("/hooks/{source}"), "query": {},
                     "headers": { "content-type": "application/json" } },
        "headers": {},
        "body": body,
        "config": {},
    })
}

fn github_push() -> Value {
    let commit = |n: u32| {
        json!({
            "id": format!("9f2c1e4b7a8d6e5f4a3b2c1d0e9f8a7b6c5d4e{n:02}"),
            "message": format!("Fix the login redirect ({n})"),
            "url": format!("https://github.com/acme/api/commit/9f2c1e4b7a{n:02}"),
            "timestamp": "2026-11-28T17:30:00Z",
            "author": { "name": "Alice", "email": "alice@example.com" },
        })
    };
    envelope(
        "github",
        "push",
        json!({
            "ref": "refs/heads/main",
            "repository": { "full_name": "acme/api", "html_url": "https://github.com/acme/api" },
            "pusher": { "name": "alice" },
            "sender": { "login": "alice", "type": "User" },
            "compare": "https://github.com/acme/api/compare/6113728f27ae...9f2c1e4b7a8d",
            "commits": [commit(1), commit(2), commit(3)],
            "head_commit": commit(3),
        }),
    )
}

fn stripe_charge() -> Value {
    envelope(
        "stripe",
        "charge.succeeded",
        json!({
            "id": "evt_3MtwBwLkdIwHu7ix0snN0B15",
            "type": "charge.succeeded",
            "data": { "object": {
                "id": "ch_3MtwBwLkdIwHu7ix28a3tqPa", "object": "charge", "amount": 1099,
                "currency": "usd", "paid": true, "status": "succeeded",
                "receipt_email": "jenny.rosen@example.com",
                "billing_details": { "email": "jenny.rosen@example.com", "name": "Jenny Rosen",
                                     "phone": "+15555555555" },
                "payment_method_details": { "card": { "brand": "visa", "last4": "4242" } },
            } },
        }),
    )
}

fn shopify_order() -> Value {
    envelope(
        "shopify",
        "orders/create",
        json!({
            "id": 450789469, "name": "#1001", "email": "bob@example.com", "currency": "USD",
            "total_price": "598.94", "financial_status": "paid",
            "customer": { "id": 207119551, "first_name": "Bob", "last_name": "Norman" },
            "line_items": [
                { "id": 466157049, "title": "IPod Nano - 8gb", "quantity": 1, "price": "199.00", "sku": "IPOD2008GREEN" },
                { "id": 518995019, "title": "IPod Nano - 8gb", "quantity": 1, "price": "199.00", "sku": "IPOD2008RED" },
            ],
        }),
    )
}

fn sns_notification() -> Value {
    envelope(
        "sns",
        "Notification",
        json!({
            "Type": "Notification",
            "MessageId": "6c7b3d8e-0000-4000-8000-000000000001",
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:orders",
            "Message": "{\"order\":42}",
            "Timestamp": "2026-11-28T17:30:00.000Z",
        }),
    )
}

fn sendgrid_batch() -> Value {
    let event = |kind: &str, n: u32| {
        json!({ "email": format!("user{n}@example.com"), "event": kind, "timestamp": 1461095250,
                "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
                "status": "5.1.1", "sg_event_id": format!("lC0Rc-FuQmKbnxCWxX1jR{n}") })
    };
    let mut body = envelope("sendgrid", "", json!({}));
    body["type"] = Value::Null;
    body["body"] = json!([
        event("bounce", 1),
        event("delivered", 2),
        event("dropped", 3),
        event("open", 4),
        event("bounce", 5),
        event("processed", 6)
    ]);
    body
}

fn mailchimp_form() -> Value {
    envelope(
        "mailchimp",
        "subscribe",
        json!({
            "type": "subscribe", "fired_at": "2026-11-28 17:30:00",
            "data[id]": "8a25ff1d98", "data[list_id]": "a6b5da1054",
            "data[email]": "api@mailchimp.com", "data[email_type]": "html",
            "data[merges][EMAIL]": "api@mailchimp.com", "data[merges][FNAME]": "Mailchimp",
            "data[merges][LNAME]": "API", "data[merges][INTERESTS]": "Group1,Group2",
            "data[ip_opt]": "10.20.10.30", "data[ip_signup]": "10.20.10.30",
        }),
    )
}

/// The example's envelope as the host hands it to the plugin: with the plugin's `config`.
pub fn envelope_bytes(example: &Example) -> anyhow::Result<Vec<u8>> {
    let mut envelope = (example.envelope)();
    envelope["config"] = serde_json::from_str(example.config)?;
    Ok(serde_json::to_vec(&envelope)?)
}

/// Per-call p50 and mean of the native build over `calls` calls, after as many warm-up calls.
pub fn time_native(handle: Handle, envelope: &[u8], calls: u32) -> anyhow::Result<Timing> {
    let calls = calls.max(2) as usize;
    let mut took = Vec::with_capacity(calls);
    for round in 0..2 * calls {
        let start = Instant::now();
        let result = handle(std::hint::black_box(envelope));
        let elapsed = start.elapsed();
        if let Err(message) = result {
            bail!("the native build failed: {message}");
        }
        if round >= calls {
            took.push(elapsed);
        }
    }
    took.sort_unstable();
    let micros = |duration: Duration| duration.as_secs_f64() * 1e6;
    Ok(Timing {
        first: "-".into(),
        p50_us: micros(took[calls / 2]),
        mean_us: micros(took.iter().sum::<Duration>() / calls as u32),
    })
}

/// The figures of one `plugin run --repeat`.
pub struct Timing {
    pub first: String,
    pub p50_us: f64,
    pub mean_us: f64,
}

impl Timing {
    /// The one with the lower p50.
    pub fn lower(a: Timing, b: Timing) -> Timing {
        if b.p50_us < a.p50_us { b } else { a }
    }
}

/// `wasmhook plugin run --repeat calls [--reuse]` on the example's envelope and config.
pub fn time_calls(
    wasmhook: &Path,
    wasm: &Path,
    example: &Example,
    calls: u32,
    reuse: bool,
) -> anyhow::Result<Timing> {
    let mut command = Command::new(wasmhook);
    command
        .args(["plugin", "run"])
        .arg(wasm)
        .args(["--config", example.config])
        .args(["--repeat", &calls.max(2).to_string(), "--timeout", "10s"]);
    if example.filter {
        command.arg("--filter");
    }
    if reuse {
        command.arg("--reuse");
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running wasmhook plugin run")?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(&serde_json::to_vec(&(example.envelope)())?)?;
    let output = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("`wasmhook plugin run {}` failed:\n{stderr}", wasm.display());
    }
    let field = |line: &str, after: &str, until: &str| -> Option<String> {
        let rest = &line[line.find(after)? + after.len()..];
        Some(rest[..rest.find(until)?].trim().to_owned())
    };
    let first = stderr
        .lines()
        .find_map(|l| field(l, "ran in ", ","))
        .context("no `ran in` line")?;
    let repeated = stderr
        .lines()
        .find(|l| l.starts_with("then "))
        .context("no `then N calls` line")?;
    let micros = |name: &str| -> anyhow::Result<f64> {
        let figure =
            field(repeated, &format!("{name} "), " µs").with_context(|| format!("no {name}"))?;
        Ok(figure.parse()?)
    };
    Ok(Timing {
        first,
        p50_us: micros("p50")?,
        mean_us: micros("mean")?,
    })
}
