//! `cortex import metricflow DIR`: a dbt MetricFlow project's semantic models and metrics
//! (YAML, one `semantic_model:` / `metric:` per document or `semantic_models:` / `metrics:`
//! lists) into Cortex's metrics.yaml.
//!
//! Names. MetricFlow scopes a dimension by its model's entity (`booking__is_instant`);
//! metrics.yaml keeps each model's dimension names as written (they only need to be unique
//! within a model) and resolves `entity__dim` the way MetricFlow does: the entity is the
//! model's own primary entity (or `primary_entity`) or the entity a join goes through. So a
//! MetricFlow group-by or filter name is a Cortex name, unchanged.
//!
//! What it cannot carry (conversion metrics, offsets, windows, semi-additive measures,
//! `{{ Metric() }}` filters, ...) is listed in [`Imported::dropped`] with file and line,
//! together with everything that depended on it. Nothing is dropped silently.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_norway::Value;

use crate::semantic::model::tokenize_formula;
use crate::semantic::query::Condition;
use crate::semantic::raw::{
    Agg, DimensionKind, EntityKind, MetricKindName, RawDimension, RawEntity, RawMeasure,
    RawMeasureInput, RawMetric, RawRatioInput, RawSemanticModel,
};

/// Why an import failed as a whole (single constructs that cannot be carried are
/// [`Dropped`], not errors).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: not valid YAML: {message}")]
    Yaml {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("no MetricFlow semantic models found under {0}")]
    Empty(PathBuf),
    #[error("the imported metrics.yaml does not load (an importer bug): {0}")]
    Invalid(String),
}

/// One construct the importer could not carry into metrics.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The MetricFlow file it was read from.
    pub file: PathBuf,
    /// 1-based line of the construct in that file.
    pub line: usize,
    /// What was dropped, e.g. `metric bookings_growth` or `measure total_balance`.
    pub what: String,
    /// Why, in one phrase.
    pub reason: String,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.what,
            self.reason
        )
    }
}

/// A metrics.yaml file, section by section (what the importer writes and the exporter reads).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    #[serde(default = "one")]
    pub version: u32,
    pub semantic_models: Vec<RawSemanticModel>,
    #[serde(default)]
    pub metrics: Vec<RawMetric>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<crate::semantic::raw::RawNamedFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_grains: Vec<crate::semantic::grain::CustomGrain>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_spine: Option<crate::semantic::timespine::RawTimeSpine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_join: Option<crate::semantic::raw::ListingJoin>,
}

fn one() -> u32 {
    1
}

/// The Cortex definition an export carries in `config: {meta: {cortex: ...}}`, read back
/// by the importer so that `import(export(x))` gives `x` again.
fn cortex_meta(v: &Value) -> Option<&Value> {
    get(v, "config")
        .and_then(|c| get(c, "meta"))
        .or_else(|| get(v, "meta"))
        .and_then(|m| get(m, "cortex"))
}

/// The result of an import: the metrics.yaml content and what could not be carried.
#[derive(Debug, Clone)]
pub struct Imported {
    pub file: MetricsFile,
    pub dropped: Vec<Dropped>,
}

impl Imported {
    /// The metrics.yaml text, with a header naming the source.
    pub fn to_yaml(&self, source: &Path) -> Result<String, ImportError> {
        let body =
            serde_norway::to_string(&self.file).map_err(|e| ImportError::Invalid(e.to_string()))?;
        let mut out = format!(
            "# Imported from the MetricFlow project {} by `cortex import metricflow`.\n",
            source.display()
        );
        if !self.dropped.is_empty() {
            out.push_str(
                "# Not carried (see `cortex import metricflow` output for the reasons):\n",
            );
            for d in &self.dropped {
                out.push_str(&format!("#   {}\n", d.what));
            }
        }
        out.push_str(&body);
        Ok(out)
    }
}

/// One YAML document of a MetricFlow file, with its line range.
struct Doc {
    file: PathBuf,
    /// Lines of the whole file.
    lines: std::sync::Arc<Vec<String>>,
    /// 0-based first line of the document, and one past its last.
    lo: usize,
    hi: usize,
    value: Value,
}

impl Doc {
    /// 1-based line of the first `name: <name>` in the document at or after line `from`
    /// (0-based), or the document's first line.
    fn line_of_name(&self, name: &str, from: usize) -> usize {
        self.find_line(from, |t| {
            let t = t.trim().trim_start_matches("- ").trim();
            t.strip_prefix("name:")
                .is_some_and(|rest| rest.trim().trim_matches(|c| c == '"' || c == '\'') == name)
        })
    }

    /// 1-based line of the first line at or after `from` (0-based) whose trimmed text starts
    /// with `key:`.
    fn line_of_key(&self, key: &str, from: usize) -> usize {
        let pat = format!("{key}:");
        self.find_line(from, |t| {
            t.trim().trim_start_matches("- ").trim().starts_with(&pat)
        })
    }

    fn find_line(&self, from: usize, pred: impl Fn(&str) -> bool) -> usize {
        let start = from.max(self.lo);
        (start..self.hi)
            .find(|&i| pred(&self.lines[i]))
            .map_or(start + 1, |i| i + 1)
    }
}

/// Every `*.yml` / `*.yaml` file under `dir`, sorted.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ImportError> {
    let rd = std::fs::read_dir(dir).map_err(|source| ImportError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if !p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') || n == "target" || n == "dbt_packages")
            {
                yaml_files(&p, out)?;
            }
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e == "yml" || e == "yaml")
        {
            out.push(p);
        }
    }
    Ok(())
}

fn read_docs(path: &Path) -> Result<Vec<Doc>, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let lines = std::sync::Arc::new(lines);
    let mut docs = Vec::new();
    let mut lo = 0;
    let mut bounds = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.trim_end() == "---" {
            bounds.push((lo, i));
            lo = i + 1;
        }
    }
    bounds.push((lo, lines.len()));
    for (lo, hi) in bounds {
        let chunk = lines[lo..hi].join("\n");
        if chunk.trim().is_empty() {
            continue;
        }
        let value: Value = serde_norway::from_str(&chunk).map_err(|e| ImportError::Yaml {
            path: path.to_path_buf(),
            line: lo + e.location().map_or(1, |l| l.line()),
            message: e.to_string(),
        })?;
        docs.push(Doc {
            file: path.to_path_buf(),
            lines: lines.clone(),
            lo,
            hi,
            value,
        });
    }
    Ok(docs)
}

/// A scalar as text (`expr: 1` is the number 1 in YAML).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_mapping().and_then(|m| m.get(key))
}

fn get_str(v: &Value, key: &str) -> Option<String> {
    get(v, key).and_then(scalar)
}

fn list(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::Sequence(s)) => s.clone(),
        _ => Vec::new(),
    }
}

/// Filter text(s): a string or a list of strings.
fn filter_texts(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(s)) => s.iter().filter_map(scalar).collect(),
        _ => Vec::new(),
    }
}

/// Translates a MetricFlow where filter (`{{ Dimension('booking__is_instant') }}`,
/// `{{ Dimension('listing__country_latest') }} = 'us'`, `{{ TimeDimension('metric_time',
/// 'day') }} >= '2020-01-02'`, joined by AND) into metrics.yaml conditions, one per AND term.
/// A bare boolean dimension means `= true`. What has no equivalent (OR, entity and metric
/// filters, time filters at a grain other than day) is an error naming it.
pub fn translate_filter(text: &str) -> Result<Vec<String>, String> {
    let rendered = normalise_names(&strip_casts(&render_jinja(text)?));
    let mut out = Vec::new();
    for part in split_top_level(&rendered, "and")? {
        let mut p = part.trim();
        while p.starts_with('(') && p.ends_with(')') && balanced(&p[1..p.len() - 1]) {
            p = p[1..p.len() - 1].trim();
        }
        let cond = if is_name(p) {
            format!("{p} = true")
        } else if let Some(rest) = p
            .strip_prefix("NOT ")
            .or_else(|| p.strip_prefix("not "))
            .filter(|r| is_name(r.trim()))
        {
            format!("{} = false", rest.trim())
        } else {
            p.to_string()
        };
        Condition::parse(&cond)?;
        out.push(cond);
    }
    Ok(out)
}

/// Translates a MetricFlow query's where filter, which may combine conditions with OR, NOT
/// and parentheses, into one boolean filter over metrics.yaml names.
pub fn translate_where(text: &str) -> Result<crate::semantic::Filter, String> {
    let rendered = normalise_names(&strip_casts(&render_jinja(text)?));
    crate::semantic::Filter::parse(&rendered)
}

/// `CAST(x AS TIMESTAMP)` and `CAST(x AS DATE)` -> `x`: day-grain comparisons read the same
/// on dates.
fn strip_casts(text: &str) -> String {
    let mut out = text.to_string();
    loop {
        let lower = out.to_ascii_lowercase();
        let Some(start) = lower.find("cast(") else {
            return out;
        };
        let inner_start = start + 5;
        let mut depth = 1;
        let mut end = None;
        for (i, c) in out[inner_start..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(inner_start + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else { return out };
        let inner = &out[inner_start..end];
        let lower_inner = inner.to_ascii_lowercase();
        let Some(pos) = lower_inner
            .rfind(" as timestamp")
            .or_else(|| lower_inner.rfind(" as date"))
        else {
            return out;
        };
        let expr = inner[..pos].trim().to_string();
        out = format!("{}{}{}", &out[..start], expr, &out[end + 1..]);
    }
}

/// `booking__ds__day` -> `booking__ds`: a day-grain name is the dimension itself.
fn normalise_names(text: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |w: &mut String, out: &mut String| {
        let t = std::mem::take(w);
        match t.strip_suffix("__day") {
            Some(base) if base.contains("__") || base == "metric_time" => out.push_str(base),
            _ => out.push_str(&t),
        }
    };
    let mut quote: Option<char> = None;
    for c in text.chars() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            if c == '\'' || c == '"' {
                quote = Some(c);
            }
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// Replaces each `{{ Call(...) }}` with the name it stands for.
fn render_jinja(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unterminated {{{{ in {text:?}"))?;
        out.push_str(&render_call(after[..end].trim())?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn render_call(call: &str) -> Result<String, String> {
    let (func, args) = call
        .split_once('(')
        .ok_or_else(|| format!("unsupported template {{{{ {call} }}}}"))?;
    let args = args.trim_end().strip_suffix(')').unwrap_or(args);
    let mut positional = Vec::new();
    let mut group_by = None;
    for a in split_args(args) {
        let a = a.trim();
        if a.is_empty() {
            continue;
        }
        if let Some((k, v)) = a.split_once('=').filter(|(k, _)| is_name(k.trim())) {
            let v = v.trim();
            if k.trim() == "entity_path" && v != "[]" {
                return Err(format!(
                    "entity_path {v} in {{{{ {call} }}}} is not supported"
                ));
            }
            if k.trim() == "group_by" {
                group_by = Some(v.to_string());
            }
            continue;
        }
        positional.push(a.trim_matches(|c| c == '\'' || c == '"').to_string());
    }
    let first = positional
        .first()
        .cloned()
        .ok_or_else(|| format!("{{{{ {call} }}}} names nothing"))?;
    match func.trim() {
        "Dimension" => Ok(first),
        "TimeDimension" => match positional.get(1).map(|g| g.to_ascii_lowercase()) {
            None => Ok(first),
            Some(g) if g == "day" => Ok(first),
            // `listing__ds__month`, `metric_time__alien_day`: the compiler buckets it.
            Some(g) if is_name(&g) => Ok(format!("{first}__{g}")),
            Some(g) => Err(format!(
                "a time filter at {g} grain ({first}) is not supported"
            )),
        },
        // An entity filters by its key, the identifier dimension of the same name.
        "Entity" => Ok(first),
        // `{{ Metric('bookings', group_by=['listing']) }}` is the metric per listing:
        // `listing__bookings` (MetricFlow's column name), a metric filter in metrics.yaml.
        "Metric" => {
            let list = group_by
                .or_else(|| positional.get(1).cloned())
                .unwrap_or_default();
            let entities: Vec<String> =
                split_args(list.trim().trim_start_matches('[').trim_end_matches(']'))
                    .into_iter()
                    .map(|e| e.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
                    .filter(|e| !e.is_empty())
                    .collect();
            match entities.as_slice() {
                [e] if e.split("__").all(is_name) => Ok(format!("{e}__{first}")),
                [] => Err(format!(
                    "a metric filter ({{{{ Metric('{first}') }}}}) without a group_by entity is not supported"
                )),
                _ => Err(format!(
                    "a metric filter ({{{{ Metric('{first}', ...) }}}}) grouped by {} is not supported; group it by one entity",
                    entities.join(", ")
                )),
            }
        }
        other => Err(format!("unsupported template function {other}")),
    }
}

/// The metrics named by `{{ Metric('name', ...) }}` anywhere in a YAML value.
fn metric_templates(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => s
            .split("Metric(")
            .skip(1)
            .filter_map(|rest| {
                let rest = rest.trim_start();
                let q = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
                rest[1..].split(q).next().map(str::to_string)
            })
            .collect(),
        Value::Sequence(items) => items.iter().flat_map(metric_templates).collect(),
        Value::Mapping(m) => m.values().flat_map(metric_templates).collect(),
        _ => Vec::new(),
    }
}

/// Splits template arguments on commas outside quotes and brackets.
fn split_args(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for c in args.chars() {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '(') => depth += 1,
            (None, ']' | ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

/// Splits on a keyword (`and`) outside quotes and parentheses; refuses a top-level `or`.
fn split_top_level(text: &str, keyword: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut i = 0;
    let word_at = |i: usize, w: &str| -> bool {
        let n = w.len();
        if i + n > chars.len() {
            return false;
        }
        let s: String = chars[i..i + n].iter().collect();
        let before = i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == ')';
        let after = i + n == chars.len() || chars[i + n].is_whitespace() || chars[i + n] == '(';
        s.eq_ignore_ascii_case(w) && before && after
    };
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            cur.push(c);
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if word_at(i, "or") {
            return Err("OR in filters is not supported".to_string());
        }
        if depth == 0 && word_at(i, keyword) {
            // `x between 1 and 3` keeps its `and`.
            if !cur.to_ascii_lowercase().contains(" between ") {
                parts.push(std::mem::take(&mut cur));
                i += keyword.len();
                continue;
            }
        }
        cur.push(c);
        i += 1;
    }
    parts.push(cur);
    Ok(parts.into_iter().filter(|p| !p.trim().is_empty()).collect())
}

/// A measure as read, before metrics use it.
struct MeasureInfo {
    /// The measure's own time dimension when it differs from its model's default.
    time_dimension: Option<String>,
}

/// A metric as read, before its dependencies are checked.
struct MetricDraft {
    raw: RawMetric,
    file: PathBuf,
    line: usize,
    /// Metrics it needs (derived inputs, ratio sides).
    deps: Vec<String>,
    /// Ratio sides that must be simple metrics: (side, metric, extra filter).
    ratio_sides: Vec<(String, String, Vec<String>)>,
}

/// Imports every semantic model and metric under `dir`.
pub fn import_dir(dir: &Path) -> Result<Imported, ImportError> {
    let mut files = Vec::new();
    yaml_files(dir, &mut files)?;
    let mut docs = Vec::new();
    for f in &files {
        docs.extend(read_docs(f)?);
    }
    let mut imp = Importer::default();
    let mut metric_docs: Vec<(usize, Value)> = Vec::new();
    for (di, doc) in docs.iter().enumerate() {
        let Some(map) = doc.value.as_mapping() else {
            continue;
        };
        for (k, v) in map {
            match k.as_str().unwrap_or("") {
                "semantic_model" => imp.model(doc, v),
                "semantic_models" => {
                    for m in list(Some(v)) {
                        imp.model(doc, &m);
                    }
                }
                "metric" => metric_docs.push((di, v.clone())),
                "metrics" => {
                    for m in list(Some(v)) {
                        metric_docs.push((di, m));
                    }
                }
                "saved_query" | "saved_queries" => {
                    for q in match v {
                        Value::Sequence(s) => s.clone(),
                        other => vec![other.clone()],
                    } {
                        let name = get_str(&q, "name").unwrap_or_default();
                        imp.drop_at(
                            doc,
                            doc.line_of_name(&name, doc.lo),
                            format!("saved query {name}"),
                            "saved queries are not part of metrics.yaml (skills play that role)",
                        );
                    }
                }
                "project_configuration" => {
                    imp.custom_grains.extend(grains::custom_grains_of(v));
                    imp.project_configuration(doc, v);
                }
                // dbt's own keys are not semantic.
                "version" | "models" | "sources" | "seeds" | "snapshots" | "exposures"
                | "macros" => {}
                other => imp.drop_at(
                    doc,
                    doc.line_of_key(other, doc.lo),
                    format!("top-level key {other}"),
                    "not a MetricFlow construct the importer knows",
                ),
            }
        }
    }
    if imp.models.is_empty() {
        return Err(ImportError::Empty(dir.to_path_buf()));
    }
    imp.drop_dangling_foreign_entities(&docs);
    let mut drafts = Vec::new();
    for (di, v) in &metric_docs {
        if let Some(d) = imp.metric(&docs[*di], v) {
            drafts.push(d);
        }
    }
    // Measures with `create_metric: true` become simple metrics of the same name.
    for (name, (file, line)) in std::mem::take(&mut imp.create_metric) {
        if drafts.iter().any(|d| d.raw.name == name) {
            continue;
        }
        let time_dimension = imp
            .measures
            .get(&name)
            .and_then(|m| m.time_dimension.clone());
        drafts.push(MetricDraft {
            raw: raw_metric(
                &name,
                MetricKindName::Simple,
                None,
                None,
                Some(name.clone()),
            ),
            file,
            line,
            deps: Vec::new(),
            ratio_sides: Vec::new(),
        });
        if let Some(d) = drafts.last_mut() {
            d.raw.time_dimension = time_dimension;
        }
    }
    let metrics = imp.resolve(drafts);
    let mut file = MetricsFile {
        version: 1,
        semantic_models: imp.models,
        metrics,
        filters: Vec::new(),
        ignore: Vec::new(),
        custom_grains: std::mem::take(&mut imp.custom_grains),
        time_spine: imp.time_spine.take(),
        // MetricFlow lists dimensions without a metric full outer joined.
        listing_join: Some(crate::semantic::raw::ListingJoin::Full),
    };
    let extras = dir.join(EXTRAS);
    if extras.exists() {
        let text = std::fs::read_to_string(&extras).map_err(|source| ImportError::Read {
            path: extras.clone(),
            source,
        })?;
        let e: Extras = serde_json::from_str(&text).map_err(|e| ImportError::Yaml {
            path: extras.clone(),
            line: e.line(),
            message: e.to_string(),
        })?;
        file.filters = e.filters;
        file.ignore = e.ignore;
        file.listing_join = e.listing_join;
        if e.no_time_spine {
            // The project configuration only carried custom grains' calendars.
            file.time_spine = None;
        }
    }
    let imported = Imported {
        file,
        dropped: imp.dropped,
    };
    // The output must load: anything else is an importer bug, said as such.
    let text = imported.to_yaml(dir)?;
    crate::semantic::SemanticLayer::from_source(Path::new("metrics.yaml"), &text)
        .map_err(|d| ImportError::Invalid(d.to_string()))?;
    Ok(imported)
}

fn raw_metric(
    name: &str,
    kind: MetricKindName,
    description: Option<String>,
    label: Option<String>,
    measure: Option<String>,
) -> RawMetric {
    RawMetric {
        name: name.to_string(),
        kind,
        label,
        description: description.unwrap_or_else(|| name.replace('_', " ")),
        owner: "metricflow import".to_string(),
        unit: "count".to_string(),
        synonyms: Vec::new(),
        measure,
        numerator: None,
        denominator: None,
        expr: None,
        filter: Vec::new(),
        time_dimension: None,
        fill_nulls_with: None,
        better: None,
        conversion: None,
        window: None,
        grain_to_date: None,
        period_agg: None,
        join_to_time_spine: false,
        inputs: Vec::new(),
        default_grain: None,
    }
}

#[derive(Default)]
struct Importer {
    models: Vec<RawSemanticModel>,
    measures: BTreeMap<String, MeasureInfo>,
    /// Measures dropped, with the reason (metrics on them are dropped too).
    dropped_measures: BTreeMap<String, String>,
    create_metric: Vec<(String, (PathBuf, usize))>,
    dropped: Vec<Dropped>,
    /// Custom granularities of the project's time spines.
    custom_grains: Vec<crate::semantic::grain::CustomGrain>,
    /// The daily time spine of `project_configuration`.
    time_spine: Option<crate::semantic::timespine::RawTimeSpine>,
}

impl Importer {
    /// Reads the daily time spine from `project_configuration`: a `time_spines` entry
    /// whose primary column is at day grain, else a `time_spine_table_configurations`
    /// entry at day grain. Finer spines are for sub-daily grains (not carried here).
    fn project_configuration(&mut self, doc: &Doc, v: &Value) {
        let table_of = |schema: Option<String>, alias: String| match schema {
            Some(sc) if !sc.starts_with('$') => format!("{sc}.{alias}"),
            _ => alias,
        };
        // Spines finer than a day ride along with the daily one.
        let mut sub_daily = Vec::new();
        for ts in list(get(v, "time_spines")) {
            let col = get(&ts, "primary_column");
            let grain = col
                .and_then(|c| get_str(c, "time_granularity"))
                .and_then(|g| crate::semantic::grain::TimeUnit::parse(&g.to_ascii_lowercase()))
                .filter(|g| g.is_sub_daily());
            let rel = get(&ts, "node_relation");
            if let (Some(grain), Some(name), Some(alias)) = (
                grain,
                col.and_then(|c| get_str(c, "name")),
                rel.and_then(|r| get_str(r, "alias")),
            ) {
                let schema = rel.and_then(|r| get_str(r, "schema_name"));
                sub_daily.push(crate::semantic::timespine::RawSubDailySpine {
                    grain,
                    table: table_of(schema, alias),
                    column: name,
                });
            }
        }
        for ts in list(get(v, "time_spines")) {
            let col = get(&ts, "primary_column");
            let day = col
                .and_then(|c| get_str(c, "time_granularity"))
                .is_some_and(|g| g.eq_ignore_ascii_case("day"));
            let rel = get(&ts, "node_relation");
            if let (true, Some(name), Some(alias)) = (
                day,
                col.and_then(|c| get_str(c, "name")),
                rel.and_then(|r| get_str(r, "alias")),
            ) {
                let schema = rel.and_then(|r| get_str(r, "schema_name"));
                self.time_spine = Some(crate::semantic::timespine::RawTimeSpine {
                    table: table_of(schema, alias),
                    column: name,
                    sub_daily,
                });
                return;
            }
        }
        for tc in list(get(v, "time_spine_table_configurations")) {
            let day = get_str(&tc, "grain").is_some_and(|g| g.eq_ignore_ascii_case("day"));
            if let (true, Some(loc), Some(col)) =
                (day, get_str(&tc, "location"), get_str(&tc, "column_name"))
            {
                let (schema, alias) = match loc.rsplit_once('.') {
                    Some((sc, a)) => (Some(sc.to_string()), a.to_string()),
                    None => (None, loc.clone()),
                };
                self.time_spine = Some(crate::semantic::timespine::RawTimeSpine {
                    table: table_of(schema, alias),
                    column: col,
                    sub_daily,
                });
                return;
            }
        }
        if get(v, "time_spines").is_some() || get(v, "time_spine_table_configurations").is_some() {
            self.drop_at(
                doc,
                doc.line_of_key("project_configuration", doc.lo),
                "time spine".into(),
                "no time spine at day grain",
            );
        }
    }

    fn drop_at(&mut self, doc: &Doc, line: usize, what: String, reason: &str) {
        self.dropped.push(Dropped {
            file: doc.file.clone(),
            line,
            what,
            reason: reason.to_string(),
        });
    }

    /// A foreign entity no model has as its primary entity joins nothing; metrics.yaml
    /// refuses it, so it is listed as dropped (MetricFlow only uses it to group by the key).
    fn drop_dangling_foreign_entities(&mut self, docs: &[Doc]) {
        let primaries: BTreeSet<String> = self
            .models
            .iter()
            .flat_map(|m| m.entities.iter())
            .filter(|e| e.kind == EntityKind::Primary)
            .map(|e| e.name.clone())
            .collect();
        for mi in 0..self.models.len() {
            let model = self.models[mi].name.clone();
            let (keep, gone): (Vec<RawEntity>, Vec<RawEntity>) =
                std::mem::take(&mut self.models[mi].entities)
                    .into_iter()
                    .partition(|e| e.kind == EntityKind::Primary || primaries.contains(&e.name));
            self.models[mi].entities = keep;
            let reason = "no semantic model has it as primary entity, so it joins nothing (it stays a dimension: grouping and filtering by the key work)";
            for e in gone {
                let doc = docs.iter().find(|d| {
                    let v = get(&d.value, "semantic_model");
                    v.and_then(|v| get_str(v, "name")).as_deref() == Some(model.as_str())
                        || list(get(&d.value, "semantic_models"))
                            .iter()
                            .any(|m| get_str(m, "name").as_deref() == Some(model.as_str()))
                });
                if let Some(doc) = doc {
                    let at = doc.line_of_name(&model, doc.lo) - 1;
                    let line = doc.line_of_name(&e.name, at);
                    self.drop_at(doc, line, format!("entity {model}.{}", e.name), reason);
                }
            }
        }
    }

    fn model(&mut self, doc: &Doc, v: &Value) {
        if let Some(raw) = cortex_meta(v)
            .and_then(|m| get(m, "model"))
            .and_then(|m| serde_norway::from_value::<RawSemanticModel>(m.clone()).ok())
        {
            self.models.push(raw);
            return;
        }
        let name = get_str(v, "name").unwrap_or_default();
        let at = doc.line_of_name(&name, doc.lo) - 1;
        let rel = get(v, "node_relation");
        let table = rel
            .and_then(|r| get_str(r, "alias"))
            .or_else(|| get_str(v, "model").map(|m| dbt_ref(&m)));
        let Some(table) = table else {
            self.drop_at(
                doc,
                at + 1,
                format!("semantic model {name}"),
                "no node_relation alias or model ref names its table",
            );
            return;
        };
        let defaults = get(v, "defaults");
        let default_time = defaults.and_then(|d| get_str(d, "agg_time_dimension"));
        let mut entities = Vec::new();
        for e in list(get(v, "entities")) {
            let en = get_str(&e, "name").unwrap_or_default();
            let kind = match get_str(&e, "type").as_deref() {
                Some("primary") | Some("unique") => EntityKind::Primary,
                Some("foreign") => EntityKind::Foreign,
                other => {
                    let l = doc.line_of_name(&en, at);
                    self.drop_at(
                        doc,
                        l,
                        format!("entity {name}.{en}"),
                        &format!("entity type {} is not supported", other.unwrap_or("?")),
                    );
                    continue;
                }
            };
            entities.push(RawEntity {
                name: en.clone(),
                kind,
                expr: Some(get_str(&e, "expr").unwrap_or(en)),
            });
        }
        let mut dimensions = Vec::new();
        let mut coarse = BTreeSet::new();
        for d in list(get(v, "dimensions")) {
            let dn = get_str(&d, "name").unwrap_or_default();
            let l = doc.line_of_name(&dn, at);
            if get(&d, "validity_params").is_some()
                || get(&d, "type_params")
                    .and_then(|t| get(t, "validity_params"))
                    .is_some()
            {
                self.drop_at(
                    doc,
                    l,
                    format!("dimension {name}.{dn}"),
                    "validity_params (slowly changing dimensions) are not supported",
                );
                continue;
            }
            let kind = match get_str(&d, "type").as_deref() {
                Some("time") => DimensionKind::Time,
                _ => DimensionKind::Categorical,
            };
            let granularity = get(&d, "type_params")
                .and_then(|t| get_str(t, "time_granularity"))
                .unwrap_or_else(|| "day".into());
            let unit = match crate::semantic::grain::TimeUnit::parse(&granularity) {
                Some(crate::semantic::grain::TimeUnit::Day) => None,
                Some(u) if kind == DimensionKind::Time => Some(u),
                _ if kind == DimensionKind::Time => {
                    self.drop_at(
                        doc,
                        l,
                        format!("dimension {name}.{dn}"),
                        &format!("a time dimension at {granularity} granularity is not supported"),
                    );
                    coarse.insert(dn.clone());
                    continue;
                }
                _ => None,
            };
            dimensions.push(RawDimension {
                name: dn.clone(),
                kind,
                expr: get_str(&d, "expr").filter(|e| e != &dn),
                label: get_str(&d, "label"),
                description: get_str(&d, "description").filter(|x| x != &dn),
                synonyms: Vec::new(),
                sample_values: Vec::new(),
                value_synonyms: BTreeMap::new(),
                data_type: None,
                entity_name: false,
                identifier: false,
                future: false,
                granularity: unit,
                partition: get(&d, "is_partition").and_then(Value::as_bool) == Some(true),
            });
        }
        // MetricFlow groups and filters by an entity's key (`listing`, `{{ Entity('listing') }}`):
        // each entity is also an identifier dimension of its model, under the entity's name.
        for e in &entities {
            if !dimensions.iter().any(|d| d.name == e.name) {
                dimensions.push(entity_dimension(e));
            }
        }
        let mut measures = Vec::new();
        for m in list(get(v, "measures")) {
            let mn = get_str(&m, "name").unwrap_or_default();
            let l = doc.line_of_name(&mn, at);
            let own_time = get_str(&m, "agg_time_dimension");
            let coarse_time = own_time
                .as_ref()
                .or(default_time.as_ref())
                .filter(|t| coarse.contains(*t));
            let parsed = match coarse_time {
                Some(t) => Err(format!("its time dimension {t} was not imported")),
                None => measure(&m, &mn),
            };
            match parsed {
                Ok(raw) => {
                    self.measures.insert(
                        mn.clone(),
                        MeasureInfo {
                            time_dimension: own_time.filter(|t| Some(t) != default_time.as_ref()),
                        },
                    );
                    if get(&m, "create_metric").and_then(Value::as_bool) == Some(true) {
                        self.create_metric.push((mn.clone(), (doc.file.clone(), l)));
                    }
                    measures.push(raw);
                }
                Err(reason) => {
                    self.drop_at(doc, l, format!("measure {mn}"), &reason);
                    self.dropped_measures.insert(mn, reason);
                }
            }
        }
        self.models.push(RawSemanticModel {
            name,
            table,
            description: get_str(v, "description"),
            default_time_dimension: default_time.filter(|t| !coarse.contains(t)),
            entities,
            dimensions,
            measures,
            filter: None,
            primary_entity: get_str(v, "primary_entity"),
            joins: Vec::new(),
        });
    }

    fn metric(&mut self, doc: &Doc, v: &Value) -> Option<MetricDraft> {
        let name = get_str(v, "name").unwrap_or_default();
        if let Some(meta) = cortex_meta(v) {
            if get(meta, "generated").is_some() {
                return None;
            }
            if let Some(raw) = get(meta, "metric")
                .and_then(|m| serde_norway::from_value::<RawMetric>(m.clone()).ok())
            {
                return Some(MetricDraft {
                    raw,
                    file: doc.file.clone(),
                    line: doc.line_of_name(&name, doc.lo),
                    deps: Vec::new(),
                    ratio_sides: Vec::new(),
                });
            }
        }
        let line = doc.line_of_name(&name, doc.lo);
        let at = line - 1;
        let what = format!("metric {name}");
        let kind = get_str(v, "type").unwrap_or_default().to_ascii_lowercase();
        let tp = get(v, "type_params").cloned().unwrap_or(Value::Null);
        let fail = |this: &mut Importer, key: Option<&str>, reason: String| {
            let l = key.map_or(line, |k| doc.line_of_key(k, at));
            this.drop_at(doc, l, what.clone(), &reason);
            None
        };
        let default_grain = match get_str(v, "time_granularity") {
            None => None,
            Some(g) => match crate::semantic::grain::TimeUnit::parse(&g.to_ascii_lowercase()) {
                Some(u) => Some(u),
                None => {
                    return fail(
                        self,
                        Some("time_granularity"),
                        format!("a default time_granularity of {g} is not supported"),
                    )
                }
            },
        };
        let filter = match translate_all(&filter_texts(get(v, "filter"))) {
            Ok(f) => f,
            Err(e) => return fail(self, Some("filter"), format!("filter: {e}")),
        };
        let description = get_str(v, "description");
        let label = get_str(v, "label");
        let mut draft = MetricDraft {
            raw: raw_metric(&name, MetricKindName::Simple, description, label, None),
            file: doc.file.clone(),
            line,
            deps: Vec::new(),
            ratio_sides: Vec::new(),
        };
        draft.raw.filter = filter;
        draft.raw.default_grain = default_grain;
        // Metrics its filters compute (`{{ Metric('bookings', ...) }}`) must be imported too.
        draft.deps.extend(metric_templates(v));
        match kind.as_str() {
            "simple" | "cumulative" => {
                let mv = get(&tp, "measure");
                let (mname, mfilter) = match mv {
                    Some(Value::Mapping(_)) => {
                        let mv = mv.cloned().unwrap_or(Value::Null);
                        draft.raw.join_to_time_spine =
                            get(&mv, "join_to_timespine").and_then(Value::as_bool) == Some(true);
                        draft.raw.fill_nulls_with =
                            get(&mv, "fill_nulls_with").and_then(Value::as_f64);
                        let f = match translate_all(&filter_texts(get(&mv, "filter"))) {
                            Ok(f) => f,
                            Err(e) => return fail(self, Some("filter"), format!("filter: {e}")),
                        };
                        (get_str(&mv, "name"), f)
                    }
                    Some(other) => (scalar(other), Vec::new()),
                    None => (None, Vec::new()),
                };
                let Some(mname) = mname else {
                    return fail(self, None, "no measure (metrics defined by agg/expr without a measure are not supported yet)".into());
                };
                if let Some(reason) = self.dropped_measures.get(&mname) {
                    return fail(
                        self,
                        None,
                        format!("its measure {mname} was not imported ({reason})"),
                    );
                }
                draft.raw.filter.extend(mfilter);
                if draft
                    .raw
                    .filter
                    .iter()
                    .any(|c| c.starts_with("metric_time"))
                {
                    return fail(
                        self,
                        Some("filter"),
                        "a metric_time filter in a metric's definition is not supported".into(),
                    );
                }
                draft.raw.measure = Some(mname.clone());
                draft.raw.time_dimension = self
                    .measures
                    .get(&mname)
                    .and_then(|m| m.time_dimension.clone());
                if kind == "cumulative" {
                    draft.raw.kind = MetricKindName::Cumulative;
                    let ctp = get(&tp, "cumulative_type_params")
                        .cloned()
                        .unwrap_or(Value::Null);
                    let window = get(&ctp, "window").or_else(|| get(&tp, "window"));
                    let gtd = get(&ctp, "grain_to_date").or_else(|| get(&tp, "grain_to_date"));
                    if let Err((key, e)) = cumulative_window(&mut draft.raw, window, gtd) {
                        return fail(self, Some(key), e);
                    }
                    // MetricFlow's default is `first`; Cortex's is `last`.
                    let agg = get_str(&ctp, "period_agg");
                    match crate::semantic::timespine::PeriodAgg::parse(
                        agg.as_deref().unwrap_or("first"),
                    ) {
                        Some(crate::semantic::timespine::PeriodAgg::Last) => {}
                        // A running total from the start is a balance: formulas may read
                        // it only as such (Cortex's default, last).
                        Some(a) if draft.raw.window.is_some() || draft.raw.grain_to_date.is_some() => {
                            draft.raw.period_agg = Some(a)
                        }
                        Some(a) => {
                            return fail(
                                self,
                                Some("cumulative_type_params"),
                                format!(
                                    "period_agg {} on a running total from the start is not supported (only last: the balance at the end of each period)",
                                    a.as_str()
                                ),
                            )
                        }
                        None => {
                            return fail(
                                self,
                                Some("cumulative_type_params"),
                                format!(
                                    "period_agg {} is not supported (first, last or average)",
                                    agg.unwrap_or_default()
                                ),
                            )
                        }
                    }
                }
            }
            "ratio" => {
                draft.raw.kind = MetricKindName::Ratio;
                draft.raw.unit = "ratio".into();
                for side in ["numerator", "denominator"] {
                    let sv = get(&tp, side).cloned().unwrap_or(Value::Null);
                    let (target, f) = match &sv {
                        Value::Mapping(_) => {
                            if get(&sv, "offset_window").is_some()
                                || get(&sv, "offset_to_grain").is_some()
                            {
                                return fail(
                                    self,
                                    Some(side),
                                    "offsets are not supported yet".into(),
                                );
                            }
                            match translate_all(&filter_texts(get(&sv, "filter"))) {
                                Ok(f) => (get_str(&sv, "name"), f),
                                Err(e) => {
                                    return fail(self, Some(side), format!("{side} filter: {e}"))
                                }
                            }
                        }
                        other => (scalar(other), Vec::new()),
                    };
                    let Some(target) = target else {
                        return fail(self, Some(side), format!("no {side} metric"));
                    };
                    draft.deps.push(target.clone());
                    draft.ratio_sides.push((side.to_string(), target, f));
                }
            }
            "derived" => {
                draft.raw.kind = MetricKindName::Derived;
                draft.raw.unit = "score".into();
                if !draft.raw.filter.is_empty() {
                    return fail(
                        self,
                        Some("filter"),
                        "a filter on a derived metric is not supported".into(),
                    );
                }
                let Some(mut expr) = get_str(&tp, "expr") else {
                    return fail(self, None, "a derived metric without expr".into());
                };
                let mut renames = Vec::new();
                for input in list(get(&tp, "metrics")) {
                    let iname = get_str(&input, "name").unwrap_or_default();
                    let il = doc.line_of_name(&iname, at);
                    match derived_input(&iname, &input) {
                        Ok(Some(di)) => {
                            draft.raw.inputs.push(di);
                            draft.deps.push(iname);
                            continue;
                        }
                        Ok(None) => {}
                        Err((key, e)) => {
                            self.drop_at(doc, doc.line_of_key(key, il - 1), what.clone(), &e);
                            return None;
                        }
                    }
                    if let Some(alias) = get_str(&input, "alias") {
                        renames.push((alias, iname.clone()));
                    }
                    draft.deps.push(iname);
                }
                if !renames.is_empty() {
                    expr = rename_tokens(&expr, &renames);
                }
                match tokenize_formula(&expr) {
                    Ok(tokens) => {
                        let declared: BTreeSet<&String> = draft
                            .deps
                            .iter()
                            .chain(draft.raw.inputs.iter().filter_map(|i| i.alias.as_ref()))
                            .collect();
                        for t in tokens {
                            if let crate::semantic::model::ExprToken::Metric(m) = t {
                                if !declared.contains(&m) {
                                    return fail(
                                        self,
                                        Some("expr"),
                                        format!("expr uses {m}, which is not one of its input metrics (SQL functions in formulas are not supported)"),
                                    );
                                }
                            }
                        }
                    }
                    Err(e) => return fail(self, Some("expr"), e),
                }
                draft.raw.expr = Some(expr);
            }
            "conversion" => {
                draft.raw.kind = MetricKindName::Conversion;
                if !draft.raw.filter.is_empty() {
                    return fail(
                        self,
                        Some("filter"),
                        "a filter on a conversion metric is not supported yet".into(),
                    );
                }
                let ctp = get(&tp, "conversion_type_params")
                    .cloned()
                    .unwrap_or(Value::Null);
                // A measure is a name or `{name, fill_nulls_with, join_to_timespine}`.
                let mut measure_of = |key: &str| -> Result<String, String> {
                    let v = get(&ctp, key).ok_or_else(|| format!("no {key}"))?;
                    let name = scalar(v)
                        .or_else(|| get_str(v, "name"))
                        .ok_or_else(|| format!("{key} names no measure"))?;
                    if get(v, "join_to_timespine").and_then(Value::as_bool) == Some(true) {
                        return Err(format!("join_to_timespine on {key} is not supported yet"));
                    }
                    if let Some(f) = get(v, "fill_nulls_with").and_then(Value::as_f64) {
                        draft.raw.fill_nulls_with = Some(f);
                    }
                    if let Some(reason) = self.dropped_measures.get(&name) {
                        return Err(format!("its measure {name} was not imported ({reason})"));
                    }
                    Ok(name)
                };
                let base = measure_of("base_measure");
                let conv = measure_of("conversion_measure");
                let (base_measure, conversion_measure) = match (base, conv) {
                    (Ok(b), Ok(c)) => (b, c),
                    (Err(e), _) | (_, Err(e)) => {
                        return fail(self, Some("conversion_type_params"), e)
                    }
                };
                let constant_properties = list(get(&ctp, "constant_properties"))
                    .iter()
                    .filter_map(|p| {
                        Some(crate::semantic::raw::RawConstantProperty {
                            base_property: get_str(p, "base_property")?,
                            conversion_property: get_str(p, "conversion_property")?,
                        })
                    })
                    .collect();
                draft.raw.conversion = Some(crate::semantic::raw::RawConversion {
                    base_measure,
                    conversion_measure,
                    entity: get_str(&ctp, "entity").unwrap_or_default(),
                    window: get_str(&ctp, "window"),
                    calculation: get_str(&ctp, "calculation"),
                    constant_properties,
                });
            }
            other => {
                return fail(
                    self,
                    None,
                    format!("metric type {other:?} is not supported"),
                )
            }
        }
        Some(draft)
    }

    /// Drops metrics whose inputs were dropped (to a fixed point) and builds ratio sides.
    fn resolve(&mut self, mut drafts: Vec<MetricDraft>) -> Vec<RawMetric> {
        loop {
            let names: BTreeMap<String, MetricKindName> = drafts
                .iter()
                .map(|d| (d.raw.name.clone(), d.raw.kind))
                .collect();
            let mut bad = None;
            for (i, d) in drafts.iter().enumerate() {
                for dep in &d.deps {
                    match names.get(dep) {
                        None => {
                            bad = Some((i, format!("its input {dep} was not imported")));
                        }
                        Some(k)
                            if *k != MetricKindName::Simple
                                && d.ratio_sides.iter().any(|(_, t, _)| t == dep) =>
                        {
                            bad = Some((
                                i,
                                format!(
                                    "ratio input {dep} is not a simple metric (not supported yet)"
                                ),
                            ));
                        }
                        _ => {}
                    }
                    if bad.is_some() {
                        break;
                    }
                }
                for input in d.raw.inputs.iter().filter(|x| !x.filter.is_empty()) {
                    if matches!(
                        names.get(&input.metric),
                        Some(MetricKindName::Derived | MetricKindName::Conversion)
                    ) && bad.is_none()
                    {
                        bad = Some((
                            i,
                            format!(
                                "its input {} has a filter and is not a simple, ratio or cumulative metric (not supported yet)",
                                input.metric
                            ),
                        ));
                    }
                }
                if bad.is_some() {
                    break;
                }
            }
            let Some((i, reason)) = bad else { break };
            let d = drafts.remove(i);
            self.dropped.push(Dropped {
                file: d.file,
                line: d.line,
                what: format!("metric {}", d.raw.name),
                reason,
            });
        }
        let simple: BTreeMap<String, RawMetric> = drafts
            .iter()
            .filter(|d| d.raw.kind == MetricKindName::Simple)
            .map(|d| (d.raw.name.clone(), d.raw.clone()))
            .collect();
        let mut out = Vec::new();
        for mut d in drafts {
            let mut ok = true;
            let mut time_dims = BTreeSet::new();
            for (side, target, extra) in &d.ratio_sides {
                let Some(t) = simple.get(target) else {
                    ok = false;
                    break;
                };
                time_dims.insert(t.time_dimension.clone());
                let input = if extra.is_empty() {
                    RawRatioInput::Metric(target.clone())
                } else {
                    let mut filter = t.filter.clone();
                    filter.extend(extra.iter().cloned());
                    RawRatioInput::Measure(RawMeasureInput {
                        measure: t.measure.clone().unwrap_or_default(),
                        filter,
                        fill_nulls_with: t.fill_nulls_with,
                    })
                };
                if side == "numerator" {
                    d.raw.numerator = Some(input);
                } else {
                    d.raw.denominator = Some(input);
                }
            }
            let measure_side_with_own_time = matches!(
                (&d.raw.numerator, &d.raw.denominator),
                (Some(RawRatioInput::Measure(_)), _) | (_, Some(RawRatioInput::Measure(_)))
            ) && time_dims.iter().any(Option::is_some);
            if !ok || measure_side_with_own_time {
                self.dropped.push(Dropped {
                    file: d.file,
                    line: d.line,
                    what: format!("metric {}", d.raw.name),
                    reason:
                        "a filtered ratio input on a non-default time dimension is not supported"
                            .into(),
                });
                continue;
            }
            out.push(d.raw);
        }
        out
    }
}

/// A cumulative metric's `window` / `grain_to_date` into `raw`, or the key and reason it
/// cannot be carried.
fn cumulative_window(
    raw: &mut RawMetric,
    window: Option<&Value>,
    grain_to_date: Option<&Value>,
) -> Result<(), (&'static str, String)> {
    if let Some(w) = window {
        let text = scalar(w).unwrap_or_default();
        crate::semantic::timespine::CumulativeWindow::from_raw(Some(&text), None)
            .map_err(|e| ("window", format!("window: {e}")))?;
        raw.window = Some(text);
    }
    if let Some(g) = grain_to_date {
        let text = scalar(g).unwrap_or_default();
        let grain = crate::semantic::grain::TimeUnit::parse(&text).ok_or_else(|| {
            (
                "grain_to_date",
                format!("grain_to_date {text} is not supported"),
            )
        })?;
        raw.grain_to_date = Some(grain);
    }
    Ok(())
}

/// A derived input with a time offset or a filter as a metrics.yaml `inputs:` entry
/// (`None` without either: the formula names the metric, aliases are renamed away), or
/// the key and reason it cannot be carried.
fn derived_input(
    metric: &str,
    input: &Value,
) -> Result<Option<crate::semantic::timespine::RawDerivedInput>, (&'static str, String)> {
    let window = get(input, "offset_window").and_then(scalar);
    let to_grain = get(input, "offset_to_grain").and_then(scalar);
    let filter = translate_all(&filter_texts(get(input, "filter")))
        .map_err(|e| ("filter", format!("input {metric}: filter: {e}")))?;
    if window.is_none() && to_grain.is_none() && filter.is_empty() {
        return Ok(None);
    }
    if let Some(w) = window
        .as_ref()
        .filter(|w| crate::semantic::timespine::FineSpan::parse(w).is_none())
    {
        crate::semantic::timespine::Span::parse(w).map_err(|e| {
            (
                "offset_window",
                format!("input {metric}: offset_window: {e}"),
            )
        })?;
    }
    let offset_to_grain = match &to_grain {
        Some(g) => Some(crate::semantic::grain::TimeUnit::parse(g).ok_or_else(|| {
            (
                "offset_to_grain",
                format!("input {metric}: offset_to_grain {g} is not supported"),
            )
        })?),
        None => None,
    };
    Ok(Some(crate::semantic::timespine::RawDerivedInput {
        metric: metric.to_string(),
        alias: get_str(input, "alias"),
        offset_window: window,
        offset_to_grain,
        filter,
    }))
}

/// `ref('fct_bookings')` -> `fct_bookings`.
fn dbt_ref(model: &str) -> String {
    model
        .trim()
        .trim_start_matches("ref(")
        .trim_end_matches(')')
        .trim_matches(|c| c == '\'' || c == '"' || c == ' ')
        .to_string()
}

fn translate_all(texts: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for t in texts {
        out.extend(translate_filter(t)?);
    }
    Ok(out)
}

/// Replaces whole-word tokens (`alias` -> `metric`) in a formula.
fn rename_tokens(expr: &str, renames: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() {
            let w = std::mem::take(word);
            match renames.iter().find(|(a, _)| *a == w) {
                Some((_, n)) => out.push_str(n),
                None => out.push_str(&w),
            }
        }
    };
    for c in expr.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// A MetricFlow measure as a metrics.yaml measure, or why it cannot be one.
/// The identifier dimension an entity's key is grouped and filtered by.
fn entity_dimension(e: &RawEntity) -> RawDimension {
    RawDimension {
        name: e.name.clone(),
        kind: DimensionKind::Categorical,
        expr: e.expr.clone().filter(|x| x != &e.name),
        label: None,
        description: None,
        synonyms: Vec::new(),
        sample_values: Vec::new(),
        value_synonyms: BTreeMap::new(),
        data_type: None,
        entity_name: false,
        identifier: true,
        future: false,
        granularity: None,
        partition: false,
    }
}

fn measure(m: &Value, name: &str) -> Result<RawMeasure, String> {
    let non_additive_dimension = match get(m, "non_additive_dimension") {
        None => None,
        Some(n) => Some(crate::semantic::raw::RawNonAdditive {
            name: get_str(n, "name").ok_or("a non_additive_dimension without a name")?,
            window_choice: match get_str(n, "window_choice")
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("min") => crate::semantic::raw::WindowChoice::Min,
                Some("max") | None => crate::semantic::raw::WindowChoice::Max,
                Some(other) => return Err(format!("window_choice {other:?} is not min or max")),
            },
            window_groupings: list(get(n, "window_groupings"))
                .iter()
                .filter_map(scalar)
                .collect(),
        }),
    };
    let expr = get_str(m, "expr");
    let params = get(m, "agg_params");
    let flag = |k: &str| {
        params
            .and_then(|p| get(p, k))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let agg_name = get_str(m, "agg").unwrap_or_default().to_ascii_lowercase();
    let (agg, expr, percentile) = match agg_name.as_str() {
        "sum" => (Agg::Sum, expr, None),
        "count" => (
            Agg::Count,
            Some(expr.unwrap_or_else(|| name.to_string())),
            None,
        ),
        "count_distinct" => (Agg::CountDistinct, expr, None),
        "average" | "avg" => (Agg::Avg, expr, None),
        "min" => (Agg::Min, expr, None),
        "max" => (Agg::Max, expr, None),
        "median" => (Agg::Median, expr, None),
        "sum_boolean" => (
            Agg::Sum,
            Some(format!(
                "CAST({} AS INTEGER)",
                expr.unwrap_or_else(|| name.to_string())
            )),
            None,
        ),
        "percentile" => {
            let p = params
                .and_then(|p| get(p, "percentile"))
                .and_then(Value::as_f64)
                .ok_or("a percentile measure without agg_params.percentile")?;
            (Agg::Percentile, expr, Some(p))
        }
        other => return Err(format!("aggregation {other:?} is not supported")),
    };
    // metrics.yaml defaults a measure's expression to its name, as MetricFlow does.
    let expr = expr.filter(|e| e != name);
    Ok(RawMeasure {
        name: name.to_string(),
        agg,
        expr,
        percentile,
        discrete: flag("use_discrete_percentile"),
        approximate: flag("use_approximate_percentile"),
        non_additive_dimension,
        description: get_str(m, "description"),
    })
}

/// The file beside an export holding what MetricFlow has no place for (named filters, the
/// planner's ignore list). JSON, so dbt does not try to parse it.
pub const EXTRAS: &str = "cortex-extras.json";

#[derive(Debug, Default, Serialize, serde::Deserialize)]
struct Extras {
    #[serde(default)]
    filters: Vec<crate::semantic::raw::RawNamedFilter>,
    #[serde(default)]
    ignore: Vec<String>,
    /// metrics.yaml had no `time_spine:` (the exported spines are custom grains' calendars).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    no_time_spine: bool,
    /// metrics.yaml's `listing_join:` (absent: none was written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    listing_join: Option<crate::semantic::raw::ListingJoin>,
}

pub use export::{export, Exported};

mod export;
mod grains;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_translate_to_conditions() {
        assert_eq!(
            translate_filter("{{ Dimension('booking__is_instant', entity_path=[]) }}").unwrap(),
            vec!["booking__is_instant = true"]
        );
        assert_eq!(
            translate_filter(
                "{{ Dimension('listing__country_latest') }} = 'us' AND {{ TimeDimension('metric_time', 'day') }} >= '2020-01-02'"
            )
            .unwrap(),
            vec!["listing__country_latest = 'us'", "metric_time >= '2020-01-02'"]
        );
        assert!(
            translate_filter("{{ Dimension('a__b') }} = 1 OR {{ Dimension('a__b') }} = 2")
                .unwrap_err()
                .contains("OR")
        );
        assert_eq!(
            translate_filter("{{ Metric('bookings', group_by=['listing']) }} > 2").unwrap(),
            vec!["listing__bookings > 2"]
        );
        assert_eq!(
            translate_filter("{{ Metric('views', ['view__listing']) }} > 10").unwrap(),
            vec!["view__listing__views > 10"]
        );
        assert!(
            translate_filter("{{ Metric('bookings', group_by=['listing', 'user']) }} > 2")
                .unwrap_err()
                .contains("one entity")
        );
        assert_eq!(
            translate_filter(
                "CAST({{ Dimension('revenue_instance__ds__day') }} AS TIMESTAMP) >= CAST('2020-03-05' AS TIMESTAMP)"
            )
            .unwrap(),
            vec!["revenue_instance__ds >= '2020-03-05'"]
        );
        // A grain other than day names the bucketed time, which the compiler resolves.
        assert_eq!(
            translate_filter("{{ TimeDimension('metric_time', 'month') }} = '2020-01-01'").unwrap(),
            vec!["metric_time__month = '2020-01-01'"]
        );
    }

    #[test]
    fn aliases_are_renamed_as_whole_words() {
        let r = vec![("b".to_string(), "bookings".to_string())];
        assert_eq!(rename_tokens("b / bb * b", &r), "bookings / bb * bookings");
    }
}
