//! JSON Schemas (2020-12) generated from the Rust types, and the OpenAPI 3.1 document of
//! `/api/v1` assembled from them. Nothing here is written by hand except the list of
//! operations (path, method, summary, body and response types).
//!
//! The semantic layer's own types (`MetricQuery`, `Condition`, `Unit`, `Column`...) belong
//! to the compiler, which does not depend on schemars. Their schemas come from mirror types
//! here that derive `JsonSchema` with the same serde attributes, tied to the real types by
//! exhaustive conversions ([`mirror_of_query`], [`UnitSchema::of`]...): a field or variant
//! added to the compiler's type without its mirror does not compile.

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::semantic::{
    Column, ColumnRole, Condition, Grain, Literal, MetricQuery, Op, OrderBy, TimeRange, Unit,
};

/// A structured metric query (the mirror of [`MetricQuery`]): metrics, group-bys, a time
/// grain, filters, a time range, order and limit. Never SQL.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MetricQuery")]
pub struct QuerySchema {
    /// Metric names (see `GET /api/v1/metrics`), in output order.
    pub metrics: Vec<String>,
    /// Categorical dimensions to group by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// Time grain: one row per bucket of the metric's time dimension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grain: Option<Grain>,
    /// Conditions on dimensions, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<ConditionSchema>,
    /// Boolean combinations of conditions (any / all / not), each of which must hold as
    /// well as `filters`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub where_exprs: Vec<FilterSchema>,
    /// Inclusive date range on each metric's time dimension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_range: Option<TimeRange>,
    /// Also report each metric that long before (`1 year`, `1 month`) as `<metric>__prior`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<String>,
    /// Month, quarter or year to date: each metric as its running total from the start of
    /// each bucket's period of this grain. Only for sums and counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_date: Option<Grain>,
    /// Sort order; ties and the rest are ordered by the time bucket and group-bys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order: Vec<OrderSchema>,
    /// Maximum number of rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub limit: Option<u64>,
}

/// A boolean combination of conditions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Filter")]
pub enum FilterSchema {
    Cond(ConditionSchema),
    All(Vec<FilterSchema>),
    Any(Vec<FilterSchema>),
    Not(Box<FilterSchema>),
}

impl FilterSchema {
    /// Exhaustive: a new kind of filter must be mirrored.
    pub fn of(f: &crate::semantic::Filter) -> FilterSchema {
        use crate::semantic::Filter;
        match f {
            Filter::Cond(c) => FilterSchema::Cond(condition_of(c)),
            Filter::All(v) => FilterSchema::All(v.iter().map(FilterSchema::of).collect()),
            Filter::Any(v) => FilterSchema::Any(v.iter().map(FilterSchema::of).collect()),
            Filter::Not(x) => FilterSchema::Not(Box::new(FilterSchema::of(x))),
        }
    }
}

fn condition_of(
    Condition {
        dimension,
        op,
        values,
    }: &Condition,
) -> ConditionSchema {
    ConditionSchema {
        dimension: dimension.clone(),
        op: OpSchema::of(*op),
        values: values.iter().map(LiteralSchema::of).collect(),
    }
}

/// `dimension op value(s)`, e.g. `segment = Enterprise`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Condition")]
pub struct ConditionSchema {
    pub dimension: String,
    pub op: OpSchema,
    /// One value for comparisons, two for `between`, none for `is null`.
    pub values: Vec<LiteralSchema>,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Op")]
pub enum OpSchema {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "in")]
    In,
    #[serde(rename = "not in")]
    NotIn,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "between")]
    Between,
    #[serde(rename = "is null")]
    IsNull,
    #[serde(rename = "is not null")]
    IsNotNull,
    #[serde(rename = "excluding")]
    Excluding,
}

/// A filter value.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Literal")]
pub enum LiteralSchema {
    Bool(bool),
    Num(f64),
    Str(String),
}

/// One sort key: a metric, a group-by dimension or the time grain's name.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "OrderBy")]
pub struct OrderSchema {
    pub field: String,
    #[serde(default)]
    pub desc: bool,
}

/// The unit a metric's values are in (`ratio`: 0.231 means 23.1%).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Unit")]
pub enum UnitSchema {
    Usd,
    Count,
    Seconds,
    Minutes,
    Hours,
    Days,
    Ratio,
    Score,
    Percent,
}

/// What a result column holds.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Column")]
pub struct ColumnSchema {
    pub name: String,
    pub role: ColumnRoleSchema,
}

/// A result column's role.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[schemars(rename = "ColumnRole")]
pub enum ColumnRoleSchema {
    /// A time bucket, reported as the bucket's first day.
    Time {
        grain: Grain,
    },
    Dimension,
    Identifier,
    Metric {
        unit: UnitSchema,
    },
}

/// The mirror of a query: every field named, so a new field in [`MetricQuery`] fails to
/// compile here until the mirror has it too.
pub fn mirror_of_query(q: &MetricQuery) -> QuerySchema {
    let MetricQuery {
        metrics,
        group_by,
        grain,
        filters,
        where_exprs,
        time_range,
        prior,
        to_date,
        order,
        limit,
    } = q.clone();
    QuerySchema {
        metrics,
        group_by,
        grain,
        filters: filters.iter().map(condition_of).collect(),
        where_exprs: where_exprs.iter().map(FilterSchema::of).collect(),
        time_range,
        prior,
        to_date,
        order: order
            .into_iter()
            .map(|OrderBy { field, desc }| OrderSchema { field, desc })
            .collect(),
        limit,
    }
}

impl OpSchema {
    /// Exhaustive: a new operator must be mirrored.
    pub fn of(op: Op) -> OpSchema {
        match op {
            Op::Eq => OpSchema::Eq,
            Op::Ne => OpSchema::Ne,
            Op::In => OpSchema::In,
            Op::NotIn => OpSchema::NotIn,
            Op::Lt => OpSchema::Lt,
            Op::Le => OpSchema::Le,
            Op::Gt => OpSchema::Gt,
            Op::Ge => OpSchema::Ge,
            Op::Between => OpSchema::Between,
            Op::IsNull => OpSchema::IsNull,
            Op::IsNotNull => OpSchema::IsNotNull,
            Op::Excluding => OpSchema::Excluding,
        }
    }
}

impl LiteralSchema {
    /// Exhaustive: a new literal kind must be mirrored.
    pub fn of(l: &Literal) -> LiteralSchema {
        match l {
            Literal::Bool(b) => LiteralSchema::Bool(*b),
            Literal::Num(n) => LiteralSchema::Num(*n),
            Literal::Str(s) => LiteralSchema::Str(s.clone()),
        }
    }
}

impl UnitSchema {
    /// Exhaustive: a new unit must be mirrored.
    pub fn of(u: Unit) -> UnitSchema {
        match u {
            Unit::Usd => UnitSchema::Usd,
            Unit::Count => UnitSchema::Count,
            Unit::Seconds => UnitSchema::Seconds,
            Unit::Minutes => UnitSchema::Minutes,
            Unit::Hours => UnitSchema::Hours,
            Unit::Days => UnitSchema::Days,
            Unit::Ratio => UnitSchema::Ratio,
            Unit::Score => UnitSchema::Score,
            Unit::Percent => UnitSchema::Percent,
        }
    }
}

impl ColumnSchema {
    /// Exhaustive: a new field or role must be mirrored.
    pub fn of(c: &Column) -> ColumnSchema {
        let Column { name, role } = c;
        ColumnSchema {
            name: name.clone(),
            role: match role {
                ColumnRole::Time { grain } => ColumnRoleSchema::Time { grain: *grain },
                ColumnRole::Dimension => ColumnRoleSchema::Dimension,
                ColumnRole::Identifier => ColumnRoleSchema::Identifier,
                ColumnRole::Metric { unit } => ColumnRoleSchema::Metric {
                    unit: UnitSchema::of(*unit),
                },
            },
        }
    }
}

/// The compiler's types take their schema from their mirrors.
macro_rules! schema_from_mirror {
    ($real:ty, $mirror:ty) => {
        impl JsonSchema for $real {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                <$mirror>::schema_name()
            }
            fn json_schema(generator: &mut SchemaGenerator) -> Schema {
                <$mirror>::json_schema(generator)
            }
        }
    };
}

schema_from_mirror!(MetricQuery, QuerySchema);
schema_from_mirror!(Condition, ConditionSchema);
schema_from_mirror!(Op, OpSchema);
schema_from_mirror!(Literal, LiteralSchema);
schema_from_mirror!(OrderBy, OrderSchema);
schema_from_mirror!(Unit, UnitSchema);
schema_from_mirror!(Column, ColumnSchema);
schema_from_mirror!(ColumnRole, ColumnRoleSchema);

/// A warehouse value as the JSON contract writes it: null, a boolean, a number, or a string
/// (dates as `YYYY-MM-DD`). Its `Serialize` is written by hand (no derive to mirror).
impl JsonSchema for crate::warehouse::Value {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Value".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A cell: null, a boolean, a number (ratios as fractions, amounts in the metric's unit) or a string (dates as YYYY-MM-DD).",
            "type": ["null", "boolean", "number", "string"]
        })
    }
}

/// Schema settings shared by the OpenAPI document and the MCP tools: JSON Schema 2020-12.
fn settings() -> SchemaSettings {
    SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    })
}

/// A self-contained schema of `T` (every definition inline): an MCP tool's input schema.
pub fn inline_schema<T: JsonSchema>() -> Map<String, Json> {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    match generator.into_root_schema_for::<T>().to_value() {
        Json::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("allOf".into(), json!([other]));
            m
        }
    }
}

/// One operation of the API.
struct Op_ {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    params: &'static [(&'static str, &'static str)],
    body: Option<Schema>,
    ok: (&'static str, Schema),
    errors: &'static [u16],
}

/// The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json`.
pub fn openapi(server_url: &str) -> Json {
    use super::types::*;
    let mut g = settings().into_generator();
    let json_ok = |s: Schema| ("application/json", s);
    let ops = vec![
        Op_ {
            method: "post",
            path: "/ask",
            id: "ask",
            summary: "Ask a question in plain language (the answer JSON contract)",
            params: &[],
            body: Some(g.subschema_for::<AskRequest>()),
            ok: json_ok(g.subschema_for::<AnswerResponse>()),
            errors: &[400, 401, 403, 429],
        },
        Op_ {
            method: "post",
            path: "/query",
            id: "query",
            summary: "Run a structured metric query (never SQL); the access policy applies",
            params: &[],
            body: Some(g.subschema_for::<MetricQuery>()),
            ok: json_ok(g.subschema_for::<QueryResponse>()),
            errors: &[400, 401, 403, 429, 502],
        },
        Op_ {
            method: "get",
            path: "/metrics",
            id: "list_metrics",
            summary: "The governed metrics the caller may use",
            params: &[],
            body: None,
            ok: json_ok(g.subschema_for::<MetricList>()),
            errors: &[401, 403, 429],
        },
        Op_ {
            method: "get",
            path: "/metrics/{name}",
            id: "describe_metric",
            summary: "One metric's definition and the dimensions it can be split by",
            params: &[("name", "The metric's name")],
            body: None,
            ok: json_ok(g.subschema_for::<MetricDetail>()),
            errors: &[401, 403, 404, 429],
        },
        Op_ {
            method: "get",
            path: "/skills",
            id: "list_skills",
            summary: "The installed skills and their typed parameters",
            params: &[],
            body: None,
            ok: json_ok(g.subschema_for::<SkillList>()),
            errors: &[401, 429],
        },
        Op_ {
            method: "post",
            path: "/skills/{name}/run",
            id: "run_skill",
            summary: "Run a skill with its parameters given by name",
            params: &[("name", "The skill's name")],
            body: Some(g.subschema_for::<RunSkillRequest>()),
            ok: json_ok(g.subschema_for::<AnswerResponse>()),
            errors: &[400, 401, 403, 404, 429, 504],
        },
        Op_ {
            method: "get",
            path: "/answers/{id}",
            id: "get_answer",
            summary: "A recorded answer (`{id}.pdf`: the PDF report, `{id}.html`: the web page), for someone allowed to see it",
            params: &[("id", "The answer's id, optionally with .pdf or .html")],
            body: None,
            ok: json_ok(g.subschema_for::<AnswerResponse>()),
            errors: &[401, 404, 429],
        },
    ];
    let error_ref = g.subschema_for::<ErrorResponse>();
    let mut paths = Map::new();
    for op in ops {
        let mut responses = Map::new();
        let mut ok = json!({
            "description": "OK",
            "content": { op.ok.0: { "schema": op.ok.1 } }
        });
        if op.id == "get_answer" {
            ok["content"]["application/pdf"] =
                json!({"schema": {"type": "string", "contentMediaType": "application/pdf"}});
            ok["content"]["text/html"] = json!({"schema": {"type": "string"}});
        }
        responses.insert("200".into(), ok);
        for code in op.errors {
            let mut r = json!({
                "description": error_description(*code),
                "content": { "application/json": { "schema": error_ref.clone() } }
            });
            if *code == 429 {
                r["headers"] = json!({"Retry-After": {"description": "Seconds until a request is allowed again", "schema": {"type": "integer"}}});
            }
            responses.insert(code.to_string(), r);
        }
        let mut operation = json!({
            "operationId": op.id,
            "summary": op.summary,
            "responses": responses,
        });
        if !op.params.is_empty() {
            operation["parameters"] = op
                .params
                .iter()
                .map(|(name, desc)| {
                    json!({"name": name, "in": "path", "required": true, "description": desc, "schema": {"type": "string"}})
                })
                .collect();
        }
        if let Some(body) = op.body {
            operation["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": body } }
            });
        }
        let entry = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        entry[op.method] = operation;
    }
    let schemas = g.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Cortex API",
            "version": "1",
            "description": "Governed metrics, skills and answers. Authenticate with `Authorization: Bearer <token>` (`cortex token create`) or the company's sign-in proxy. Errors are `{\"error\": {\"code\", \"message\"}}` with a stable code."
        },
        "servers": [{ "url": format!("{}/api/v1", server_url.trim_end_matches('/')) }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        }
    })
}

fn error_description(code: u16) -> &'static str {
    match code {
        400 => "The request is not valid (invalid_request, invalid_query, unknown_param, missing_param, invalid_param)",
        401 => "No valid identity (unauthenticated, invalid_token, token_revoked)",
        403 => "The access policy refuses it (unknown_identity, metric_forbidden, dimension_forbidden, rows_forbidden)",
        404 => "Unknown metric, skill or answer (unknown_metric, unknown_skill, not_found)",
        429 => "Too many requests for this token (rate_limited)",
        502 => "The warehouse could not answer (warehouse_error)",
        504 => "The answer passed its deadline (timeout)",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_serialize_like_the_compilers_types() {
        let q: MetricQuery = serde_json::from_value(json!({
            "metrics": ["arr"],
            "group_by": ["segment"],
            "grain": "month",
            "filters": [
                {"dimension": "segment", "op": "in", "values": ["SMB", 3, true]},
                {"dimension": "csat_score", "op": "is null", "values": []}
            ],
            "time_range": {"from": "2026-01-01", "to": "2026-03-31"},
            "order": [{"field": "arr", "desc": true}],
            "limit": 5
        }))
        .expect("a query");
        let real = serde_json::to_value(&q).expect("serializes");
        let mirror = serde_json::to_value(mirror_of_query(&q)).expect("serializes");
        assert_eq!(real, mirror);
        for u in [Unit::Usd, Unit::Ratio, Unit::Percent, Unit::Minutes] {
            assert_eq!(
                serde_json::to_value(u).expect("unit"),
                serde_json::to_value(UnitSchema::of(u)).expect("unit")
            );
        }
        let c = Column {
            name: "month".into(),
            role: ColumnRole::Time {
                grain: Grain::Month,
            },
        };
        assert_eq!(
            serde_json::to_value(&c).expect("column"),
            serde_json::to_value(ColumnSchema::of(&c)).expect("column")
        );
    }

    #[test]
    fn the_document_references_only_defined_schemas() {
        let doc = openapi("http://cortex.test");
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for name in [
            "AnswerResponse",
            "MetricQuery",
            "ErrorResponse",
            "Answer",
            "Unit",
        ] {
            assert!(schemas.contains_key(name), "{name} missing");
        }
        for (i, _) in text.match_indices("#/components/schemas/") {
            let rest = &text[i + "#/components/schemas/".len()..];
            let name: String = rest.chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "dangling $ref to {name}");
        }
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["paths"]["/skills/{name}/run"]["post"]["requestBody"].is_object());
    }
}
