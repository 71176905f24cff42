//! MailChimp (Marketing) list webhooks: MailChimp signs nothing, so the webhook URL carries
//! a secret, either as the path after the source (`/hooks/{source}/{secret}`) or as the
//! query parameter `secret`, compared in constant time. MailChimp checks a new webhook URL
//! with a `GET`, answered 200 when the secret is right.
//!
//! Bodies are form-encoded: `type=subscribe&fired_at=...&data[email]=...`.

use subtle::ConstantTimeEq;
use url::form_urlencoded;

use super::Rejection;
use super::incoming::{Handshake, Incoming};

pub struct Mailchimp {
    secret: Vec<u8>,
}

impl Mailchimp {
    pub fn new(secret: &str) -> Mailchimp {
        Mailchimp {
            secret: secret.as_bytes().to_vec(),
        }
    }

    pub fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        let in_path = req.rest.strip_suffix('/').unwrap_or(req.rest);
        let in_query = req.query.get("secret").map_or("", String::as_str);
        let matches =
            self.secret.ct_eq(in_path.as_bytes()) | self.secret.ct_eq(in_query.as_bytes());
        if bool::from(matches) && !self.secret.is_empty() {
            Ok(())
        } else if in_path.is_empty() && in_query.is_empty() {
            Err(Rejection::unauthorized(
                "the URL carries no secret: give MailChimp the webhook URL /hooks/{source}/{secret} or ?secret={secret}",
            ))
        } else {
            Err(Rejection::unauthorized(
                "the secret in the URL is not the source's secret",
            ))
        }
    }

    /// The form field `type`: `subscribe`, `unsubscribe`, `profile`, `upemail`, `cleaned` or
    /// `campaign`.
    pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
        form_urlencoded::parse(req.body)
            .find(|(name, _)| name == "type")
            .map(|(_, value)| value.into_owned())
    }

    /// MailChimp gives a delivery no id.
    pub fn delivery_id(&self, _req: &Incoming<'_>) -> Option<String> {
        None
    }

    /// MailChimp's URL check: `GET` with the right secret is answered 200, empty; with a
    /// wrong or missing secret, 401.
    pub fn handshake(&self, req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        if *req.method == http::Method::GET {
            Some(self.verify(req).map(|()| Handshake::empty(200)))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::super::test_support::TestRequest;
    use super::*;

    /// The shape of MailChimp's documented `subscribe` webhook (no MailChimp fixture exists).
    const SUBSCRIBE: &[u8] = b"type=subscribe&fired_at=2009-03-26+21%3A35%3A57&data%5Bid%5D=8a25ff1d98&data%5Blist_id%5D=a6b5da1054&data%5Bemail%5D=api%40mailchimp.com&data%5Bemail_type%5D=html&data%5Bmerges%5D%5BEMAIL%5D=api%40mailchimp.com&data%5Bip_opt%5D=10.20.10.30";

    fn check(
        method: &Method,
        rest: &str,
        query: &[(&str, &str)],
        body: &[u8],
    ) -> (Result<(), Rejection>, Option<Result<Handshake, Rejection>>) {
        let mut request = TestRequest::post("https://hooks.example.com/hooks/list", body)
            .method(method.clone())
            .rest(rest);
        for (name, value) in query {
            request = request.query(name, value);
        }
        let req = request.incoming();
        let mailchimp = Mailchimp::new("s3cr3t-9f2");
        (mailchimp.verify(&req), mailchimp.handshake(&req))
    }

    #[test]
    fn the_secret_in_the_path_or_the_query_is_accepted() {
        assert_eq!(
            check(&Method::POST, "s3cr3t-9f2", &[], SUBSCRIBE),
            (Ok(()), None)
        );
        assert_eq!(
            check(&Method::POST, "s3cr3t-9f2/", &[], SUBSCRIBE),
            (Ok(()), None)
        );
        assert_eq!(
            check(&Method::POST, "", &[("secret", "s3cr3t-9f2")], SUBSCRIBE),
            (Ok(()), None)
        );
    }

    #[test]
    fn a_wrong_or_missing_secret_is_rejected() {
        let (wrong, _) = check(&Method::POST, "s3cr3t-9f3", &[], SUBSCRIBE);
        assert_eq!(wrong.unwrap_err().status, 401);
        let (wrong, _) = check(&Method::POST, "", &[("secret", "s3cr3t")], SUBSCRIBE);
        assert_eq!(wrong.unwrap_err().status, 401);
        let (missing, _) = check(&Method::POST, "", &[], SUBSCRIBE);
        let missing = missing.unwrap_err();
        assert_eq!(missing.status, 401);
        assert!(missing.message.contains("no secret"), "{}", missing.message);
    }

    #[test]
    fn an_empty_configured_secret_accepts_nothing() {
        let request = TestRequest::post("", SUBSCRIBE).now(0);
        let req = request.incoming();
        assert!(Mailchimp::new("").verify(&req).is_err());
    }

    #[test]
    fn the_get_check_is_answered_only_with_the_secret() {
        let (_, answer) = check(&Method::GET, "s3cr3t-9f2", &[], b"");
        assert_eq!(answer, Some(Ok(Handshake::empty(200))));
        let (_, answer) = check(&Method::GET, "", &[("secret", "s3cr3t-9f2")], b"");
        assert_eq!(answer, Some(Ok(Handshake::empty(200))));
        let (_, answer) = check(&Method::GET, "nope", &[], b"");
        assert_eq!(answer.unwrap().unwrap_err().status, 401);
        let (_, answer) = check(&Method::GET, "", &[], b"");
        assert_eq!(answer.unwrap().unwrap_err().status, 401);
        let (_, answer) = check(&Method::HEAD, "s3cr3t-9f2", &[], b"");
        assert_eq!(answer, None);
    }

    #[test]
    fn the_type_is_the_form_field() {
        let request = TestRequest::post("", SUBSCRIBE).now(0);
        let req = request.incoming();
        let mailchimp = Mailchimp::new("x");
        assert_eq!(mailchimp.event_type(&req).as_deref(), Some("subscribe"));
        assert_eq!(mailchimp.delivery_id(&req), None);
    }
}
