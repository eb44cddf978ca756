//! `MetricQuery`: the structured question every front end (CLI, planner, LLM tool call,
//! skill step) produces, and the only thing the compiler accepts.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::text::calendar::{Grain, TimeRange};

/// A structured metric query. Names are as the user wrote them; the compiler resolves them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MetricQuery {
    /// Metric names, in output order.
    pub metrics: Vec<String>,
    /// Categorical dimensions to group by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// Time grain: one row per bucket of the metric's time dimension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grain: Option<Grain>,
    /// Conditions on dimensions, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Condition>,
    /// Boolean combinations of conditions (`a = x or (b = y and not c)`), each of which
    /// must hold as well as `filters`. Plain conditions go in `filters`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub where_exprs: Vec<Filter>,
    /// Inclusive date range on each metric's time dimension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_range: Option<TimeRange>,
    /// Sort order; ties and the rest are ordered by the time bucket and group-bys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order: Vec<OrderBy>,
    /// Maximum number of rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Period over period: each metric is also reported as it was this long before
    /// (`1 year`, `1 month`), in a column `<metric>__prior`: per time bucket the bucket
    /// that long before (the span a whole number of buckets), without a grain the time
    /// range moved back by it (Nov 1-20 against Oct 1-20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<String>,
    /// Grain to date (MTD, QTD, YTD): each metric is reported as its running total from the
    /// start of each bucket's `month` (quarter, year), like a cumulative metric with
    /// `grain_to_date:`. Only for metrics that add up (sums and counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_date: Option<Grain>,
    /// A listing (dimensions, no metric): the distinct combinations (default), every row
    /// read, or each column's smallest and largest value.
    #[serde(default, skip_serializing_if = "ListingRows::is_distinct")]
    pub listing: ListingRows,
    /// Row scopes of the asker, set by the access policy (never by a user, never
    /// serialized): each applies inside the subquery of a metric filter
    /// (`listing__bookings > 2`) whose metric's tables reach its dimension.
    #[serde(skip)]
    pub scopes: Vec<Condition>,
}

/// What a listing (a query with dimensions and no metric) reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ListingRows {
    /// Each distinct combination of the columns' values, once.
    #[default]
    Distinct,
    /// Every row read, duplicates kept (MetricFlow's `apply_group_by: false`).
    All,
    /// One row: each column's smallest and largest value, in columns `<column>__min` and
    /// `<column>__max` (MetricFlow's `min_max_only`).
    MinMax,
}

impl ListingRows {
    /// True for the default, distinct combinations.
    pub fn is_distinct(&self) -> bool {
        *self == ListingRows::Distinct
    }
}

/// One sort key: a metric, a group-by dimension or the time grain's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderBy {
    pub field: String,
    #[serde(default)]
    pub desc: bool,
}

impl OrderBy {
    /// Parses `arr`, `-arr`, `arr desc` or `arr asc`.
    pub fn parse(s: &str) -> Result<OrderBy, String> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix('-') {
            return Ok(OrderBy {
                field: rest.trim().to_string(),
                desc: true,
            });
        }
        let mut parts = s.split_whitespace();
        let field = parts.next().ok_or("empty order")?.to_string();
        let desc = match parts.next().map(|p| p.to_ascii_lowercase()) {
            None => false,
            Some(p) if p == "asc" => false,
            Some(p) if p == "desc" => true,
            Some(p) => return Err(format!("expected asc or desc after {field:?}, found {p:?}")),
        };
        Ok(OrderBy { field, desc })
    }
}

/// A comparison operator in a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
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
    /// Every row except these values, rows with no value included ("tickets excluding
    /// email"): `col IS NULL OR col NOT IN (...)`.
    #[serde(rename = "excluding")]
    Excluding,
}

impl Op {
    /// The comparison of `col` with the SQL literals `vals` (one for most operators, two
    /// for `between`, none for `is null`), as SQL. `excluding` keeps NULLs.
    pub fn sql(self, col: &str, vals: &[String]) -> String {
        match self {
            Op::In => format!("{col} IN ({})", vals.join(", ")),
            Op::NotIn => format!("{col} NOT IN ({})", vals.join(", ")),
            Op::Excluding => format!("({col} IS NULL OR {col} NOT IN ({}))", vals.join(", ")),
            Op::Between => format!("{col} BETWEEN {} AND {}", vals[0], vals[1]),
            Op::IsNull => format!("{col} IS NULL"),
            Op::IsNotNull => format!("{col} IS NOT NULL"),
            op => format!("{col} {} {}", op.as_str(), vals[0]),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::In => "in",
            Op::NotIn => "not in",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Between => "between",
            Op::IsNull => "is null",
            Op::IsNotNull => "is not null",
            Op::Excluding => "excluding",
        }
    }
}

/// A literal value in a filter. Values are always rendered by the compiler as quoted
/// literals, never spliced text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Literal {
    Bool(bool),
    Num(f64),
    Str(String),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Num(n) => write!(f, "{n}"),
            Literal::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
        }
    }
}

/// `dimension op value(s)`, e.g. `segment = Enterprise` or `channel in (chat, email)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub dimension: String,
    pub op: Op,
    pub values: Vec<Literal>,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vals: Vec<String> = self.values.iter().map(|v| v.to_string()).collect();
        match self.op {
            Op::In | Op::NotIn | Op::Excluding => write!(
                f,
                "{} {} ({})",
                self.dimension,
                self.op.as_str(),
                vals.join(", ")
            ),
            Op::Between => write!(f, "{} between {}", self.dimension, vals.join(" and ")),
            Op::IsNull | Op::IsNotNull => write!(f, "{} {}", self.dimension, self.op.as_str()),
            op => write!(f, "{} {} {}", self.dimension, op.as_str(), vals.join(", ")),
        }
    }
}

impl Condition {
    pub fn eq(dimension: &str, value: &str) -> Condition {
        Condition {
            dimension: dimension.to_string(),
            op: Op::Eq,
            values: vec![Literal::Str(value.to_string())],
        }
    }

    /// Parses the textual form used on the command line and in metrics.yaml:
    /// `segment = Enterprise`, `stage not in ('closed_won', 'closed_lost')`,
    /// `csat_score between 1 and 3`, `ai_agent_enabled = true`.
    /// Unquoted words are strings unless they read as a number or true/false;
    /// quote a value ('...' or "...") to keep it a string.
    pub fn parse(text: &str) -> Result<Condition, String> {
        Condition::from_tokens(tokenize(text)?, text)
    }

    fn from_tokens(tokens: Vec<Tok>, text: &str) -> Result<Condition, String> {
        let mut it = tokens.into_iter().peekable();
        let dimension = match it.next() {
            Some(Tok::Word(w)) => w,
            _ => return Err(format!("{text:?}: expected a dimension name first")),
        };
        let op_tok = it
            .next()
            .ok_or_else(|| format!("{text:?}: expected an operator after {dimension:?}"))?;
        let op = match op_tok {
            Tok::Sym(s) => match s.as_str() {
                "=" | "==" => Op::Eq,
                "!=" | "<>" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                other => return Err(format!("{text:?}: unknown operator {other:?}")),
            },
            Tok::Word(w) if w.eq_ignore_ascii_case("in") => Op::In,
            Tok::Word(w) if w.eq_ignore_ascii_case("between") => Op::Between,
            Tok::Word(w) if w.eq_ignore_ascii_case("is") => {
                let rest: Vec<String> = it.map(|t| t.text().to_ascii_lowercase()).collect();
                let op = match rest
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .as_slice()
                {
                    ["null"] => Op::IsNull,
                    ["not", "null"] => Op::IsNotNull,
                    _ => return Err(format!("{text:?}: expected 'is null' or 'is not null'")),
                };
                return Ok(Condition {
                    dimension,
                    op,
                    values: Vec::new(),
                });
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("not") => match it.next() {
                Some(Tok::Word(w2)) if w2.eq_ignore_ascii_case("in") => Op::NotIn,
                _ => return Err(format!("{text:?}: expected 'in' after 'not'")),
            },
            other => {
                return Err(format!(
                    "{text:?}: expected an operator (= != in, not in, < <= > >= between), found {}",
                    other.describe()
                ))
            }
        };
        let rest: Vec<Tok> = it.collect();
        // `a = x or a = y` is two conditions, not the value 'x or a = y'.
        if let Some(i) = rest.iter().position(
            |t| matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case("or") || w.eq_ignore_ascii_case("and")),
        ) {
            let joins_conditions = rest[i + 1..]
                .iter()
                .any(|t| matches!(t, Tok::Sym(s) if s != "(" && s != ")" && s != ","));
            if joins_conditions && op != Op::Between {
                let word = rest[i].text().to_ascii_uppercase();
                return Err(if word == "OR" {
                    format!(
                        "{text:?}: OR between conditions is not supported; for one dimension use `{dimension} in (x, y)`"
                    )
                } else {
                    format!("{text:?}: give each condition on its own (one --where per condition)")
                });
            }
        }
        let values = match op {
            Op::In | Op::NotIn => {
                let inner = match (rest.first(), rest.last()) {
                    (Some(Tok::Sym(a)), Some(Tok::Sym(b))) if a == "(" && b == ")" => {
                        &rest[1..rest.len() - 1]
                    }
                    _ => &rest[..],
                };
                let mut values = Vec::new();
                for (i, tok) in inner.iter().enumerate() {
                    if i % 2 == 1 {
                        if !matches!(tok, Tok::Sym(s) if s == ",") {
                            return Err(format!("{text:?}: expected ',' between values"));
                        }
                    } else {
                        values.push(tok.literal(text)?);
                    }
                }
                values
            }
            Op::Between => match rest.as_slice() {
                [a, Tok::Word(and), b] if and.eq_ignore_ascii_case("and") => {
                    vec![a.literal(text)?, b.literal(text)?]
                }
                _ => return Err(format!("{text:?}: expected 'between X and Y'")),
            },
            _ => match rest.as_slice() {
                [v] => vec![v.literal(text)?],
                // Unquoted multi-word values: `vertical = Health & Beauty`.
                toks if !toks.is_empty() && toks.iter().all(|t| !matches!(t, Tok::Quoted(_))) => {
                    vec![Literal::Str(
                        toks.iter().map(|t| t.text()).collect::<Vec<_>>().join(" "),
                    )]
                }
                _ => {
                    return Err(format!(
                        "{text:?}: expected one value after {}",
                        op.as_str()
                    ))
                }
            },
        };
        if values.is_empty() {
            return Err(format!("{text:?}: expected at least one value"));
        }
        Ok(Condition {
            dimension,
            op,
            values,
        })
    }
}

impl MetricQuery {
    /// Every condition the query filters on: `filters`, then those inside `where_exprs`.
    pub fn all_conditions(&self) -> Vec<&Condition> {
        let mut out: Vec<&Condition> = self.filters.iter().collect();
        for f in &self.where_exprs {
            f.conditions(&mut out);
        }
        out
    }

    /// Adds a parsed `--where` / `where:` text: plain conditions to `filters`, a boolean
    /// combination to `where_exprs`.
    pub fn add_where(&mut self, f: Filter) {
        match f {
            Filter::Cond(c) => self.filters.push(c),
            Filter::All(parts) if parts.iter().all(|p| matches!(p, Filter::Cond(_))) => {
                for p in parts {
                    if let Filter::Cond(c) = p {
                        self.filters.push(c);
                    }
                }
            }
            other => self.where_exprs.push(other),
        }
    }
}

/// A boolean combination of conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Filter {
    Cond(Condition),
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    /// Parses `a = x or (b in (1, 2) and not c)`: AND binds tighter than OR, NOT tighter
    /// than both, parentheses group, and a bare name means `name = true`. Each condition is
    /// `Condition::parse`'s form; `between x and y` keeps its AND.
    /// A text that reads as one condition is that condition, so unquoted values keep
    /// their words (`vertical = Toys and Games`).
    pub fn parse(text: &str) -> Result<Filter, String> {
        let toks = tokenize(text)?;
        let is_word = |t: &Tok, w: &str| matches!(t, Tok::Word(x) if x.eq_ignore_ascii_case(w));
        let joins =
            toks.iter().any(|t| is_word(t, "or")) || toks.last().is_some_and(|t| is_word(t, "and"));
        if !joins {
            if let Ok(c) = Condition::from_tokens(toks.clone(), text) {
                return Ok(Filter::Cond(c));
            }
        }
        let mut p = FilterParser {
            toks: &toks,
            pos: 0,
            text,
        };
        let f = p.or()?;
        match p.toks.get(p.pos) {
            None => Ok(f),
            Some(t) => Err(format!(
                "{text:?}: unexpected {} (unbalanced parentheses?)",
                t.describe()
            )),
        }
    }

    /// Collects every condition in the filter, left to right.
    pub fn conditions<'a>(&'a self, out: &mut Vec<&'a Condition>) {
        match self {
            Filter::Cond(c) => out.push(c),
            Filter::All(v) | Filter::Any(v) => v.iter().for_each(|f| f.conditions(out)),
            Filter::Not(f) => f.conditions(out),
        }
    }

    /// Renders the filter as SQL, each condition through `cond` (in `conditions` order).
    pub fn to_sql(&self, cond: &mut dyn FnMut(&Condition) -> String) -> String {
        match self {
            Filter::Cond(c) => cond(c),
            Filter::All(v) => format!(
                "({})",
                v.iter()
                    .map(|f| f.to_sql(cond))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            ),
            Filter::Any(v) => format!(
                "({})",
                v.iter()
                    .map(|f| f.to_sql(cond))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            ),
            Filter::Not(f) => format!("(NOT {})", f.to_sql(cond)),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Cond(c) => write!(f, "{c}"),
            Filter::All(v) | Filter::Any(v) => {
                let word = if matches!(self, Filter::All(_)) {
                    " and "
                } else {
                    " or "
                };
                let parts: Vec<String> = v.iter().map(|x| format!("({x})")).collect();
                write!(f, "{}", parts.join(word))
            }
            Filter::Not(x) => write!(f, "not ({x})"),
        }
    }
}

struct FilterParser<'a> {
    toks: &'a [Tok],
    pos: usize,
    text: &'a str,
}

impl FilterParser<'_> {
    fn word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut parts = vec![self.and()?];
        while self.word("or") {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::Any(parts)
        })
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut parts = vec![self.unary()?];
        while self.word("and") {
            self.pos += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::All(parts)
        })
    }

    fn unary(&mut self) -> Result<Filter, String> {
        let text = self.text;
        match self.toks.get(self.pos) {
            None => Err(format!("{text:?}: expected a condition at the end")),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                self.pos += 1;
                Ok(Filter::Not(Box::new(self.unary()?)))
            }
            Some(Tok::Sym(s)) if s == "(" => {
                self.pos += 1;
                let f = self.or()?;
                match self.toks.get(self.pos) {
                    Some(Tok::Sym(s)) if s == ")" => {
                        self.pos += 1;
                        Ok(f)
                    }
                    _ => Err(format!("{text:?}: expected ')'")),
                }
            }
            Some(_) => self.atom(),
        }
    }

    /// One condition: tokens up to a top-level AND/OR (not the AND of BETWEEN) or a `)`
    /// that closes a group.
    fn atom(&mut self) -> Result<Filter, String> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut between = false;
        while let Some(t) = self.toks.get(self.pos) {
            match t {
                Tok::Sym(s) if s == "(" => depth += 1,
                Tok::Sym(s) if s == ")" => {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                }
                Tok::Word(w) if depth == 0 && w.eq_ignore_ascii_case("between") => between = true,
                Tok::Word(w) if depth == 0 && w.eq_ignore_ascii_case("and") && between => {
                    between = false
                }
                Tok::Word(w)
                    if depth == 0
                        && (w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or")) =>
                {
                    break
                }
                _ => {}
            }
            self.pos += 1;
        }
        let toks = &self.toks[start..self.pos];
        let shown: Vec<String> = toks
            .iter()
            .map(|t| match t {
                Tok::Quoted(q) => format!("'{}'", q.replace('\'', "''")),
                t => t.text(),
            })
            .collect();
        let shown = shown.join(" ");
        match toks {
            [] => Err(format!("{:?}: expected a condition", self.text)),
            [Tok::Word(w)] => Ok(Filter::Cond(Condition {
                dimension: w.clone(),
                op: Op::Eq,
                values: vec![Literal::Bool(true)],
            })),
            _ => Condition::from_tokens(toks.to_vec(), &shown).map(Filter::Cond),
        }
    }
}

#[derive(Debug, Clone)]
enum Tok {
    Word(String),
    Quoted(String),
    Sym(String),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("{w:?}"),
            Tok::Quoted(q) => format!("'{q}'"),
            Tok::Sym(s) => format!("{s:?}"),
        }
    }

    fn text(&self) -> String {
        match self {
            Tok::Word(w) | Tok::Quoted(w) | Tok::Sym(w) => w.clone(),
        }
    }

    fn literal(&self, text: &str) -> Result<Literal, String> {
        match self {
            Tok::Quoted(q) => Ok(Literal::Str(q.clone())),
            Tok::Word(w) => Ok(parse_bare(w)),
            Tok::Sym(s) => Err(format!("{text:?}: expected a value, found {s:?}")),
        }
    }
}

fn parse_bare(w: &str) -> Literal {
    if w.eq_ignore_ascii_case("true") {
        Literal::Bool(true)
    } else if w.eq_ignore_ascii_case("false") {
        Literal::Bool(false)
    } else if let Ok(n) = w.parse::<f64>() {
        if n.is_finite() {
            Literal::Num(n)
        } else {
            Literal::Str(w.to_string())
        }
    } else {
        Literal::Str(w.to_string())
    }
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("{text:?}: unterminated quote")),
                    Some(&q) if q == c => {
                        // A doubled quote is an escaped quote.
                        if chars.get(i + 1) == Some(&c) {
                            s.push(c);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Quoted(s));
        } else if "(),".contains(c) {
            out.push(Tok::Sym(c.to_string()));
            i += 1;
        } else if "=!<>".contains(c) {
            let mut s = c.to_string();
            if let Some(&n) = chars.get(i + 1) {
                if "=>".contains(n) && !(c == '=' && n == '>') {
                    s.push(n);
                }
            }
            i += s.chars().count();
            out.push(Tok::Sym(s));
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !"(),=!<>'\"".contains(chars[i]) {
                i += 1;
            }
            out.push(Tok::Word(chars[start..i].iter().collect()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_operator() {
        let c = Condition::parse("segment = Enterprise").unwrap();
        assert_eq!(c, Condition::eq("segment", "Enterprise"));
        let c = Condition::parse("stage not in ('closed_won', \"closed_lost\")").unwrap();
        assert_eq!(c.op, Op::NotIn);
        assert_eq!(
            c.values,
            vec![
                Literal::Str("closed_won".into()),
                Literal::Str("closed_lost".into())
            ]
        );
        let c = Condition::parse("csat_score between 1 and 3").unwrap();
        assert_eq!(c.values, vec![Literal::Num(1.0), Literal::Num(3.0)]);
        let c = Condition::parse("ai_agent_enabled=true").unwrap();
        assert_eq!(c.values, vec![Literal::Bool(true)]);
        assert_eq!(Condition::parse("x >= 5").unwrap().op, Op::Ge);
        assert_eq!(Condition::parse("x<>5").unwrap().op, Op::Ne);
        let c = Condition::parse("churned_date is null").unwrap();
        assert_eq!((c.op, c.values.len()), (Op::IsNull, 0));
        assert_eq!(
            Condition::parse("churned_date IS NOT NULL").unwrap().op,
            Op::IsNotNull
        );
        assert!(Condition::parse("churned_date is maybe").is_err());
    }

    #[test]
    fn keeps_multi_word_and_symbolic_values() {
        let c = Condition::parse("vertical = Health & Beauty").unwrap();
        assert_eq!(c.values, vec![Literal::Str("Health & Beauty".into())]);
        let c = Condition::parse("gmv_tier = '<$1M'").unwrap();
        assert_eq!(c.values, vec![Literal::Str("<$1M".into())]);
        let c = Condition::parse("name = 'O''Brien'").unwrap();
        assert_eq!(c.values, vec![Literal::Str("O'Brien".into())]);
    }

    #[test]
    fn refuses_or_and_and_between_conditions_but_keeps_words_in_values() {
        let e = Condition::parse("channel = email or channel = chat").unwrap_err();
        assert!(
            e.contains("OR between conditions") && e.contains("channel in"),
            "{e}"
        );
        let e = Condition::parse("channel = email and segment = SMB").unwrap_err();
        assert!(e.contains("one --where per condition"), "{e}");
        let c = Condition::parse("vertical = Toys and Games").unwrap();
        assert_eq!(c.values, vec![Literal::Str("Toys and Games".into())]);
        let c = Condition::parse("csat_score between 1 and 3").unwrap();
        assert_eq!(c.op, Op::Between);
    }

    #[test]
    fn filters_combine_conditions_with_precedence_and_parentheses() {
        let c = |t: &str| Filter::Cond(Condition::parse(t).unwrap());
        assert_eq!(
            Filter::parse("channel = email or channel = chat").unwrap(),
            Filter::Any(vec![c("channel = email"), c("channel = chat")])
        );
        // AND binds tighter than OR; NOT tighter than both; a bare name is `= true`.
        assert_eq!(
            Filter::parse("a = 1 or b = 2 and not flag").unwrap(),
            Filter::Any(vec![
                c("a = 1"),
                Filter::All(vec![c("b = 2"), Filter::Not(Box::new(c("flag = true")))])
            ])
        );
        assert_eq!(
            Filter::parse("(a = 1 or b in ('x', 'y')) and s between 1 and 3").unwrap(),
            Filter::All(vec![
                Filter::Any(vec![c("a = 1"), c("b in ('x', 'y')")]),
                c("s between 1 and 3")
            ])
        );
        assert_eq!(
            Filter::parse("vertical = Toys and Games").unwrap(),
            c("vertical = Toys and Games")
        );
        assert_eq!(
            Filter::parse("name = 'a or b' or x is null").unwrap(),
            Filter::Any(vec![c("name = 'a or b'"), c("x is null")])
        );
        for bad in [
            "(a = 1 or b = 2",
            "a = 1 or",
            "a = 1 and ) b = 2",
            "or a = 1",
            "()",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
        let mut q = MetricQuery::default();
        q.add_where(Filter::parse("a = 1 and b = 2").unwrap());
        q.add_where(Filter::parse("a = 1 or b = 2").unwrap());
        assert_eq!(q.filters.len(), 2);
        assert_eq!(q.where_exprs.len(), 1);
        assert_eq!(q.all_conditions().len(), 4);
    }

    #[test]
    fn rejects_malformed_conditions() {
        assert!(Condition::parse("segment").is_err());
        assert!(Condition::parse("segment like 'x'").is_err());
        assert!(Condition::parse("segment = 'x").is_err());
        assert!(Condition::parse("x between 1").is_err());
        assert!(Condition::parse("x in (a b)").is_err());
    }

    #[test]
    fn literal_display_escapes_quotes() {
        assert_eq!(Literal::Str("a'b".into()).to_string(), "'a''b'");
    }

    #[test]
    fn order_parses_direction() {
        assert!(OrderBy::parse("-arr").unwrap().desc);
        assert!(OrderBy::parse("arr desc").unwrap().desc);
        assert!(!OrderBy::parse("arr").unwrap().desc);
        assert!(OrderBy::parse("arr sideways").is_err());
    }
}
