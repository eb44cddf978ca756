//! HTML pages: self-contained (inline CSS, inline SVG charts, no external fetches),
//! readable on a phone, printable, with sortable tables and the provenance footer (metric
//! definitions and the SQL behind every number). A skill's `answer.html.hbs` replaces the
//! generic body, with the same view model plus everything the skill computed (`data`).

use std::sync::OnceLock;

use handlebars::Handlebars;
use serde_json::{json, Value as Json};

use crate::answer::model::{Answer, Role, Section, Status, Table, Unit, Value};
use crate::format;
use crate::render::chart;

const LAYOUT: &str = include_str!("../../assets/templates/layout.html.hbs");
const ANSWER: &str = include_str!("../../assets/templates/answer.html.hbs");
const TABLE: &str = include_str!("../../assets/templates/table.html.hbs");
const PROVENANCE: &str = include_str!("../../assets/templates/provenance.html.hbs");
const SECTION: &str = include_str!("../../assets/templates/section.html.hbs");

/// Links and identity around an answer's page.
#[derive(Debug, Clone, Default)]
pub struct PageOptions {
    pub answer_id: Option<String>,
    /// Show the site's navigation bar (the web site), or not (a file from `cortex ask`).
    pub nav: bool,
    pub user: Option<String>,
    /// e.g. `2026-11-22 10:31 UTC`.
    pub generated: Option<String>,
    /// The Content-Security-Policy nonce the page's scripts carry (the web site); `None`
    /// for files, which are not served with a policy.
    pub nonce: Option<String>,
}

// Invariant: the built-in templates are compiled into the binary and tested.
#[allow(clippy::expect_used)]
fn registry() -> &'static Handlebars<'static> {
    static HB: OnceLock<Handlebars<'static>> = OnceLock::new();
    HB.get_or_init(|| {
        let mut hb = Handlebars::new();
        crate::format::register_helpers(&mut hb);
        hb.register_helper("json", Box::new(json_helper));
        for (name, t) in [
            ("layout", LAYOUT),
            ("answer", ANSWER),
            ("table", TABLE),
            ("provenance", PROVENANCE),
            ("section", SECTION),
        ] {
            hb.register_template_string(name, t)
                .expect("invariant: built-in templates compile");
        }
        hb
    })
}

/// `{{{json value}}}`: the value as JSON safe inside a `<script>` element.
fn json_helper(
    h: &handlebars::Helper,
    _: &Handlebars,
    _: &handlebars::Context,
    _: &mut handlebars::RenderContext,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    let v = h.param(0).map(|p| p.value().clone()).unwrap_or(Json::Null);
    out.write(&script_json(&v))?;
    Ok(())
}

/// JSON that cannot close a `<script>` element or open a comment.
pub fn script_json(v: &Json) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Wraps body HTML in the site layout.
pub fn layout(title: &str, section: &str, body: &str, opts: &PageOptions) -> String {
    registry()
        .render(
            "layout",
            &json!({
                "title": title,
                "section": section,
                "body": body,
                "nav": opts.nav,
                "user": opts.user,
                "generated": opts.generated,
                "nonce": opts.nonce,
            }),
        )
        .unwrap_or_else(|e| {
            format!(
                "<!doctype html><title>error</title><pre>{}</pre>",
                escape(&e.to_string())
            )
        })
}

pub fn escape(s: &str) -> String {
    handlebars::html_escape(s)
}

/// A table's view: labelled columns and cells with display text and a sort key; long tables
/// are cut at `max_rows` (`more` says how many rows were left out).
pub fn table_view(t: &Table, max_rows: usize) -> Json {
    let columns: Vec<Json> = t
        .columns
        .iter()
        .map(|c| json!({"label": c.label, "name": c.name, "numeric": c.role.numeric()}))
        .collect();
    let rows: Vec<Json> = t
        .rows
        .iter()
        .take(max_rows)
        .map(|r| {
            Json::Array(
                r.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let role = t.columns.get(i).map_or(Role::Text, |c| c.role);
                        let sort = match v {
                            Value::Int(n) => n.to_string(),
                            Value::Float(f) => f.to_string(),
                            Value::Date(d) => d.to_string(),
                            other => format::value(other),
                        };
                        let shown = match role.as_column_role() {
                            Some(r) => format::cell(v, Some(&r)),
                            None => format::value(v),
                        };
                        json!({"text": shown, "sort": sort, "numeric": role.numeric()})
                    })
                    .collect(),
            )
        })
        .collect();
    // Raw values keyed by column name, for a skill's interactive page.
    let records: Vec<Json> = t
        .rows
        .iter()
        .map(|r| {
            Json::Object(
                t.columns
                    .iter()
                    .zip(r)
                    .map(|(c, v)| (c.name.clone(), serde_json::to_value(v).unwrap_or_default()))
                    .collect(),
            )
        })
        .collect();
    json!({
        "title": t.title,
        "columns": columns,
        "rows": rows,
        "records": records,
        "count": t.rows.len(),
        "more": t.rows.len().saturating_sub(max_rows),
        "empty": t.empty.clone().unwrap_or_else(|| "No rows.".into()),
    })
}

/// A chart drawn twice: wide for desktops and PDFs, narrow for phones (the page shows one
/// by screen width, so chart text stays readable).
fn chart_view(c: &crate::answer::model::Chart) -> Json {
    json!({
        "title": c.title,
        "wide": chart::svg(c, chart::WIDE.width, chart::WIDE.height).ok(),
        "narrow": chart::svg(c, chart::NARROW.width, chart::NARROW.height).ok(),
    })
}

/// Rows a web page shows of one table.
const PAGE_ROWS: usize = 500;

/// The view of one section for templates: a flag naming its type plus display strings.
pub fn section_view(s: &Section, max_rows: usize) -> Json {
    let kpi = |label: &str, v: Option<f64>, unit: Unit, detail: Option<&str>| json!({"label": label, "value": v.map_or("–".into(), |v| format::figure(v, unit)), "raw": v, "detail": detail});
    match s {
        Section::Kpis { tiles } => json!({
            "kpis": true,
            "tiles": tiles.iter().map(|k| kpi(&k.label, k.value, k.unit, k.detail.as_deref())).collect::<Vec<_>>(),
        }),
        Section::Facts { title, facts } => json!({"facts": true, "title": title, "items": facts}),
        Section::Table(t) => {
            let mut v = table_view(t, max_rows);
            v["table"] = json!(true);
            v
        }
        Section::Chart(c) => {
            let mut v = chart_view(c);
            v["chart"] = json!(true);
            v
        }
        Section::Okr(o) => {
            let pct =
                |x: Option<f64>| x.map_or("–".to_string(), |x| format::figure(x, Unit::Ratio));
            let f = |x: Option<f64>| x.map_or("–".to_string(), |x| format::figure(x, o.unit));
            let due = o.due.map(format::date);
            json!({
                "okr": true,
                "title": o.title,
                "on_track": o.on_track,
                "status": match o.on_track { Some(true) => "On pace", Some(false) => "Behind pace", None => "No projection yet" },
                "tiles": [
                    kpi("Now", o.current, o.unit, None),
                    kpi("Target", Some(o.target), o.unit, due.as_deref().map(|d| format!("due {d}")).as_deref()),
                    json!({"label": "Attainment", "value": pct(o.attainment), "detail": null}),
                    json!({"label": match &due { Some(d) => format!("Projected by {d}"), None => "Projected".into() }, "value": f(o.projected), "detail": format!("{} of target", pct(o.projected_attainment))}),
                ],
                "segments": o.segments.iter().map(|s| json!({
                    "name": s.name,
                    "current": f(s.current),
                    "projected": f(s.projected),
                    "target": f(s.target),
                    "attainment": pct(s.projected_attainment),
                    "status": match s.on_track { Some(true) => "on pace", Some(false) => "behind", None => "no target" },
                    "behind": s.on_track == Some(false),
                })).collect::<Vec<_>>(),
                "trend": o.chart.as_ref().map(chart_view),
            })
        }
        Section::Notes {
            kind,
            title,
            items,
            empty,
        } => json!({
            "notes": true,
            "kind": kind,
            "risk": *kind == crate::answer::model::NoteKind::Risk,
            "title": title,
            "items": items,
            "empty": empty,
            "show": !items.is_empty() || empty.is_some(),
        }),
    }
}

/// The view model every answer template gets.
pub fn view(a: &Answer, opts: &PageOptions) -> Json {
    let p = &a.provenance;
    let period = p
        .period
        .clone()
        .or_else(|| {
            p.time_range
                .map(|r| format!("{} to {}", format::date(r.from), format::date(r.to)))
        })
        .or_else(|| p.today.map(|t| format!("as of {}", format::date(t))));
    let choices: Vec<Json> = a
        .choices
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"label": a.choice_label(i), "question": a.question, "value": c}))
        .collect();
    let sections: Vec<Json> = a
        .sections
        .iter()
        .map(|s| section_view(s, PAGE_ROWS))
        .collect();
    let mut tables = serde_json::Map::new();
    for s in &a.sections {
        if let Section::Table(t) = s {
            if let Some(id) = &t.id {
                tables.insert(id.clone(), table_view(t, PAGE_ROWS));
            }
        }
    }
    let mut kpis = serde_json::Map::new();
    for s in &a.sections {
        if let Section::Kpis { tiles } = s {
            for k in tiles {
                if let Some(id) = &k.id {
                    kpis.insert(id.clone(), json!({"label": k.label, "value": k.value, "text": k.value.map(|v| format::figure(v, k.unit))}));
                }
            }
        }
    }
    let answered = a.status == Status::Answered;
    json!({
        "title": title_of(a),
        "subtitle": a.subtitle,
        "question": a.question,
        "status": a.status,
        "answered": answered,
        "headline": a.lead(),
        "read_as": a.read_as,
        "choices": choices,
        "sections": sections,
        "tables": tables,
        "kpis": kpis,
        "suggestions": a.suggestions.iter().map(|q| json!({"q": q, "href": format!("/?q={}", urlencode(q))})).collect::<Vec<_>>(),
        "skill": format::humanize(&a.skill),
        "asker": a.asker,
        "provenance": {
            "metrics": p.metrics,
            "filters": p.filters,
            "period": period,
            "freshness": p.data_freshness.map(format::date),
            "notes": p.notes,
        },
        "sql": p.statements,
        "params": a.params,
        "answer_id": opts.answer_id,
        "permalink": opts.answer_id.as_ref().map(|id| format!("/a/{id}")),
        "pdf_url": opts.answer_id.as_ref().filter(|_| answered).map(|id| format!("/a/{id}.pdf")),
    })
}

/// A page title in words: the answer's title, or the question.
pub fn title_of(a: &Answer) -> String {
    if a.title.is_empty() {
        format::capitalize(a.question.trim())
    } else {
        a.title.clone()
    }
}

pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("q", s)])
        .map(|x| x[2..].to_string())
        .unwrap_or_default()
}

/// The body of an answer's page (no layout): the skill's template if it has one.
pub fn body(
    a: &Answer,
    opts: &PageOptions,
    skill_template: Option<&str>,
) -> Result<String, String> {
    let mut v = view(a, opts);
    v["csp_nonce"] = json!(opts.nonce);
    // A skill template's own scripts carry the page's nonce (scripts anywhere else do not run).
    let nonced;
    let skill_template = match (skill_template, &opts.nonce) {
        (Some(t), Some(_)) => {
            nonced = t.replace("<script>", "<script nonce=\"{{@root.csp_nonce}}\">");
            Some(nonced.as_str())
        }
        (t, _) => t,
    };
    match skill_template {
        Some(t) if a.status == Status::Answered => registry()
            .render_template(t, &v)
            .map_err(|e| format!("the {} HTML template failed: {e}", a.skill)),
        _ => registry()
            .render("answer", &v)
            .map_err(|e| format!("the answer template failed: {e}")),
    }
}

/// A whole self-contained page for an answer.
pub fn page(
    a: &Answer,
    opts: &PageOptions,
    skill_template: Option<&str>,
) -> Result<String, String> {
    let b = body(a, opts, skill_template)?;
    Ok(layout(&title_of(a), "ask", &b, opts))
}
