//! Who may see what: `context/policy.yaml`, enforced where queries are compiled and executed.
//!
//! An identity (`slack:<user id>`, `web:<email or id>` from the trusted proxy, `cli:<user>`)
//! maps to a person in `context/people.yaml`. The policy then gives that person an [`Access`]:
//! metrics and dimensions they may not use, and row scopes (a CSM sees only the rows of their
//! own merchants). Enforcement happens twice, below every front end:
//! - the engine refuses restricted metrics and dimensions and injects the row filters into the
//!   structured query before compiling it ([`Access::apply`]);
//! - the warehouse runs every query, compiled or analyst SQL, in a schema of views that carry
//!   the same row filters and omit hidden tables ([`Access::scope`]).
//!
//! Without `context/policy.yaml` everyone sees everything (a single-team install).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::context::Person;
use crate::diagnostics::{Diagnostics, Reporter};
use crate::semantic::model::SemanticLayer;
use crate::semantic::query::{Condition, Literal, MetricQuery, Op};
use crate::warehouse::RowScope;

/// Who a rule applies to. Empty lists match nobody; an omitted selector means everyone.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// Slack user ids or emails.
    #[serde(default)]
    pub people: Vec<String>,
    /// Team names from people.yaml.
    #[serde(default)]
    pub teams: Vec<String>,
    /// Roles from people.yaml (compared case-insensitively).
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Selector {
    fn matches(&self, p: &Person) -> bool {
        self.people
            .iter()
            .any(|x| x == &p.slack_id || p.email.as_deref() == Some(x.as_str()))
            || self.teams.iter().any(|t| t.eq_ignore_ascii_case(&p.team))
            || self.roles.iter().any(|r| r.eq_ignore_ascii_case(&p.role))
    }
}

/// Metrics and dimensions only some people may use.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Restriction {
    #[serde(default)]
    pub metrics: Vec<String>,
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// Who may use them; everybody else is refused.
    pub allow: Selector,
}

/// Which field of the asker limits the rows.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PersonField {
    Name,
    SlackId,
    Email,
    Team,
}

/// Rows limited to the asker's own: `dimension = <asker's field>`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RowRule {
    /// A governed dimension (from metrics.yaml).
    pub dimension: String,
    /// The asker's field whose value the dimension must equal.
    pub equals: PersonField,
    /// Who is limited; omitted: everyone who is not exempt.
    #[serde(default)]
    pub applies_to: Option<Selector>,
    /// Who sees every row anyway.
    #[serde(default)]
    pub exempt: Option<Selector>,
}

/// What an identity that is not in people.yaml may see.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Anonymous {
    /// Nothing: every question is refused (the default).
    #[default]
    Deny,
    /// What any person outside every selector may see, with row rules applied as for a
    /// person with no name, team or email (so row-scoped tables show no rows).
    Allow,
}

/// `context/policy.yaml`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// May read the audit log and every answer; see every metric and row.
    #[serde(default)]
    pub admins: Selector,
    #[serde(default)]
    pub restricted: Vec<Restriction>,
    #[serde(default)]
    pub rows: Vec<RowRule>,
    #[serde(default)]
    pub anonymous: Anonymous,
}

/// Who is asking, resolved from the requester string.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    /// The local operator (CLI without `--as`) or Cortex itself: sees everything, as anyone
    /// with the warehouse file could.
    Operator,
    Person(Person),
    Anonymous(String),
}

/// What one principal may see.
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    pub principal: Principal,
    pub admin: bool,
    /// Every question is refused (an unknown identity under `anonymous: deny`).
    pub denied: bool,
    pub denied_metrics: BTreeSet<String>,
    pub denied_dimensions: BTreeSet<String>,
    /// Row filters: (dimension, the value rows must have; `None`: no rows at all).
    pub rows: Vec<(String, Option<String>)>,
}

/// Why the policy refused a query; says what is restricted, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("I don't know who you are, so I can't show company data. Ask through Slack or the company's sign-in, or ask an admin to add you to context/people.yaml.")]
    UnknownIdentity,
    #[error("{0} is restricted; you don't have access to it. Ask the data team if you need it.")]
    Metric(String),
    #[error("splitting or filtering by {0} is restricted; you don't have access to it.")]
    Dimension(String),
    #[error("you can only see data for your own {0}, and people.yaml has none recorded for you; ask an admin to add it.")]
    NoRows(String),
}

impl Access {
    /// Full access.
    pub fn operator() -> Access {
        Access {
            principal: Principal::Operator,
            admin: true,
            denied: false,
            denied_metrics: BTreeSet::new(),
            denied_dimensions: BTreeSet::new(),
            rows: Vec::new(),
        }
    }

    /// True when nothing is restricted.
    pub fn is_unrestricted(&self) -> bool {
        !self.denied
            && self.denied_metrics.is_empty()
            && self.denied_dimensions.is_empty()
            && self.rows.is_empty()
    }

    /// Refuses restricted metrics and dimensions and adds the row filters the query's
    /// metrics can reach. Filters the asker wrote on a restricted dimension are refused too.
    pub fn apply(&self, layer: &SemanticLayer, q: &mut MetricQuery) -> Result<(), PolicyError> {
        if self.denied {
            return Err(PolicyError::UnknownIdentity);
        }
        for m in &q.metrics {
            if self.denied_metrics.contains(m) {
                let label = layer
                    .metric_index(m)
                    .map(|i| layer.metrics[i].label.clone())
                    .unwrap_or_else(|| m.clone());
                return Err(PolicyError::Metric(label));
            }
        }
        // A metric filter (`listing__bookings > 2`) computes its metric: the same rule.
        let filter_metrics: Vec<usize> = q
            .all_conditions()
            .into_iter()
            .filter_map(|c| {
                crate::semantic::compile::metric_filter::metric_ref(layer, &c.dimension)
            })
            .map(|(_, id)| id)
            .collect();
        for &id in &filter_metrics {
            let m = &layer.metrics[id];
            if self.denied_metrics.contains(&m.name) {
                return Err(PolicyError::Metric(m.label.clone()));
            }
        }
        let used = q
            .group_by
            .iter()
            .chain(q.all_conditions().into_iter().map(|c| &c.dimension));
        for d in used {
            let bare = d.rsplit("__").next().unwrap_or(d);
            if self.denied_dimensions.contains(bare) {
                return Err(PolicyError::Dimension(bare.to_string()));
            }
        }
        // A listing (no metric) is scoped like the table it reads its dimensions from.
        let listing = if q.metrics.is_empty() && !self.rows.is_empty() {
            crate::semantic::compile::listing_table(layer, q)
        } else {
            None
        };
        for (dim, value) in &self.rows {
            let reachable = q.metrics.iter().any(|m| {
                layer.metric_index(m).is_some_and(|i| {
                    crate::planner::metric_models(layer, i)
                        .into_iter()
                        .any(|model| layer.resolve_dimension(model, dim).is_some())
                })
            }) || listing
                .is_some_and(|b| layer.resolve_dimension(b, dim).is_some());
            if !reachable {
                continue;
            }
            let Some(v) = value else {
                return Err(PolicyError::NoRows(dim.clone()));
            };
            let cond = Condition {
                dimension: dim.clone(),
                op: Op::Eq,
                values: vec![Literal::Str(v.clone())],
            };
            if !q.filters.contains(&cond) {
                q.filters.push(cond);
            }
        }
        // The metrics of metric filters are computed with the asker's row scopes too.
        for (dim, value) in &self.rows {
            let reachable = filter_metrics.iter().any(|&i| {
                crate::planner::metric_models(layer, i)
                    .into_iter()
                    .any(|model| layer.resolve_dimension(model, dim).is_some())
            });
            if !reachable {
                continue;
            }
            let Some(v) = value else {
                return Err(PolicyError::NoRows(dim.clone()));
            };
            let cond = Condition {
                dimension: dim.clone(),
                op: Op::Eq,
                values: vec![Literal::Str(v.clone())],
            };
            if !q.scopes.contains(&cond) {
                q.scopes.push(cond);
            }
        }
        Ok(())
    }

    /// The warehouse scope: row filters as SQL predicates per table, hidden tables.
    pub fn scope(&self, layer: &SemanticLayer) -> Option<RowScope> {
        if self.is_unrestricted() {
            return None;
        }
        let mut scope = RowScope::default();
        let mut key = format!("rows={:?};", self.rows);
        if self.denied {
            scope.hidden = layer.tables();
            key = "denied".into();
        }
        for (i, model) in layer.models.iter().enumerate() {
            let table = model.table.to_lowercase();
            if scope.hidden.contains(&table) {
                continue;
            }
            let mut preds = Vec::new();
            let mut hide = false;
            for (dim, value) in &self.rows {
                let Some((dm, di, reach)) = layer.resolve_dimension_reach(i, dim) else {
                    continue;
                };
                // Two join paths reach the scoping dimension: no filter is certain, so the
                // table is hidden (fail closed).
                if reach.ambiguous.is_some() {
                    hide = true;
                    break;
                }
                let target = &layer.models[dm];
                let mut pred = match value {
                    Some(v) => format!(
                        "({}) = '{}'",
                        target.dimensions[di].expr,
                        v.replace('\'', "''")
                    ),
                    None => "FALSE".to_string(),
                };
                // Walk the join path from the far end back to this table.
                // A partition-aware join matches on the partitions too (a row tuple).
                for step in reach.path.iter().flat_map(|p| p.steps.iter().rev()) {
                    let (mut from, mut to) = (
                        format!("({})", step.from_expr),
                        format!("({})", step.to_expr),
                    );
                    for (f, t) in &step.partitions {
                        from = format!("{from}, ({f})");
                        to = format!("{to}, ({t})");
                    }
                    if !step.partitions.is_empty() {
                        from = format!("({from})");
                    }
                    pred = format!(
                        "{} IN (SELECT {} FROM {}.\"{}\" WHERE {pred})",
                        from,
                        to,
                        crate::warehouse::ALL_SCHEMA,
                        layer.models[step.to_model].table.replace('"', "\"\"")
                    );
                }
                preds.push(pred);
            }
            if hide {
                scope.hidden.insert(table);
                continue;
            }
            if !preds.is_empty() {
                scope.filters.insert(table, preds.join(" AND "));
            }
        }
        // Tables that hold only restricted metrics' measures stay hidden too.
        for m in &self.denied_metrics {
            if let Some(i) = layer.metric_index(m) {
                for model in crate::planner::metric_models(layer, i) {
                    let t = layer.models[model].table.to_lowercase();
                    let other_open = layer.metrics.iter().enumerate().any(|(j, other)| {
                        !self.denied_metrics.contains(&other.name)
                            && crate::planner::metric_models(layer, j).contains(&model)
                    });
                    if !other_open {
                        scope.hidden.insert(t);
                    }
                }
            }
        }
        // Restricted dimensions that are plain columns are left out of the views, so analyst
        // SQL cannot select them either.
        for model in &layer.models {
            let table = model.table.to_lowercase();
            for d in &model.dimensions {
                let plain = !d.expr.is_empty()
                    && d.expr
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_');
                if plain && self.denied_dimensions.contains(&d.name) {
                    let cols = scope.excluded.entry(table.clone()).or_default();
                    if !cols.contains(&d.expr) {
                        cols.push(d.expr.clone());
                    }
                }
            }
        }
        key.push_str(&format!(
            "hidden={:?};excluded={:?}",
            scope.hidden, scope.excluded
        ));
        scope.key = key;
        Some(scope)
    }
}

/// Adds every metric computed from a restricted one: derived metrics over it (at any
/// depth), and metrics that aggregate the same measure with the same filters as a restricted
/// simple or cumulative metric (a ratio whose numerator is the restricted amount).
fn expand_restricted(layer: &SemanticLayer, denied: &mut BTreeSet<String>) {
    use crate::semantic::model::MetricKind;
    loop {
        let inputs: Vec<_> = layer
            .metrics
            .iter()
            .filter(|m| denied.contains(&m.name))
            .filter_map(|m| match &m.kind {
                MetricKind::Simple(i) | MetricKind::Cumulative(i) => Some(i.clone()),
                _ => None,
            })
            .collect();
        let before = denied.len();
        for (id, m) in layer.metrics.iter().enumerate() {
            if denied.contains(&m.name) {
                continue;
            }
            // A metric filtered by a restricted metric (`listing__bookings > 2`) tells it.
            let filtered_by = crate::semantic::compile::metric_filter::filter_metrics(layer, id)
                .into_iter()
                .any(|d| denied.contains(&layer.metrics[d].name));
            let tainted = filtered_by
                || match &m.kind {
                    MetricKind::Derived { deps, .. } => deps
                        .iter()
                        .any(|&d| denied.contains(&layer.metrics[d].name)),
                    MetricKind::Simple(i) | MetricKind::Cumulative(i) => inputs.contains(i),
                    MetricKind::Ratio {
                        numerator,
                        denominator,
                    } => inputs.contains(numerator) || inputs.contains(denominator),
                    MetricKind::Conversion(c) => {
                        inputs.contains(&c.base) || inputs.contains(&c.conversion)
                    }
                };
            if tainted {
                denied.insert(m.name.clone());
            }
        }
        if denied.len() == before {
            return;
        }
    }
}

/// The loaded policy with the people it applies to.
#[derive(Debug, Clone)]
pub struct Governance {
    policy: Option<Policy>,
    people: Vec<Person>,
    layer: Arc<SemanticLayer>,
}

impl Governance {
    /// Reads `context/policy.yaml` (absent: no restrictions) and checks every metric and
    /// dimension it names against metrics.yaml.
    pub fn load(
        context_dir: &Path,
        people: Vec<Person>,
        layer: Arc<SemanticLayer>,
    ) -> Result<Governance, Diagnostics> {
        let path = context_dir.join("policy.yaml");
        let Ok(src) = std::fs::read_to_string(&path) else {
            return Ok(Governance {
                policy: None,
                people,
                layer,
            });
        };
        let mut rep = Reporter::new(&path, &src);
        let policy = match serde_norway::from_str::<Policy>(&src) {
            Ok(p) => p,
            Err(e) => {
                rep.push(e.location().map(|l| l.line()), String::new(), e.to_string());
                return Err(rep.finish().err().unwrap_or(Diagnostics(vec![])));
            }
        };
        let dims: BTreeSet<&str> = layer
            .all_dimensions()
            .map(|(_, d)| d.name.as_str())
            .collect();
        for (i, r) in policy.restricted.iter().enumerate() {
            let idx = i.to_string();
            for m in &r.metrics {
                if layer.metric_index(m).is_none() {
                    rep.error(
                        &["restricted", &idx, "metrics"],
                        format!("unknown metric {m:?}"),
                    );
                }
            }
            for d in &r.dimensions {
                if !dims.contains(d.as_str()) {
                    rep.error(
                        &["restricted", &idx, "dimensions"],
                        format!("unknown dimension {d:?}"),
                    );
                }
            }
        }
        for (i, r) in policy.rows.iter().enumerate() {
            if !dims.contains(r.dimension.as_str()) {
                rep.error(
                    &["rows", &i.to_string(), "dimension"],
                    format!("unknown dimension {:?}", r.dimension),
                );
            }
        }
        rep.finish()?;
        Ok(Governance {
            policy: Some(policy),
            people,
            layer,
        })
    }

    /// Governance with no policy file: everyone sees everything.
    pub fn open(layer: Arc<SemanticLayer>) -> Governance {
        Governance {
            policy: None,
            people: Vec::new(),
            layer,
        }
    }

    /// True when a policy file is in force.
    pub fn is_active(&self) -> bool {
        self.policy.is_some()
    }

    /// Resolves a requester string to a principal.
    pub fn principal(&self, requester: &str) -> Principal {
        if requester == "cortex" || requester.starts_with("cli:") {
            return Principal::Operator;
        }
        // `anonymous:<default_user>` is the web site's visitor without a trusted identity;
        // it is a person only if `[server] default_user` names one (a local demo).
        let id = ["web:", "slack:", "anonymous:"]
            .iter()
            .find_map(|p| requester.strip_prefix(p))
            .unwrap_or(requester);
        self.people
            .iter()
            .find(|p| {
                p.slack_id == id
                    || p.email
                        .as_deref()
                        .is_some_and(|e| e.eq_ignore_ascii_case(id))
            })
            .map(|p| Principal::Person(p.clone()))
            .unwrap_or_else(|| Principal::Anonymous(requester.to_string()))
    }

    /// What `requester` may see.
    pub fn access(&self, requester: &str) -> Access {
        let principal = self.principal(requester);
        let Some(policy) = &self.policy else {
            return Access {
                principal,
                ..Access::operator()
            };
        };
        let person = match &principal {
            Principal::Operator => return Access::operator(),
            Principal::Person(p) => Some(p),
            Principal::Anonymous(_) => None,
        };
        let mut access = Access {
            principal: principal.clone(),
            admin: false,
            denied: person.is_none() && policy.anonymous == Anonymous::Deny,
            denied_metrics: BTreeSet::new(),
            denied_dimensions: BTreeSet::new(),
            rows: Vec::new(),
        };
        if person.is_some_and(|p| policy.admins.matches(p)) {
            access.admin = true;
            return access;
        }
        for r in &policy.restricted {
            if !person.is_some_and(|p| r.allow.matches(p)) {
                access.denied_metrics.extend(r.metrics.iter().cloned());
                access
                    .denied_dimensions
                    .extend(r.dimensions.iter().cloned());
            }
        }
        expand_restricted(&self.layer, &mut access.denied_metrics);
        for rule in &policy.rows {
            let applies = match person {
                None => true,
                Some(p) => {
                    rule.applies_to.as_ref().is_none_or(|s| s.matches(p))
                        && !rule.exempt.as_ref().is_some_and(|s| s.matches(p))
                }
            };
            if applies {
                let value = person.and_then(|p| match rule.equals {
                    PersonField::Name => Some(p.name.clone()),
                    PersonField::SlackId => Some(p.slack_id.clone()),
                    PersonField::Email => p.email.clone(),
                    PersonField::Team => Some(p.team.clone()),
                });
                access.rows.push((rule.dimension.clone(), value));
            }
        }
        access
    }

    /// Every scope the policy can give: one per person in people.yaml, plus the one for
    /// identities that are not there. The warehouse prepares them all when it opens.
    pub fn all_scopes(&self) -> Vec<RowScope> {
        let mut out: Vec<RowScope> = Vec::new();
        let ids = self
            .people
            .iter()
            .map(|p| p.slack_id.clone())
            .chain(std::iter::once("anonymous:".to_string()));
        for id in ids {
            if let Some(s) = self.access(&id).scope(&self.layer) {
                if !out.iter().any(|o| o.key == s.key) {
                    out.push(s);
                }
            }
        }
        out
    }

    /// May `viewer` see an answer `owner` was given, computed from `metrics`? Admins and the
    /// owner may; anyone else only with the same row scope and access to every metric.
    /// Checked on every view of a permalink, so a later policy change applies to old links.
    pub fn may_view(&self, viewer: &str, owner: &str, metrics: &[String]) -> bool {
        let v = self.access(viewer);
        if v.admin {
            return true;
        }
        if v.denied {
            return false;
        }
        if viewer == owner {
            return true;
        }
        let o = self.access(owner);
        let key = |a: &Access| a.scope(&self.layer).map(|s| s.key);
        key(&v) == key(&o) && !metrics.iter().any(|m| v.denied_metrics.contains(m))
    }

    /// May `requester` read the audit log (every asker's questions and SQL)?
    pub fn may_audit(&self, requester: &str) -> bool {
        self.access(requester).admin
    }

    /// The warehouse scope resolver for this policy.
    pub fn resolver(self: &Arc<Self>) -> crate::warehouse::ScopeResolver {
        let me = Arc::clone(self);
        Arc::new(move |requester: &str| me.access(requester).scope(&me.layer))
    }
}
