//! `cortex demo --anomalies`: a documented set of anomalies injected into the demo history,
//! each one a different kind, for the signals to find (`cortex bench signals` measures
//! precision and recall against this list).
//!
//! Every injection is set-based SQL run after the clean build, in the same connection (so
//! the hash-based `u(a, b)` stream of `sql.rs` picks the rows: deterministic for a seed and
//! end date). Dates are relative to the end date, inside the last twelve months (the signals
//! compare with last year) and away from BFCM (which must stay a normal peak).
//!
//! | id | kind | what |
//! |----|------|------|
//! | `chat_frt_electronics` | anomaly, day | chat first response ×3 for Electronics merchants for a week |
//! | `refund_spike_magento` | anomaly, day | 30% of other tickets of Magento merchants become refund requests for 5 days |
//! | `ai_automation_drop` | anomaly, day | 80% of AI Agent tickets handled by humans for 3 weeks (a broken release) |
//! | `churn_cluster_pets` | anomaly, week | 30 active Pets merchants churn in one week |
//! | `ticket_flood` | concentration, week | the busiest Enterprise merchant's tickets ×40 for a week |
//! | `competitor_mention_enterprise` | new event, day | the largest Enterprise account mentions a competitor |

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::sql::Step;
use super::DemoOptions;

/// One injected anomaly, as written to `<warehouse>.anomalies.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Injected {
    pub id: String,
    /// anomaly | concentration | new_events (the kind of signal that should find it).
    pub kind: String,
    pub metric: String,
    /// `dimension=member`, as signals name their scope (`None`: the whole metric).
    pub scope: Option<String>,
    /// First and last day affected (inclusive).
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// The shipped signal that should fire.
    pub expected_signal: String,
    pub description: String,
}

fn monday(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

/// The anomalies for a build ending at `end`.
pub fn list(end: NaiveDate) -> Vec<Injected> {
    let day = |back: i64| end - Duration::days(back);
    let chat = day(75);
    let refund = day(130);
    let ai = day(200);
    let churn = monday(day(160));
    let flood = monday(day(45));
    let mention = day(20);
    let mk = |id: &str,
              kind: &str,
              metric: &str,
              scope: Option<&str>,
              start: NaiveDate,
              len: i64,
              signal: &str,
              description: &str| Injected {
        id: id.into(),
        kind: kind.into(),
        metric: metric.into(),
        scope: scope.map(str::to_string),
        start,
        end: start + Duration::days(len - 1),
        expected_signal: signal.into(),
        description: description.into(),
    };
    vec![
        mk(
            "chat_frt_electronics",
            "anomaly",
            "first_response_time",
            Some("vertical=Electronics"),
            chat,
            7,
            "chat_first_response_by_vertical",
            "Chat first response time triples for Electronics merchants for a week.",
        ),
        mk(
            "refund_spike_magento",
            "anomaly",
            "tickets",
            Some("platform=Magento"),
            refund,
            5,
            "refund_tickets_by_platform",
            "A third of Magento merchants' other tickets become refund requests for five days.",
        ),
        mk(
            "ai_automation_drop",
            "anomaly",
            "automation_rate",
            None,
            ai,
            21,
            "automation_rate_drop",
            "A broken AI Agent release: 80% of the tickets it would handle go to humans for three weeks.",
        ),
        mk(
            "churn_cluster_pets",
            "anomaly",
            "churned_merchants",
            Some("vertical=Pets"),
            churn,
            7,
            "churn_cluster_by_vertical",
            "Thirty active Pets merchants churn in the same week.",
        ),
        mk(
            "ticket_flood",
            "concentration",
            "tickets",
            None,
            flood,
            7,
            "ticket_concentration_by_merchant",
            "The busiest Enterprise merchant of the week files forty times its usual tickets.",
        ),
        mk(
            "competitor_mention_enterprise",
            "new_events",
            "intent_signals",
            Some("merchant_id=<largest Enterprise account>"),
            mention,
            1,
            "enterprise_competitor_mention",
            "The Enterprise account with the most ARR mentions Zendesk in a support conversation.",
        ),
    ]
}

/// The SQL steps that inject [`list`] after the clean build, and the list with the
/// competitor-mention account's id filled in by the caller (see [`super::build_with_anomalies`]).
pub fn steps(o: &DemoOptions) -> Vec<Step> {
    let a = list(o.end_date);
    let d = |s: NaiveDate| format!("DATE '{s}'");
    let by = |id: &str| {
        a.iter()
            .find(|x| x.id == id)
            .map(|x| (d(x.start), d(x.end + Duration::days(1))))
            .unwrap_or_default()
    };
    let mut steps = Vec::new();
    let (s, e) = by("chat_frt_electronics");
    steps.push(Step {
        label: "anomaly: chat first response x3 (Electronics)",
        sql: format!(
            "UPDATE tickets SET first_response_seconds = first_response_seconds * 3,
                    resolution_seconds = resolution_seconds + 2 * first_response_seconds
             WHERE channel = 'chat' AND created_at >= {s} AND created_at < {e}
               AND merchant_id IN (SELECT merchant_id FROM merchants WHERE vertical = 'Electronics');"
        ),
    });
    let (s, e) = by("refund_spike_magento");
    steps.push(Step {
        label: "anomaly: refund spike (Magento)",
        sql: format!(
            "UPDATE tickets SET intent = 'refund'
             WHERE intent <> 'refund' AND created_at >= {s} AND created_at < {e}
               AND u(ticket_id, 501) < 0.3
               AND merchant_id IN (SELECT merchant_id FROM merchants WHERE platform = 'Magento');"
        ),
    });
    let (s, e) = by("ai_automation_drop");
    steps.push(Step {
        label: "anomaly: AI automation drop",
        sql: format!(
            "UPDATE tickets SET handled_by = 'human'
             WHERE handled_by = 'ai_agent' AND created_at >= {s} AND created_at < {e}
               AND u(ticket_id, 502) < 0.8;"
        ),
    });
    let (s, _) = by("churn_cluster_pets");
    steps.push(Step {
        label: "anomaly: churn cluster (Pets)",
        sql: format!(
            "CREATE TEMP TABLE _churn AS
             SELECT merchant_id, {s} + CAST(floor(u(merchant_id, 503) * 7) AS INTEGER) AS d
             FROM merchants
             WHERE vertical = 'Pets' AND churned_date IS NULL AND signup_date < {s} - 90
             ORDER BY u(merchant_id, 504), merchant_id LIMIT 30;
             UPDATE merchants SET churned_date = c.d FROM _churn c WHERE merchants.merchant_id = c.merchant_id;
             DELETE FROM tickets t USING _churn c WHERE t.merchant_id = c.merchant_id AND t.created_at >= c.d;
             DELETE FROM conversation_orders o USING _churn c WHERE o.merchant_id = c.merchant_id AND o.ordered_at >= c.d;
             DELETE FROM intent_signals i USING _churn c WHERE i.merchant_id = c.merchant_id AND i.signal_date >= c.d;
             DELETE FROM arr_movements a USING _churn c WHERE a.merchant_id = c.merchant_id AND a.movement_date >= c.d;
             INSERT INTO arr_movements
               SELECT c.d, a.merchant_id, a.product, 'churn', -sum(a.arr_delta_usd)
               FROM arr_movements a JOIN _churn c USING (merchant_id)
               GROUP BY ALL HAVING abs(sum(a.arr_delta_usd)) > 0.001;
             UPDATE product_usage SET last_active_date = c.d - 1 FROM _churn c
               WHERE product_usage.merchant_id = c.merchant_id AND last_active_date >= c.d;
             DELETE FROM opportunities o USING _churn c
               WHERE o.merchant_id = c.merchant_id AND o.stage NOT IN ('closed_won', 'closed_lost');
             DROP TABLE _churn;"
        ),
    });
    let (s, e) = by("ticket_flood");
    steps.push(Step {
        label: "anomaly: ticket flood (one Enterprise merchant)",
        sql: format!(
            "CREATE TEMP TABLE _flood AS
             SELECT t.merchant_id FROM tickets t JOIN merchants m USING (merchant_id)
             WHERE m.segment = 'Enterprise' AND t.created_at >= {s} AND t.created_at < {e}
             GROUP BY ALL ORDER BY count(*) DESC, t.merchant_id LIMIT 1;
             INSERT INTO tickets
               SELECT t.ticket_id || '-F' || k, t.merchant_id,
                      t.created_at + CAST(floor(u(t.ticket_id, 505 + k) * 3600) AS INTEGER) * INTERVAL 1 SECOND,
                      t.channel, t.intent, t.handled_by, t.first_response_seconds, t.resolution_seconds,
                      t.csat_score, t.status
               FROM tickets t JOIN _flood f USING (merchant_id), range(1, 40) r(k)
               WHERE t.created_at >= {s} AND t.created_at < {e}
                 AND t.created_at + CAST(floor(u(t.ticket_id, 505 + k) * 3600) AS INTEGER) * INTERVAL 1 SECOND < {e};
             DROP TABLE _flood;"
        ),
    });
    let (s, _) = by("competitor_mention_enterprise");
    steps.push(Step {
        label: "anomaly: competitor mention (largest Enterprise account)",
        sql: format!(
            "INSERT INTO intent_signals
             SELECT 'SIG-INJ-001', a.merchant_id, {s}, 'competitor_mentioned', 5,
                    'Mentioned Zendesk in a support conversation'
             FROM arr_movements a JOIN merchants m USING (merchant_id)
             WHERE m.segment = 'Enterprise' AND m.churned_date IS NULL AND a.movement_date <= {s}
             GROUP BY a.merchant_id ORDER BY sum(a.arr_delta_usd) DESC, a.merchant_id LIMIT 1;"
        ),
    });
    steps
}

/// The id of the account the competitor mention was injected for (read back after the build).
pub const MENTION_SQL: &str =
    "SELECT merchant_id FROM intent_signals WHERE signal_id = 'SIG-INJ-001'";
