//! Custom grains between metrics.yaml (`custom_grains:`) and MetricFlow's project
//! configuration (`time_spines[].custom_granularities`).

use serde_norway::{Mapping, Value};

use crate::semantic::grain::CustomGrain;

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The custom granularities a `project_configuration:` declares, one per
/// `time_spines[].custom_granularities[]`: the spine's table and primary (date) column, and
/// the granularity's `column_name` (its name when absent).
pub(super) fn custom_grains_of(config: &Value) -> Vec<CustomGrain> {
    let mut out = Vec::new();
    let spines = config.get("time_spines").and_then(Value::as_sequence);
    for spine in spines.into_iter().flatten() {
        let (Some(table), Some(date)) = (
            spine.get("node_relation").and_then(|r| text(r, "alias")),
            spine.get("primary_column").and_then(|c| text(c, "name")),
        ) else {
            continue;
        };
        let grains = spine
            .get("custom_granularities")
            .and_then(Value::as_sequence);
        for g in grains.into_iter().flatten() {
            let Some(name) = text(g, "name") else {
                continue;
            };
            out.push(CustomGrain {
                name: name.to_string(),
                table: table.to_string(),
                date_column: date.to_string(),
                column: text(g, "column_name")
                    .filter(|c| *c != name)
                    .map(str::to_string),
            });
        }
    }
    out
}

/// The `project_configuration:` document that declares `grains` as MetricFlow custom
/// granularities: one daily time spine per calendar table. `None` when there are none.
pub(super) fn project_configuration(grains: &[CustomGrain]) -> Option<Value> {
    if grains.is_empty() {
        return None;
    }
    let s = |x: &str| Value::String(x.to_string());
    let mut tables: Vec<(&str, &str)> = Vec::new();
    for g in grains {
        if !tables.contains(&(g.table.as_str(), g.date_column.as_str())) {
            tables.push((&g.table, &g.date_column));
        }
    }
    let spines: Vec<Value> = tables
        .iter()
        .map(|(table, date)| {
            let customs: Vec<Value> = grains
                .iter()
                .filter(|g| g.table == *table && g.date_column == *date)
                .map(|g| {
                    let mut m = Mapping::new();
                    m.insert(s("name"), s(&g.name));
                    if let Some(c) = &g.column {
                        m.insert(s("column_name"), s(c));
                    }
                    Value::Mapping(m)
                })
                .collect();
            let mut rel = Mapping::new();
            rel.insert(s("alias"), s(table));
            let mut col = Mapping::new();
            col.insert(s("name"), s(date));
            col.insert(s("time_granularity"), s("day"));
            let mut m = Mapping::new();
            m.insert(s("node_relation"), Value::Mapping(rel));
            m.insert(s("primary_column"), Value::Mapping(col));
            m.insert(s("custom_granularities"), Value::Sequence(customs));
            Value::Mapping(m)
        })
        .collect();
    let mut cfg = Mapping::new();
    cfg.insert(s("time_spines"), Value::Sequence(spines));
    let mut doc = Mapping::new();
    doc.insert(s("project_configuration"), Value::Mapping(cfg));
    Some(Value::Mapping(doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_granularities_round_trip_through_a_project_configuration() {
        let grains = vec![
            CustomGrain {
                name: "alien_day".into(),
                table: "mf_time_spine".into(),
                date_column: "ds".into(),
                column: None,
            },
            CustomGrain {
                name: "fiscal_week".into(),
                table: "mf_time_spine".into(),
                date_column: "ds".into(),
                column: Some("fw_start".into()),
            },
        ];
        let doc = project_configuration(&grains).unwrap();
        let cfg = doc.get("project_configuration").unwrap();
        assert_eq!(custom_grains_of(cfg), grains);
        assert!(project_configuration(&[]).is_none());
    }
}
