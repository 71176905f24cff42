//! The admin API can replay events, reload the wiring and show every payload: without an
//! `admin_token` it serves only this machine. On an address other hosts can reach it warns
//! at start and refuses their requests; and it refuses a `Host` that is not a loopback name,
//! which is what a web page uses when it points a name of its own at 127.0.0.1 (DNS
//! rebinding).

use crate::common::raw::{RawClient, head, status_of};
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_on_every_address_without_a_token_warns_and_still_serves_loopback() {
    let router = Router::start_with_admin("0.0.0.0:0", "", "[sources.plain]\n").await;
    let warning = router
        .wait_for_log("the warning about an unprotected admin API", WAIT, |line| {
            line.contains("WARN") && line.contains("admin_token")
        })
        .await;
    assert!(
        warning.contains("0.0.0.0"),
        "the warning names the address: {warning}"
    );
    let routes = router.admin_get("/api/routes").await;
    assert!(routes["routes"].is_array(), "{routes}");
}

/// `METHOD path` on the admin listener with `Host: host`; the raw answer.
async fn admin_request(router: &Router, method: &str, path: &str, host: &str) -> String {
    let mut client = RawClient::connect(router.admin_url()).await;
    let headers = [("host", host), ("connection", "close")];
    client.exchange(head(method, path, 0, &headers)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_name_is_refused_without_a_token() {
    let router = Router::start("[sources.plain]\n").await;
    let answer = admin_request(&router, "POST", "/api/reload", "evil.example").await;
    assert_eq!(status_of(&answer), 403, "{answer}");
    assert!(
        answer.contains("admin_token") && answer.contains("127.0.0.1"),
        "the refusal names the fix: {answer}"
    );

    let answer = admin_request(&router, "GET", "/api/routes", "localhost:8081").await;
    assert_eq!(status_of(&answer), 200, "{answer}");
}
