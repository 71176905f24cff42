//! `GET /api/openapi.json`: the admin API described in OpenAPI 3.1, for clients and tools.
//! Written by hand beside the handlers; a test holds it to the routes the router is built
//! from ([`super::API_ROUTES`]).

use axum::http::header;
use axum::response::IntoResponse;

pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// `{name}` in axum's paths and OpenAPI's alike.
    #[test]
    fn the_description_has_every_route_of_the_router_and_no_other() {
        let document: serde_json::Value = serde_json::from_str(DOCUMENT).expect("valid JSON");
        assert_eq!(document["openapi"], "3.1.0");
        let mut described = BTreeSet::new();
        for (path, operations) in document["paths"].as_object().expect("paths") {
            for method in operations.as_object().expect("operations").keys() {
                if method != "parameters" {
                    described.insert((method.clone(), path.clone()));
                }
            }
        }
        let served: BTreeSet<(String, String)> = super::super::API_ROUTES
            .iter()
            .map(|(method, path)| (method.to_string(), path.to_string()))
            .collect();
        let missing: Vec<_> = served.difference(&described).collect();
        let stale: Vec<_> = described.difference(&served).collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "routes served but not described: {missing:?}; described but not served: {stale:?}"
        );
    }
}
