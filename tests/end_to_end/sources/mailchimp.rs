//! MailChimp (Marketing) webhooks are not signed: the URL given to MailChimp carries a secret,
//! `/hooks/NAME/SECRET` or `?secret=SECRET`. The type is the form field `type`; MailChimp sends
//! no delivery id and no timestamp to check. MailChimp checks a new URL with a `GET`.

use crate::common::providers::*;

const SECRET: &str = "s3cr3t-9f2";
const WIRING: &str =
    "[sources.list]\nverify = { scheme = \"mailchimp\", secret = \"s3cr3t-9f2\" }\n";

/// MailChimp's documented `subscribe` example, as it POSTs it.
const SUBSCRIBE: &str = "type=subscribe&fired_at=2009-03-26+21%3A35%3A57&data%5Bid%5D=8a25ff1d98&data%5Blist_id%5D=a6b5da1054&data%5Bemail%5D=api%40mailchimp.com&data%5Bemail_type%5D=html&data%5Bmerges%5D%5BEMAIL%5D=api%40mailchimp.com&data%5Bmerges%5D%5BFNAME%5D=Mailchimp&data%5Bip_opt%5D=10.20.10.30&data%5Bip_signup%5D=10.20.10.30";
/// Its `upemail` example.
const UPEMAIL: &str = "type=upemail&fired_at=2009-03-26+22%3A15%3A09&data%5Blist_id%5D=a6b5da1054&data%5Bnew_id%5D=51da8c3259&data%5Bnew_email%5D=api%2Bnew%40mailchimp.com&data%5Bold_email%5D=api%2Bold%40mailchimp.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_with_the_secret_are_stored_and_the_get_check_is_answered() {
    let router = Router::start(WIRING).await;
    let hooks = Hooks::new(&router);

    for path in [
        format!("list/{SECRET}"),
        format!("list/{SECRET}/"),
        format!("list?secret={SECRET}"),
    ] {
        hooks.answers(request("GET", &path), 200, b"").await;
        hooks
            .accepts(post(&path, SUBSCRIBE).form(), Some("subscribe"))
            .await;
    }
    hooks
        .accepts(
            post(&format!("list/{SECRET}"), UPEMAIL).form(),
            Some("upemail"),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_the_secret_are_refused_and_nothing_is_stored() {
    let router = Router::start(WIRING).await;
    let hooks = Hooks::new(&router);
    let missing = hooks
        .refuses(post("list", SUBSCRIBE).form(), "no secret in the URL")
        .await;
    assert!(missing.contains("no secret"), "{missing}");
    for path in ["list/s3cr3t-9f3", "list?secret=s3cr3t", "list/S3CR3T-9F2"] {
        hooks
            .refuses(post(path, SUBSCRIBE).form(), &format!("POST /hooks/{path}"))
            .await;
        hooks
            .refuses(request("GET", path), &format!("GET /hooks/{path}"))
            .await;
    }
    hooks
        .refuses(request("GET", "list"), "GET without the secret")
        .await;
}
