//! A transform that turns Stripe `payment_intent.*` events (succeeded, payment_failed,
//! canceled, requires_action, ...) into Slack incoming-webhook messages (`{"text": ...}` in
//! Slack mrkdwn): the amount in the currency's major units, the customer, the reason of a
//! failure or cancellation, and a link to the payment in the Stripe dashboard. Other events
//! are dropped.
//!
//! Config (optional): `channel`, added to the message as `"channel"`.

mod money;

use serde::Deserialize;
use wasmhook_plugin_sdk::{Envelope, Error, Message, Output, Value, json};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    channel: Option<String>,
}

const PREFIX: &str = "payment_intent.";

#[wasmhook_plugin_sdk::transform]
fn stripe_to_slack(e: Envelope) -> Result<Output, Error> {
    let config: Config = e.config_as()?;
    // The host sets `type` from the event's `type`; a hand-made envelope may only have the
    // body.
    let event_type = e
        .event_type
        .as_deref()
        .or_else(|| e.body_str("/type"))
        .unwrap_or_default();
    let Some(what) = event_type.strip_prefix(PREFIX) else {
        return Ok(Output::drop());
    };
    let intent = &e.body["data"]["object"];
    if !intent.is_object() {
        return Err(Error::new(format!(
            "{event_type} event without a data.object payment intent"
        )));
    }
    let live = e.body["livemode"]
        .as_bool()
        .or_else(|| intent["livemode"].as_bool())
        .unwrap_or(true);
    let text = text(what, intent, live);
    let mut message = json!({ "text": text });
    if let Some(channel) = config.channel {
        message["channel"] = channel.into();
    }
    Ok(Message::new(message).into())
}

/// The whole message: a headline, then the customer, the reason and the link, one per line.
fn text(what: &str, intent: &Value, live: bool) -> String {
    let (emoji, verb) = headline(what);
    let mut headline = format!("{emoji} Payment {verb}");
    if let Some(amount) = amount(what, intent) {
        headline.push_str(&format!(": *{amount}*"));
    }
    if !live {
        headline.push_str(" (test mode)");
    }
    let mut lines = vec![headline];
    let description = str_at(intent, "/description");
    if !description.is_empty() {
        lines.push(format!("Description: {}", escape(description)));
    }
    if let Some(customer) = customer(intent, live) {
        lines.push(format!("Customer: {customer}"));
    }
    if let Some(reason) = reason(what, intent) {
        lines.push(reason);
    }
    let id = str_at(intent, "/id");
    if !id.is_empty() {
        lines.push(link(&dashboard(live, "payments", id), id));
    }
    lines.join("\n")
}

/// An emoji and what happened, from the part of the type after `payment_intent.`.
fn headline(what: &str) -> (&'static str, String) {
    let (emoji, verb) = match what {
        "succeeded" => (":white_check_mark:", "succeeded"),
        "payment_failed" => (":x:", "failed"),
        "canceled" => (":no_entry_sign:", "canceled"),
        "requires_action" => (":warning:", "requires action"),
        "processing" => (":hourglass_flowing_sand:", "processing"),
        "created" => (":new:", "created"),
        "amount_capturable_updated" => (":moneybag:", "ready to capture"),
        "partially_funded" => (":heavy_minus_sign:", "partially funded"),
        other => return (":information_source:", escape(&other.replace('_', " "))),
    };
    (emoji, verb.to_string())
}

/// The amount that matters for this event, formatted: what was received for a success,
/// what can be captured once capturable, the intent's amount otherwise.
fn amount(what: &str, intent: &Value) -> Option<String> {
    let field = match what {
        "succeeded" => "amount_received",
        "amount_capturable_updated" => "amount_capturable",
        _ => "amount",
    };
    let value = intent[field]
        .as_i64()
        .filter(|&amount| amount > 0 || field == "amount")
        .or_else(|| intent["amount"].as_i64())?;
    let currency = intent["currency"].as_str()?;
    Some(money::format(value, currency))
}

/// `Jenny Rosen · jenny@example.com · <dashboard link|cus_123>`, from whatever the intent
/// carries: an expanded or bare `customer`, `receipt_email`, the billing details of its
/// charge (API versions before 2022-11-15 embed `charges`) or of the payment method that
/// failed, and `shipping`.
fn customer(intent: &Value, live: bool) -> Option<String> {
    let customer = &intent["customer"];
    let id = customer
        .as_str()
        .or_else(|| customer["id"].as_str())
        .unwrap_or_default();
    let billing = [
        "/charges/data/0/billing_details",
        "/last_payment_error/payment_method/billing_details",
    ]
    .into_iter()
    .filter_map(|pointer| intent.pointer(pointer))
    .collect::<Vec<_>>();
    let name = first_non_empty(
        std::iter::once(customer["name"].as_str())
            .chain(billing.iter().map(|b| b["name"].as_str()))
            .chain(std::iter::once(intent["shipping"]["name"].as_str())),
    );
    let email = first_non_empty(
        [intent["receipt_email"].as_str(), customer["email"].as_str()]
            .into_iter()
            .chain(billing.iter().map(|b| b["email"].as_str())),
    );
    let id = if id.is_empty() {
        String::new()
    } else {
        link(&dashboard(live, "customers", id), id)
    };
    let parts: Vec<String> = [name, email, id]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// Why it failed, was canceled or is waiting.
fn reason(what: &str, intent: &Value) -> Option<String> {
    match what {
        "payment_failed" => {
            let error = &intent["last_payment_error"];
            let message = str_at(error, "/message");
            let codes: Vec<&str> = ["/code", "/decline_code"]
                .into_iter()
                .map(|pointer| str_at(error, pointer))
                .filter(|code| !code.is_empty())
                .collect();
            let mut reason = if message.is_empty() {
                "no reason given".to_string()
            } else {
                escape(message)
            };
            if !codes.is_empty() {
                reason.push_str(&format!(" (`{}`)", escape(&codes.join(": "))));
            }
            Some(format!("Reason: {reason}"))
        }
        "canceled" => {
            let why = str_at(intent, "/cancellation_reason");
            (!why.is_empty()).then(|| format!("Reason: {}", escape(&why.replace('_', " "))))
        }
        "requires_action" => {
            let next = str_at(intent, "/next_action/type");
            (!next.is_empty()).then(|| format!("Next action: `{}`", escape(next)))
        }
        _ => None,
    }
}

/// `https://dashboard.stripe.com/[test/]<what>/<id>`.
fn dashboard(live: bool, what: &str, id: &str) -> String {
    let mode = if live { "" } else { "test/" };
    format!("https://dashboard.stripe.com/{mode}{what}/{id}")
}

/// The first present, non-empty string, escaped; empty when there is none.
fn first_non_empty<'a>(candidates: impl IntoIterator<Item = Option<&'a str>>) -> String {
    candidates
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty())
        .map(escape)
        .unwrap_or_default()
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Escapes the three characters Slack's mrkdwn gives a meaning to.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `<url|label>`.
fn link(url: &str, label: &str) -> String {
    format!("<{}|{}>", escape(url), escape(label).replace('|', "¦"))
}

#[cfg(test)]
mod tests;
