//! The certificate-based schemes, given what they need beyond the request (the certificate
//! store, an HTTP client) so that they answer the same calls as every other scheme.

use std::time::Duration;

use super::certificates::Certificates;
use super::incoming::{Handshake, Incoming};
use super::{Rejection, openstack, paypal, sendgrid, sns};

pub struct Paypal {
    scheme: paypal::Paypal,
    certificates: Certificates,
}

impl Paypal {
    pub fn new(webhook_id: &str, tolerance: Duration, certificates: Certificates) -> Paypal {
        Paypal {
            scheme: paypal::Paypal::new(webhook_id.to_owned(), tolerance),
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

    pub fn replay_key(&self, req: &Incoming<'_>) -> Option<String> {
        paypal::replay_key(req)
    }
}

pub struct Sns {
    scheme: sns::Sns,
    certificates: Certificates,
    /// Confirms subscriptions by fetching their `SubscribeURL`.
    http: reqwest::Client,
}

impl Sns {
    pub fn new(
        topics: &[String],
        tolerance: Duration,
        certificates: Certificates,
        http: reqwest::Client,
    ) -> Sns {
        Sns {
            scheme: sns::Sns::new(topics.to_vec(), tolerance),
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

    /// `MessageId`, which is signed.
    pub fn replay_key(&self, req: &Incoming<'_>) -> Option<String> {
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

    pub fn replay_key(&self, req: &Incoming<'_>) -> Option<String> {
        sendgrid::replay_key(req)
    }
}

pub struct Openstack {
    scheme: openstack::Openstack,
    /// Confirms Zaqar subscriptions.
    http: reqwest::Client,
}

impl Openstack {
    pub fn new(secret: Option<String>, http: reqwest::Client) -> Openstack {
        Openstack {
            scheme: openstack::Openstack::new(secret),
            http,
        }
    }

    pub async fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        self.scheme.verify(req)
    }

    /// Answers like the scheme; a Zaqar `SubscriptionConfirmation` to a source with a secret
    /// is confirmed first, and a failed confirmation is a 502 so that Zaqar tries again.
    pub async fn handshake(&self, req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        let answer = self.scheme.handshake(req)?;
        let Some(confirmation) = openstack::zaqar_confirmation(req.body) else {
            return Some(answer);
        };
        if !self.scheme.authenticates() {
            tracing::warn!(
                url = %confirmation.url,
                "Zaqar subscription not confirmed: give the source a secret so that wasmhook may act on it"
            );
            return Some(answer);
        }
        Some(self.confirm(confirmation).await.and(answer))
    }

    async fn confirm(&self, confirmation: openstack::ZaqarConfirmation) -> Result<(), Rejection> {
        let mut request = self
            .http
            .put(&confirmation.url)
            .header("client-id", client_id())
            .body(confirmation.body);
        for (name, value) in &confirmation.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let failed = |why: String| Rejection {
            status: 502,
            message: format!(
                "cannot confirm the Zaqar subscription at {}: {why}",
                confirmation.url
            ),
        };
        let response = request
            .send()
            .await
            .map_err(|error| failed(error.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("it answered {}", response.status())));
        }
        tracing::info!(url = %confirmation.url, "Zaqar subscription confirmed");
        Ok(())
    }

    pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
        self.scheme.event_type(req)
    }

    pub fn delivery_id(&self, req: &Incoming<'_>) -> Option<String> {
        self.scheme.delivery_id(req)
    }
}

/// A random UUID (version 4), the form Zaqar wants in `Client-ID`.
fn client_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
