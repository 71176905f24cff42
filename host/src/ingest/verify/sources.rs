//! The certificate-based schemes, given what they need beyond the request (the certificate
//! store, an HTTP client) so that they answer the same calls as every other scheme.

use std::time::Duration;

use super::certificates::Certificates;
use super::incoming::{Handshake, Incoming};
use super::{Rejection, paypal, sendgrid, sns};

pub struct Paypal {
    scheme: paypal::Paypal,
    certificates: Certificates,
}

impl Paypal {
    pub fn new(webhook_id: &str, certificates: Certificates) -> Paypal {
        Paypal {
            scheme: paypal::Paypal::new(webhook_id.to_owned()),
            certificates,
        }
    }

    pub async fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        self.scheme.verify(req, &self.certificates).await
    }

    pub async fn handshake(&self, _req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        None
    }

    pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
        paypal::event_type(req.body)
    }

    pub fn delivery_id(&self, req: &Incoming<'_>) -> Option<String> {
        paypal::delivery_id(req.body)
    }
}

pub struct Sns {
    scheme: sns::Sns,
    certificates: Certificates,
    /// Confirms subscriptions by fetching their `SubscribeURL`.
    http: reqwest::Client,
}

impl Sns {
    pub fn new(topics: &[String], certificates: Certificates, http: reqwest::Client) -> Sns {
        Sns {
            scheme: sns::Sns::new(topics.to_vec()),
            certificates,
            http,
        }
    }

    pub async fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        self.scheme.verify(req, &self.certificates).await
    }

    pub async fn handshake(&self, req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        self.scheme.handshake(req, &self.http).await
    }

    pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
        sns::event_type(req.body)
    }

    pub fn delivery_id(&self, req: &Incoming<'_>) -> Option<String> {
        sns::delivery_id(req.body)
    }
}

pub struct Sendgrid {
    scheme: sendgrid::Sendgrid,
}

impl Sendgrid {
    pub fn new(public_key: &str, tolerance: Duration) -> Result<Sendgrid, String> {
        Ok(Sendgrid {
            scheme: sendgrid::Sendgrid::new(public_key, tolerance)?,
        })
    }

    pub async fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        self.scheme.verify(req)
    }

    pub async fn handshake(&self, _req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        None
    }

    pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
        sendgrid::event_type(req.body)
    }

    pub fn delivery_id(&self, req: &Incoming<'_>) -> Option<String> {
        sendgrid::delivery_id(req.body)
    }
}
