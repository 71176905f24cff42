//! Delivery: every pending message is POSTed to its subscriber until it is delivered or its
//! retries are used up (SPEC section 6).
//!
//! The store is the queue of record. The pipeline hands new messages over as it commits them
//! (see [`lanes`]), and the dispatcher reads the store, per subscriber, for the rest whose next
//! attempt is due: retries, and what a lane had no room for. Either way a subscriber starts no
//! more than its permits allow, and each attempt's result is committed with the message's new
//! state before the message may be picked again. A message is thus never attempted twice at
//! once, and after a crash every message still `pending` is simply due again: delivery is
//! at-least-once.
//!
//! Each subscriber has its own lane (permits and claimed messages), so a slow or dead
//! subscriber holds only its own permits and never delays the others. A subscriber that answers
//! `410 Gone` is disabled (kept in the store, so it stays disabled across restarts) until an
//! operator enables it again; its messages wait as `pending`. With `ordering = "per-key"`
//! the store only offers the oldest pending message of each key (see `Store::due_messages`).

mod attempt;
mod circuit;
mod lanes;
mod pace;
mod retry;

pub use attempt::content_headers;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::config::Ordering as DeliveryOrder;
use crate::store::{
    Attempt, AttemptOutcome, Backoff, DueMessage, Inserted, MessageStatus, NewMessage, OpenCircuit,
    Store, StoreError,
};
use crate::tasks::Tasks;
use crate::telemetry;
use crate::topology::Subscriber;
use crate::topology::Wiring;
use circuit::{Change, Circuits, Gate, Health};
use lanes::Lanes;
use pace::Paces;

/// The dispatcher looks at the store at least this often, whatever it was told.
const MAX_IDLE: Duration = Duration::from_secs(5);
/// How often a node that may not deliver (its lease in doubt) looks whether it may again.
const LEASE_CHECK: Duration = Duration::from_millis(200);

pub struct Delivery {
    store: Store,
    wiring: Wiring,
    client: reqwest::Client,
    /// Woken when messages are committed or an attempt finishes.
    wake: Notify,
    /// All deliveries in flight at once, over every subscriber: bounds sockets and memory.
    global: Arc<Semaphore>,
    global_permits: usize,
    lanes: Lanes,
    /// Subscribers disabled by a `410 Gone` or an operator: when (Unix ms) and why.
    disabled: Mutex<BTreeMap<String, (i64, String)>>,
    circuits: Circuits,
    paces: Paces,
    /// Set when shutting down: no new attempts start.
    stopping: AtomicBool,
    /// The earliest time (Unix ms) a pending message is known to fall due later than now, or
    /// `i64::MAX`: the retries this process scheduled, and what the store said when last
    /// asked. Lets the dispatcher sleep until then without asking the store on every wake.
    next_scheduled: AtomicI64,
}

/// What a commit of messages answers: whether it wrote them.
pub trait Committed {
    fn wrote_messages(&self) -> bool;
}

impl Committed for bool {
    fn wrote_messages(&self) -> bool {
        *self
    }
}

/// A redelivery writes nothing: its messages are the first event's.
impl Committed for Inserted {
    fn wrote_messages(&self) -> bool {
        *self == Inserted::New
    }
}

/// An event's pending messages, claimed for their lanes before their commit.
#[derive(Default)]
struct Handover {
    claimed: Vec<DueMessage>,
    /// Subscribers with a message their lane did not take: it is to be read from the store.
    unclaimed: Vec<String>,
}

impl Delivery {
    pub async fn start(
        store: Store,
        wiring: Wiring,
        concurrency: usize,
        tasks: &Tasks,
    ) -> Result<Arc<Delivery>, StoreError> {
        let disabled = store.disabled_subscribers().await?;
        let open = store.open_circuits().await?;
        for name in wiring.current().subscribers.keys() {
            telemetry::circuit_gauges(name, open.get(name).map(|c| c.opened_at));
        }
        let circuits = Circuits::restore(open);
        let delivery = Arc::new(Delivery {
            store,
            wiring,
            client: attempt::client(),
            wake: Notify::new(),
            global: Arc::new(Semaphore::new(concurrency.max(1))),
            global_permits: concurrency.max(1),
            lanes: Lanes::default(),
            disabled: Mutex::new(disabled),
            circuits,
            paces: Paces::default(),
            stopping: AtomicBool::new(false),
            next_scheduled: AtomicI64::new(i64::MIN),
        });
        tasks.spawn("delivery dispatcher", delivery.clone().dispatch());
        Ok(delivery)
    }

    /// Looks at the store now, e.g. after a message was made due by hand.
    pub fn wake(&self) {
        self.lanes.store_changed_everywhere();
        self.wake.notify_one();
    }

    /// Commits `messages` with `commit` and delivers the pending ones. Those a lane can take
    /// at once are claimed before the commit, so that no store read can start them first, and
    /// sent from memory once it succeeds; the others are read from the store. What `commit`
    /// answers says whether it wrote the messages (it may have had nothing to do).
    pub async fn commit_and_deliver<Commit, Answer>(
        &self,
        mut messages: Vec<NewMessage>,
        commit: impl FnOnce(Vec<NewMessage>) -> Commit,
    ) -> Result<Answer, StoreError>
    where
        Commit: Future<Output = Result<Answer, StoreError>>,
        Answer: Committed,
    {
        let handover = self.claim(&mut messages);
        let result = commit(messages).await;
        let wrote = result.as_ref().is_ok_and(Committed::wrote_messages);
        self.hand_over(handover, wrote);
        result
    }

    /// Claims an event's pending messages for their subscribers' lanes before they are
    /// committed. Subscribers with per-key ordering take theirs from the store, which knows
    /// the order across restarts.
    fn claim(&self, messages: &mut [NewMessage]) -> Handover {
        let topology = self.wiring.current();
        let mut handover = Handover::default();
        for message in messages {
            let (MessageStatus::Pending, Some(body)) = (message.status, &message.body) else {
                continue;
            };
            let name = &message.subscriber;
            let per_key = topology
                .subscribers
                .get(name)
                .is_some_and(|s| s.config.ordering == DeliveryOrder::PerKey);
            if !per_key && self.lanes.claim_new(name, &message.id, body.len()) {
                message.claimed = true;
                handover.claimed.push(DueMessage {
                    id: message.id.clone(),
                    subscriber: name.clone(),
                    headers: message.headers.clone(),
                    body: body.clone(),
                    attempts: 0,
                });
            } else {
                handover.unclaimed.push(name.clone());
            }
        }
        handover
    }

    /// Once the claimed messages' commit ended: committed, they are ready to start; otherwise
    /// their claims are given up.
    fn hand_over(&self, handover: Handover, committed: bool) {
        for message in handover.claimed {
            let name = message.subscriber.clone();
            if committed {
                self.lanes.make_ready(&name, message);
            } else {
                self.lanes.release(&name, &message.id);
            }
        }
        for name in handover.unclaimed {
            self.lanes.store_changed(&name);
        }
        self.wake.notify_one();
    }

    /// Subscribers disabled by a `410 Gone` or an operator: name → (Unix ms, reason).
    pub fn disabled(&self) -> BTreeMap<String, (i64, String)> {
        self.disabled.lock().expect("disabled subscribers").clone()
    }

    /// Lets a disabled subscriber receive messages again. False if it was not disabled.
    pub async fn enable(&self, name: &str) -> Result<bool, StoreError> {
        let was = self.store.enable_subscriber(name.to_owned()).await?;
        self.disabled
            .lock()
            .expect("disabled subscribers")
            .remove(name);
        self.wake();
        Ok(was)
    }

    /// Stops starting attempts and waits up to `deadline` for those in flight to be recorded;
    /// returns how many were still running when it gave up.
    pub async fn drain(&self, deadline: tokio::time::Instant) -> usize {
        self.stopping.store(true, Ordering::SeqCst);
        let all = u32::try_from(self.global_permits).unwrap_or(u32::MAX);
        match tokio::time::timeout_at(deadline, self.global.acquire_many(all)).await {
            Ok(_) => 0,
            Err(_) => self.global_permits - self.global.available_permits(),
        }
    }

    async fn dispatch(self: Arc<Self>) {
        let mut idle_since = tokio::time::Instant::now();
        let mut catch_ups = self.store.catch_ups();
        let mut work_notices = self.store.work_notices();
        while !self.stopping.load(Ordering::SeqCst) {
            let pass = crate::clock::now_ms();
            if self.next_scheduled.load(Ordering::SeqCst) <= pass
                || idle_since.elapsed() >= MAX_IDLE
            {
                // A retry fell due, or a while passed: every lane reads the store again.
                self.lanes.store_changed_everywhere();
                self.look_up_next_scheduled(pass).await;
                idle_since = tokio::time::Instant::now();
            }
            let topology = self.wiring.current();
            if !self.store.may_deliver() {
                // The node's lease on its messages is in doubt: another node may take them
                // over, so it sends none, not even those it holds, until it renews the lease.
                for name in topology.subscribers.keys() {
                    self.lanes.return_ready_to_store(name);
                }
                tokio::select! {
                    _ = tokio::time::sleep(LEASE_CHECK) => {}
                    _ = catch_ups.changed() => {}
                }
                continue;
            }
            let disabled = self.disabled();
            for (name, subscriber) in &topology.subscribers {
                if disabled.contains_key(name) || self.stopping.load(Ordering::SeqCst) {
                    continue;
                }
                let circuit = subscriber.config.circuit.as_ref();
                let gate = self.circuits.gate(name, circuit, crate::clock::now_ms());
                if gate == Gate::Shut {
                    continue;
                }
                if let Err(error) = self.dispatch_due(name, subscriber, gate).await {
                    tracing::error!(subscriber = %name, %error, "cannot read due messages");
                }
            }
            let now = crate::clock::now_ms();
            let next_probe = self.circuits.next_probe_after(now).unwrap_or(i64::MAX);
            let next_allowed = self.paces.next_allowed_after(pass, now);
            let next_allowed = next_allowed.unwrap_or(i64::MAX);
            let next = self
                .next_scheduled
                .load(Ordering::SeqCst)
                .min(next_probe)
                .min(next_allowed);
            let sleep =
                Duration::from_millis(next.saturating_sub(crate::clock::now_ms()).max(0) as u64);
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep.min(MAX_IDLE)) => {}
                _ = catch_ups.changed() => self.caught_up().await,
                () = notified(&mut work_notices) => self.lanes.store_changed_everywhere(),
            }
        }
    }

    /// The store holds work this node did not hand it: messages to look for, and with a
    /// shared store, subscribers another node disabled or enabled.
    async fn caught_up(&self) {
        self.lanes.store_changed_everywhere();
        match self.store.disabled_subscribers().await {
            Ok(disabled) => *self.disabled.lock().expect("disabled subscribers") = disabled,
            Err(error) => tracing::warn!(%error, "cannot read which subscribers are disabled"),
        }
    }

    /// Asks the store when the next message falls due after `now`. Cleared first, so that a
    /// retry scheduled while the store is read, and perhaps committed too late to be seen,
    /// still lowers it.
    async fn look_up_next_scheduled(&self, now: i64) {
        self.next_scheduled.store(i64::MAX, Ordering::SeqCst);
        // A subscriber whose circuit is open is not attempted until its probe, which wakes
        // the dispatcher by itself: its retries falling due are no reason to.
        let subscribers = self
            .wiring
            .current()
            .subscribers
            .keys()
            .filter(|name| !self.circuits.is_open(name))
            .cloned()
            .collect();
        let next = match self.store.next_due_after(subscribers, now).await {
            Ok(next) => next.unwrap_or(i64::MAX),
            Err(error) => {
                tracing::error!(%error, "cannot read when the next message falls due");
                now + MAX_IDLE.as_millis() as i64
            }
        };
        self.next_scheduled.fetch_min(next, Ordering::SeqCst);
    }

    /// Starts attempts for the subscriber's due messages, as many as it has permits for: those
    /// its lane holds ready first, then, with permits to spare, those in the store it does not
    /// hold. (A lane takes no new messages while the store may hold some it lacks, so its ready
    /// ones are older than those.) The probe of an open circuit is one message, the oldest.
    async fn dispatch_due(
        self: &Arc<Self>,
        name: &str,
        subscriber: &Arc<Subscriber>,
        gate: Gate,
    ) -> Result<(), StoreError> {
        let probe = gate == Gate::Probe;
        let permits = self.lanes.permits(name, subscriber.config.concurrency);
        let per_key = subscriber.config.ordering == DeliveryOrder::PerKey;
        if per_key {
            self.lanes.return_ready_to_store(name);
        } else {
            let startable = self.startable(subscriber, &permits, probe);
            let ready = self.lanes.take_ready(name, startable);
            if self.start_attempts(name, subscriber, &permits, ready, (startable, probe)) > 0
                && probe
            {
                return Ok(());
            }
        }
        let free = self.startable(subscriber, &permits, probe);
        if free == 0 {
            return Ok(());
        }
        if let Some((claimed, mark)) = self.lanes.store_read(name, per_key) {
            // Without per-key ordering, a read also fills the lane's room: what is not started
            // waits ready in memory, and one read (which has the store commit what it holds)
            // serves many attempts rather than one per free permit.
            let (room, room_bytes) = self.lanes.room(name);
            let limit = if per_key { free } else { free.max(room) };
            // Due as of now, read after the mark: a message whose change the mark covers was
            // made before it. A time taken earlier (at the start of the pass) missed a message
            // made in between while the mark still counted it as seen, and it waited for the
            // next change or the idle sweep, seconds later.
            let now = crate::clock::now_ms();
            let found = self
                .store
                .due_messages(name.to_owned(), now, (limit, room_bytes), claimed, per_key)
                .await?;
            let due = self
                .lanes
                .claim_read(name, mark, found.messages, found.complete);
            self.start_attempts(name, subscriber, &permits, due, (free, probe));
        }
        Ok(())
    }

    /// How many attempts may start for a subscriber now: its free permits, within the
    /// global bound, its rate and its ramp; one at most for the probe of an open circuit.
    fn startable(&self, subscriber: &Subscriber, permits: &Semaphore, probe: bool) -> usize {
        let config = &subscriber.config;
        let free = permits.available_permits();
        let in_flight = config.concurrency.saturating_sub(free);
        let allowed = self
            .paces
            .allowance(config, in_flight, crate::clock::now_ms());
        let startable = free.min(self.global.available_permits()).min(allowed);
        if probe { startable.min(1) } else { startable }
    }

    /// Starts an attempt for each claimed message, up to `most` and while permits last; the
    /// first is the `probe` of an open circuit if asked. Puts the rest back; how many started.
    fn start_attempts(
        self: &Arc<Self>,
        name: &str,
        subscriber: &Arc<Subscriber>,
        permits: &Arc<Semaphore>,
        due: Vec<DueMessage>,
        (most, probe): (usize, bool),
    ) -> usize {
        let mut due = due.into_iter();
        let mut started = 0;
        while let Some(message) = due.next() {
            let (true, Ok(lane_permit), Ok(global_permit)) = (
                started < most,
                permits.clone().try_acquire_owned(),
                self.global.clone().try_acquire_owned(),
            ) else {
                self.lanes
                    .put_back(name, std::iter::once(message).chain(due).collect());
                break;
            };
            if probe {
                self.circuits.probing(name, &message.id);
                telemetry::circuit_probe(name, &message.id);
            }
            started += 1;
            let delivery = self.clone();
            let subscriber = subscriber.clone();
            tokio::spawn(async move {
                delivery
                    .deliver(&subscriber, message, [lane_permit, global_permit])
                    .await;
            });
        }
        self.paces.started(name, started);
        started
    }

    async fn deliver(
        &self,
        subscriber: &Subscriber,
        message: DueMessage,
        permits: [OwnedSemaphorePermit; 2],
    ) {
        let attempted = attempt::attempt(&self.client, subscriber, &message).await;
        let attempts = message.attempts + 1;
        let name = &subscriber.config.name;
        let health = Health::of(attempted.attempt.status, attempted.attempt.error.as_deref());
        let failed = health != Health::Up;
        let circuit = subscriber.config.circuit.as_ref();
        let recorded =
            self.circuits
                .record(name, circuit, &message.id, health, attempted.attempt.at);
        let outcome = if attempted.success {
            AttemptOutcome::Delivered
        } else if recorded.was_probe && failed {
            AttemptOutcome::Probed
        } else {
            match retry::next_delay(&subscriber.config.retry, attempts, attempted.hint) {
                Some(delay) => {
                    AttemptOutcome::RetryAt(attempted.attempt.at + delay.as_millis() as i64)
                }
                None => AttemptOutcome::Dead,
            }
        };
        if let Some(change) = recorded.change {
            self.circuit_changed(name, change).await;
        }
        if attempted.gone {
            let reason = format!("answered 410 Gone to message {}", message.id);
            if let Err(error) = self.disable(name, reason).await {
                tracing::error!(subscriber = name, %error, "cannot record that the subscriber is disabled");
            }
        }
        telemetry::delivery_attempted(
            name,
            &message.id,
            (attempted.attempt.status, attempted.attempt.error.as_deref()),
            attempted.elapsed,
            outcome_label(outcome),
        );
        if outcome == AttemptOutcome::Dead {
            telemetry::message_dead(name, &message.id, attempted.attempt.error.as_deref());
        }
        self.record(name, &message.id, attempted.attempt, outcome)
            .await;
        self.lanes.finished(name, &message.id);
        if let AttemptOutcome::RetryAt(at) = outcome {
            self.next_scheduled.fetch_min(at, Ordering::SeqCst);
        }
        // Released only now, so that a drain waiting for every permit waits for the record too.
        drop(permits);
        self.wake.notify_one();
    }

    /// Records an attempt, trying again after a growing pause for as long as the store refuses
    /// (a full disk). Until then the message stays claimed and its permits taken: a message
    /// delivered while its record failed is not offered, and so not sent, again, and the
    /// subscriber gets no new attempts that could not be recorded either.
    async fn record(
        &self,
        subscriber: &str,
        message_id: &str,
        attempt: Attempt,
        outcome: AttemptOutcome,
    ) {
        let mut backoff = Backoff::default();
        loop {
            let recorded = self
                .store
                .record_attempt(message_id.to_owned(), attempt.clone(), outcome)
                .await;
            let Err(error) = recorded else { return };
            let pause = backoff.next_pause();
            telemetry::attempt_not_recorded(subscriber, message_id, &error, pause);
            tokio::time::sleep(pause).await;
        }
    }

    /// Stores, logs and counts a change of a subscriber's circuit; once it closes, its waiting
    /// messages are looked for in the store again.
    async fn circuit_changed(&self, name: &str, change: Change) {
        let stored = match change {
            Change::Opened(open) => {
                telemetry::circuit_opened(
                    name,
                    open.opened_at,
                    &open.reason,
                    open.probe_interval_ms,
                );
                self.store.open_circuit(name.to_owned(), open).await
            }
            Change::ProbeFailed(open) => {
                telemetry::circuit_probe_failed(name, open.probes, open.probe_interval_ms);
                self.store.open_circuit(name.to_owned(), open).await
            }
            Change::Closed(was) => {
                telemetry::circuit_closed(name, was.opened_at, was.probes);
                self.paces.ramp(name, crate::clock::now_ms());
                self.lanes.store_changed(name);
                self.store.close_circuit(name.to_owned()).await
            }
        };
        if let Err(error) = stored {
            tracing::error!(subscriber = name, %error, "cannot record the subscriber's circuit");
        }
    }

    /// The subscriber's open circuit, and whether its probe is in flight; `None` when closed.
    pub fn circuit(&self, name: &str) -> Option<(OpenCircuit, bool)> {
        self.circuits.open(name)
    }

    /// No attempt starts for the subscriber until it is enabled again; its messages wait,
    /// pending. Disabled in this node at once, even when the store cannot record it.
    pub async fn disable(&self, name: &str, reason: String) -> Result<(), StoreError> {
        telemetry::subscriber_disabled(name, &reason);
        self.disabled
            .lock()
            .expect("disabled subscribers")
            .entry(name.to_owned())
            .or_insert_with(|| (crate::clock::now_ms(), reason.clone()));
        self.store.disable_subscriber(name.to_owned(), reason).await
    }
}

/// Once `notices` changes; never without them.
async fn notified(notices: &mut Option<tokio::sync::watch::Receiver<u64>>) {
    let changed = match notices {
        Some(notices) => notices.changed().await.is_ok(),
        None => false,
    };
    if !changed {
        std::future::pending::<()>().await;
    }
}

fn outcome_label(outcome: AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Delivered => "delivered",
        AttemptOutcome::RetryAt(_) => "retry",
        AttemptOutcome::Dead => "dead",
        AttemptOutcome::Probed => "probe-failed",
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use crate::testing::Stages;

    /// A port on 127.0.0.1 nothing listens on: every attempt there fails at once.
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    fn at(time: &serde_json::Value) -> SystemTime {
        humantime::parse_rfc3339(time.as_str().unwrap()).unwrap()
    }

    /// A subscriber on 127.0.0.1 answering `first` to the first request and 200 after;
    /// returns its URL.
    async fn subscriber(first: (StatusCode, &'static [(&'static str, &'static str)])) -> String {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let seen = std::sync::Arc::new(AtomicUsize::new(0));
        let app = axum::Router::new().fallback(move || {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            async move {
                let (status, headers) = if n == 0 {
                    first
                } else {
                    (StatusCode::OK, &[][..])
                };
                let mut response = axum::response::Response::new(Body::empty());
                *response.status_mut() = status;
                for (name, value) in headers {
                    response.headers_mut().insert(*name, value.parse().unwrap());
                }
                response
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    /// Sends one event to the subscriber at `url` with `retry`, and returns its message once it
    /// is delivered or dead, with its attempts.
    async fn settled_message(url: &str, retry: &str) -> serde_json::Value {
        let wiring = format!(
            "[sources.plain]\n\n[subscribers.ci]\nurl = \"{url}\"\nretry = {retry}\n\n\
             [[routes]]\nsource = \"plain\"\nsubscribers = [\"ci\"]\n"
        );
        let stages = Stages::start("", &wiring).await;
        let post = Request::post("/hooks/plain")
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let answer = crate::ingest::router(stages.ingest())
            .oneshot(post)
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
        loop {
            let latest = crate::store::EventQuery {
                limit: 1,
                ..Default::default()
            };
            let events = stages.store.list_events(latest).await.unwrap();
            let id = events.items[0].id.clone();
            let event = stages.store.event(id).await.unwrap().unwrap();
            if let Some(message) = event.messages.first()
                && (message.status == "dead" || message.status == "delivered")
            {
                return serde_json::to_value(message).unwrap();
            }
            // Virtual time: the runtime moves the clock on to the next timer, the retries'.
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    }

    /// The time between attempts `i` and `i + 1` of `message`.
    fn gap(message: &serde_json::Value, i: usize) -> Duration {
        let attempts = message["attempts"].as_array().unwrap();
        at(&attempts[i + 1]["at"])
            .duration_since(at(&attempts[i]["at"]))
            .unwrap()
    }

    /// `waited` is `seconds`, give or take the time the attempts themselves took (under 2 s).
    fn assert_waited(waited: Duration, seconds: u64) {
        let expected = Duration::from_secs(seconds);
        assert!(
            waited >= expected && waited < expected + Duration::from_secs(2),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_up_to_twice_the_scheduled_delay() {
        let asks = |seconds| subscriber((StatusCode::SERVICE_UNAVAILABLE, seconds));
        let polite = settled_message(&asks(&[("retry-after", "5400")]).await, r#"["1h"]"#).await;
        assert_eq!(polite["status"], "delivered", "{polite:#}");
        assert_waited(gap(&polite, 0), 5400);

        let greedy = settled_message(&asks(&[("retry-after", "86400")]).await, r#"["1h"]"#).await;
        assert_waited(gap(&greedy, 0), 7200);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_puts_the_next_attempt_at_least_a_minute_away() {
        let busy = subscriber((StatusCode::TOO_MANY_REQUESTS, &[])).await;
        let message = settled_message(&busy, r#"["1s"]"#).await;
        assert_eq!(message["status"], "delivered", "{message:#}");
        assert_waited(gap(&message, 0), 60);
    }

    /// Under paused time, a schedule of hours runs at once; the attempts' times show it kept,
    /// each delay within the ±20% the retries are spread by.
    #[tokio::test(start_paused = true)]
    async fn a_failing_message_is_tried_again_on_its_schedule_then_dead() {
        let url = format!("http://127.0.0.1:{}/", closed_port());
        let message = settled_message(&url, r#"["5m", "1h"]"#).await;
        assert_eq!(message["status"], "dead", "{message:#}");
        assert_eq!(
            message["attempts"].as_array().unwrap().len(),
            3,
            "{message:#}"
        );
        let near = |gap: Duration, delay: Duration| {
            gap >= delay.mul_f64(0.8) && gap <= delay.mul_f64(1.2) + Duration::from_secs(1)
        };
        let (first, second) = (gap(&message, 0), gap(&message, 1));
        assert!(
            near(first, Duration::from_secs(300)),
            "{first:?}: {message:#}"
        );
        assert!(
            near(second, Duration::from_secs(3600)),
            "{second:?}: {message:#}"
        );
    }
}
