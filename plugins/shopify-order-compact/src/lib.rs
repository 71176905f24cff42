//! A transform that turns Shopify order webhooks (`orders/create`, `orders/updated`,
//! `orders/paid`) into a compact JSON order for a fulfilment service: id, name, dates,
//! total, customer, shipping address and lines. The message's ordering `key` and its
//! `x-shopify-order-id` header are the order id, so that with `ordering = "per-key"` the
//! updates of one order arrive in order. Other topics are dropped.
//!
//! Config (optional): `topics`, the topics to transform (default the three above).

use serde::Deserialize;
use wasmhook_plugin_sdk::serde_json::Map;
use wasmhook_plugin_sdk::{Envelope, Error, Message, Output, Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_topics")]
    topics: Vec<String>,
}

fn default_topics() -> Vec<String> {
    ["orders/create", "orders/updated", "orders/paid"]
        .map(String::from)
        .to_vec()
}

/// The shipping address fields a carrier label needs.
const ADDRESS_FIELDS: &[&str] = &[
    "name",
    "company",
    "address1",
    "address2",
    "city",
    "province",
    "province_code",
    "zip",
    "country",
    "country_code",
    "phone",
];

#[wasmhook_plugin_sdk::transform]
fn shopify_order_compact(e: Envelope) -> Result<Output, Error> {
    let config: Config = e.config_as()?;
    // The host sets `type` from `X-Shopify-Topic`; fall back to the header itself.
    let topic = e
        .event_type
        .as_deref()
        .or_else(|| e.header("x-shopify-topic"))
        .unwrap_or_default();
    if !config.topics.iter().any(|t| t == topic) {
        return Ok(Output::drop());
    }
    // A webhook sends the bare order; the REST resource wraps it as `{"order": {...}}`.
    let order = match e.body.get("order") {
        Some(inner) if inner.is_object() && e.body.get("id").is_none() => inner,
        _ => &e.body,
    };
    let id = match &order["id"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.is_empty() => s.clone(),
        _ => {
            return Err(Error::new(format!(
                "{topic} body is not a Shopify order (no `id`)"
            )));
        }
    };
    let body = compact(order);
    let mut headers = e.headers.clone();
    headers.insert("x-shopify-order-id".into(), id.clone());
    Ok(Message::new(body).headers(headers).key(id).into())
}

/// The compact order.
fn compact(order: &Value) -> Value {
    let lines: Vec<Value> = order["line_items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|line| {
            json!({
                "sku": line["sku"],
                "title": line["title"],
                "quantity": line["quantity"],
                "price": line["price"],
            })
        })
        .collect();
    json!({
        "order_id": order["id"],
        "name": order["name"],
        "created_at": order["created_at"],
        "currency": order["currency"],
        "total": order["total_price"],
        "customer": customer(order),
        "shipping_address": address(&order["shipping_address"]),
        "lines": lines,
    })
}

/// `{"name", "email"}`: the customer's name, else the name on the shipping or billing
/// address; the order's email, else the customer's.
fn customer(order: &Value) -> Value {
    let customer = &order["customer"];
    let full_name = [&customer["first_name"], &customer["last_name"]]
        .into_iter()
        .filter_map(Value::as_str)
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let name = Some(full_name)
        .filter(|name| !name.is_empty())
        .or_else(|| non_empty(&order["shipping_address"]["name"]))
        .or_else(|| non_empty(&order["billing_address"]["name"]));
    let email = non_empty(&order["email"])
        .or_else(|| non_empty(&order["contact_email"]))
        .or_else(|| non_empty(&customer["email"]));
    json!({ "name": name, "email": email })
}

/// The essential fields of an address (missing ones as `null`), or `null` without one (an
/// order with nothing to ship).
fn address(address: &Value) -> Value {
    if !address.is_object() {
        return Value::Null;
    }
    let fields: Map<String, Value> = ADDRESS_FIELDS
        .iter()
        .map(|&field| (field.to_string(), address[field].clone()))
        .collect();
    Value::Object(fields)
}

fn non_empty(value: &Value) -> Option<String> {
    value
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

#[cfg(test)]
mod tests;
