//! `cortex check` against the warehouse: every declared table, column and expression
//! exists with a type that fits its use, and every primary entity is unique, so a join
//! to it can never multiply rows.

use std::path::Path;

use super::model::{SemanticLayer, SemanticModel};
use super::raw::{Agg, DataType, EntityKind};
use crate::diagnostics::{Diagnostic, Reporter};
use crate::warehouse::{AuditContext, Value, Warehouse};

/// What a DuckDB type can be used as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeClass {
    Number,
    Text,
    Date,
    Boolean,
    Other,
}

fn class_of(duck_type: &str) -> TypeClass {
    let t = duck_type.to_ascii_uppercase();
    let base = t.split('(').next().unwrap_or("").trim();
    match base {
        "TINYINT" | "SMALLINT" | "INTEGER" | "BIGINT" | "HUGEINT" | "UTINYINT" | "USMALLINT"
        | "UINTEGER" | "UBIGINT" | "UHUGEINT" | "FLOAT" | "DOUBLE" | "DECIMAL" => TypeClass::Number,
        "VARCHAR" => TypeClass::Text,
        "DATE"
        | "TIMESTAMP"
        | "TIMESTAMP WITH TIME ZONE"
        | "TIMESTAMP_S"
        | "TIMESTAMP_MS"
        | "TIMESTAMP_NS" => TypeClass::Date,
        "BOOLEAN" => TypeClass::Boolean,
        _ => TypeClass::Other,
    }
}

struct Checker<'w, 'r, 's> {
    wh: &'w Warehouse,
    rep: &'r mut Reporter<'s>,
}

impl Checker<'_, '_, '_> {
    fn run(&self, sql: &str) -> Result<Vec<Vec<Value>>, String> {
        let ctx = AuditContext {
            requester: "cortex check".into(),
            question: "check metrics.yaml against the warehouse".into(),
            query_json: None,
        };
        self.wh
            .query(sql, &ctx)
            .map(|r| r.rows)
            .map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string())
    }

    /// The DuckDB type of `expr` over `table` (works on empty tables too).
    fn type_of(&self, table: &str, expr: &str) -> Result<String, String> {
        let sql = format!(
            "SELECT typeof(t.x) FROM (SELECT 1 AS one) AS o LEFT JOIN (SELECT {expr} AS x FROM {table} LIMIT 1) AS t ON TRUE"
        );
        let rows = self.run(&sql)?;
        match rows.first().and_then(|r| r.first()) {
            Some(Value::Text(t)) => Ok(t.clone()),
            _ => Err("no type".into()),
        }
    }
}

/// Checks the layer against an open warehouse; returns every problem, located in
/// metrics.yaml (`source` is its text).
pub fn check_warehouse(
    layer: &SemanticLayer,
    metrics_path: &Path,
    source: &str,
    wh: &Warehouse,
) -> Vec<Diagnostic> {
    let mut rep = Reporter::new(metrics_path, source);
    let mut c = Checker { wh, rep: &mut rep };
    let sec = "semantic_models";
    for m in &layer.models {
        let name = m.name.as_str();
        if let Err(e) = c.run(&format!("SELECT COUNT(*) FROM {}", m.table)) {
            c.rep.error(
                &[sec, name, "table"],
                format!(
                    "table {} cannot be read from the warehouse {} ({e}); table names are matched without regard to case",
                    m.table,
                    wh.path().display()
                ),
            );
            continue;
        }
        if let Some(f) = &m.filter {
            if let Err(e) = c.run(&format!("SELECT COUNT(*) FROM {} WHERE {f}", m.table)) {
                c.rep
                    .error(&[sec, name, "filter"], format!("the row filter fails: {e}"));
            }
        }
        // Row filter applied to key checks: a role is unique within its own rows.
        let from = match &m.filter {
            Some(f) => format!("{} WHERE {f}", m.table),
            None => m.table.clone(),
        };
        check_entities(&mut c, m, &from);
        for d in &m.dimensions {
            let path = [sec, name, "dimensions", d.name.as_str()];
            let t = match c.type_of(&m.table, &d.expr) {
                Ok(t) => t,
                Err(err) => {
                    c.rep.error(&path, format!("{}: {err}", d.expr));
                    continue;
                }
            };
            let class = class_of(&t);
            let problem = if d.is_time() {
                (class != TypeClass::Date).then_some("a time dimension needs a DATE or TIMESTAMP")
            } else {
                match d.data_type {
                    DataType::Number => (class != TypeClass::Number)
                        .then_some("`data_type: number` needs a numeric column"),
                    DataType::Boolean => (class != TypeClass::Boolean)
                        .then_some("`data_type: boolean` needs a BOOLEAN column"),
                    DataType::String => None,
                }
            };
            if let Some(p) = problem {
                c.rep.error(&path, format!("{} is {t}; {p}", d.expr));
            }
        }
        for me in &m.measures {
            let path = [sec, name, "measures", me.name.as_str()];
            let Some(expr) = &me.expr else { continue };
            let t = match c.type_of(&m.table, expr) {
                Ok(t) => t,
                Err(err) => {
                    c.rep.error(&path, format!("{expr}: {err}"));
                    continue;
                }
            };
            let numeric = matches!(me.agg, Agg::Sum | Agg::Avg | Agg::Median | Agg::Percentile);
            if numeric && class_of(&t) != TypeClass::Number {
                c.rep.error(
                    &path,
                    format!("{expr} is {t}; this aggregation needs a number"),
                );
            }
        }
    }
    rep.diagnostics
}

/// Checks a model's entities: each a usable join key, and a primary one unique (and never
/// empty) within the model's rows (`from`: its table, filtered when it has a row filter).
fn check_entities(c: &mut Checker, m: &SemanticModel, from: &str) {
    let (sec, name) = ("semantic_models", m.name.as_str());
    for e in &m.entities {
        let path = [sec, name, "entities", e.name.as_str()];
        match c.type_of(&m.table, &e.expr) {
            Err(err) => {
                c.rep.error(&path, format!("{}: {err}", e.expr));
                continue;
            }
            Ok(t) if matches!(class_of(&t), TypeClass::Other | TypeClass::Boolean) => {
                c.rep.error(
                    &path,
                    format!("{} is {t}, which cannot be a join key", e.expr),
                );
                continue;
            }
            Ok(_) => {}
        }
        if e.kind == EntityKind::Primary {
            // A partitioned model (a daily snapshot) holds each key once per partition.
            let parts: Vec<&str> = m
                .dimensions
                .iter()
                .filter(|d| d.partition)
                .map(|d| d.expr.as_str())
                .collect();
            let key = if parts.is_empty() {
                e.expr.clone()
            } else {
                format!("row({}, {})", e.expr, parts.join(", "))
            };
            let sql = format!(
                "SELECT COUNT(*) - COUNT(DISTINCT {key}) FILTER (WHERE {x} IS NOT NULL), COUNT(*) FILTER (WHERE {x} IS NULL) FROM {from}",
                x = e.expr
            );
            match c.run(&sql).as_deref() {
                Ok([row, ..]) => {
                    let nulls = row.get(1).and_then(Value::as_f64).unwrap_or(0.0);
                    let dup = row.first().and_then(Value::as_f64).unwrap_or(0.0) - nulls;
                    if dup > 0.0 || nulls > 0.0 {
                        c.rep.error(
                            &path,
                            format!(
                                "primary entity {} ({}) is not unique in {}{}{}: {} duplicate and {} empty keys; joins to this model would multiply rows",
                                e.name,
                                e.expr,
                                m.table,
                                m.filter.as_ref().map(|f| format!(" where {f}")).unwrap_or_default(),
                                if parts.is_empty() { String::new() } else { format!(" per partition ({})", parts.join(", ")) },
                                dup,
                                nulls
                            ),
                        );
                    }
                }
                Ok(_) => {}
                Err(err) => c.rep.error(&path, err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_duckdb_types() {
        assert_eq!(class_of("DECIMAL(15,2)"), TypeClass::Number);
        assert_eq!(class_of("BIGINT"), TypeClass::Number);
        assert_eq!(class_of("VARCHAR"), TypeClass::Text);
        assert_eq!(class_of("TIMESTAMP WITH TIME ZONE"), TypeClass::Date);
        assert_eq!(class_of("DATE"), TypeClass::Date);
        assert_eq!(class_of("BOOLEAN"), TypeClass::Boolean);
        assert_eq!(class_of("INTEGER[]"), TypeClass::Other);
    }
}
