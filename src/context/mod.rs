//! Curated business context (`context/`): OKRs, teams and people, company strategy and the
//! glossary. Loaded in two phases like metrics.yaml, validated against the semantic layer,
//! and searchable for the passages relevant to a question.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::diagnostics::{Diagnostic, Diagnostics, Reporter};
use crate::fuzzy::did_you_mean;
use crate::semantic::SemanticLayer;

/// okrs.yaml as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOkrs {
    okrs: Vec<Okr>,
}

/// An objective with one key result measured by a governed metric.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Okr {
    /// What people call it: "1" for "OKR #1".
    pub id: String,
    pub title: String,
    /// A metric name from metrics.yaml.
    pub metric: String,
    /// Value to reach by `due`, in the metric's unit.
    pub target: f64,
    pub start: NaiveDate,
    pub due: NaiveDate,
    /// Per-segment targets, keyed by values of the `segment` dimension.
    #[serde(default)]
    pub segment_targets: BTreeMap<String, f64>,
    /// Team that owns it (people.yaml).
    pub owner_team: String,
    /// Strategy ids (strategy.md) it rolls up to.
    #[serde(default)]
    pub strategies: Vec<String>,
    /// The Notion page it was synced from (context/notion/okrs.yaml only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notion_page: Option<String>,
}

/// people.yaml as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeople {
    teams: Vec<Team>,
    people: Vec<Person>,
}

/// A team and the levers it can pull.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub levers: Vec<Lever>,
}

/// Something a team can do that moves a metric (optionally in one segment).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Lever {
    pub metric: String,
    #[serde(default)]
    pub segment: Option<String>,
    pub action: String,
}

/// A person, keyed by Slack user id.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Slack user id (`U…`).
    pub slack_id: String,
    pub name: String,
    /// A team name from `teams`.
    pub team: String,
    #[serde(default)]
    pub role: String,
    /// Work email: the web site's identity header maps to the person by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A company strategy: a `## Title [id]` section of strategy.md.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Strategy {
    pub id: String,
    pub title: String,
    pub text: String,
}

/// A glossary entry: a `**Term**: definition` paragraph of glossary.md.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Term {
    pub term: String,
    pub definition: String,
}

/// All curated context.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub okrs: Vec<Okr>,
    pub teams: Vec<Team>,
    pub people: Vec<Person>,
    pub strategies: Vec<Strategy>,
    pub glossary: Vec<Term>,
}

/// A piece of context relevant to a question.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Passage {
    pub source: String,
    pub title: String,
    pub text: String,
}

impl Context {
    /// Loads `dir` (missing files are empty) and validates it against the semantic layer.
    pub fn load(dir: &Path, layer: &SemanticLayer) -> Result<Context, Diagnostics> {
        let mut all = Vec::new();
        let mut ctx = Context::default();
        let read = |name: &str| -> Option<(PathBuf, String)> {
            let p = dir.join(name);
            std::fs::read_to_string(&p).ok().map(|s| (p, s))
        };
        let okrs = read("okrs.yaml");
        let people = read("people.yaml");
        if let Some((path, src)) = &okrs {
            match serde_norway::from_str::<RawOkrs>(src) {
                Ok(raw) => ctx.okrs = raw.okrs,
                Err(e) => all.push(yaml_error(path, &e)),
            }
        }
        if let Some((path, src)) = &people {
            match serde_norway::from_str::<RawPeople>(src) {
                Ok(raw) => {
                    ctx.teams = raw.teams;
                    ctx.people = raw.people;
                }
                Err(e) => all.push(yaml_error(path, &e)),
            }
        }
        if let Some((_, src)) = read("strategy.md") {
            ctx.strategies = parse_strategies(&src);
        }
        if let Some((_, src)) = read("glossary.md") {
            ctx.glossary = parse_glossary(&src);
        }
        // Synced from Notion (`cortex context sync notion`): OKRs merged with okrs.yaml,
        // pages read like strategy.md and glossary.md.
        let notion_okrs = read("notion/okrs.yaml");
        let local_okrs = ctx.okrs.len();
        if let Some((path, src)) = &notion_okrs {
            match serde_norway::from_str::<RawOkrs>(src) {
                Ok(raw) => ctx.okrs.extend(raw.okrs),
                Err(e) => all.push(yaml_error(path, &e)),
            }
        }
        for (title, src) in notion_pages(&dir.join("notion")) {
            let sections = parse_strategies(&src);
            if sections.is_empty() {
                // A page without `## ` sections is one passage.
                let mut page = parse_strategies(&format!("## {title}\n{src}"));
                if let Some(p) = page.first_mut() {
                    p.id = crate::notion::markdown::slug(&title);
                }
                ctx.strategies.extend(page);
            } else {
                ctx.strategies.extend(sections);
            }
            ctx.glossary.extend(parse_glossary(&src));
        }
        if all.is_empty() {
            all.extend(ctx.validate(
                dir,
                layer,
                [source(&okrs), source(&notion_okrs)],
                local_okrs,
                source(&people),
            ));
        }
        if all.is_empty() {
            Ok(ctx)
        } else {
            Err(Diagnostics(all))
        }
    }

    /// `okr_src`: okrs.yaml and notion/okrs.yaml; the first `local_okrs` OKRs are from
    /// okrs.yaml, the rest were synced from Notion (their errors name the page).
    fn validate(
        &self,
        dir: &Path,
        layer: &SemanticLayer,
        okr_src: [&str; 2],
        local_okrs: usize,
        people_src: &str,
    ) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let mut reps = [
            Reporter::new(&dir.join("okrs.yaml"), okr_src[0]),
            Reporter::new(&dir.join("notion/okrs.yaml"), okr_src[1]),
        ];
        let teams: Vec<&str> = self.teams.iter().map(|t| t.name.as_str()).collect();
        let strategies: Vec<&str> = self.strategies.iter().map(|s| s.id.as_str()).collect();
        let segments: Vec<String> = layer
            .all_dimensions()
            .find(|(_, d)| d.name == "segment")
            .map(|(_, d)| d.sample_values.clone())
            .unwrap_or_default();
        let mut seen = BTreeSet::new();
        for (i, o) in self.okrs.iter().enumerate() {
            let rep = &mut reps[usize::from(i >= local_okrs)];
            let at = |key: &str| vec!["okrs".to_string(), o.id.clone(), key.to_string()];
            let mut err = |key: &str, msg: String| {
                let p = at(key);
                let p: Vec<&str> = p.iter().map(String::as_str).collect();
                let msg = match &o.notion_page {
                    Some(page) => format!("{msg} (Notion page {page})"),
                    None => msg,
                };
                rep.error(&p, msg);
            };
            if !seen.insert(o.id.clone()) {
                err("id", format!("duplicate OKR id {:?}", o.id));
            }
            if layer.metric(&o.metric).is_none() {
                err(
                    "metric",
                    format!(
                        "unknown metric {:?}{}",
                        o.metric,
                        did_you_mean(&o.metric, layer.metrics.iter().map(|m| m.name.as_str()))
                    ),
                );
            }
            if o.due <= o.start {
                err("due", "due must be after start".into());
            }
            if !teams.contains(&o.owner_team.as_str()) {
                err(
                    "owner_team",
                    format!(
                        "unknown team {:?}{}",
                        o.owner_team,
                        did_you_mean(&o.owner_team, teams.iter().copied())
                    ),
                );
            }
            for s in &o.strategies {
                if !strategies.contains(&s.as_str()) {
                    err(
                        "strategies",
                        format!(
                            "unknown strategy {s:?} (strategy.md ids: {})",
                            strategies.join(", ")
                        ),
                    );
                }
            }
            for k in o.segment_targets.keys() {
                if !segments.contains(k) {
                    err(
                        "segment_targets",
                        format!(
                            "{k:?} is not a segment (expected one of {})",
                            segments.join(", ")
                        ),
                    );
                }
            }
        }
        for rep in reps {
            out.extend(rep.diagnostics);
        }
        let mut rep = Reporter::new(&dir.join("people.yaml"), people_src);
        for t in &self.teams {
            for l in &t.levers {
                if layer.metric(&l.metric).is_none() {
                    rep.error(
                        &["teams", &t.name, "levers"],
                        format!("lever names unknown metric {:?}", l.metric),
                    );
                }
            }
        }
        let mut ids = BTreeSet::new();
        let mut emails = BTreeSet::new();
        for p in &self.people {
            if !teams.contains(&p.team.as_str()) {
                rep.error(
                    &["people"],
                    format!(
                        "{} is in unknown team {:?}{}",
                        p.name,
                        p.team,
                        did_you_mean(&p.team, teams.iter().copied())
                    ),
                );
            }
            if !ids.insert(p.slack_id.clone()) {
                rep.error(&["people"], format!("duplicate slack_id {}", p.slack_id));
            }
            if let Some(email) = &p.email {
                if !valid_email(email) {
                    rep.error(
                        &["people"],
                        format!("{} has an email that is not an address: {email:?}", p.name),
                    );
                } else if !emails.insert(email.to_ascii_lowercase()) {
                    rep.error(&["people"], format!("duplicate email {email}"));
                }
            }
        }
        out.extend(rep.diagnostics);
        out
    }

    pub fn okr(&self, id: &str) -> Option<&Okr> {
        self.okrs.iter().find(|o| o.id == id)
    }

    /// The person with this Slack user id.
    pub fn person(&self, slack_id: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.slack_id == slack_id)
    }

    /// The person with this email (case-insensitive).
    pub fn person_by_email(&self, email: &str) -> Option<&Person> {
        self.people.iter().find(|p| {
            p.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email.trim()))
        })
    }

    pub fn team(&self, name: &str) -> Option<&Team> {
        self.teams
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    pub fn strategy(&self, id: &str) -> Option<&Strategy> {
        self.strategies.iter().find(|s| s.id == id)
    }

    /// The passages that share the most words with the question, best first.
    pub fn relevant(&self, question: &str, limit: usize) -> Vec<Passage> {
        self.relevant_to_words(&crate::text::content_words(question), limit)
    }

    /// [`Context::relevant`] for a question already read.
    pub fn relevant_to(&self, q: &crate::text::Question, limit: usize) -> Vec<Passage> {
        self.relevant_to_words(&q.content, limit)
    }

    fn relevant_to_words(&self, q: &BTreeSet<String>, limit: usize) -> Vec<Passage> {
        let mut scored: Vec<(usize, Passage)> = Vec::new();
        let mut add = |source: &str, title: &str, text: &str| {
            let words = crate::text::content_words(&format!("{title} {text}"));
            let title_words = crate::text::content_words(title);
            let score = q.intersection(&words).count() + 2 * q.intersection(&title_words).count();
            if score > 0 {
                scored.push((
                    score,
                    Passage {
                        source: source.into(),
                        title: title.into(),
                        text: text.into(),
                    },
                ));
            }
        };
        for t in &self.glossary {
            add("glossary.md", &t.term, &t.definition);
        }
        for s in &self.strategies {
            add("strategy.md", &s.title, &s.text);
        }
        for o in &self.okrs {
            add("okrs.yaml", &format!("OKR #{}", o.id), &o.title);
        }
        scored.sort_by_key(|s| std::cmp::Reverse(s.0));
        scored.into_iter().take(limit).map(|(_, p)| p).collect()
    }
}

/// The files synced from Notion (`context/notion/*.md`) as (title, markdown body without
/// front matter), in file-name order.
fn notion_pages(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|src| {
            let (fm, body) = crate::notion::sync::split_front_matter(&src);
            (fm.map(|f| f.title).unwrap_or_default(), body.to_string())
        })
        .collect()
}

/// `local@domain.tld`: one `@`, no spaces, a dot in the domain.
fn valid_email(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// The text of a file that was read, or "" when it is absent.
fn source(file: &Option<(PathBuf, String)>) -> &str {
    file.as_ref().map_or("", |(_, s)| s.as_str())
}

fn yaml_error(path: &Path, e: &serde_norway::Error) -> Diagnostic {
    Diagnostic {
        file: path.to_path_buf(),
        line: e.location().map(|l| l.line()),
        key: String::new(),
        message: e.to_string(),
    }
}

fn parse_strategies(src: &str) -> Vec<Strategy> {
    let mut out: Vec<Strategy> = Vec::new();
    for line in src.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            let (title, id) = match (h.rfind('['), h.rfind(']')) {
                (Some(a), Some(b)) if b > a => (h[..a].trim(), h[a + 1..b].trim()),
                _ => (h.trim(), h.trim()),
            };
            out.push(Strategy {
                id: id.to_string(),
                title: title.to_string(),
                text: String::new(),
            });
        } else if let Some(s) = out.last_mut() {
            if !line.trim().is_empty() {
                if !s.text.is_empty() {
                    s.text.push(' ');
                }
                s.text.push_str(line.trim());
            }
        }
    }
    out
}

fn parse_glossary(src: &str) -> Vec<Term> {
    src.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("**")?;
            let (term, def) = rest.split_once("**")?;
            Some(Term {
                term: term.trim().to_string(),
                definition: def.trim_start_matches(':').trim().to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_map_to_people() {
        assert!(valid_email("ava.thompson@example.com"));
        for bad in [
            "ava",
            "ava@",
            "@example.com",
            "a b@example.com",
            "a@b@c.com",
            "a@example.",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
        let ctx = Context {
            people: vec![Person {
                slack_id: "U1".into(),
                name: "Ava".into(),
                team: "Revenue".into(),
                role: String::new(),
                email: Some("Ava@Example.com".into()),
            }],
            ..Context::default()
        };
        assert_eq!(
            ctx.person_by_email("ava@example.com")
                .map(|p| p.slack_id.as_str()),
            Some("U1")
        );
        assert!(ctx.person_by_email("bob@example.com").is_none());
    }

    #[test]
    fn retrieval_ranks_passages_by_shared_words() {
        let ctx = Context {
            glossary: parse_glossary(
                "**BFCM**: Black Friday to Cyber Monday.\n**WISMO**: Where is my order.\n",
            ),
            strategies: parse_strategies("## AI everywhere [ai]\nThe AI Agent resolves questions."),
            ..Context::default()
        };
        let r = ctx.relevant("How busy is support during BFCM?", 2);
        assert_eq!(r[0].title, "BFCM");
        assert_eq!(r.len(), 1);
        let r = ctx.relevant("what does the AI agent resolve", 2);
        assert_eq!(r[0].title, "AI everywhere");
        assert!(ctx.relevant("unrelated words entirely", 3).is_empty());
    }

    #[test]
    fn parses_markdown_sections_and_terms() {
        let s = parse_strategies(
            "# X\n\n## Move upmarket [move-upmarket]\n\nWin big.\nKeep them.\n## Other\ntext",
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].id, "move-upmarket");
        assert_eq!(s[0].title, "Move upmarket");
        assert_eq!(s[0].text, "Win big. Keep them.");
        assert_eq!(s[1].id, "Other");
        let g = parse_glossary("# G\n\n**BFCM**: Black Friday.\n\nnot a term");
        assert_eq!(
            g,
            vec![Term {
                term: "BFCM".into(),
                definition: "Black Friday.".into()
            }]
        );
    }
}
