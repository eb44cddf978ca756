use std::sync::Mutex;

use chrono::TimeZone;
use serde_json::json;

use super::*;

/// Fails with the scripted errors in order, then succeeds; records every call.
struct Scripted {
    kind: &'static str,
    errors: Mutex<Vec<DeliveryError>>,
    calls: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(kind: &'static str, errors: Vec<DeliveryError>) -> Arc<Scripted> {
        Arc::new(Scripted {
            kind,
            errors: Mutex::new(errors),
            calls: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl Deliverer for Scripted {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn deliver<'a>(
        &'a self,
        key: &'a str,
        payload: &'a Value,
    ) -> BoxFuture<'a, std::result::Result<Value, DeliveryError>> {
        Box::pin(async move {
            self.calls.lock().unwrap().push(key.to_string());
            let mut errors = self.errors.lock().unwrap();
            if errors.is_empty() {
                Ok(json!({"echo": payload}))
            } else {
                Err(errors.remove(0))
            }
        })
    }
}

fn outbox(dir: &tempfile::TempDir) -> Outbox {
    let log = AuditLog::open(&dir.path().join("state.sqlite")).unwrap();
    Outbox::open(log).unwrap().with_settings(OutboxSettings {
        max_attempts: 3,
        base_delay: Duration::from_secs(10),
        max_delay: Duration::from_secs(60),
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(50),
    })
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

#[tokio::test]
async fn the_same_key_is_one_write_and_is_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let ob = outbox(&dir);
    let d = Scripted::new("test.write", vec![]);
    let ds = Deliverers::new().with(d.clone());
    let a = ob
        .enqueue_at("test.write", "k1", &json!({"n": 1}), t0())
        .unwrap();
    let b = ob
        .enqueue_at("test.write", "k1", &json!({"n": 2}), t0())
        .unwrap();
    assert!(!a.existing);
    assert!(b.existing);
    assert_eq!(a.id, b.id);
    assert_eq!(ob.deliver_due(&ds, t0()).await.unwrap(), 1);
    assert_eq!(ob.deliver_due(&ds, t0() + secs(3600)).await.unwrap(), 0);
    let rec = ob.get("k1").unwrap().unwrap();
    assert_eq!(rec.state, WriteState::Done);
    assert_eq!(rec.attempts, 1);
    // The first payload stands; the second enqueue changed nothing.
    assert_eq!(rec.result, Some(json!({"echo": {"n": 1}})));
    assert_eq!(d.calls(), vec!["k1"]);
}

#[tokio::test]
async fn transient_failures_back_off_then_deliver() {
    let dir = tempfile::tempdir().unwrap();
    let ob = outbox(&dir);
    let d = Scripted::new(
        "test.write",
        vec![
            DeliveryError::retry("503 from the service"),
            DeliveryError::Retry {
                message: "429".into(),
                retry_after: Some(Duration::from_secs(45)),
            },
        ],
    );
    let ds = Deliverers::new().with(d.clone());
    ob.enqueue_at("test.write", "k", &json!({}), t0()).unwrap();
    assert_eq!(ob.deliver_due(&ds, t0()).await.unwrap(), 1);
    let rec = ob.get("k").unwrap().unwrap();
    assert_eq!(rec.state, WriteState::Pending);
    assert_eq!(rec.last_error.as_deref(), Some("503 from the service"));
    // First retry: between half and all of the 10 s base delay.
    let due = parse_time(&rec.next_at).unwrap();
    assert!(due >= t0() + secs(5) && due <= t0() + secs(11), "{due}");
    // Not due yet: nothing is claimed.
    assert_eq!(ob.deliver_due(&ds, t0() + secs(4)).await.unwrap(), 0);
    let t1 = t0() + secs(11);
    assert_eq!(ob.deliver_due(&ds, t1).await.unwrap(), 1);
    // The service's Retry-After (45 s) beats the 20 s backoff.
    let rec = ob.get("k").unwrap().unwrap();
    let due = parse_time(&rec.next_at).unwrap();
    assert!(due >= t1 + secs(45), "{due}");
    assert_eq!(ob.deliver_due(&ds, t1 + secs(44)).await.unwrap(), 0);
    assert_eq!(ob.deliver_due(&ds, t1 + secs(46)).await.unwrap(), 1);
    let rec = ob.get("k").unwrap().unwrap();
    assert_eq!(rec.state, WriteState::Done);
    assert_eq!(rec.attempts, 3);
    assert_eq!(d.calls().len(), 3);
}

#[tokio::test]
async fn permanent_errors_and_exhausted_retries_are_dead_letters_a_person_can_retry() {
    let dir = tempfile::tempdir().unwrap();
    let ob = outbox(&dir).with_secrets(vec!["lin_api_SECRET123".into()]);
    let d = Scripted::new(
        "test.write",
        vec![
            DeliveryError::permanent("title is required (key lin_api_SECRET123)"),
            DeliveryError::retry("down"),
            DeliveryError::retry("down"),
            DeliveryError::retry("still down"),
        ],
    );
    let ds = Deliverers::new().with(d.clone());
    ob.enqueue_at("test.write", "bad", &json!({}), t0())
        .unwrap();
    ob.deliver_due(&ds, t0()).await.unwrap();
    let rec = ob.get("bad").unwrap().unwrap();
    assert_eq!(rec.state, WriteState::Dead);
    assert_eq!(rec.attempts, 1);
    let err = rec.last_error.unwrap();
    assert!(!err.contains("SECRET123"), "{err}");
    assert!(err.contains("[redacted]"), "{err}");
    assert_eq!(ob.counts().unwrap(), (0, 0, 1));
    // Dead letters list first.
    ob.enqueue_at("other.kind", "other", &json!({}), t0())
        .unwrap();
    assert_eq!(ob.list(10).unwrap()[0].key, "bad");

    // A person retries it: it starts over and exhausts its 3 attempts.
    assert!(ob.retry(rec.id).unwrap());
    assert!(!ob.retry(rec.id).unwrap(), "only dead letters are retried");
    let mut t = Utc::now();
    for _ in 0..3 {
        ob.deliver_due(&ds, t).await.unwrap();
        t += secs(3600);
    }
    let rec = ob.get("bad").unwrap().unwrap();
    assert_eq!(rec.state, WriteState::Dead);
    assert_eq!(rec.attempts, 3);
    assert_eq!(rec.last_error.as_deref(), Some("still down"));
}

#[tokio::test]
async fn a_lapsed_lease_is_taken_over_and_the_late_outcome_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let a = outbox(&dir);
    let log = AuditLog::open(&dir.path().join("state.sqlite")).unwrap();
    let b = Outbox::open(log)
        .unwrap()
        .with_settings(a.settings().clone());
    a.enqueue_at("test.write", "k", &json!({}), t0()).unwrap();
    // Process A claims the write and "dies" mid-send.
    let claimed = a.claim(&["test.write"], t0(), 10).unwrap();
    assert_eq!(claimed.len(), 1);
    // While A's lease holds, B cannot take it.
    let d = Scripted::new("test.write", vec![]);
    let ds = Deliverers::new().with(d.clone());
    assert_eq!(b.deliver_due(&ds, t0() + secs(29)).await.unwrap(), 0);
    // After it lapses, B delivers it.
    assert_eq!(b.deliver_due(&ds, t0() + secs(31)).await.unwrap(), 1);
    let rec = b.get("k").unwrap().unwrap();
    assert_eq!(rec.state, WriteState::Done);
    assert_eq!(rec.attempts, 2);
    // A comes back with a failure: it no longer holds the lease, so nothing changes.
    let state = a
        .settle(
            &claimed[0],
            Err(DeliveryError::permanent("late")),
            t0() + secs(40),
        )
        .unwrap();
    assert_eq!(state, WriteState::Dead);
    let rec = b.get("k").unwrap().unwrap();
    assert_eq!(rec.state, WriteState::Done);
    assert_eq!(rec.last_error, None);
}

#[tokio::test]
async fn writes_without_a_deliverer_in_this_process_stay_queued() {
    let dir = tempfile::tempdir().unwrap();
    let ob = outbox(&dir);
    ob.enqueue_at("notion.page", "k", &json!({}), t0()).unwrap();
    let ds = Deliverers::new().with(Scripted::new("test.write", vec![]));
    assert_eq!(ob.deliver_due(&ds, t0()).await.unwrap(), 0);
    let rec = ob.get("k").unwrap().unwrap();
    assert_eq!(rec.state, WriteState::Pending);
    assert_eq!(rec.attempts, 0);
}

#[tokio::test]
async fn run_delivers_what_is_enqueued_and_stops_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let ob = outbox(&dir);
    let d = Scripted::new("test.write", vec![]);
    let ds = Deliverers::new().with(d.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(ob.clone().run(ds, async {
        let _ = stopped.await;
    }));
    ob.enqueue("test.write", "live", &json!({"x": 1})).unwrap();
    let rec = ob
        .wait_done("live", Duration::from_secs(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.state, WriteState::Done);
    stop.send(()).unwrap();
    task.await.unwrap();
    assert_eq!(d.calls(), vec!["live"]);
}

#[test]
fn uuids_from_keys_are_stable_and_well_formed() {
    let a = uuid_from_key("answer:1:finding:0");
    assert_eq!(a, uuid_from_key("answer:1:finding:0"));
    assert_ne!(a, uuid_from_key("answer:1:finding:1"));
    assert_eq!(a.len(), 36);
    assert_eq!(&a[14..15], "4");
    assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
}
