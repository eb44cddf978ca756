//! HTML pages: self-contained (inline CSS, inline SVG charts, no external fetches),
//! readable on a phone, printable, with sortable tables and the provenance footer (metric
//! definitions and the SQL behind every number). A skill's `answer.html.hbs` replaces the
//! generic body, with the same view model plus everything the skill computed (`data`).

use std::sync::OnceLock;

use handlebars::Handlebars;
use serde_json::{json, Value as Json};

use crate::answer::{Answer, Status};
use crate::render::{chart, text};
use crate::semantic::ColumnRole;
use crate::warehouse::Value;

const LAYOUT: &str = include_str!("../../assets/templates/layout.html.hbs");
const ANSWER: &str = include_str!("../../assets/templates/answer.html.hbs");
const TABLE: &str = include_str!("../../assets/templates/table.html.hbs");
const PROVENANCE: &str = include_str!("../../assets/templates/provenance.html.hbs");

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

fn registry() -> &'static Handlebars<'static> {
    static HB: OnceLock<Handlebars<'static>> = OnceLock::new();
    HB.get_or_init(|| {
        let mut hb = Handlebars::new();
        crate::skills::run::register_helpers(&mut hb);
        hb.register_helper("json", Box::new(json_helper));
        for (name, t) in [
            ("layout", LAYOUT),
            ("answer", ANSWER),
            ("table", TABLE),
            ("provenance", PROVENANCE),
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

fn numeric(role: Option<&ColumnRole>) -> bool {
    matches!(role, Some(ColumnRole::Metric { .. }))
}

/// Column and row view of a table: display text plus a sort key per cell.
pub fn table_view(a: &Answer) -> Json {
    if a.rows.is_empty() || a.is_single_value() {
        return json!({"columns": [], "rows": []});
    }
    let roles: Vec<Option<&ColumnRole>> = (0..a.columns.len())
        .map(|i| a.column_meta.get(i).map(|c| &c.role))
        .collect();
    let label = |name: &str| {
        a.provenance
            .metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.label.clone())
            .unwrap_or_else(|| text::title_case(name))
    };
    let columns: Vec<Json> = a
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"label": label(c), "name": c, "numeric": numeric(roles[i])}))
        .collect();
    let rows: Vec<Json> = a
        .rows
        .iter()
        .map(|r| {
            Json::Array(
                r.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let unit = match roles.get(i).copied().flatten() {
                            Some(ColumnRole::Metric { unit }) => Some(*unit),
                            _ => None,
                        };
                        let sort = match v {
                            Value::Int(n) => n.to_string(),
                            Value::Float(f) => f.to_string(),
                            other => text::format_value(other, None),
                        };
                        let shown = match roles.get(i).copied().flatten() {
                            Some(ColumnRole::Identifier) => text::format_cell(v, Some(&ColumnRole::Identifier)),
                            _ => text::format_value(v, unit),
                        };
                        json!({"text": shown, "sort": sort, "numeric": numeric(roles.get(i).copied().flatten())})
                    })
                    .collect(),
            )
        })
        .collect();
    json!({"columns": columns, "rows": rows})
}

/// Every SQL statement behind the answer: the main query and each skill step's.
fn sql_list(a: &Answer) -> Vec<Json> {
    let mut out = Vec::new();
    if let Some(steps) = a.data.get("steps").and_then(Json::as_object) {
        for (id, s) in steps {
            if let Some(sql) = s.get("sql").and_then(Json::as_str) {
                out.push(json!({"label": format!("Step {id}"), "sql": sql}));
            }
        }
    }
    if out.is_empty() {
        if let Some(sql) = &a.sql {
            out.push(json!({"label": "Query", "sql": sql}));
        }
    }
    out
}

/// The view model every answer template gets (HTML adds `chart_svg`; the PDF report adds
/// chart files).
pub fn view(a: &Answer, opts: &PageOptions) -> Json {
    let p = &a.provenance;
    let period = p
        .period
        .clone()
        .or_else(|| p.time_range.map(|r| format!("{} to {}", r.from, r.to)))
        .or_else(|| p.today.map(|t| format!("as of {t}")));
    let choices: Vec<Json> = a
        .choices
        .iter()
        .map(|c| json!({"label": c, "q": urlencode(&a.question), "choice": urlencode(c), "question": a.question, "value": c}))
        .collect();
    let title = title_of(a);
    json!({
        "title": title,
        "question": a.question,
        "status": a.status,
        "headline": a.headline,
        "read_as": crate::planner::understood::read_as(&a.understood),
        "narrative": a.narrative,
        "findings": a.findings,
        "recommendations": a.recommendations,
        "choices": choices,
        "table": table_view(a),
        "skill": a.skill,
        "asker": a.data.get("asker").and_then(|p| p.get("name")).cloned(),
        "provenance": {
            "metrics": p.metrics,
            "filters": p.filters,
            "period": period,
            "freshness": p.data_freshness.map(|d| d.to_string()),
            "notes": p.notes,
        },
        "sql": sql_list(a),
        "data": a.data,
        "params": a.params,
        "answer_id": opts.answer_id,
        "permalink": opts.answer_id.as_ref().map(|id| format!("/a/{id}")),
        "pdf_url": opts.answer_id.as_ref().map(|id| format!("/a/{id}.pdf")),
    })
}

/// A page title for an answer: the skill's purpose and its main parameter.
pub fn title_of(a: &Answer) -> String {
    let skill = text::title_case(&a.skill);
    let main = a
        .params
        .iter()
        .find(|(k, _)| matches!(k.as_str(), "merchant" | "okr"))
        .map(|(_, v)| v.clone());
    match (a.skill.as_str(), main) {
        ("metric_question", _) => text::capitalize(&a.question),
        (_, Some(m)) => format!("{skill}: {m}"),
        _ => skill,
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
    v["chart_svg"] = json!(chart::from_answer(a).and_then(|c| chart::svg(&c, 900, 440).ok()));
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
