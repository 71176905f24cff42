//! Signing certificates that providers publish at a URL named in each delivery (PayPal
//! `PAYPAL-CERT-URL`, SNS `SigningCertURL`).
//!
//! A certificate comes from a PEM file pinned for its URL in config (tests, air-gapped sites),
//! or else is fetched over HTTPS, and only from the provider's own hosts ([`HostRule`]): the URL
//! is chosen by whoever sends the request, so fetching from anywhere else would let a forger
//! sign with a key of their own. Fetches follow no redirect, give up after 5 seconds, read at
//! most 64 KiB, and happen at most [`FETCHES_PER_MINUTE`] times a minute; parsed certificates
//! are kept in memory by URL (at most 64). A failed fetch is a 401: the provider redelivers
//! later.
//!
//! The certificate's validity period is checked by the schemes against the router's clock
//! ([`Certificate::check_valid_at`]), so tests can verify old fixtures with a fixed clock.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ring::signature::{self as ring_signature, UnparsedPublicKey};
use url::Url;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, DecodePem};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::spki::SubjectPublicKeyInfoRef;

use super::Rejection;
use crate::telemetry;

/// How long one certificate fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest certificate body read from a provider.
pub const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;
/// How many certificates are fetched a minute from one provider (a [`HostRule`]), all its URLs
/// together; each provider has its own count, so that a flood naming one provider's URLs
/// does not hold back another's certificates. A provider changes its
/// signing certificate about once a year, but the URL is the sender's to choose: without this,
/// every request naming a new URL on the provider's host would make wasmhook call that host,
/// for up to [`FETCH_TIMEOUT`] each. Past it, a request naming a certificate not yet known is
/// answered 503 (the provider retries); a known one is served from memory as before.
pub const FETCHES_PER_MINUTE: u32 = 10;
/// How many fetched certificates are kept in memory; the oldest is dropped first.
pub const CACHE_CAPACITY: usize = 64;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// Where a certificate URL may point: a provider's own hosts, over HTTPS.
#[derive(Clone, Copy)]
pub struct HostRule {
    /// Says which hosts are allowed, for error messages.
    name: &'static str,
    allows: fn(&Url) -> bool,
}

impl HostRule {
    /// PayPal's REST API hosts, live and sandbox (`https://api.paypal.com/v1/notifications/certs/…`).
    pub const PAYPAL: HostRule = HostRule {
        name: "https://api.paypal.com or https://api.sandbox.paypal.com",
        allows: paypal_url,
    };

    /// Amazon SNS signing certificates: `https://sns.<region>.amazonaws.com[.cn]/….pem`, the
    /// rule of the AWS SNS message validators.
    pub const SNS: HostRule = HostRule {
        name: "https://sns.<region>.amazonaws.com/….pem",
        allows: sns_certificate_url,
    };

    /// Amazon SNS endpoints, for `SubscribeURL`: `https://sns.<region>.amazonaws.com[.cn]/…`.
    pub const SNS_ENDPOINT: HostRule = HostRule {
        name: "https://sns.<region>.amazonaws.com",
        allows: sns_endpoint_url,
    };

    /// A rule of a test's own, e.g. a server on 127.0.0.1 over plain HTTP.
    #[cfg(test)]
    pub(crate) const fn custom(name: &'static str, allows: fn(&Url) -> bool) -> HostRule {
        HostRule { name, allows }
    }

    /// The URL, parsed, if the rule allows it; else a 401 that says where URLs may point.
    pub fn check(&self, what: &str, url: &str) -> Result<Url, Rejection> {
        match Url::parse(url) {
            Ok(parsed) if (self.allows)(&parsed) => Ok(parsed),
            Ok(_) => Err(Rejection::unauthorized(format!(
                "{what} {url} is not on {}; refusing to fetch it",
                self.name
            ))),
            Err(_) => Err(Rejection::unauthorized(format!(
                "{what} {url} is not a URL"
            ))),
        }
    }
}

/// HTTPS on the default port, no credentials in the URL.
fn plain_https(url: &Url) -> bool {
    url.scheme() == "https"
        && url.port().is_none()
        && url.username().is_empty()
        && url.password().is_none()
}

fn paypal_url(url: &Url) -> bool {
    const HOSTS: [&str; 4] = [
        "api.paypal.com",
        "api.sandbox.paypal.com",
        "api-m.paypal.com",
        "api-m.sandbox.paypal.com",
    ];
    plain_https(url) && url.host_str().is_some_and(|host| HOSTS.contains(&host))
}

/// `^sns\.[a-zA-Z0-9-]{3,}\.amazonaws\.com(\.cn)?$`
fn sns_host(host: &str) -> bool {
    let host = host.strip_suffix(".cn").unwrap_or(host);
    host.strip_prefix("sns.")
        .and_then(|rest| rest.strip_suffix(".amazonaws.com"))
        .is_some_and(|region| {
            region.len() >= 3
                && region
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        })
}

fn sns_endpoint_url(url: &Url) -> bool {
    plain_https(url) && url.host_str().is_some_and(sns_host)
}

fn sns_certificate_url(url: &Url) -> bool {
    sns_endpoint_url(url) && url.path().ends_with(".pem")
}

/// The signature algorithms the certificate schemes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-1 (SNS `SignatureVersion` 1).
    RsaPkcs1Sha1,
    /// RSA PKCS#1 v1.5 with SHA-256 (PayPal `SHA256withRSA`, SNS `SignatureVersion` 2).
    RsaPkcs1Sha256,
    /// ECDSA on P-256 with SHA-256, signature DER-encoded (SendGrid).
    EcdsaP256Sha256,
}

/// A public key, as a certificate or a configured `SubjectPublicKeyInfo` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// The DER `RSAPublicKey` (PKCS#1).
    Rsa(Vec<u8>),
    /// The uncompressed P-256 point.
    EcP256(Vec<u8>),
    /// Another algorithm, by OID; verifies nothing.
    Unsupported(String),
}

impl PublicKey {
    /// Reads a DER `SubjectPublicKeyInfo`.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, String> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|err| format!("not a DER SubjectPublicKeyInfo: {err}"))?;
        PublicKey::from_spki(&spki)
    }

    fn from_spki(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<PublicKey, String> {
        let key = spki
            .subject_public_key
            .as_bytes()
            .ok_or("the public key is not a whole number of bytes")?
            .to_vec();
        let algorithm = &spki.algorithm;
        if algorithm.oid == RSA_ENCRYPTION {
            Ok(PublicKey::Rsa(key))
        } else if algorithm.oid == ID_EC_PUBLIC_KEY {
            match algorithm.parameters_oid() {
                Ok(curve) if curve == SECP256R1 => Ok(PublicKey::EcP256(key)),
                Ok(curve) => Ok(PublicKey::Unsupported(format!("EC curve {curve}"))),
                Err(_) => Err("an EC public key without a named curve".into()),
            }
        } else {
            Ok(PublicKey::Unsupported(algorithm.oid.to_string()))
        }
    }

    /// Whether `signature` is this key's signature of `message` under `algorithm`. A key of
    /// the wrong type, or an RSA key under 2048 bits, verifies nothing.
    pub fn verify(&self, algorithm: SignatureAlgorithm, message: &[u8], signature: &[u8]) -> bool {
        let (parameters, key): (&dyn ring_signature::VerificationAlgorithm, &[u8]) =
            match (self, algorithm) {
                (PublicKey::Rsa(key), SignatureAlgorithm::RsaPkcs1Sha1) => (
                    &ring_signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                    key,
                ),
                (PublicKey::Rsa(key), SignatureAlgorithm::RsaPkcs1Sha256) => {
                    (&ring_signature::RSA_PKCS1_2048_8192_SHA256, key)
                }
                (PublicKey::EcP256(key), SignatureAlgorithm::EcdsaP256Sha256) => {
                    (&ring_signature::ECDSA_P256_SHA256_ASN1, key)
                }
                _ => return false,
            };
        UnparsedPublicKey::new(parameters, key)
            .verify(message, signature)
            .is_ok()
    }
}

/// What verification needs of an X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub public_key: PublicKey,
    /// Start of the validity period, Unix seconds.
    pub not_before: i64,
    /// End of the validity period (inclusive), Unix seconds.
    pub not_after: i64,
    /// The subject's common names (CN).
    pub common_names: Vec<String>,
    /// The DNS names of the subjectAltName extension.
    pub dns_names: Vec<String>,
}

impl Certificate {
    /// Reads the first certificate of a PEM text (a chain's leaf), or one DER certificate.
    pub fn parse(bytes: &[u8]) -> Result<Certificate, String> {
        const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
        const END: &[u8] = b"-----END CERTIFICATE-----";
        let certificate = if let Some(start) = find(bytes, BEGIN) {
            let end = find(&bytes[start..], END)
                .map(|end| start + end + END.len())
                .ok_or("a PEM certificate without its END line")?;
            x509_cert::Certificate::from_pem(&bytes[start..end])
        } else {
            x509_cert::Certificate::from_der(bytes)
        }
        .map_err(|err| format!("not an X.509 certificate: {err}"))?;

        let tbs = certificate.tbs_certificate();
        let spki_der = x509_cert::der::Encode::to_der(tbs.subject_public_key_info())
            .map_err(|err| format!("unreadable public key: {err}"))?;
        let spki = SubjectPublicKeyInfoRef::from_der(&spki_der)
            .map_err(|err| format!("unreadable public key: {err}"))?;
        let public_key = PublicKey::from_spki(&spki)?;
        let unix = |time: x509_cert::time::Time| {
            i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
        };
        let common_names = tbs
            .subject()
            .iter()
            .filter(|attribute| attribute.oid == COMMON_NAME)
            .filter_map(|attribute| {
                x509_cert::ext::pkix::name::DirectoryString::try_from(&attribute.value).ok()
            })
            .map(String::from)
            .collect();
        let dns_names = match tbs.get_extension::<SubjectAltName>() {
            Ok(Some((_, SubjectAltName(names)))) => names
                .into_iter()
                .filter_map(|name| match name {
                    GeneralName::DnsName(dns) => Some(dns.to_string()),
                    _ => None,
                })
                .collect(),
            Ok(None) => Vec::new(),
            Err(err) => return Err(format!("unreadable subjectAltName: {err}")),
        };
        Ok(Certificate {
            public_key,
            not_before: unix(tbs.validity().not_before),
            not_after: unix(tbs.validity().not_after),
            common_names,
            dns_names,
        })
    }

    /// A 401 unless `now` (Unix seconds) is within the validity period.
    pub fn check_valid_at(&self, now: i64) -> Result<(), Rejection> {
        if now < self.not_before {
            Err(Rejection::unauthorized(format!(
                "the signing certificate is not valid before {}",
                rfc3339(self.not_before)
            )))
        } else if now > self.not_after {
            Err(Rejection::unauthorized(format!(
                "the signing certificate expired at {}",
                rfc3339(self.not_after)
            )))
        } else {
            Ok(())
        }
    }
}

fn rfc3339(unix: i64) -> String {
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(unix.max(0).unsigned_abs());
    humantime::format_rfc3339_seconds(time).to_string()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Signing certificates by URL: pinned files first, else fetched from the provider and cached.
/// Clones share the cache.
#[derive(Clone)]
pub struct Certificates {
    inner: Arc<Inner>,
}

struct Inner {
    /// URL → PEM file, from config.
    pinned: BTreeMap<String, PathBuf>,
    /// Pinned files read so far (a file that failed to read is tried again next time).
    pinned_read: Mutex<HashMap<String, Arc<Certificate>>>,
    /// What outlives a reload of routes.toml: see [`Certificates::repinned`].
    fetching: Arc<Fetching>,
}

/// The certificates fetched so far, and what fetches them.
struct Fetching {
    client: reqwest::Client,
    fetched: Mutex<Cache>,
    /// Per provider (host rule): a flood of one provider's URLs leaves the others' room.
    budgets: Mutex<HashMap<&'static str, FetchBudget>>,
    per_minute: u32,
}

/// The fetches left in the current minute.
struct FetchBudget {
    per_minute: u32,
    minute_started: Instant,
    used: u32,
}

impl Fetching {
    /// Whether `provider` may fetch one more certificate this minute; counts it if so.
    fn take_fetch(&self, provider: &'static str) -> bool {
        lock(&self.budgets)
            .entry(provider)
            .or_insert_with(|| FetchBudget::new(self.per_minute))
            .take()
    }
}

impl FetchBudget {
    fn new(per_minute: u32) -> FetchBudget {
        FetchBudget {
            per_minute,
            minute_started: Instant::now(),
            used: 0,
        }
    }

    /// Takes one fetch, if any is left this minute.
    fn take(&mut self) -> bool {
        if self.minute_started.elapsed() >= Duration::from_secs(60) {
            self.minute_started = Instant::now();
            self.used = 0;
        }
        if self.used >= self.per_minute {
            return false;
        }
        self.used += 1;
        true
    }
}

#[derive(Default)]
struct Cache {
    by_url: HashMap<String, Arc<Certificate>>,
    /// URLs, oldest first.
    order: VecDeque<String>,
}

impl Certificates {
    /// `pinned` maps certificate URLs to PEM files, read on first use. `client` fetches the
    /// others; build it with `redirect::Policy::none()` (a redirected fetch is refused anyway,
    /// after the fact).
    pub fn new(pinned: BTreeMap<String, PathBuf>, client: reqwest::Client) -> Certificates {
        let fetching = Fetching {
            client,
            fetched: Mutex::default(),
            budgets: Mutex::default(),
            per_minute: FETCHES_PER_MINUTE,
        };
        Certificates::with(pinned, Arc::new(fetching))
    }

    /// These certificates with the pinned files of a new routes.toml: what was fetched stays
    /// cached, and the fetches of this minute stay counted, across a reload.
    pub fn repinned(&self, pinned: BTreeMap<String, PathBuf>) -> Certificates {
        Certificates::with(pinned, Arc::clone(&self.inner.fetching))
    }

    fn with(pinned: BTreeMap<String, PathBuf>, fetching: Arc<Fetching>) -> Certificates {
        Certificates {
            inner: Arc::new(Inner {
                pinned,
                pinned_read: Mutex::default(),
                fetching,
            }),
        }
    }

    /// Lets a test fetch more than [`FETCHES_PER_MINUTE`] certificates.
    #[cfg(test)]
    fn with_fetches_per_minute(self, per_minute: u32) -> Certificates {
        let fetching = Fetching {
            client: self.inner.fetching.client.clone(),
            fetched: Mutex::default(),
            budgets: Mutex::default(),
            per_minute,
        };
        Certificates::with(self.inner.pinned.clone(), Arc::new(fetching))
    }

    /// The certificate at `url`: pinned in config, cached, or fetched if `allowed` permits
    /// the URL. Validity and subject are the caller's to check.
    pub async fn get(&self, url: &str, allowed: HostRule) -> Result<Arc<Certificate>, Rejection> {
        if let Some(path) = self.inner.pinned.get(url) {
            return self.pinned(url, path).await;
        }
        let parsed = allowed.check("certificate URL", url)?;
        if let Some(certificate) = lock(&self.inner.fetching.fetched).by_url.get(url) {
            return Ok(Arc::clone(certificate));
        }
        if !self.inner.fetching.take_fetch(allowed.name) {
            telemetry::certificate_fetch(url, "refused", None);
            return Err(Rejection {
                status: 503,
                message: format!(
                    "more than {} signing certificates of {} were fetched in the last minute; retry later",
                    self.inner.fetching.per_minute, allowed.name
                ),
            });
        }
        let certificate = fetch(
            &self.inner.fetching.client,
            &parsed,
            "the signing certificate",
        )
        .await
        .and_then(|body| {
            Certificate::parse(&body).map_err(|err| {
                Rejection::unauthorized(format!(
                    "the signing certificate at {url} is unusable: {err}"
                ))
            })
        })
        .inspect_err(|rejection| {
            telemetry::certificate_fetch(url, "failed", Some(&rejection.message));
        })?;
        telemetry::certificate_fetch(url, "fetched", None);
        let certificate = Arc::new(certificate);
        let mut cache = lock(&self.inner.fetching.fetched);
        if cache
            .by_url
            .insert(url.to_owned(), Arc::clone(&certificate))
            .is_none()
        {
            cache.order.push_back(url.to_owned());
        }
        while cache.order.len() > CACHE_CAPACITY {
            if let Some(oldest) = cache.order.pop_front() {
                cache.by_url.remove(&oldest);
            }
        }
        Ok(certificate)
    }

    async fn pinned(&self, url: &str, path: &Path) -> Result<Arc<Certificate>, Rejection> {
        if let Some(certificate) = lock(&self.inner.pinned_read).get(url) {
            return Ok(Arc::clone(certificate));
        }
        let unusable = |err: String| {
            Rejection::unauthorized(format!(
                "the certificate pinned for {url} in {} is unusable: {err}",
                path.display()
            ))
        };
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|err| unusable(err.to_string()))?;
        let certificate = Arc::new(Certificate::parse(&bytes).map_err(unusable)?);
        lock(&self.inner.pinned_read).insert(url.to_owned(), Arc::clone(&certificate));
        Ok(certificate)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// GETs `url` (already checked against a [`HostRule`]) with no redirect, [`FETCH_TIMEOUT`]
/// and at most [`MAX_CERTIFICATE_BYTES`] read; any failure is a 401 naming `what`.
pub(crate) async fn fetch(
    client: &reqwest::Client,
    url: &Url,
    what: &str,
) -> Result<Vec<u8>, Rejection> {
    let failed = |why: String| {
        Rejection::unauthorized(format!(
            "could not fetch {what} from {url}: {why}; the provider can retry"
        ))
    };
    let mut response = client
        .get(url.clone())
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|err| failed(describe(&err)))?;
    if response.url() != url {
        return Err(failed(format!("redirected to {}", response.url())));
    }
    let status = response.status();
    if !status.is_success() {
        return Err(failed(format!("it answered {status}")));
    }
    if response
        .content_length()
        .is_some_and(|length| length > MAX_CERTIFICATE_BYTES as u64)
    {
        return Err(failed(format!("larger than {MAX_CERTIFICATE_BYTES} bytes")));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| failed(describe(&err)))?
    {
        if body.len() + chunk.len() > MAX_CERTIFICATE_BYTES {
            return Err(failed(format!("larger than {MAX_CERTIFICATE_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        format!("no answer within {} s", FETCH_TIMEOUT.as_secs())
    } else {
        let mut text = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            text = format!("{text}: {cause}");
            source = cause.source();
        }
        text
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A key pair and certificate made for these tests (CN and SAN `sns.amazonaws.com`, valid
    //! 2026-11-28 .. 2126-11-04), to sign messages that the fixtures do not have.

    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use ring::rand::SystemRandom;
    use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    use x509_cert::der::pem;

    /// A time inside the test certificate's validity: 2030-01-01T00:00:00Z.
    pub const TEST_NOW: i64 = 1_893_456_000;

    pub const TEST_CERT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIDOTCCAiGgAwIBAgIULViK7ncWLmUZd8FS+/ZWlyyFWGEwDQYJKoZIhvcNAQEL
BQAwHDEaMBgGA1UEAwwRc25zLmFtYXpvbmF3cy5jb20wIBcNMjYxMTI4MjAwNDAy
WhgPMjEyNjExMDQyMDA0MDJaMBwxGjAYBgNVBAMMEXNucy5hbWF6b25hd3MuY29t
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAljq82JAI1GXJ/jSCQxiE
qDlAtxneDlqhJfSnHmg9OwfnQG1Ubf0FD3oNh+392SCc/x6Aki/FC+tM/YUHuGva
OtauGaJTDzE26T8yI0zTh0bnnThrogI6Hva9k2CWZnngywBLpCdVbYUnRYZhGPKt
ZgsIwbCM5o/qJC648fxKIzRRb2A+GuZmK1Rr1cCPwcuM36mRMEaubVpzzFC+YyEZ
N++UtXhG4T4cxO9+ON7wvuPWychMyHDcJo8dy0/cWPr2qbnoZFu/tLdw7PVqWHRB
7xs8SXfixRcf4/dBB8nHGTjs5mDGt3yJZSXsuT2tKlyXdIC845ES/WfFT0z2vYwk
MQIDAQABo3EwbzAdBgNVHQ4EFgQUZsxcWooh/lS1GqwL749L2a1b5TgwHwYDVR0j
BBgwFoAUZsxcWooh/lS1GqwL749L2a1b5TgwDwYDVR0TAQH/BAUwAwEB/zAcBgNV
HREEFTATghFzbnMuYW1hem9uYXdzLmNvbTANBgkqhkiG9w0BAQsFAAOCAQEANvJe
t+T1BXrSG+OqWPhCTarCJQ+Cl8ZwfPEEC0ZRrSzzjlq3xDkC/bLOtV/N78IOnOwN
1BKWcEAMM/UffiiLBzbDcihpCmwerJFDQYno+3i+K3scqM5Gwulo0Rmyzv3BCf11
Yod3101jzKkijzcsOxoQb3/btUxr/xyniLxvfyGr+JmeGS1xlM510W+sdiiPNfTr
2ZFvfPL4jsoQ0JsqsC9CeFpXw17H2xxrtr5+ftU6UWZ41iDjEhv/shqVb0Knk3L4
ZsGTTf0vC/WLD5xcKKb/VlOxI6Le+tg2K7THpb0divRItq4nQdt96Pv+xVr8wRLj
t+rhQcMjhXoDGat03A==
-----END CERTIFICATE-----
";

    /// Test-only private key of [`TEST_CERT_PEM`]; it guards nothing.
    pub const TEST_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCWOrzYkAjUZcn+
NIJDGISoOUC3Gd4OWqEl9KceaD07B+dAbVRt/QUPeg2H7f3ZIJz/HoCSL8UL60z9
hQe4a9o61q4ZolMPMTbpPzIjTNOHRuedOGuiAjoe9r2TYJZmeeDLAEukJ1VthSdF
hmEY8q1mCwjBsIzmj+okLrjx/EojNFFvYD4a5mYrVGvVwI/By4zfqZEwRq5tWnPM
UL5jIRk375S1eEbhPhzE73443vC+49bJyEzIcNwmjx3LT9xY+vapuehkW7+0t3Ds
9WpYdEHvGzxJd+LFFx/j90EHyccZOOzmYMa3fIllJey5Pa0qXJd0gLzjkRL9Z8VP
TPa9jCQxAgMBAAECggEAP/u/X7skz5WUzNx/WGVSZrWPvwxY26M0/E3xeY1q+r/Y
ecO20GuRorBYn/q4gagWxb+vgdOvqG5sqZNloOHqneG+X/OXTaKn4PrF92vqsbR8
xCT6DpPFPlfXkTPziqzBFaTIEp+gDlfGTKG5rB77xDjR33C66h4EWqm9om7SAqDI
OzyvjJiS0WlN6rX7jH5tQmEiBUiBJgpkunQzJT5WBYvq0oG3T/q6N+A2BeghNzP+
cBFcEgkRfrjodA4tS6SYsA1LxRwgyde2iz3veyyJAYP56JHReNTDraxEFZTvip1u
mt1fueOknxMQCnhwN6H/1fxhleMd5AvsgT2fca6v2wKBgQDE31uvIZQJToGogq32
3Q0METoC+E9aiDafnOR6ZoXXc2OR8T5sCTRWDvj/fVhJluWLnYhSKmh5ScpPPqGc
IkYuyBjBHuimU/yPBX8rwYwyHecD9E+bUj/xknedsYZFrdiNgSF2rsHhACckkYuD
SdpJ1GYNaokHhvMQRoXhFH54WwKBgQDDWTR6H90pI9P7//A3JfaJ7w9R2Q3vpmSD
Wn0KFAthgJYmr/0auMNQcEO6tWXkI6FfAXUc5sL50X0bXIBhf7CEgF7LZX7uazHX
uDcKoJK4GtxQ+w3kavJAJfrxMNf9xWB2W7a2EcTUM0UpvDEzfh/HSlIvrKRtABSv
e+gVAHYbYwKBgQCCgJkzH2wVO0BBptaQxPloHWc6HsXjelXTOlpONPXV2vyO+r7p
OLTDs0sleT50EZ36DaQW61uzwtFj9F2GtUWWrzeRlN6dmyDY4cjqBXPcqOvBOEso
573Rccju9IXQXKwnKQk4tiF49/P6jqxPjD4yIKTBkfRh0/f9uvH2QPKQ7wKBgCWz
SZVoIN6Xs4mm001RXkswf9xj73SYwD05cXhIdgnTLyc4P7iwf8E+aVPXPlrRJYuY
VGnHf0mHTIXDTGOEqSRpQeIvLFgHCA+B1d2PL8GoLWzThtLWcPpAWjXCH20ycnNl
L9XjiAEMBAUR9MzjQm7LwSDCSNlgcp2LZDbpZ+HRAoGAeWAjk+G2ZhjsAPtqvdDL
ScHV9i8k9JKomzyAIe58ItHJxPjxR9RIkjPUvIr8ZlzpM8x1WQuSrHnGxdGHGTrn
u0A/hOGc24fzKvIjuihcUSIct0908JXOelAlxjvi0JC+4KedylNJUNjF1oSLU9ee
d0oSVw3dXQhfXPqewHqSToM=
-----END PRIVATE KEY-----
";

    /// RSA PKCS#1 v1.5 SHA-256 signature of `message` with the test key (ring signs no SHA-1:
    /// the SNS fixtures cover `SignatureVersion` 1).
    pub fn sign(message: &[u8]) -> Vec<u8> {
        let (_, der) = pem::decode_vec(TEST_KEY_PEM.as_bytes()).expect("test key is PEM");
        let key = RsaKeyPair::from_pkcs8(&der).expect("test key is PKCS#8 RSA");
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            message,
            &mut signature,
        )
        .expect("signs");
        signature
    }

    /// The test certificate written to a temporary file, pinned for `url`.
    pub fn pin_test_certificate(dir: &tempfile::TempDir, url: &str) -> BTreeMap<String, PathBuf> {
        let path = dir.path().join("test-cert.pem");
        std::fs::write(&path, TEST_CERT_PEM).expect("writes the test certificate");
        BTreeMap::from([(url.to_owned(), path)])
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;

    use super::super::test_support::{fixture, fixture_path};
    use super::test_support::{TEST_CERT_PEM, TEST_NOW};
    use super::*;

    const PAYPAL_2019_PEM: &str = "messageverificationcerts.sandbox.paypal.com.2019-04-02.cert.pem";
    const SNS_PEM: &str = "sns.amazonaws.com.2021-09-07.cert.pem";

    fn allows(rule: HostRule, url: &str) -> bool {
        rule.check("URL", url).is_ok()
    }

    #[test]
    fn paypal_rule_takes_only_paypal_api_hosts_over_https() {
        for url in [
            "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270",
            "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1",
            "https://API.Sandbox.PayPal.com/v1/notifications/certs/CERT-1",
            "https://api-m.paypal.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com:443/v1/notifications/certs/CERT-1",
        ] {
            assert!(allows(HostRule::PAYPAL, url), "{url}");
        }
        for url in [
            "http://api.paypal.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com:8443/v1/notifications/certs/CERT-1",
            "https://evil.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com.evil.com/cert",
            "https://evilapi.paypal.com/cert",
            "https://paypal.com/cert",
            "https://user@api.paypal.com/cert",
            "https://evil.com\\@api.paypal.com/cert",
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
            "not a url",
            "",
        ] {
            assert!(!allows(HostRule::PAYPAL, url), "{url}");
        }
    }

    #[test]
    fn sns_rule_takes_only_sns_hosts_and_pem_paths() {
        for url in [
            "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem",
            "https://sns.us-gov-west-1.amazonaws.com/x.pem",
        ] {
            assert!(allows(HostRule::SNS, url), "{url}");
        }
        for url in [
            "http://sns.us-east-2.amazonaws.com/SimpleNotificationService-1.pem",
            "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-1.crt",
            "https://sns.us-east-2.amazonaws.com/",
            "https://sns.us.amazonaws.com/x.pem",
            "https://sns.amazonaws.com/x.pem",
            "https://sns.us-east-2.amazonaws.com.evil.com/x.pem",
            "https://sns.us-east-2.amazonaws.com:8443/x.pem",
            "https://s3.us-east-2.amazonaws.com/x.pem",
            "https://sns.evil.com/x.amazonaws.com/x.pem",
            "https://sns.a.b.amazonaws.com/x.pem",
            "https://api.paypal.com/x.pem",
        ] {
            assert!(!allows(HostRule::SNS, url), "{url}");
        }
        assert!(allows(
            HostRule::SNS_ENDPOINT,
            "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=y"
        ));
        assert!(!allows(
            HostRule::SNS_ENDPOINT,
            "http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription"
        ));
    }

    #[test]
    fn parses_the_fixture_certificates() {
        let paypal = Certificate::parse(&fixture("paypal", PAYPAL_2019_PEM)).unwrap();
        assert_eq!(
            paypal.common_names,
            ["messageverificationcerts.sandbox.paypal.com"]
        );
        assert_eq!(
            paypal.dns_names,
            ["messageverificationcerts.sandbox.paypal.com"]
        );
        assert_eq!(paypal.not_before, 1_554_163_200); // 2019-04-02T00:00:00Z
        assert_eq!(paypal.not_after, 1_621_857_600); // 2021-05-24T12:00:00Z
        assert!(matches!(paypal.public_key, PublicKey::Rsa(_)));

        let sns = Certificate::parse(&fixture("aws-sns", SNS_PEM)).unwrap();
        assert_eq!(sns.common_names, ["sns.amazonaws.com"]);
        assert_eq!(sns.not_after, 1_660_780_799); // 2022-08-17T23:59:59Z

        assert!(sns.check_valid_at(1_660_780_799).is_ok());
        let expired = sns.check_valid_at(1_660_780_800).unwrap_err();
        assert_eq!(expired.status, 401);
        assert_eq!(
            expired.message,
            "the signing certificate expired at 2022-08-17T23:59:59Z"
        );
        assert!(sns.check_valid_at(sns.not_before - 1).is_err());

        let test = Certificate::parse(TEST_CERT_PEM.as_bytes()).unwrap();
        assert!(test.check_valid_at(TEST_NOW).is_ok());
    }

    #[test]
    fn parses_der_and_rejects_garbage() {
        let (_, der) = x509_cert::der::pem::decode_vec(TEST_CERT_PEM.as_bytes()).unwrap();
        assert_eq!(
            Certificate::parse(&der).unwrap(),
            Certificate::parse(TEST_CERT_PEM.as_bytes()).unwrap()
        );
        assert!(Certificate::parse(b"hello").is_err());
        assert!(Certificate::parse(b"-----BEGIN CERTIFICATE-----\nAAAA\n").is_err());
        assert!(
            Certificate::parse(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .is_err()
        );
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn pinned_certificates_skip_the_host_rule_and_name_their_file() {
        let url = "https://certs.example.test/pinned.pem";
        let pinned = BTreeMap::from([(url.to_owned(), fixture_path("aws-sns", SNS_PEM))]);
        let certs = Certificates::new(pinned, client());
        let certificate = certs.get(url, HostRule::PAYPAL).await.unwrap();
        assert_eq!(certificate.common_names, ["sns.amazonaws.com"]);
        // Read once, then kept.
        assert!(Arc::ptr_eq(
            &certificate,
            &certs.get(url, HostRule::SNS).await.unwrap()
        ));

        let missing = BTreeMap::from([(url.to_owned(), PathBuf::from("/nonexistent/cert.pem"))]);
        let err = Certificates::new(missing, client())
            .get(url, HostRule::PAYPAL)
            .await
            .unwrap_err();
        assert_eq!(err.status, 401);
        assert!(
            err.message.contains("/nonexistent/cert.pem"),
            "{}",
            err.message
        );

        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").unwrap();
        let err = Certificates::new(BTreeMap::from([(url.to_owned(), garbage)]), client())
            .get(url, HostRule::PAYPAL)
            .await
            .unwrap_err();
        assert!(err.message.contains("garbage.pem"), "{}", err.message);
    }

    #[tokio::test]
    async fn unpinned_urls_off_the_rule_are_not_fetched() {
        let certs = Certificates::new(BTreeMap::new(), client());
        let err = certs
            .get("https://evil.example/cert.pem", HostRule::PAYPAL)
            .await
            .unwrap_err();
        assert_eq!(err.status, 401);
        assert_eq!(
            err.message,
            "certificate URL https://evil.example/cert.pem is not on https://api.paypal.com or \
             https://api.sandbox.paypal.com; refusing to fetch it"
        );
    }

    const LOCAL: HostRule = HostRule::custom("a local test server", |url| {
        url.scheme() == "http" && url.host_str() == Some("127.0.0.1")
    });

    /// Serves the test certificate and some failures on 127.0.0.1; counts the requests.
    async fn serve() -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let app = Router::new()
            .route(
                "/cert.pem",
                get(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async { TEST_CERT_PEM }
                }),
            )
            .route(
                "/redirect.pem",
                get(|| async { (StatusCode::FOUND, [("location", "/cert.pem")]).into_response() }),
            )
            .route("/missing.pem", get(|| async { StatusCode::NOT_FOUND }))
            .route(
                "/huge.pem",
                get(|| async { vec![b'A'; MAX_CERTIFICATE_BYTES + 1] }),
            )
            .route(
                "/slow.pem",
                get(|| async {
                    tokio::time::sleep(FETCH_TIMEOUT + Duration::from_secs(2)).await;
                    TEST_CERT_PEM
                }),
            )
            .route("/garbage.pem", get(|| async { "garbage" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{address}"), hits)
    }

    #[tokio::test]
    async fn fetches_once_then_serves_from_the_cache() {
        let (base, hits) = serve().await;
        let certs = Certificates::new(BTreeMap::new(), client());
        let url = format!("{base}/cert.pem");
        let first = certs.get(&url, LOCAL).await.unwrap();
        assert_eq!(first.common_names, ["sns.amazonaws.com"]);
        let second = certs.clone().get(&url, LOCAL).await.unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        // A cached URL is still held to the rule it is asked under.
        assert!(certs.get(&url, HostRule::SNS).await.is_err());
    }

    #[tokio::test]
    async fn what_was_fetched_outlives_a_new_set_of_pinned_files() {
        let (base, hits) = serve().await;
        let certs = Certificates::new(BTreeMap::new(), client());
        let url = format!("{base}/cert.pem");
        let first = certs.get(&url, LOCAL).await.unwrap();
        let reloaded = certs.repinned(BTreeMap::from([(
            "https://example.com/pinned.pem".to_owned(),
            PathBuf::from("/nowhere/pinned.pem"),
        )]));
        let again = reloaded.get(&url, LOCAL).await.unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert!(
            reloaded
                .inner
                .pinned
                .contains_key("https://example.com/pinned.pem")
        );
    }

    #[tokio::test]
    async fn the_cache_is_bounded() {
        let (base, hits) = serve().await;
        let certs = Certificates::new(BTreeMap::new(), client()).with_fetches_per_minute(u32::MAX);
        for n in 0..=CACHE_CAPACITY {
            certs
                .get(&format!("{base}/cert.pem?n={n}"), LOCAL)
                .await
                .unwrap();
        }
        assert_eq!(
            lock(&certs.inner.fetching.fetched).by_url.len(),
            CACHE_CAPACITY
        );
        // The first one was dropped, the last one kept.
        certs
            .get(&format!("{base}/cert.pem?n={CACHE_CAPACITY}"), LOCAL)
            .await
            .unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), CACHE_CAPACITY + 1);
        certs
            .get(&format!("{base}/cert.pem?n=0"), LOCAL)
            .await
            .unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), CACHE_CAPACITY + 2);
    }

    /// A sender names the certificate URL: however many new URLs requests name, the provider's
    /// host is called at most [`FETCHES_PER_MINUTE`] times a minute; past that, a request
    /// naming a certificate not yet known is told to come back later (503), and one naming a
    /// known certificate is served as before.
    #[tokio::test]
    async fn fetches_of_new_urls_are_bounded_per_minute() {
        let (base, hits) = serve().await;
        let certs = Certificates::new(BTreeMap::new(), client());
        for n in 0..FETCHES_PER_MINUTE {
            certs
                .get(&format!("{base}/cert.pem?n={n}"), LOCAL)
                .await
                .unwrap();
        }
        for n in FETCHES_PER_MINUTE..FETCHES_PER_MINUTE + 20 {
            let err = certs
                .get(&format!("{base}/cert.pem?n={n}"), LOCAL)
                .await
                .unwrap_err();
            assert_eq!(err.status, 503, "{}", err.message);
            assert_eq!(
                err.message,
                "more than 10 signing certificates of a local test server were fetched in the last minute; retry later"
            );
        }
        assert_eq!(hits.load(Ordering::SeqCst), FETCHES_PER_MINUTE as usize);
        certs
            .get(&format!("{base}/cert.pem?n=0"), LOCAL)
            .await
            .unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), FETCHES_PER_MINUTE as usize);
        // Another provider's certificates are not held back by this one's flood.
        let other = HostRule::custom("another provider", |url| {
            url.host_str() == Some("127.0.0.1")
        });
        certs
            .get(&format!("{base}/cert.pem?other"), other)
            .await
            .unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), FETCHES_PER_MINUTE as usize + 1);
    }

    #[tokio::test]
    async fn fetch_failures_are_401s_that_say_why() {
        let (base, hits) = serve().await;
        let certs = Certificates::new(BTreeMap::new(), client());
        let reason = |path: &'static str| {
            let certs = certs.clone();
            let url = format!("{base}{path}");
            async move { certs.get(&url, LOCAL).await.unwrap_err() }
        };

        let err = reason("/redirect.pem").await;
        assert_eq!(err.status, 401);
        assert!(err.message.contains("302 Found"), "{}", err.message);
        assert!(
            reason("/missing.pem")
                .await
                .message
                .contains("404 Not Found")
        );
        assert!(
            reason("/huge.pem")
                .await
                .message
                .contains("larger than 65536 bytes")
        );
        assert!(reason("/garbage.pem").await.message.contains("is unusable"));
        // Failures are not cached, and the redirect was not followed.
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        assert!(reason("/garbage.pem").await.message.contains("is unusable"));

        // A client that follows redirects is caught after the fact.
        let following = Certificates::new(BTreeMap::new(), reqwest::Client::new());
        let err = following
            .get(&format!("{base}/redirect.pem"), LOCAL)
            .await
            .unwrap_err();
        assert!(err.message.contains("redirected to"), "{}", err.message);

        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let err = certs
            .get(&format!("http://{closed}/cert.pem"), LOCAL)
            .await
            .unwrap_err();
        assert!(
            err.message
                .starts_with("could not fetch the signing certificate"),
            "{}",
            err.message
        );
    }

    #[tokio::test]
    async fn a_slow_provider_times_out() {
        let (base, _) = serve().await;
        let certs = Certificates::new(BTreeMap::new(), client());
        let started = std::time::Instant::now();
        let err = certs
            .get(&format!("{base}/slow.pem"), LOCAL)
            .await
            .unwrap_err();
        assert!(
            err.message.contains("no answer within 5 s"),
            "{}",
            err.message
        );
        assert!(started.elapsed() < FETCH_TIMEOUT + Duration::from_secs(2));
    }

    #[test]
    fn public_keys_from_spki() {
        let sendgrid = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==",
        )
        .unwrap();
        let key = PublicKey::from_spki_der(&sendgrid).unwrap();
        assert!(matches!(&key, PublicKey::EcP256(point) if point.len() == 65));
        assert!(!key.verify(SignatureAlgorithm::RsaPkcs1Sha256, b"x", b"y"));
        assert!(PublicKey::from_spki_der(b"nope").is_err());
    }
}
