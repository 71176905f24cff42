//! What a good routes.toml turns into. The messages for bad ones are in `host/tests/ui`.

use std::path::Path;
use std::time::Duration;

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "GITHUB_WEBHOOK_SECRET" => Some("gh-secret".to_owned()),
        "CI_SECRET" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()),
        "NOT_WHSEC" => Some("plain".to_owned()),
        "PG_PASSWORD" => Some("s3cret".to_owned()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(Path::new("/srv/hooks/routes.toml"), text, &env)
}

fn messages(text: &str) -> Vec<String> {
    parse(text)
        .unwrap_err()
        .0
        .into_iter()
        .map(|d| d.to_string())
        .collect()
}

const EXAMPLE: &str = r#"
[server]
listen = "127.0.0.1:0"
admin = "127.0.0.1:8081"
max_body = "512KiB"
plugin_concurrency = 3
retention = "2d"
dead_retention = "90 days"
shutdown_timeout = "5s"

[sources.github]
verify = { scheme = "github", secret = "${GITHUB_WEBHOOK_SECRET}" }
dedup = { header = "X-GitHub-Delivery", window = "1h" }

[sources.plain]

[plugins.push-only]
wasm = "plugins/push_only.wasm"
config = { branches = ["main"], depth = 2, ratio = 0.5, since = 1979-05-27 }
timeout = "250ms"
reuse = true
on_error = "pass"

[subscribers.ci]
url = "http://127.0.0.1:9000/hook"
secret = ["${CI_SECRET}", "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
headers = { "X-Team" = "platform" }
retry = []
ordering = "per-key"
concurrency = 4

[[routes]]
name = "github-pushes"
source = "github"
filters = ["push-only"]
subscribers = ["ci"]

[[routes]]
source = "plain"
subscribers = ["ci"]
"#;

#[test]
fn reads_the_example() {
    let config = parse(EXAMPLE).unwrap();
    assert_eq!(config.path, Path::new("/srv/hooks/routes.toml"));

    let server = &config.server;
    assert_eq!(server.listen.port(), 0);
    assert_eq!(server.admin, Some("127.0.0.1:8081".parse().unwrap()));
    assert_eq!(server.data_dir, Path::new("/srv/hooks/.wasmhook"));
    assert_eq!(server.max_body, 512 * 1024);
    assert_eq!(server.plugin_concurrency, 3);
    assert_eq!(server.delivery_concurrency, 256);
    assert_eq!(server.retention, Duration::from_hours(2 * 24));
    assert_eq!(server.dead_retention, Duration::from_hours(90 * 24));
    assert_eq!(server.shutdown_timeout, Duration::from_secs(5));
    assert_eq!(server.clock, None);
    assert!(server.certificates.is_empty());

    assert_eq!(
        config.sources["github"].verify,
        Verify::Github {
            secret: "gh-secret".into(),
            legacy_sha1: false,
        }
    );
    assert_eq!(
        config.sources["github"].dedup,
        Some(DedupConfig {
            key: DedupKey::Header("x-github-delivery".into()),
            window: Duration::from_hours(1),
        })
    );
    assert_eq!(config.sources["plain"].verify, Verify::None);

    let plugin = &config.plugins["push-only"];
    assert_eq!(plugin.wasm, Path::new("/srv/hooks/plugins/push_only.wasm"));
    assert_eq!(plugin.wasm_location.line, 18);
    assert_eq!(plugin.wasm_location.column, 8);
    assert_eq!(
        plugin.config,
        serde_json::json!({"branches": ["main"], "depth": 2, "ratio": 0.5, "since": "1979-05-27"})
    );
    assert_eq!(plugin.timeout, Duration::from_millis(250));
    assert_eq!(plugin.memory, 64 << 20);
    assert_eq!(plugin.max_output, 1 << 20);
    assert_eq!(plugin.max_messages, 1000);
    assert_eq!(plugin.max_messages_size, 16 << 20);
    assert!(plugin.reuse);
    assert_eq!(plugin.on_error, OnError::Pass);

    let ci = &config.subscribers["ci"];
    assert_eq!(ci.url.as_str(), "http://127.0.0.1:9000/hook");
    assert_eq!(ci.secrets.len(), 2);
    assert!(ci.secrets[0].starts_with("whsec_"));
    assert_eq!(ci.headers, [("x-team".to_owned(), "platform".to_owned())]);
    assert_eq!(ci.timeout, Duration::from_secs(15));
    assert!(ci.retry.is_empty());
    assert_eq!(ci.ordering, Ordering::PerKey);
    assert_eq!(ci.concurrency, 4);

    let names: Vec<&str> = config.routes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["github-pushes", "plain-1"]);
    assert_eq!(config.routes[0].filters, ["push-only"]);
    assert!(config.routes[0].transforms.is_empty());
}

#[test]
fn fills_in_defaults() {
    let config = parse(
        r#"
        [plugins.p]
        wasm = "p.wasm"
        [subscribers.s]
        url = "https://example.com/"
        "#,
    )
    .unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(config.server.admin, None);
    assert_eq!(config.server.max_body, 1 << 20);
    assert!(config.server.plugin_concurrency >= 1);
    assert_eq!(config.server.retention, Duration::from_hours(7 * 24));
    assert_eq!(config.server.dead_retention, Duration::from_hours(30 * 24));
    assert_eq!(config.server.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(config.server.header_read_timeout, Duration::from_secs(10));
    assert_eq!(config.server.body_read_timeout, Duration::from_secs(10));
    assert_eq!(config.server.max_connections, 1024);
    assert_eq!(config.server.max_body_memory, 64 << 20);
    let p = &config.plugins["p"];
    assert_eq!(
        (p.timeout, p.reuse, p.on_error),
        (Duration::from_millis(100), false, OnError::DeadLetter)
    );
    assert_eq!(p.config, serde_json::json!({}));
    assert_eq!((&p.build, p.watch.len()), (&None, 0));
    let s = &config.subscribers["s"];
    assert_eq!(s.retry.len(), 7);
    assert_eq!(s.retry[1], Duration::from_secs(300));
    assert_eq!((s.ordering, s.concurrency), (Ordering::Concurrent, 16));
    assert!(s.secrets.is_empty() && s.headers.is_empty());
}

#[test]
fn sources_detect_redeliveries_by_default() {
    let config = parse("[sources.plain]\n").unwrap();
    let day = Duration::from_hours(24);
    assert_eq!(
        config.sources["plain"].dedup,
        Some(DedupConfig {
            key: DedupKey::Scheme,
            window: day
        })
    );
    assert_eq!(DedupConfig::default().window, day);
}

#[test]
fn reads_every_dedup_form() {
    let config = parse(
        r#"
        [sources.off]
        dedup = false
        [sources.on]
        dedup = true
        [sources.window]
        dedup = { window = "1h" }
        [sources.header.dedup]
        header = "Idempotency-Key"
        [sources.json]
        dedup = { json = "/data/id", window = "7d" }
        [sources.whole]
        dedup = { json = "" }
        "#,
    )
    .unwrap();
    let dedup = |name: &str| config.sources[name].dedup.clone();
    let day = Duration::from_hours(24);
    assert_eq!(dedup("off"), None);
    assert_eq!(dedup("on"), Some(DedupConfig::default()));
    assert_eq!(
        dedup("window"),
        Some(DedupConfig {
            key: DedupKey::Scheme,
            window: Duration::from_hours(1)
        })
    );
    assert_eq!(
        dedup("header"),
        Some(DedupConfig {
            key: DedupKey::Header("idempotency-key".into()),
            window: day
        })
    );
    assert_eq!(
        dedup("json"),
        Some(DedupConfig {
            key: DedupKey::Json("/data/id".into()),
            window: 7 * day
        })
    );
    assert_eq!(dedup("whole").unwrap().key, DedupKey::Json(String::new()));
}

#[test]
fn a_bad_dedup_leaves_the_source_out_of_a_partial_config() {
    let text = r#"
[sources.good]
[sources.bad]
dedup = { header = "x-id", json = "/id" }
"#;
    let (config, errors) = Config::parse_partial(Path::new("routes.toml"), text, &env);
    let config = config.unwrap();
    assert_eq!(errors.0.len(), 1, "{errors}");
    assert!(
        errors.0[0].to_string().starts_with("routes.toml:4:35: "),
        "{errors}"
    );
    assert!(config.sources.contains_key("good"));
    assert!(!config.sources.contains_key("bad"));
}

#[test]
fn an_empty_file_is_a_valid_config() {
    let config = parse("").unwrap();
    assert!(config.sources.is_empty() && config.routes.is_empty());
}

#[test]
fn reads_every_verify_scheme() {
    let config = parse(
        r#"
        [sources.n]
        verify = { scheme = "none" }
        [sources.h.verify]
        scheme = "hmac-sha256"
        secret = "s"
        header = "X-Signature"
        [sources.s]
        verify = { scheme = "standard-webhooks", secret = ["whsec_dGVzdA==", "whsec_dGVzdDI="] }
        "#,
    )
    .unwrap();
    assert_eq!(config.sources["n"].verify, Verify::None);
    assert_eq!(
        config.sources["h"].verify,
        Verify::HmacSha256 {
            secret: "s".into(),
            header: "x-signature".into(),
            encoding: SignatureEncoding::Hex,
            prefix: String::new(),
        }
    );
    let Verify::StandardWebhooks { secrets } = &config.sources["s"].verify else {
        panic!("standard-webhooks expected");
    };
    assert_eq!(secrets.len(), 2);
}

#[test]
fn reads_the_provider_schemes() {
    let config = parse(
        r#"
        [sources.gh]
        verify = { scheme = "github", secret = "${GITHUB_WEBHOOK_SECRET}", legacy_sha1 = true }
        [sources.sw]
        verify = { scheme = "standard-webhooks", secret = ["whsec_dGVzdA==", "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="] }
        [sources.stripe]
        verify = { scheme = "stripe", secret = ["whsec_test_secret", "webhook_secret"], tolerance = "10m" }
        [sources.shopify]
        verify = { scheme = "shopify", secret = "hush" }
        [sources.slack]
        verify = { scheme = "slack", secret = "8f742231b10e8888abcd99yyyzzz85a5" }
        [sources.paypal]
        verify = { scheme = "paypal", webhook_id = "0FV983392A0531201" }
        [sources.sendgrid]
        verify = { scheme = "sendgrid", public_key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==", tolerance = "1h" }
        [sources.mailchimp]
        verify = { scheme = "mailchimp", secret = "s3cr3t-Token" }
        [sources.mandrill]
        verify = { scheme = "mandrill", key = "TEST_WEBHOOK_KEY", url = "https://example.com/webhooks/mandrill" }
        [sources.mandrill-here]
        verify = { scheme = "mandrill", key = "k" }
        [sources.mailgun]
        verify = { scheme = "mailgun", signing_key = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0" }
        [sources.websub.verify]
        scheme = "websub"
        secret = "It's a Secret to Everybody"
        topics = ["https://example.com/feed", "https://Example.com/other?x=1"]
        [sources.websub-open]
        verify = { scheme = "websub", topics = ["https://example.com/feed"] }
        [sources.sns]
        verify = { scheme = "sns", topics = ["arn:aws:sns:us-east-2:123456789012:MyTopic", "arn:aws:sns:*:123456789012:*"] }
        [sources.eventgrid]
        verify = { scheme = "eventgrid" }
        [sources.eventgrid-keyed]
        verify = { scheme = "eventgrid", secret = "abc/+==", header = "X-Key", allowed_origins = ["EventGrid.Azure.net", "events.example.com"] }
        [sources.aodh]
        verify = { scheme = "openstack" }
        [sources.zaqar]
        verify = { scheme = "openstack", secret = "q-1" }
        "#,
    )
    .unwrap();
    let verify = |name: &str| config.sources[name].verify.clone();
    let five_minutes = Duration::from_secs(300);
    assert_eq!(DEFAULT_TOLERANCE, five_minutes);
    assert_eq!(
        verify("gh"),
        Verify::Github {
            secret: "gh-secret".into(),
            legacy_sha1: true
        }
    );
    assert_eq!(
        verify("sw"),
        Verify::StandardWebhooks {
            secrets: vec![
                "whsec_dGVzdA==".into(),
                "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=".into()
            ]
        }
    );
    assert_eq!(
        verify("stripe"),
        Verify::Stripe {
            secrets: vec!["whsec_test_secret".into(), "webhook_secret".into()],
            tolerance: Duration::from_secs(600),
        }
    );
    assert_eq!(
        verify("shopify"),
        Verify::Shopify {
            secret: "hush".into()
        }
    );
    assert_eq!(
        verify("slack"),
        Verify::Slack {
            secret: "8f742231b10e8888abcd99yyyzzz85a5".into(),
            tolerance: five_minutes,
        }
    );
    assert_eq!(
        verify("paypal"),
        Verify::Paypal {
            webhook_id: "0FV983392A0531201".into(),
            tolerance: Duration::from_hours(96),
        }
    );
    let Verify::Sendgrid {
        public_key,
        tolerance,
    } = verify("sendgrid")
    else {
        panic!("sendgrid expected");
    };
    assert!(public_key.starts_with("MFkw"));
    assert_eq!(tolerance, Duration::from_hours(1));
    assert_eq!(
        verify("mailchimp"),
        Verify::Mailchimp {
            secret: "s3cr3t-Token".into()
        }
    );
    assert_eq!(
        verify("mandrill"),
        Verify::Mandrill {
            key: "TEST_WEBHOOK_KEY".into(),
            url: Some("https://example.com/webhooks/mandrill".into()),
        }
    );
    assert_eq!(
        verify("mandrill-here"),
        Verify::Mandrill {
            key: "k".into(),
            url: None
        }
    );
    assert_eq!(
        verify("mailgun"),
        Verify::Mailgun {
            signing_key: "key-3ax6xnjp29jd6fds4gc373sgvjxteol0".into(),
            tolerance: five_minutes,
        }
    );
    // Topics are compared as the hub sends them: kept exactly as written.
    assert_eq!(
        verify("websub"),
        Verify::Websub {
            secret: Some("It's a Secret to Everybody".into()),
            topics: vec![
                "https://example.com/feed".into(),
                "https://Example.com/other?x=1".into()
            ],
        }
    );
    assert_eq!(
        verify("websub-open"),
        Verify::Websub {
            secret: None,
            topics: vec!["https://example.com/feed".into()],
        }
    );
    assert_eq!(
        verify("sns"),
        Verify::Sns {
            topics: vec![
                "arn:aws:sns:us-east-2:123456789012:MyTopic".into(),
                "arn:aws:sns:*:123456789012:*".into()
            ],
            tolerance: Duration::from_hours(2),
        }
    );
    assert_eq!(
        verify("eventgrid"),
        Verify::Eventgrid {
            secret: None,
            header: "aeg-sas-key".into(),
            allowed_origins: vec!["eventgrid.azure.net".into()],
        }
    );
    assert_eq!(
        verify("eventgrid-keyed"),
        Verify::Eventgrid {
            secret: Some("abc/+==".into()),
            header: "x-key".into(),
            allowed_origins: vec!["eventgrid.azure.net".into(), "events.example.com".into()],
        }
    );
    assert_eq!(verify("aodh"), Verify::Openstack { secret: None });
    assert_eq!(
        verify("zaqar"),
        Verify::Openstack {
            secret: Some("q-1".into())
        }
    );
    assert_eq!(verify("gh").scheme(), "github");
    assert_eq!(verify("sw").scheme(), "standard-webhooks");
    assert_eq!(verify("zaqar").scheme(), "openstack");
}

#[test]
fn a_bad_verify_setting_leaves_the_source_out_of_a_partial_config() {
    let text = r#"
[sources.good]
verify = { scheme = "slack", secret = "s" }
[sources.tolerance]
verify = { scheme = "slack", secret = "s", tolerance = "0s" }
[sources.legacy]
verify = { scheme = "github", secret = "s", legacy_sha1 = "yes" }
[sources.origins]
verify = { scheme = "eventgrid", allowed_origins = [] }
"#;
    let (config, errors) = Config::parse_partial(Path::new("routes.toml"), text, &env);
    let config = config.unwrap();
    assert_eq!(errors.0.len(), 3, "{errors}");
    let names: Vec<&str> = config.sources.keys().map(String::as_str).collect();
    assert_eq!(names, ["good"]);
}

#[test]
fn reads_the_clock_and_the_certificates() {
    let config = parse(
        r#"
        [server]
        clock = "2022-01-01T01:00:00+01:00"
        [server.certificates]
        "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270" = "certs/paypal.pem"
        "https://SNS.us-east-2.amazonaws.com:443/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem" = "/etc/wasmhook/sns.pem"
        "#,
    )
    .unwrap();
    let server = &config.server;
    assert_eq!(
        server.clock,
        Some(std::time::UNIX_EPOCH + Duration::from_secs(1_640_995_200))
    );
    let certificates: Vec<(&str, &Path)> = server
        .certificates
        .iter()
        .map(|(url, path)| (url.as_str(), path.as_path()))
        .collect();
    assert_eq!(
        certificates,
        [
            (
                "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270",
                Path::new("/srv/hooks/certs/paypal.pem")
            ),
            (
                "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
                Path::new("/etc/wasmhook/sns.pem")
            ),
        ]
    );
    // A bare TOML date-time works too.
    let config = parse("[server]\nclock = 2022-01-01T00:00:00Z\n").unwrap();
    assert_eq!(config.server.clock, server.clock);
}

#[test]
fn validates_values_after_interpolation() {
    let errors = messages(
        r#"
[subscribers.ci]
url = "http://127.0.0.1:9000/"
secret = "${NOT_WHSEC}"
"#,
    );
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("/srv/hooks/routes.toml:4:10: `secret` in [subscribers.ci]"));
    assert!(!errors[0].contains("plain"), "the secret is not shown");
}

#[test]
fn locations_use_the_path_as_given() {
    let errors =
        Config::parse(Path::new("routes.toml"), "[server]\nlisten = 1\n", &env).unwrap_err();
    let location = errors.0[0].location.clone().unwrap();
    assert_eq!(location.to_string(), "routes.toml:2:10");
}

#[test]
fn relative_paths_resolve_against_the_file() {
    let config = Config::parse(
        Path::new("conf/routes.toml"),
        "[plugins.p]\nwasm = \"p.wasm\"\n",
        &env,
    )
    .unwrap();
    assert!(config.path.is_absolute());
    assert!(config.plugins["p"].wasm.ends_with("conf/p.wasm"));
    assert!(config.plugins["p"].wasm.is_absolute());
}

#[test]
fn load_reads_the_file_and_the_process_environment() {
    let dir = std::env::temp_dir().join(format!("wasmhook-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("routes.toml");
    // PATH is set wherever tests run; it is not a valid listen address.
    std::fs::write(
        &file,
        "[server]\nadmin_token = \"${PATH}\"\nlisten = \"${PATH}\"\n",
    )
    .unwrap();
    let errors = Config::load(&file).unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    assert_eq!(errors.0[0].location.as_ref().unwrap().line, 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_reports_a_missing_file_alone() {
    let errors = Config::load(Path::new("/nonexistent/routes.toml")).unwrap_err();
    assert_eq!(errors.0.len(), 1);
    assert_eq!(errors.0[0].location, None);
    assert!(
        errors
            .to_string()
            .starts_with("/nonexistent/routes.toml: cannot read it")
    );
}

#[test]
fn a_syntax_error_is_reported_alone() {
    let errors = messages("[server]\nlisten = 1\n[server\n");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains(":3:"), "{errors:?}");
}

#[test]
fn errors_come_in_file_order() {
    let errors = messages(
        r#"
[[routes]]
source = "nowhere"
subscribers = ["nobody"]

[subscribers.a]
url = "nope"
"#,
    );
    let lines: Vec<usize> = errors
        .iter()
        .map(|e| e.split(':').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(lines, [3, 4, 7]);
}

#[test]
fn reads_a_plugins_build_command_and_watch_patterns() {
    let config = parse(
        r#"
[plugins.p]
wasm = "p/target/p.wasm"
build = "cargo build --manifest-path p/Cargo.toml --release"
watch = ["p/src/**", "p/Cargo.toml"]
"#,
    )
    .unwrap();
    let p = &config.plugins["p"];
    assert_eq!(
        p.build.as_deref(),
        Some("cargo build --manifest-path p/Cargo.toml --release")
    );
    let watch: Vec<&str> = p.watch.iter().map(WatchGlob::as_str).collect();
    assert_eq!(watch, ["p/src/**", "p/Cargo.toml"]);
    assert!(p.watch[0].matches(Path::new("p/src/lib.rs")));
    assert!(!p.watch[0].matches(Path::new("p/target/p.wasm")));
}

#[test]
fn a_build_needs_watch_patterns_and_good_ones() {
    let errors = messages("[plugins.p]\nwasm = \"p.wasm\"\nbuild = \"make\"\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("/srv/hooks/routes.toml:3:9: `build` in [plugins.p] needs `watch`"),
        "{errors:?}"
    );
    let errors = messages(
        "[plugins.p]\nwasm = \"p.wasm\"\nbuild = \"make\"\nwatch = [\"src/**\", \"../x\"]\n",
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains(":4:20: `watch` in [plugins.p]"),
        "{errors:?}"
    );
    let errors = messages("[plugins.p]\nwasm = \"p.wasm\"\nwatch = [\"src/**\"]\n");
    assert!(
        errors[0].contains(":3:9: `watch` in [plugins.p] has nothing to run"),
        "{errors:?}"
    );
    let errors = messages("[plugins.p]\nwasm = \"p.wasm\"\nbuild = \"\"\nwatch = []\n");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains(":3:9: `build` in [plugins.p]: must not be empty"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains(":4:9: `watch` in [plugins.p] is empty"),
        "{errors:?}"
    );
}

#[test]
fn reads_the_listener_limits() {
    let config = parse(
        r#"
        [server]
        max_body_memory = "8MiB"
        header_read_timeout = "2s"
        body_read_timeout = "5s"
        max_connections = 16
        "#,
    )
    .unwrap();
    let server = &config.server;
    assert_eq!(server.max_body_memory, 8 << 20);
    assert_eq!(server.header_read_timeout, Duration::from_secs(2));
    assert_eq!(server.body_read_timeout, Duration::from_secs(5));
    assert_eq!(server.max_connections, 16);
}

#[test]
fn the_default_body_memory_makes_room_for_a_large_max_body() {
    let config = parse("[server]\nmax_body = \"100MiB\"\n").unwrap();
    assert_eq!(config.server.max_body_memory, 100 << 20);
}

#[test]
fn a_subscriber_has_a_circuit_breaker_unless_told_otherwise() {
    let wiring =
        |circuit: &str| format!("[subscribers.ci]\nurl = \"https://ci.example.com/\"\n{circuit}\n");
    let circuit = |text: &str| {
        parse(&wiring(text)).unwrap().subscribers["ci"]
            .circuit
            .clone()
    };
    assert_eq!(circuit(""), Some(CircuitConfig::default()));
    assert_eq!(circuit("circuit = true"), Some(CircuitConfig::default()));
    assert_eq!(circuit("circuit = false"), None);
    let custom = circuit(
        "circuit = { failures = 3, failure_ratio = 0.25, window = \"2m\", min_attempts = 8, \
         probe = \"1s\", max_probe = \"1m\" }",
    );
    assert_eq!(
        custom,
        Some(CircuitConfig {
            failures: 3,
            failure_ratio: 0.25,
            window: Duration::from_secs(120),
            min_attempts: 8,
            probe: Duration::from_secs(1),
            max_probe: Duration::from_secs(60),
        })
    );
    let errors = messages(&wiring("circuit = { failure_ratio = 2 }"));
    assert!(
        errors[0]
            .contains(":3:29: `failure_ratio` in [subscribers.ci.circuit] must be more than 0"),
        "{errors:?}"
    );
    let errors = messages(&wiring("circuit = { probe = \"1m\", max_probe = \"1s\" }"));
    assert!(
        errors[0].contains("`max_probe` in [subscribers.ci.circuit] must be at least `probe`"),
        "{errors:?}"
    );
    let errors = messages(&wiring("circuit = \"on\""));
    assert!(
        errors[0]
            .contains(":3:11: `circuit` in [subscribers.ci] must be `true`, `false` or a table"),
        "{errors:?}"
    );
}

#[test]
fn a_shared_store_is_read_with_its_password_from_the_environment() {
    let config =
        parse("[server]\nstore = \"postgres://wasmhook:${PG_PASSWORD}@db/hooks\"\n").unwrap();
    assert_eq!(
        config.server.store.as_deref(),
        Some("postgres://wasmhook:s3cret@db/hooks")
    );
    let errors = messages("[server]\nstore = \"mysql://wasmhook:s3cret@db/hooks\"\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains(":2:9:"), "{errors:?}");
    assert!(!errors[0].contains("s3cret"), "{errors:?}");
}
