//! Every provider a source can name, through the real listener: each fixture vector and payload
//! (`../shared/fixtures/`) is stored with the provider's event `type`; a tampered body, a wrong
//! secret, a stale timestamp and a missing signature are refused `401` with nothing stored; each
//! handshake is answered byte for byte as the provider expects, and not stored. Schemes that
//! check timestamps run on a router whose clock is pinned to the vector's time
//! (`[server] clock`). One file per scheme; the harness is `common/providers.rs`.

mod eventgrid;
mod github;
mod hmac_sha256;
mod mailchimp;
mod mailgun;
mod mandrill;
mod openstack;
mod paypal;
mod sendgrid;
mod shopify;
mod slack;
mod sns;
mod standard_webhooks;
mod stripe;
mod websub;
