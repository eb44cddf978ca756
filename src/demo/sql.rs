//! The demo generator's SQL, step by step. Every random draw is `u(key, stream)`: a
//! deterministic uniform in [0, 1) from DuckDB's `hash`, so results never depend on thread
//! order. Stream numbers are arbitrary but fixed; change one and the data changes.

use chrono::{Datelike, Months, NaiveDate};

use super::DemoOptions;

/// Tables the demo creates, in build order.
pub const TABLES: [&str; 7] = [
    "merchants",
    "arr_movements",
    "tickets",
    "conversation_orders",
    "opportunities",
    "product_usage",
    "intent_signals",
];

pub struct Step {
    pub label: &'static str,
    pub sql: String,
}

/// `CASE WHEN u < c1 THEN 'v1' ... END` over weights that need not sum to one.
fn pick(u: &str, items: &[(&str, f64)]) -> String {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut acc = 0.0;
    let mut out = String::from("CASE");
    for (i, (v, w)) in items.iter().enumerate() {
        acc += w / total;
        let v = v.replace('\'', "''");
        if i + 1 == items.len() {
            out.push_str(&format!(" ELSE '{v}' END"));
        } else {
            out.push_str(&format!(" WHEN {u} < {acc:.6} THEN '{v}'"));
        }
    }
    out
}

/// `CASE key WHEN 'a' THEN x ... END` lookup.
fn lookup(key: &str, items: &[(&str, f64)], default: f64) -> String {
    let mut out = format!("CASE {key}");
    for (k, v) in items {
        out.push_str(&format!(" WHEN '{}' THEN {v}", k.replace('\'', "''")));
    }
    out.push_str(&format!(" ELSE {default} END"));
    out
}

fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| format!("'{}'", s.replace('\'', "''")))
        .collect();
    format!("[{}]", quoted.join(", "))
}

const VERTICALS: [(&str, f64); 10] = [
    ("Apparel & Accessories", 24.0),
    ("Health & Beauty", 18.0),
    ("Food & Beverages", 12.0),
    ("Home & Garden", 11.0),
    ("Sporting Goods", 8.0),
    ("Electronics", 8.0),
    ("Pets", 6.0),
    ("Jewelry", 6.0),
    ("Toys & Games", 4.0),
    ("Wellness & CBD", 3.0),
];

/// How fast human agents in a vertical respond, relative to the median (lower is faster).
const VERTICAL_SPEED: [(&str, f64); 10] = [
    ("Apparel & Accessories", 0.9),
    ("Health & Beauty", 1.0),
    ("Food & Beverages", 1.35),
    ("Home & Garden", 1.1),
    ("Sporting Goods", 1.0),
    ("Electronics", 0.55),
    ("Pets", 0.85),
    ("Jewelry", 0.65),
    ("Toys & Games", 1.2),
    ("Wellness & CBD", 1.7),
];

/// Median order value by vertical, USD.
const VERTICAL_AOV: [(&str, f64); 10] = [
    ("Apparel & Accessories", 85.0),
    ("Health & Beauty", 55.0),
    ("Food & Beverages", 45.0),
    ("Home & Garden", 120.0),
    ("Sporting Goods", 110.0),
    ("Electronics", 190.0),
    ("Pets", 60.0),
    ("Jewelry", 230.0),
    ("Toys & Games", 50.0),
    ("Wellness & CBD", 70.0),
];

const COUNTRIES: [(&str, f64); 10] = [
    ("United States", 55.0),
    ("United Kingdom", 12.0),
    ("Canada", 9.0),
    ("Australia", 7.0),
    ("Germany", 5.0),
    ("France", 5.0),
    ("Netherlands", 3.0),
    ("Spain", 2.0),
    ("Ireland", 1.0),
    ("New Zealand", 1.0),
];

const CSMS: [&str; 12] = [
    "Ava Thompson",
    "Liam Carter",
    "Sofia Martinez",
    "Noah Kim",
    "Maya Patel",
    "Ethan Brooks",
    "Chloe Nguyen",
    "Lucas Meyer",
    "Isabella Rossi",
    "Owen Walsh",
    "Zoe Laurent",
    "Daniel Okafor",
];

const AES: [&str; 8] = [
    "Hannah Lee",
    "Marcus Reed",
    "Priya Shah",
    "Tom Becker",
    "Elena Garcia",
    "Jamal Wright",
    "Sara Lindqvist",
    "Kenji Sato",
];

const NAME_A: [&str; 40] = [
    "Blue", "Golden", "Wild", "Urban", "Little", "North", "Sunny", "Silver", "Bright", "Happy",
    "Pure", "Bold", "Coastal", "Maple", "Cedar", "Velvet", "Lucky", "Honest", "Modern", "Rustic",
    "Crimson", "Emerald", "Humble", "Noble", "Olive", "Pine", "Rose", "Sage", "Stone", "True",
    "Willow", "Amber", "Cloud", "Copper", "Echo", "Fern", "Harbor", "Ivory", "Juniper", "Lunar",
];

const NAME_B: [&str; 40] = [
    "Fox", "Bloom", "Otter", "Peak", "River", "Oak", "Meadow", "Finch", "Lantern", "Thread",
    "Kettle", "Canvas", "Orchard", "Compass", "Anchor", "Barrel", "Basket", "Beacon", "Bramble",
    "Cove", "Crest", "Dune", "Feather", "Field", "Garden", "Grove", "Hollow", "Island", "Lake",
    "Leaf", "Marble", "Mesa", "Moon", "Nest", "Pebble", "Prairie", "Ridge", "Spruce", "Summit",
    "Valley",
];

const NAME_C: [&str; 10] = [
    "Co.",
    "Goods",
    "Supply",
    "Studio",
    "Shop",
    "Collective",
    "Market",
    "House",
    "Outfitters",
    "Labs",
];

/// Number of merchants (fixed; `--scale` multiplies the event tables only).
pub const MERCHANTS: u32 = 16_000;

pub fn steps(o: &DemoOptions) -> Vec<Step> {
    let seed = o.seed;
    let end = o.end_date;
    let hist = NaiveDate::from_ymd_opt(end.year(), end.month(), 1)
        .and_then(|d| d.checked_sub_months(Months::new(23)))
        .unwrap_or(end);
    let scale = o.scale;
    let e = format!("DATE '{end}'");
    let h = format!("DATE '{hist}'");

    let mut steps = Vec::new();
    let mut step = |label: &'static str, sql: String| steps.push(Step { label, sql });

    step(
        "random streams",
        format!(
            "CREATE TEMP MACRO u(a, b) AS (hash(a, b, {seed}::UBIGINT) % 1000003)::DOUBLE / 1000003.0;
             CREATE TEMP MACRO z(a, b) AS sqrt(-2 * ln(greatest(u(a, b), 1e-9))) * cos(2 * pi() * u(a, b + 7919));"
        ),
    );

    // Merchants and their hidden traits (_m keeps what later steps need).
    let segment = pick(
        "u(i, 1)",
        &[("SMB", 70.0), ("Mid-Market", 22.0), ("Enterprise", 8.0)],
    );
    let vertical = pick("u(i, 2)", &VERTICALS);
    let country = pick("u(i, 3)", &COUNTRIES);
    let gmv = format!(
        "CASE segment WHEN 'SMB' THEN {} WHEN 'Mid-Market' THEN {} ELSE {} END",
        pick("u(i, 4)", &[("<$1M", 75.0), ("$1M-$5M", 25.0)]),
        pick("u(i, 4)", &[("$1M-$5M", 60.0), ("$5M-$20M", 40.0)]),
        pick("u(i, 4)", &[("$5M-$20M", 35.0), ("$20M+", 65.0)]),
    );
    let plan = format!(
        "CASE segment WHEN 'SMB' THEN {} WHEN 'Mid-Market' THEN {} ELSE {} END",
        pick(
            "u(i, 5)",
            &[("Starter", 35.0), ("Basic", 45.0), ("Pro", 20.0)]
        ),
        pick("u(i, 5)", &[("Pro", 60.0), ("Advanced", 40.0)]),
        pick("u(i, 5)", &[("Advanced", 30.0), ("Enterprise", 70.0)]),
    );
    let platform = format!(
        "CASE segment WHEN 'SMB' THEN {} WHEN 'Mid-Market' THEN {} ELSE {} END",
        pick(
            "u(i, 6)",
            &[
                ("Shopify", 70.0),
                ("Shopify Plus", 10.0),
                ("BigCommerce", 15.0),
                ("Magento", 5.0)
            ]
        ),
        pick(
            "u(i, 6)",
            &[
                ("Shopify Plus", 50.0),
                ("Shopify", 25.0),
                ("BigCommerce", 15.0),
                ("Magento", 10.0)
            ]
        ),
        pick(
            "u(i, 6)",
            &[
                ("Shopify Plus", 60.0),
                ("Magento", 25.0),
                ("BigCommerce", 15.0)
            ]
        ),
    );
    step(
        "merchants",
        format!(
            "CREATE TEMP TABLE _m AS
             WITH a AS (
               SELECT i, (i * 7919) % {MERCHANTS} AS p, {segment} AS segment FROM range(1, {MERCHANTS} + 1) t(i)
             ), b AS (
               SELECT *,
                 {vertical} AS vertical, {country} AS country, {gmv} AS gmv_tier, {plan} AS plan,
                 {platform} AS platform,
                 {e} - CAST(floor((1 - sqrt(u(i, 7))) * 1825) AS INTEGER) AS signup_date,
                 CASE segment WHEN 'SMB' THEN 0.018 WHEN 'Mid-Market' THEN 0.009 ELSE 0.004 END AS hazard
               FROM a
             ), c AS (
               SELECT *, signup_date + 30 + CAST(-ln(greatest(u(i, 8), 1e-9)) / hazard * 30.4 AS INTEGER) AS churn0
               FROM b
             ), d AS (
               SELECT *,
                 -- Seasonal churn: a third of churn decisions land in January, after the holiday peak.
                 CASE WHEN u(i, 9) < 0.35 AND make_date(year(churn0) + CASE WHEN month(churn0) > 1 THEN 1 ELSE 0 END, 1, 5 + CAST(floor(u(i, 10) * 20) AS INTEGER)) < {e}
                      THEN make_date(year(churn0) + CASE WHEN month(churn0) > 1 THEN 1 ELSE 0 END, 1, 5 + CAST(floor(u(i, 10) * 20) AS INTEGER))
                      ELSE churn0 END AS churn1
               FROM c
             ), f AS (
               SELECT *,
                 CASE WHEN churn1 < {e} AND churn1 > signup_date + 30 THEN churn1 END AS churned_date,
                 u(i, 11) < CASE segment WHEN 'SMB' THEN 0.15 WHEN 'Mid-Market' THEN 0.28 ELSE 0.42 END AS ai_pick,
                 greatest(signup_date + 14, {e} - 540) AS ai_from
               FROM d
             )
             SELECT i, printf('M%05d', i) AS merchant_id,
               {a}[p % 40 + 1] || ' ' || {b}[(p // 40) % 40 + 1] || ' ' || {c}[p // 1600 + 1] AS name,
               vertical, segment, gmv_tier, country, platform, plan, signup_date, churned_date,
               CASE WHEN segment = 'SMB' THEN 'Digital Success' ELSE {csms}[CAST(floor(u(i, 12) * 12) AS INTEGER) + 1] END AS csm_owner,
               CASE WHEN ai_pick AND ai_from < {e} - 1 THEN
                 ai_from + CAST(floor(sqrt(u(i, 13)) * ({e} - 1 - ai_from)) AS INTEGER) END AS ai_date0
             FROM f;
             CREATE TEMP TABLE _m2 AS
               SELECT * EXCLUDE (ai_date0),
                 CASE WHEN ai_date0 IS NOT NULL AND (churned_date IS NULL OR ai_date0 < churned_date - 7) THEN ai_date0 END AS ai_date
               FROM _m;
             CREATE TABLE merchants AS
               SELECT merchant_id, name, vertical, segment, gmv_tier, country, platform, plan,
                      signup_date, churned_date, csm_owner, ai_date IS NOT NULL AS ai_agent_enabled
               FROM _m2 ORDER BY merchant_id;",
            a = list(&NAME_A),
            b = list(&NAME_B),
            c = list(&NAME_C),
            csms = list(&CSMS),
        ),
    );

    // Products each merchant pays for, with the ARR of the initial contract.
    let helpdesk_arr = "CASE plan WHEN 'Starter' THEN 120 WHEN 'Basic' THEN 720 WHEN 'Pro' THEN 4320 WHEN 'Advanced' THEN 10800 \
                        ELSE round(24000 + 156000 * u(i, 20) * u(i, 20), -2) END";
    step(
        "products",
        format!(
            "CREATE TEMP TABLE _mp AS
             WITH p AS (
               SELECT i, merchant_id, segment, 'Helpdesk' AS product, signup_date AS start_date, churned_date AS end_date,
                      CAST({helpdesk_arr} AS DOUBLE) AS base, 0 AS k FROM _m2
               UNION ALL
               SELECT i, merchant_id, segment, 'AI Agent', ai_date, churned_date,
                      round(({helpdesk_arr}) * (0.25 + 0.35 * u(i, 21)), 0), 1 FROM _m2 WHERE ai_date IS NOT NULL
               UNION ALL
               SELECT i, merchant_id, segment, x.product,
                      signup_date + CAST(floor(u(i, 22 + x.k) * ({e} - signup_date)) AS INTEGER), churned_date,
                      round(({helpdesk_arr}) * (0.08 + 0.12 * u(i, 26 + x.k)), 0), x.k
               FROM _m2, (VALUES ('Voice', 2, 0.05, 0.15, 0.35), ('SMS', 3, 0.08, 0.15, 0.25), ('Convert', 4, 0.06, 0.12, 0.20)) x(product, k, ps, pm, pe)
               WHERE u(i, 30 + x.k) < CASE segment WHEN 'SMB' THEN x.ps WHEN 'Mid-Market' THEN x.pm ELSE x.pe END
             )
             SELECT * FROM p WHERE start_date < coalesce(end_date, {e} + 1) AND base > 0;"
        ),
    );

    step(
        "arr_movements",
        format!(
            "CREATE TABLE arr_movements AS
             WITH ev AS (
               SELECT start_date AS movement_date, merchant_id, product, 'new' AS movement_type, base AS delta, i, k, end_date FROM _mp
               UNION ALL
               -- Upgrades land 1-30 months into a contract; those past today or churn are dropped.
               SELECT start_date + 30 + CAST(floor(u(i * 8 + k, 40 + r) * 900) AS INTEGER),
                      merchant_id, product, 'expansion', round(base * (0.10 + 0.30 * u(i * 8 + k, 50 + r)), 2), i, k, end_date
               FROM _mp, range(3) t(r)
               WHERE u(i * 8 + k, 60 + r) < CASE segment WHEN 'Enterprise' THEN 0.6 WHEN 'Mid-Market' THEN 0.45 ELSE 0.3 END
               UNION ALL
               SELECT start_date + 60 + CAST(floor(u(i * 8 + k, 70) * 900) AS INTEGER),
                      merchant_id, product, 'contraction', -round(base * (0.05 + 0.20 * u(i * 8 + k, 71)), 2), i, k, end_date
               FROM _mp
               WHERE u(i * 8 + k, 72) < 0.25
             ), live AS (
               SELECT * FROM ev WHERE movement_date <= {e} AND (end_date IS NULL OR movement_date < end_date)
             ), churn AS (
               -- Whole cents, so the churn movement brings the balance to exactly zero.
               SELECT end_date AS movement_date, merchant_id, product, 'churn' AS movement_type, -sum(CAST(round(delta * 100) AS BIGINT)) AS cents
               FROM live WHERE end_date IS NOT NULL GROUP BY ALL
             )
             SELECT movement_date, merchant_id, product, movement_type, cents / 100.0 AS arr_delta_usd
             FROM (SELECT movement_date, merchant_id, product, movement_type, CAST(round(delta * 100) AS BIGINT) AS cents FROM live
                   UNION ALL SELECT * FROM churn)
             ORDER BY movement_date, merchant_id, product, movement_type;"
        ),
    );

    // Day weights: weekday rhythm, BFCM (Thanksgiving to Cyber Monday), December shipping anxiety.
    step(
        "calendar",
        format!(
            "CREATE TEMP TABLE _days AS
             WITH d AS (
               SELECT CAST(x AS DATE) AS day FROM generate_series(CAST({h} AS TIMESTAMP), CAST({e} AS TIMESTAMP), INTERVAL 1 DAY) g(x)
             ), t AS (
               SELECT day, date_trunc('month', day) AS month,
                 make_date(year(day), 11, 1) + CAST(((4 - dayofweek(make_date(year(day), 11, 1)) + 7) % 7) + 21 AS INTEGER) AS thanksgiving
               FROM d
             ), w AS (
               SELECT day, month, thanksgiving,
                 (day BETWEEN thanksgiving AND thanksgiving + 4) AS bfcm,
                 {dow}
                 * CASE WHEN day BETWEEN thanksgiving AND thanksgiving + 4 THEN 2.6
                        WHEN day BETWEEN thanksgiving - 7 AND thanksgiving - 1 THEN 1.4
                        WHEN day BETWEEN thanksgiving + 5 AND thanksgiving + 11 THEN 1.5
                        WHEN month(day) = 12 AND day(day) <= 20 THEN 1.25
                        ELSE 1.0 END AS w
               FROM t
             )
             , wi AS (SELECT *, CAST(round(w * 1000) AS BIGINT) AS wi FROM w)
             -- Integer weights keep the cumulative distribution exact, whatever the thread order.
             SELECT day, month, bfcm, wi,
               CAST(coalesce(sum(wi) OVER (PARTITION BY month ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS DOUBLE)
                 / CAST(sum(wi) OVER (PARTITION BY month) AS DOUBLE) AS cum_lo
             FROM wi;",
            dow = lookup(
                "dayofweek(day)",
                &[("0", 0.8), ("1", 1.15), ("2", 1.1), ("3", 1.05), ("4", 1.0), ("5", 0.95), ("6", 0.75)],
                1.0
            )
            .replace("WHEN '", "WHEN ")
            .replace("' THEN", " THEN"),
        ),
    );

    // Tickets: per merchant-month volumes, expanded to rows, placed on days by the calendar.
    // Channel mix drifts over the 24 months (mi = 0..23): email shrinks, chat grows fastest.
    let channel = "CASE WHEN uc < 0.48 - 0.12 * mi / 23.0 THEN 'email' \
                   WHEN uc < 0.66 + 0.02 * mi / 23.0 THEN 'chat' \
                   WHEN uc < 0.73 + 0.01 * mi / 23.0 THEN 'facebook' \
                   WHEN uc < 0.80 + 0.01 * mi / 23.0 THEN 'instagram' \
                   WHEN uc < 0.85 + 0.01 * mi / 23.0 THEN 'whatsapp' \
                   WHEN uc < 0.92 THEN 'sms' ELSE 'voice' END";
    let intent = pick(
        "u(tk, 3)",
        &[
            ("order_status", 28.0),
            ("return_request", 14.0),
            ("shipping_policy", 9.0),
            ("product_question", 16.0),
            ("order_change", 8.0),
            ("refund", 7.0),
            ("subscription", 5.0),
            ("complaint", 5.0),
            ("other", 8.0),
        ],
    );
    let ai_p = lookup(
        "intent",
        &[
            ("order_status", 0.75),
            ("shipping_policy", 0.70),
            ("return_request", 0.55),
            ("product_question", 0.50),
            ("order_change", 0.45),
            ("subscription", 0.40),
            ("refund", 0.35),
            ("other", 0.30),
            ("complaint", 0.10),
        ],
        0.3,
    );
    let human_frt = lookup(
        "channel",
        &[
            ("email", 28800.0),
            ("chat", 240.0),
            ("voice", 35.0),
            ("sms", 3600.0),
            ("facebook", 10800.0),
            ("instagram", 10800.0),
            ("whatsapp", 3600.0),
        ],
        3600.0,
    );
    let human_res = lookup(
        "channel",
        &[
            ("email", 64800.0),
            ("chat", 1500.0),
            ("voice", 600.0),
            ("sms", 7200.0),
            ("facebook", 28800.0),
            ("instagram", 28800.0),
            ("whatsapp", 7200.0),
        ],
        14400.0,
    );
    let speed = lookup("vertical", &VERTICAL_SPEED, 1.0);
    step(
        "tickets",
        format!(
            "CREATE TEMP TABLE _mm AS
             WITH months AS (
               SELECT DISTINCT month FROM _days
             ), mm AS (
               SELECT m.i, m.merchant_id, m.segment, mo.month,
                 CAST(datediff('month', {h}, mo.month) AS INTEGER) AS mi
               FROM _m2 m JOIN months mo ON m.signup_date <= last_day(mo.month) AND (m.churned_date IS NULL OR m.churned_date > mo.month)
             )
             SELECT *, CAST(round(
                 CASE segment WHEN 'SMB' THEN 4.8 WHEN 'Mid-Market' THEN 17 ELSE 40 END * {scale}
                 * (1 + 0.25 * mi / 23.0)
                 * CASE month(month) WHEN 11 THEN 1.15 WHEN 12 THEN 1.2 WHEN 1 THEN 1.1 ELSE 1.0 END
                 * (0.4 + 1.2 * u(i * 100 + mi, 80))) AS INTEGER) AS n
             FROM mm;
             CREATE TEMP TABLE _t AS
             WITH r AS (
               SELECT mm.i, mm.merchant_id, mm.month, mm.mi, hash(mm.i, mm.mi, k, {seed}::UBIGINT) AS tk
               FROM _mm mm, range(0, (SELECT max(n) FROM _mm)) t(k) WHERE k < mm.n
             ), placed AS (
               SELECT r.*, u(tk, 1) AS ud FROM r
             ), dated AS (
               SELECT p.*, d.day, d.bfcm FROM placed p ASOF JOIN _days d ON p.month = d.month AND p.ud >= d.cum_lo
             ), j AS (
               SELECT d.*, m.vertical, m.segment, m.signup_date, m.churned_date, m.ai_date,
                 CAST(d.day AS TIMESTAMP) + CAST(floor(
                   CASE WHEN u(tk, 4) < 0.85 THEN 25200 + u(tk, 5) * 57600 ELSE u(tk, 5) * 86400 END) AS INTEGER) * INTERVAL 1 SECOND AS created_at,
                 u(tk, 2) AS uc
               FROM dated d JOIN _m2 m USING (i)
               WHERE d.day >= m.signup_date AND (m.churned_date IS NULL OR d.day < m.churned_date) AND d.day <= {e}
             ), k AS (
               SELECT *, {channel} AS channel, {intent} AS intent FROM j
             ), hb AS (
               SELECT *,
                 CASE WHEN ai_date IS NOT NULL AND day >= ai_date
                       AND u(tk, 6) < ({ai_p}) * least(1.1, 0.75 + 0.35 * (day - ai_date) / 365.0)
                                     * CASE WHEN channel = 'voice' THEN 0.3 ELSE 1.0 END
                      THEN 'ai_agent' ELSE 'human' END AS handled_by,
                 CASE WHEN day >= {e} - 1 THEN u(tk, 7) < 0.6 WHEN day >= {e} - 3 THEN u(tk, 7) < 0.25 ELSE u(tk, 7) < 0.004 END AS is_open
               FROM k
             )
             SELECT *,
               CASE WHEN handled_by = 'ai_agent' THEN exp(ln(12) + 0.5 * z(tk, 8))
                    ELSE ({human_frt}) * ({speed})
                         * CASE segment WHEN 'Enterprise' THEN 0.7 WHEN 'Mid-Market' THEN 0.85 ELSE 1.15 END
                         * CASE WHEN bfcm THEN 1.8 WHEN month(day) = 12 THEN 1.2 ELSE 1.0 END
                         * exp(0.9 * z(tk, 9)) END AS frt,
               CASE WHEN handled_by = 'ai_agent' THEN exp(ln(240) + 0.9 * z(tk, 10))
                    ELSE ({human_res}) * ({speed}) * exp(1.0 * z(tk, 11)) END AS res,
               u(tk, 14) + CASE intent WHEN 'complaint' THEN 0.25 WHEN 'refund' THEN 0.10 ELSE 0 END
                 + CASE WHEN handled_by = 'ai_agent' THEN 0.04 ELSE 0 END
                 + CASE WHEN bfcm THEN 0.05 ELSE 0 END AS sc
             FROM hb;
             CREATE TABLE tickets AS
             SELECT printf('T%08d', row_number() OVER (ORDER BY created_at, merchant_id, tk)) AS ticket_id,
               merchant_id, created_at, channel, intent, handled_by,
               CASE WHEN is_open AND u(tk, 12) < 0.5 THEN NULL ELSE CAST(greatest(1, round(frt)) AS INTEGER) END AS first_response_seconds,
               CASE WHEN is_open THEN NULL ELSE CAST(greatest(1, round(frt + res)) AS INTEGER) END AS resolution_seconds,
               CASE WHEN NOT is_open AND u(tk, 13) < 0.22 THEN
                 CASE WHEN sc < 0.60 THEN 5 WHEN sc < 0.87 THEN 4 WHEN sc < 0.94 THEN 3 WHEN sc < 0.97 THEN 2 ELSE 1 END
               END AS csat_score,
               CASE WHEN is_open THEN 'open' ELSE 'closed' END AS status
             FROM _t
             ORDER BY created_at, merchant_id;"
        ),
    );

    let order_p = lookup(
        "intent",
        &[
            ("product_question", 0.85),
            ("order_status", 0.35),
            ("shipping_policy", 0.60),
            ("return_request", 0.30),
            ("order_change", 0.60),
            ("subscription", 0.50),
            ("other", 0.30),
            ("refund", 0.05),
            ("complaint", 0.05),
        ],
        0.3,
    );
    let aov = lookup("vertical", &VERTICAL_AOV, 80.0);
    step(
        "conversation_orders",
        format!(
            "CREATE TABLE conversation_orders AS
             WITH o AS (
               SELECT tk, merchant_id, vertical, channel, handled_by, ai_date, day,
                 created_at + CAST(least(259200, 2400 * -ln(greatest(u(tk, 21), 1e-9))) AS INTEGER) * INTERVAL 1 SECOND AS ordered_at
               FROM _t WHERE u(tk, 20) < {order_p}
             )
             SELECT printf('O%08d', row_number() OVER (ORDER BY ordered_at, merchant_id, tk)) AS order_id,
               merchant_id, ordered_at,
               CASE WHEN handled_by = 'ai_agent' THEN 'ai_only'
                    WHEN ai_date IS NOT NULL AND day >= ai_date AND u(tk, 22) < 0.4 THEN 'ai_assisted'
                    ELSE 'human' END AS influence,
               channel,
               round(({aov}) * exp(0.6 * z(tk, 23)), 2) AS order_value_usd
             FROM o WHERE ordered_at < {e} + 1
             ORDER BY ordered_at, merchant_id;"
        ),
    );

    let stage_open = pick(
        "u(i * 10 + r, 93)",
        &[
            ("prospecting", 30.0),
            ("discovery", 30.0),
            ("proposal", 25.0),
            ("negotiation", 15.0),
        ],
    );
    let addon = pick(
        "u(i * 10 + r, 91)",
        &[
            ("AI Agent", 40.0),
            ("Voice", 20.0),
            ("SMS", 15.0),
            ("Convert", 15.0),
            ("Helpdesk", 10.0),
        ],
    );
    step(
        "opportunities",
        format!(
            "CREATE TABLE opportunities AS
             WITH won AS (
               SELECT merchant_id, i, k AS r, product, 'closed_won' AS stage, base AS amount_usd,
                 start_date - 20 - CAST(floor(u(i * 10 + k, 90) * 100) AS INTEGER) AS created_date, start_date AS close_date
               FROM _mp WHERE segment <> 'SMB' AND start_date >= {h}
             ), lost AS (
               SELECT m.merchant_id, m.i, r, {addon} AS product, 'closed_lost' AS stage,
                 round(CASE m.segment WHEN 'Enterprise' THEN 40000 ELSE 8000 END * (0.2 + 0.8 * u(m.i * 10 + r, 92)), -2) AS amount_usd,
                 NULL::DATE AS created_date,
                 {h} + CAST(floor(u(m.i * 10 + r, 94) * ({e} - {h})) AS INTEGER) AS close_date
               FROM _m2 m, range(2) t(r)
               WHERE m.segment <> 'SMB' AND u(m.i * 10 + r, 95) < CASE m.segment WHEN 'Enterprise' THEN 0.8 ELSE 0.45 END
             ), lost2 AS (
               SELECT l.* EXCLUDE (created_date), close_date - 20 - CAST(floor(u(i * 10 + r, 96) * 100) AS INTEGER) AS created_date
               FROM lost l JOIN _m2 m USING (i)
               WHERE l.close_date > m.signup_date AND (m.churned_date IS NULL OR l.close_date < m.churned_date)
             ), open AS (
               SELECT merchant_id, i, r, {addon} AS product, {stage_open} AS stage,
                 round(CASE segment WHEN 'Enterprise' THEN 45000 WHEN 'Mid-Market' THEN 9000 ELSE 1500 END * (0.2 + 0.8 * u(i * 10 + r, 97)), -2) AS amount_usd,
                 {e} - CAST(floor(u(i * 10 + r, 98) * 120) AS INTEGER) AS created_date,
                 {e} + 7 + CAST(floor(u(i * 10 + r, 99) * 150) AS INTEGER) AS close_date
               FROM _m2, range(1) t(r)
               WHERE churned_date IS NULL AND u(i * 10 + r, 100) < CASE segment WHEN 'Enterprise' THEN 0.35 WHEN 'Mid-Market' THEN 0.12 ELSE 0.01 END
             ), allo AS (
               SELECT merchant_id, i, r, product, stage, amount_usd, created_date, close_date FROM won
               UNION ALL SELECT merchant_id, i, r, product, stage, amount_usd, created_date, close_date FROM lost2
               UNION ALL SELECT merchant_id, i, r, product, stage, amount_usd, created_date, close_date FROM open
             )
             SELECT printf('OPP-%06d', row_number() OVER (ORDER BY created_date, merchant_id, product, stage)) AS opportunity_id,
               merchant_id, {aes}[CAST(floor(u(i * 10 + r, 101 + length(product)) * 8) AS INTEGER) + 1] AS owner,
               product, stage, CAST(amount_usd AS DOUBLE) AS amount_usd, created_date, close_date
             FROM allo ORDER BY created_date, merchant_id, product, stage;",
            aes = list(&AES),
        ),
    );

    step(
        "product_usage",
        format!(
            "CREATE TABLE product_usage AS
             WITH f AS (
               SELECT merchant_id, i, product AS feature, start_date AS adopted_date, end_date, segment FROM _mp
               UNION ALL
               SELECT m.merchant_id, m.i, x.feature,
                 m.signup_date + CAST(floor(u(m.i, 110 + x.k) * least(365, {e} - m.signup_date)) AS INTEGER),
                 m.churned_date, m.segment
               FROM _m2 m, (VALUES ('Macros', 1, 0.85, 0.95, 0.98), ('Rules & Automations', 2, 0.45, 0.80, 0.92),
                                   ('Self-service Portal', 3, 0.25, 0.55, 0.75), ('Knowledge Base', 4, 0.30, 0.60, 0.80),
                                   ('Reporting', 5, 0.40, 0.75, 0.95), ('Multi-store', 6, 0.03, 0.20, 0.45),
                                   ('Shopify Integration', 7, 0.95, 0.95, 0.95)) x(feature, k, ps, pm, pe)
               WHERE u(m.i, 120 + x.k) < CASE m.segment WHEN 'SMB' THEN x.ps WHEN 'Mid-Market' THEN x.pm ELSE x.pe END
                 AND (x.feature <> 'Shopify Integration' OR m.platform LIKE 'Shopify%')
             )
             SELECT merchant_id, feature, adopted_date,
               CASE WHEN end_date IS NOT NULL THEN end_date - 1 - CAST(floor(u(i, 130 + length(feature)) * 10) AS INTEGER)
                    ELSE {e} - CAST(floor(pow(u(i, 130 + length(feature)), 3) * 30) AS INTEGER) END AS last_active_date,
               CAST(greatest(1, round(CASE segment WHEN 'SMB' THEN 1 + 3 * u(i, 140) WHEN 'Mid-Market' THEN 4 + 16 * u(i, 140) ELSE 20 + 130 * u(i, 140) END
                 * CASE WHEN feature = 'Helpdesk' THEN 1 ELSE 0.3 + 0.6 * u(i, 141 + length(feature)) END)) AS INTEGER) AS active_agents
             FROM f
             WHERE adopted_date <= {e}
             ORDER BY merchant_id, feature;"
        ),
    );

    // Weekly seat counts (Mondays): a snapshot, so seats are never added up over weeks.
    // Seats in use grow with tenure; merchants pay for a few more than they use.
    step(
        "seat_snapshots",
        format!(
            "CREATE TABLE seat_snapshots AS
             WITH w AS (
               SELECT CAST(d AS DATE) AS snapshot_date, row_number() OVER (ORDER BY d) AS wk
               FROM range(CAST(date_trunc('week', {h}) AS DATE), {e} + 1, INTERVAL 7 DAY) r(d)
               WHERE CAST(d AS DATE) >= {h}
             ), s AS (
               SELECT w.snapshot_date, w.wk, m.merchant_id, m.i,
                 CASE m.segment WHEN 'SMB' THEN 1 + 3 * u(m.i, 170) WHEN 'Mid-Market' THEN 4 + 16 * u(m.i, 170)
                      ELSE 20 + 130 * u(m.i, 170) END
                   * (0.6 + 0.4 * least(1.0, (w.snapshot_date - m.signup_date) / 365.0)) AS seats
               FROM w, _m2 m
               WHERE m.signup_date <= w.snapshot_date
                 AND (m.churned_date IS NULL OR m.churned_date > w.snapshot_date)
             )
             SELECT snapshot_date, merchant_id,
               CAST(greatest(1, round(seats * (0.9 + 0.2 * u(i * 200 + wk, 171)))) AS INTEGER) AS active_seats,
               CAST(ceil(seats * (1.15 + 0.25 * u(i, 172))) AS INTEGER) AS licensed_seats
             FROM s ORDER BY snapshot_date, merchant_id;"
        ),
    );

    let signal = pick(
        "u(i * 10 + r, 151)",
        &[
            ("pricing_page_visit", 30.0),
            ("ai_agent_page_visit", 20.0),
            ("demo_requested", 8.0),
            ("trial_started", 7.0),
            ("competitor_mentioned", 10.0),
            ("seat_limit_reached", 10.0),
            ("ticket_volume_spike", 15.0),
        ],
    );
    step(
        "intent_signals",
        format!(
            "CREATE TABLE intent_signals AS
             WITH s AS (
               SELECT m.merchant_id, m.i, r, m.segment, m.ai_date,
                 {e} - CAST(floor(u(m.i * 10 + r, 150) * 180) AS INTEGER) AS signal_date,
                 {signal} AS st,
                 1 + CAST(floor(u(m.i * 10 + r, 152) * 5) AS INTEGER) AS strength,
                 2 + CAST(floor(u(m.i * 10 + r, 153) * 6) AS INTEGER) AS times
               FROM _m2 m, range(4) t(r)
               WHERE m.churned_date IS NULL
                 AND u(m.i * 10 + r, 154) < CASE m.segment WHEN 'SMB' THEN 0.08 WHEN 'Mid-Market' THEN 0.25 ELSE 0.45 END
                 AND {e} - CAST(floor(u(m.i * 10 + r, 150) * 180) AS INTEGER) >= m.signup_date
             ), t AS (
               SELECT *, CASE WHEN st = 'ai_agent_page_visit' AND ai_date IS NOT NULL THEN 'voice_page_visit' ELSE st END AS signal_type FROM s
             )
             SELECT printf('SIG-%06d', row_number() OVER (ORDER BY signal_date, merchant_id, r)) AS signal_id,
               merchant_id, signal_date, signal_type, strength,
               CASE signal_type
                 WHEN 'pricing_page_visit' THEN 'Viewed the pricing page ' || times || ' times in a week'
                 WHEN 'ai_agent_page_visit' THEN 'Read the AI Agent product pages ' || times || ' times'
                 WHEN 'voice_page_visit' THEN 'Read the Voice product pages ' || times || ' times'
                 WHEN 'demo_requested' THEN 'Requested a demo of ' || {addon_plain}
                 WHEN 'trial_started' THEN 'Started a trial of ' || {addon_plain}
                 WHEN 'competitor_mentioned' THEN 'Mentioned ' || {competitor} || ' in a support conversation'
                 WHEN 'seat_limit_reached' THEN 'Reached the agent seat limit of their plan'
                 ELSE 'Ticket volume up ' || (20 + 10 * times) || '% week over week'
               END AS detail
             FROM t ORDER BY signal_date, merchant_id;",
            addon_plain = pick(
                "u(i * 10 + r, 155)",
                &[("AI Agent", 50.0), ("Voice", 20.0), ("SMS", 15.0), ("Convert", 15.0)]
            ),
            competitor = pick(
                "u(i * 10 + r, 156)",
                &[("Zendesk", 40.0), ("Gladly", 20.0), ("Kustomer", 20.0), ("Re:amaze", 20.0)]
            ),
        ),
    );
    steps
}
