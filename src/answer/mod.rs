//! Answers: the typed model ([`model`]), the sections built from results ([`build`]), and
//! `ask`, which plans, runs and assembles the answer to a plain-language question. The JSON
//! form (`cortex ask --format json`) is a contract shared with tools outside the crate.

pub mod build;
pub mod headline;
pub mod model;

use chrono::NaiveDate;
use tracing::warn;

pub use model::*;

use crate::engine::{Engine, QueryError};
use crate::planner::{self, Plan, Shape, Span, Vocabulary};
use crate::warehouse::AuditContext;

/// Plans, compiles, runs and renders a plain-language question.
pub fn ask(
    engine: &Engine,
    vocab: &Vocabulary,
    question: &str,
    today: NaiveDate,
    requester: &str,
) -> Answer {
    let trimmed: String = question.chars().take(2000).collect();
    ask_question(
        engine,
        vocab,
        &crate::text::Question::new(&trimmed, today),
        requester,
    )
}

/// [`ask`] for a question already read (the pipeline reads each question once).
pub fn ask_question(
    engine: &Engine,
    vocab: &Vocabulary,
    q: &crate::text::Question,
    requester: &str,
) -> Answer {
    let question = q.raw.as_str();
    let today = q.today;
    let mut answer = match planner::plan_question(&engine.layer, vocab, q) {
        Plan::Clarify {
            question: q,
            choices,
        } => {
            let mut a = Answer::new(question, Status::Clarify, q);
            a.choices = choices;
            a
        }
        Plan::Unanswerable {
            reason,
            suggestions,
        } => {
            let mut headline = reason;
            if !suggestions.is_empty() {
                let labels: Vec<String> = suggestions
                    .iter()
                    .filter_map(|s| engine.layer.metric(s))
                    .map(|m| m.label.clone())
                    .collect();
                headline.push_str(&format!(" Closest metrics: {}.", labels.join(", ")));
            }
            let mut a = Answer::new(question, Status::Unanswerable, headline);
            a.choices = suggestions;
            a
        }
        Plan::Query {
            query,
            period,
            notes,
            understood,
            shape,
        } => {
            let mut a = match shape {
                Shape::Single => {
                    run_query(engine, question, query, period, notes, today, requester)
                }
                shape => run_shape(
                    engine, question, query, shape, period, notes, today, requester,
                ),
            };
            a.understood = understood;
            a
        }
    };
    answer.provenance.today = Some(today);
    metric_sections(&mut answer);
    answer
}

/// The sections of a metric answer: its chart (when a picture says more than the number),
/// its table (unless the headline already says the one number), and its findings. Also
/// fills in the title and "read as" line.
pub fn metric_sections(a: &mut Answer) {
    if a.title.is_empty() {
        a.title = crate::format::capitalize(a.question.trim());
    }
    if a.read_as.is_none() {
        a.read_as = crate::planner::understood::read_as(&a.understood);
    }
    if a.status != Status::Answered || !a.sections.is_empty() {
        return;
    }
    if let Some(sql) = &a.sql {
        if a.provenance.statements.is_empty() {
            a.provenance.statements.push(Statement {
                label: "Query".into(),
                sql: sql.clone(),
            });
        }
    }
    if !a.findings.is_empty() {
        a.sections.push(Section::Notes {
            kind: NoteKind::Finding,
            title: "Findings".into(),
            items: a.findings.clone(),
            empty: None,
        });
    }
    if a.rows.is_empty() || a.is_single_value() {
        return;
    }
    if let Some(c) = build::chart(&a.column_meta, &a.rows, &a.provenance.metrics) {
        a.sections.push(Section::Chart(c));
    }
    let table = build::table(
        None,
        &a.columns,
        &a.column_meta,
        &a.rows,
        &a.provenance.metrics,
    );
    a.sections.push(Section::Table(table));
}

/// The audit context and the provenance every answer of `query` starts from.
fn context(
    engine: &Engine,
    question: &str,
    query: &MetricQuery,
    period: Option<String>,
    notes: Vec<String>,
    today: NaiveDate,
    requester: &str,
) -> (AuditContext, Provenance) {
    let ctx = AuditContext {
        requester: requester.to_string(),
        question: question.to_string(),
        query_json: serde_json::to_string(query).ok(),
    };
    let mut notes = notes;
    let mut period = period;
    let time_range = match whole_periods(engine, query, today) {
        Some((read, grain)) => {
            let (from, to) = (crate::format::date(read.from), crate::format::date(read.to));
            let unit = grain.as_str();
            notes.push(format!(
                "Whole {unit}s are counted: {from} to {to} (every {unit} that overlaps the period asked)."
            ));
            // The headline names the range actually read, not only the one asked.
            period = period.map(|p| {
                let phrase = p.split(" (").next().unwrap_or(&p).to_string();
                format!("{phrase}, as whole {unit}s from {from} to {to}")
            });
            Some(read)
        }
        None => query.time_range,
    };
    let provenance = Provenance {
        metrics: MetricInfo::of(&engine.layer, &query.metrics),
        filters: query.filters.iter().map(|c| c.to_string()).collect(),
        time_range,
        period,
        grain: query.grain,
        data_freshness: engine.data_freshness(&query.metrics, today),
        today: Some(today),
        notes,
        truncated: false,
        statements: Vec::new(),
    };
    (ctx, provenance)
}

/// When a query by week, month, quarter or year reads whole periods beyond the range asked
/// (the compiler never counts a partial period, as MetricFlow), the range actually read:
/// the answer must not claim "September" while counting Aug 31. Days after `today` hold no
/// data, so reading on past them is not a widening.
fn whole_periods(
    engine: &Engine,
    query: &MetricQuery,
    today: NaiveDate,
) -> Option<(TimeRange, crate::semantic::Grain)> {
    let asked = query.time_range?;
    let grain = query.grain?;
    let cumulative_only = query.metrics.iter().all(|m| {
        engine
            .layer
            .metric(m)
            .is_some_and(|m| matches!(m.kind, crate::semantic::model::MetricKind::Cumulative(_)))
    });
    if cumulative_only {
        return None;
    }
    let read = crate::semantic::compile::snapped_range(query)?;
    (read.from < asked.from || read.to.min(today) > asked.to).then_some((read, grain))
}

/// Rows read past a ranking's limit (to see ties beyond the Nth).
const TIE_LOOKAHEAD: u64 = 50;

/// Settles a ranked result read with `TIE_LOOKAHEAD` extra rows: the empty group goes (it
/// is not a member), and the cut at N keeps every row tied with the Nth. Returns the notes.
fn settle_ranking(
    query: &MetricQuery,
    rows: &mut Vec<Vec<Value>>,
    columns: &[String],
) -> Vec<String> {
    let mut notes = Vec::new();
    let Some(o) = query.order.first() else {
        return notes;
    };
    notes.extend(drop_empty_groups(rows, &query.group_by));
    let Some(n) = query.limit.map(|n| n as usize) else {
        return notes;
    };
    let col = columns.iter().position(|c| c == &o.field);
    let (Some(col), true) = (col, rows.len() > n && n > 0) else {
        rows.truncate(n);
        return notes;
    };
    let edge = rows[n - 1][col].clone();
    let keep = n + rows[n..].iter().take_while(|r| r[col] == edge).count();
    if keep > n {
        let more = keep == rows.len() && rows.len() as u64 == n as u64 + TIE_LOOKAHEAD;
        let tied = rows[..keep].iter().filter(|r| r[col] == edge).count();
        notes.push(format!(
            "{tied} rows tie at {} for place {n}; all of them are shown{}.",
            crate::format::value(&edge),
            if more {
                ", and more are tied beyond these"
            } else {
                ""
            }
        ));
    }
    rows.truncate(keep);
    notes
}

/// "US vs Canada": a value asked for (an IN list on a group-by) with no rows is said, not
/// silently missing.
fn missing_values(query: &MetricQuery, rows: &[Vec<Value>]) -> Vec<String> {
    let mut notes = Vec::new();
    for c in query
        .filters
        .iter()
        .filter(|c| c.op == crate::semantic::query::Op::In)
    {
        let Some(col) = query.group_by.iter().position(|g| g == &c.dimension) else {
            continue;
        };
        for v in &c.values {
            let want = v.to_string().trim_matches('\'').to_lowercase();
            let present = rows.iter().any(|r| {
                r.get(col).is_some_and(|x| {
                    crate::format::value(x).to_lowercase() == want
                        || x.as_str().is_some_and(|t| t.to_lowercase() == want)
                })
            });
            if !present {
                notes.push(format!("No rows for {} = {want}.", c.dimension));
            }
        }
    }
    notes
}

/// Removes the rows whose group-by values are empty; says so when any were.
fn drop_empty_groups(rows: &mut Vec<Vec<Value>>, group_by: &[String]) -> Option<String> {
    let before = rows.len();
    rows.retain(|r| r.iter().take(group_by.len()).all(|v| *v != Value::Null));
    (rows.len() < before).then(|| {
        format!(
            "Rows with no {} are left out of the ranking.",
            group_by.join(" or ")
        )
    })
}

/// Runs a structured query and builds its answer (the planner's and the LLM's shared path).
pub fn run_query(
    engine: &Engine,
    question: &str,
    query: MetricQuery,
    period: Option<String>,
    notes: Vec<String>,
    today: NaiveDate,
    requester: &str,
) -> Answer {
    let (ctx, provenance) = context(engine, question, &query, period, notes, today, requester);
    // A ranking cut at N must not cut through a tie: read some rows past N (see
    // `settle_ranking`).
    let mut run = query.clone();
    if let (Some(n), Some(_)) = (query.limit, query.order.first()) {
        run.limit = Some(n + TIE_LOOKAHEAD);
    }
    match engine.query(&run, today, &ctx) {
        Ok(mut out) => {
            let mut settled = settle_ranking(&query, &mut out.result.rows, &out.result.columns);
            settled.extend(missing_values(&query, &out.result.rows));
            let mut a = Answer::new(question, Status::Answered, String::new());
            a.provenance = provenance;
            a.provenance.truncated = out.result.truncated;
            a.provenance.notes.extend(settled);
            a.sql = Some(out.compiled.sql);
            a.columns = out.result.columns;
            a.rows = out.result.rows;
            a.column_meta = out.compiled.columns;
            a.query = Some(query);
            a.headline = headline::headline(&a);
            a
        }
        Err(e) => {
            let status = match e {
                QueryError::Compile(_) | QueryError::Policy(_) => Status::Unanswerable,
                QueryError::Warehouse(_) => Status::Error,
            };
            if status == Status::Error {
                warn!(error = %e, "question failed in the warehouse");
            }
            let mut a = Answer::new(question, status, sentence(&e.to_string()));
            a.provenance = provenance;
            a.query = Some(query);
            a
        }
    }
}

/// Capitalises and ends with a period.
fn sentence(s: &str) -> String {
    let mut out = crate::format::capitalize(s);
    if !out.ends_with('.') && !out.ends_with('?') {
        out.push('.');
    }
    out
}

/// One query's rows keyed by their group columns (every column before the metrics).
struct Keyed {
    keys: Vec<String>,
    key_meta: Vec<Column>,
    metric_meta: Vec<Column>,
    rows: Vec<(Vec<Value>, Vec<Value>)>,
}

impl Keyed {
    fn of(out: &crate::engine::QueryOutcome) -> Keyed {
        let k = out
            .compiled
            .columns
            .iter()
            .take_while(|c| !matches!(c.role, ColumnRole::Metric { .. }))
            .count();
        Keyed {
            keys: out.result.columns[..k.min(out.result.columns.len())].to_vec(),
            key_meta: out.compiled.columns[..k].to_vec(),
            metric_meta: out.compiled.columns[k..].to_vec(),
            rows: out
                .result
                .rows
                .iter()
                .map(|r| (r[..k.min(r.len())].to_vec(), r[k.min(r.len())..].to_vec()))
                .collect(),
        }
    }

    fn get(&self, key: &[Value]) -> Option<&Vec<Value>> {
        self.rows.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Keys in this order, then keys only `other` has.
    fn union_keys(&self, other: &Keyed) -> Vec<Vec<Value>> {
        let mut keys: Vec<Vec<Value>> = self.rows.iter().map(|(k, _)| k.clone()).collect();
        for (k, _) in &other.rows {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        keys
    }
}

fn num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

fn f(v: Option<f64>) -> Value {
    v.map_or(Value::Null, Value::Float)
}

fn change(earlier: Option<f64>, later: Option<f64>) -> (Option<f64>, Option<f64>) {
    match (earlier, later) {
        (Some(a), Some(b)) => (Some(b - a), (a != 0.0).then(|| (b - a) / a.abs())),
        (None, Some(b)) => (Some(b), None),
        (Some(a), None) => (Some(-a), Some(-1.0)),
        _ => (None, None),
    }
}

fn metric_col(name: String, unit: Unit) -> Column {
    Column {
        name,
        role: ColumnRole::Metric { unit },
    }
}

fn unit_of(c: &Column) -> Unit {
    match c.role {
        ColumnRole::Metric { unit } => unit,
        _ => Unit::Count,
    }
}

/// Runs a plan of several queries (comparison, why, share, inline sum) and assembles one
/// table.
#[allow(clippy::too_many_arguments)]
fn run_shape(
    engine: &Engine,
    question: &str,
    query: MetricQuery,
    shape: Shape,
    period: Option<String>,
    notes: Vec<String>,
    today: NaiveDate,
    requester: &str,
) -> Answer {
    let (ctx, provenance) = context(engine, question, &query, period, notes, today, requester);
    let mut base = Answer::new(question, Status::Answered, String::new());
    base.provenance = provenance;
    base.query = Some(query.clone());
    let run = |q: &MetricQuery| engine.query(q, today, &ctx);
    let result = (|| -> Result<(), QueryError> {
        match &shape {
            Shape::Single => {}
            Shape::Compare { earlier, later } => {
                let (cols, meta, rows, sqls) = compare(&run, &query, earlier, later)?;
                base.columns = cols;
                base.column_meta = meta;
                base.rows = rows;
                base.sql = Some(sqls);
                base.headline = compare_headline(&base, earlier, later);
            }
            Shape::Why {
                earlier,
                later,
                dimensions,
            } => why(&run, &query, earlier, later, dimensions, &mut base)?,
            Shape::Share { denominator, label } => {
                let top_out = run(&query)?;
                let bottom_out = run(denominator)?;
                let (n, d) = (Keyed::of(&top_out), Keyed::of(&bottom_out));
                base.columns = n.keys.clone();
                base.columns.push(label.clone());
                base.column_meta = n.key_meta.clone();
                base.column_meta
                    .push(metric_col(label.clone(), Unit::Ratio));
                for key in d.union_keys(&n) {
                    let top = num(n.get(&key).and_then(|v| v.first())).unwrap_or(0.0);
                    let bottom = num(d.get(&key).and_then(|v| v.first()));
                    let share = bottom.filter(|b| *b != 0.0).map(|b| top / b);
                    let mut row = key.clone();
                    row.push(f(share));
                    base.rows.push(row);
                }
                base.sql = Some(format!(
                    "{};\n{}",
                    top_out.compiled.sql, bottom_out.compiled.sql
                ));
                base.headline = headline::headline(&base);
            }
            Shape::Sum { label } => {
                // The defined measure only: group columns, then the sum of the parts (the
                // parts are named in the notes and in `understood`).
                let out = run(&query)?;
                let k = Keyed::of(&out);
                base.columns = k.keys.clone();
                base.columns.push(label.clone());
                base.column_meta = k.key_meta.clone();
                let unit = k.metric_meta.first().map_or(Unit::Count, unit_of);
                base.column_meta.push(metric_col(label.clone(), unit));
                for (key, values) in &k.rows {
                    let total: f64 = values.iter().filter_map(Value::as_f64).sum();
                    let mut row = key.clone();
                    row.push(Value::Float(total));
                    base.rows.push(row);
                }
                base.provenance.notes.push(format!(
                    "{label} = {}, as defined in the question.",
                    query.metrics.join(" + ")
                ));
                base.sql = Some(out.compiled.sql);
                base.headline = headline::headline(&base);
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        let status = match e {
            QueryError::Compile(_) | QueryError::Policy(_) => Status::Unanswerable,
            QueryError::Warehouse(_) => Status::Error,
        };
        if status == Status::Error {
            warn!(error = %e, "question failed in the warehouse");
        }
        base.status = status;
        base.headline = sentence(&e.to_string());
        base.rows.clear();
        base.columns.clear();
        base.column_meta.clear();
    }
    base
}

type LongTable = (Vec<String>, Vec<Column>, Vec<Vec<Value>>, String);

/// The query in both periods: group columns, then per metric earlier, later, change and
/// relative change.
fn compare(
    run: &dyn Fn(&MetricQuery) -> Result<crate::engine::QueryOutcome, QueryError>,
    query: &MetricQuery,
    earlier: &Span,
    later: &Span,
) -> Result<LongTable, QueryError> {
    let mut qa = query.clone();
    qa.time_range = Some(earlier.range);
    let mut qb = query.clone();
    qb.time_range = Some(later.range);
    let (oa, ob) = (run(&qa)?, run(&qb)?);
    let (a, b) = (Keyed::of(&oa), Keyed::of(&ob));
    let mut cols = b.keys.clone();
    let mut meta = b.key_meta.clone();
    for m in &b.metric_meta {
        let unit = unit_of(m);
        for (name, u) in [
            (format!("{} ({})", m.name, earlier.label), unit),
            (format!("{} ({})", m.name, later.label), unit),
            (format!("{} change", m.name), unit),
            (format!("{} change %", m.name), Unit::Ratio),
        ] {
            cols.push(name.clone());
            meta.push(metric_col(name, u));
        }
    }
    let mut rows = Vec::new();
    for key in b.union_keys(&a) {
        let mut row = key.clone();
        for i in 0..b.metric_meta.len() {
            let x = num(a.get(&key).and_then(|v| v.get(i)));
            let y = num(b.get(&key).and_then(|v| v.get(i)));
            let (d, p) = change(x, y);
            row.extend([f(x), f(y), f(d), f(p)]);
        }
        rows.push(row);
    }
    Ok((
        cols,
        meta,
        rows,
        format!("{};\n{}", oa.compiled.sql, ob.compiled.sql),
    ))
}

fn compare_headline(a: &Answer, earlier: &Span, later: &Span) -> String {
    let label = a
        .provenance
        .metrics
        .first()
        .map_or(String::new(), |m| m.label.clone());
    let unit = a.provenance.metrics.first().map_or(Unit::Count, |m| m.unit);
    let fmt = |v: Option<f64>| v.map_or("–".to_string(), |x| crate::format::figure(x, unit));
    if a.rows.len() == 1
        && a.column_meta
            .iter()
            .all(|c| matches!(c.role, ColumnRole::Metric { .. }))
    {
        let r = &a.rows[0];
        let (x, y, d, p) = (num(r.first()), num(r.get(1)), num(r.get(2)), num(r.get(3)));
        let pct = p.map_or(String::new(), |p| format!(", {:+.1}%", p * 100.0));
        let sign = if d.unwrap_or(0.0) >= 0.0 { "+" } else { "-" };
        format!(
            "{label}, {} vs {}: {} vs {} ({sign}{}{pct}).",
            later.label,
            earlier.label,
            fmt(y),
            fmt(x),
            fmt(d.map(f64::abs))
        )
    } else {
        format!(
            "{label}, {} vs {}, with the change for each of {} groups.",
            later.label,
            earlier.label,
            a.rows.len()
        )
    }
}

/// The change between two periods and, per dimension, the values that moved it most.
fn why(
    run: &dyn Fn(&MetricQuery) -> Result<crate::engine::QueryOutcome, QueryError>,
    query: &MetricQuery,
    earlier: &Span,
    later: &Span,
    dimensions: &[String],
    a: &mut Answer,
) -> Result<(), QueryError> {
    let (_, meta, total, sql) = compare(run, query, earlier, later)?;
    let unit = meta.first().map_or(Unit::Count, unit_of);
    let row = total.first().cloned().unwrap_or_default();
    let (x, y, d, p) = (
        num(row.first()),
        num(row.get(1)),
        num(row.get(2)),
        num(row.get(3)),
    );
    let total_change = d.unwrap_or(0.0);
    a.columns = vec![
        "dimension".into(),
        "value".into(),
        format!("{} ({})", query.metrics[0], earlier.label),
        format!("{} ({})", query.metrics[0], later.label),
        "change".into(),
        "share of change".into(),
    ];
    a.column_meta = vec![
        Column {
            name: "dimension".into(),
            role: ColumnRole::Dimension,
        },
        Column {
            name: "value".into(),
            role: ColumnRole::Dimension,
        },
        metric_col(a.columns[2].clone(), unit),
        metric_col(a.columns[3].clone(), unit),
        metric_col("change".into(), unit),
        metric_col("share of change".into(), Unit::Ratio),
    ];
    a.rows.push(vec![
        Value::Text("total".into()),
        Value::Text("all".into()),
        f(x),
        f(y),
        f(d),
        f((total_change != 0.0).then_some(1.0)),
    ]);
    let mut sqls = vec![sql];
    let mut best: Vec<(f64, String)> = Vec::new();
    for dim in dimensions {
        let mut q = query.clone();
        q.group_by.push(dim.clone());
        q.order.clear();
        q.limit = None;
        let (_, _, rows, sql) = compare(run, &q, earlier, later)?;
        sqls.push(sql);
        let mut contrib: Vec<(Value, Option<f64>, Option<f64>, f64)> = rows
            .iter()
            .filter_map(|r| {
                let change = num(r.get(3))?;
                Some((r[0].clone(), num(r.get(1)), num(r.get(2)), change))
            })
            .collect();
        // Largest moves in the direction of the total change first.
        let sign = if total_change < 0.0 { -1.0 } else { 1.0 };
        contrib.sort_by(|p, q| (q.3 * sign).total_cmp(&(p.3 * sign)));
        for (value, e, l, c) in contrib.into_iter().take(3) {
            let share = (total_change != 0.0).then(|| c / total_change);
            if let (Some(s), Value::Text(v)) = (share, &value) {
                best.push((
                    s,
                    format!("{} {v}", crate::format::humanize(dim).to_lowercase()),
                ));
            }
            a.rows.push(vec![
                Value::Text(dim.clone()),
                value,
                f(e),
                f(l),
                Value::Float(c),
                f(share),
            ]);
        }
    }
    a.sql = Some(sqls.join(";\n"));
    best.sort_by(|p, q| q.0.total_cmp(&p.0));
    let label = a
        .provenance
        .metrics
        .first()
        .map_or(String::new(), |m| m.label.clone());
    let fmt = |v: Option<f64>| v.map_or("–".to_string(), |v| crate::format::figure(v, unit));
    let pct = p.map_or(String::new(), |p| format!(" ({:+.1}%)", p * 100.0));
    let tops: Vec<String> = best
        .iter()
        .take(3)
        .map(|(s, what)| format!("{what} ({:.0}% of the change)", s * 100.0))
        .collect();
    a.headline = format!(
        "{label} went from {} ({}) to {} ({}){pct}. Largest contributors: {}.",
        fmt(x),
        earlier.label,
        fmt(y),
        later.label,
        if tops.is_empty() {
            "none".to_string()
        } else {
            tops.join(", ")
        }
    );
    a.findings = best
        .iter()
        .take(3)
        .map(|(s, what)| format!("{what} accounts for {:.0}% of the change.", s * 100.0))
        .collect();
    Ok(())
}
