//! `kind: projection`: a time series step carried forward to a date (least squares over
//! the recent points), per group when the series has one.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::{StepError, StepOutput};
use crate::skills::run::Runtime;

/// Runs the step.
pub(super) fn run(
    rt: &Runtime,
    series: &str,
    at: &str,
    value_column: Option<&str>,
    data: &Value,
) -> Result<StepOutput, StepError> {
    let s = &data["steps"][series];
    let at = rt.render(at, data).map_err(StepError)?;
    let at = NaiveDate::parse_from_str(at.trim(), "%Y-%m-%d")
        .map_err(|_| StepError(format!("projection date {at:?} is not YYYY-MM-DD")))?;
    Ok(StepOutput::Value(project(s, at, value_column)))
}

/// Least-squares line through (day, value) points, evaluated at `at`; per group when the
/// series has a text column besides the date and value.
fn project(series: &Value, at: NaiveDate, value_column: Option<&str>) -> Value {
    let cols: Vec<String> = serde_json::from_value(series["columns"].clone()).unwrap_or_default();
    let rows = series["rows"].as_array().cloned().unwrap_or_default();
    let Some(first) = rows.first() else {
        return json!({"value": null, "by_key": {}});
    };
    let is_date = |v: &Value| {
        v.as_str()
            .is_some_and(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok())
    };
    let date_col = cols.iter().find(|c| is_date(&first[c.as_str()])).cloned();
    let value_col = value_column
        .map(str::to_string)
        .or_else(|| cols.last().cloned());
    let group_col = cols
        .iter()
        .find(|c| {
            Some(*c) != date_col.as_ref()
                && Some(*c) != value_col.as_ref()
                && first[c.as_str()].is_string()
        })
        .cloned();
    let (Some(dc), Some(vc)) = (date_col, value_col) else {
        return json!({"value": null, "by_key": {}});
    };
    let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(at);
    for r in &rows {
        let (Some(d), Some(v)) = (
            r[&dc]
                .as_str()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()),
            r[&vc].as_f64(),
        ) else {
            continue;
        };
        let g = group_col.as_ref().map_or(String::new(), |g| {
            r[g].as_str().unwrap_or_default().to_string()
        });
        groups
            .entry(g)
            .or_default()
            .push(((d - epoch).num_days() as f64, v));
    }
    let fit = |pts: &[(f64, f64)]| fit_line(pts, (at - epoch).num_days() as f64);
    let mut by_key = Map::new();
    let mut total = 0.0;
    let mut slope_total = 0.0;
    let mut ok = !groups.is_empty();
    for (k, pts) in &groups {
        match fit(pts) {
            Some((v, s)) => {
                total += v;
                slope_total += s;
                by_key.insert(k.clone(), json!(v));
            }
            None => ok = false,
        }
    }
    json!({
        "value": if ok { json!(total) } else { Value::Null },
        "slope_per_day": if ok { json!(slope_total) } else { Value::Null },
        "at": at,
        "by_key": by_key,
    })
}

/// The slope of the recent trend (least squares over the last 13 points), carried forward
/// from the latest actual value to `x_at`: (projected value, slope per x).
fn fit_line(pts: &[(f64, f64)], x_at: f64) -> Option<(f64, f64)> {
    let pts = &pts[pts.len().saturating_sub(13)..];
    let &(last_x, last_y) = pts.last()?;
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let slope = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx;
    Some((last_y + slope * (x_at - last_x).max(0.0), slope))
}

/// A dated series (in date order) carried forward to `at` the way the projection step
/// does it: (projected value, slope per day). Signals' OKR pace uses the same line.
pub fn project_points(points: &[(NaiveDate, f64)], at: NaiveDate) -> Option<(f64, f64)> {
    let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)?;
    let pts: Vec<(f64, f64)> = points
        .iter()
        .map(|(d, v)| ((*d - epoch).num_days() as f64, *v))
        .collect();
    fit_line(&pts, (at - epoch).num_days() as f64)
}
