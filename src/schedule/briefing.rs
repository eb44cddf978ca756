//! Briefings (`briefings/*.yaml`): who gets what, when. Loaded in two phases like skills:
//! raw serde structs (unknown keys are errors), then validated [`Briefing`]s with every
//! person, team, skill, cron expression and time zone resolved, all errors reported at once.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

use super::cron::{zone, When};
use crate::context::Context;
use crate::diagnostics::{Diagnostic, Diagnostics, Reporter};
use crate::fuzzy::did_you_mean;
use crate::skills::Skills;

/// A briefing file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBriefing {
    /// Unique id (lower_snake_case); defaults to the file name.
    name: Option<String>,
    /// The message's title.
    title: String,
    audience: RawAudience,
    schedule: RawSchedule,
    contents: Vec<RawItem>,
    #[serde(default)]
    format: RawFormat,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudience {
    #[serde(default)]
    channels: Vec<String>,
    /// Slack ids from context/people.yaml.
    #[serde(default)]
    people: Vec<String>,
    /// Every member of a team from context/people.yaml.
    #[serde(default)]
    team: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    cron: String,
    /// An IANA zone, or `audience`: each person's own `tz` from people.yaml.
    tz: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    /// A question, asked as the recipient.
    question: Option<String>,
    /// A skill run directly (the question, if any, fills its parameters).
    skill: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFormat {
    #[serde(default = "yes")]
    pdf: bool,
    /// Also a Notion page per delivery, in `[notion] publish_database` (through the outbox).
    #[serde(default)]
    notion: bool,
}

impl Default for RawFormat {
    fn default() -> Self {
        RawFormat {
            pdf: true,
            notion: false,
        }
    }
}

fn yes() -> bool {
    true
}

/// Who receives one copy of a briefing.
#[derive(Debug, Clone, PartialEq)]
pub enum Recipient {
    /// A person (DM), asked as themselves: policy and "my team" are theirs.
    Person {
        slack_id: String,
        name: String,
        tz: Option<Tz>,
    },
    /// A channel (`#name` or an id); questions are asked without a person.
    Channel(String),
}

impl Recipient {
    /// The ledger's recipient id: a Slack user id or the channel.
    pub fn id(&self) -> &str {
        match self {
            Recipient::Person { slack_id, .. } => slack_id,
            Recipient::Channel(c) => c,
        }
    }
}

/// One item of a briefing's contents.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub question: String,
    pub skill: Option<String>,
}

/// The zone a schedule is read in.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    Fixed(Tz),
    /// Each person's own zone.
    Audience,
}

/// One validated briefing.
#[derive(Debug, Clone)]
pub struct Briefing {
    pub name: String,
    pub title: String,
    pub file: PathBuf,
    pub cron: String,
    pub zone: Zone,
    pub recipients: Vec<Recipient>,
    pub contents: Vec<Item>,
    pub pdf: bool,
    /// Each delivery is also published as a Notion page.
    pub notion: bool,
}

impl Briefing {
    /// The schedule as seen by one recipient.
    pub fn when_for(&self, r: &Recipient) -> Option<When> {
        let tz = match (&self.zone, r) {
            (Zone::Fixed(tz), _) => *tz,
            (Zone::Audience, Recipient::Person { tz: Some(tz), .. }) => *tz,
            _ => return None,
        };
        When::new(&self.cron, tz).ok()
    }

    /// The ledger job id.
    pub fn job(&self) -> String {
        format!("briefing:{}", self.name)
    }
}

/// Loads every `*.yaml` in `dir` (a missing directory: none).
pub fn load(dir: &Path, ctx: &Context, skills: &Skills) -> Result<Vec<Briefing>, Diagnostics> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    files.sort();
    let mut all = Vec::new();
    let mut out: Vec<Briefing> = Vec::new();
    for file in files {
        let src = match std::fs::read_to_string(&file) {
            Ok(s) => s,
            Err(e) => {
                all.push(diag(&file, None, format!("cannot read: {e}")));
                continue;
            }
        };
        let raw: RawBriefing = match serde_norway::from_str(&src) {
            Ok(r) => r,
            Err(e) => {
                all.push(diag(&file, e.location().map(|l| l.line()), e.to_string()));
                continue;
            }
        };
        let mut rep = Reporter::new(&file, &src);
        if let Some(b) = compile(raw, &file, ctx, skills, &mut rep) {
            if out.iter().any(|x| x.name == b.name) {
                rep.error(&["name"], format!("duplicate briefing name {:?}", b.name));
            }
            out.push(b);
        }
        all.extend(rep.diagnostics);
    }
    if all.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(all))
    }
}

fn diag(file: &Path, line: Option<usize>, message: String) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        line,
        key: String::new(),
        message,
    }
}

fn compile(
    r: RawBriefing,
    file: &Path,
    ctx: &Context,
    skills: &Skills,
    rep: &mut Reporter,
) -> Option<Briefing> {
    let before = rep.diagnostics.len();
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let name = r.name.unwrap_or(stem);
    if !crate::semantic::model::is_identifier(&name) {
        rep.error(
            &["name"],
            format!("{name:?} is not a lower_snake_case name"),
        );
    }
    let zone_spec = if r.schedule.tz == "audience" {
        Zone::Audience
    } else {
        match zone(&r.schedule.tz) {
            Ok(tz) => Zone::Fixed(tz),
            Err(e) => {
                rep.error(&["schedule", "tz"], e);
                Zone::Fixed(chrono_tz::UTC)
            }
        }
    };
    if let Err(e) = When::new(&r.schedule.cron, chrono_tz::UTC) {
        rep.error(&["schedule", "cron"], e);
    }
    let mut recipients: Vec<Recipient> = Vec::new();
    let person = |id: &str, rep: &mut Reporter, key: &str| -> Option<Recipient> {
        let Some(p) = ctx.person(id) else {
            rep.error(
                &["audience", key],
                format!(
                    "unknown person {id:?} (a slack_id in context/people.yaml){}",
                    did_you_mean(id, ctx.people.iter().map(|p| p.slack_id.as_str()))
                ),
            );
            return None;
        };
        let tz = match p.tz.as_deref().map(zone) {
            Some(Ok(tz)) => Some(tz),
            Some(Err(e)) => {
                rep.error(&["audience", key], format!("{}: {e}", p.name));
                None
            }
            None => None,
        };
        if zone_is_audience(&r.schedule.tz) && tz.is_none() {
            rep.error(
                &["schedule", "tz"],
                format!(
                    "tz: audience needs a tz for {} in context/people.yaml",
                    p.name
                ),
            );
        }
        Some(Recipient::Person {
            slack_id: p.slack_id.clone(),
            name: p.name.clone(),
            tz,
        })
    };
    for id in &r.audience.people {
        if let Some(p) = person(id, rep, "people") {
            recipients.push(p);
        }
    }
    if let Some(team) = &r.audience.team {
        match ctx.team(team) {
            Some(t) => {
                for p in ctx.people.iter().filter(|p| p.team == t.name) {
                    if let Some(p) = person(&p.slack_id, rep, "team") {
                        recipients.push(p);
                    }
                }
            }
            None => rep.error(
                &["audience", "team"],
                format!(
                    "unknown team {team:?}{}",
                    did_you_mean(team, ctx.teams.iter().map(|t| t.name.as_str()))
                ),
            ),
        }
    }
    for c in &r.audience.channels {
        if zone_is_audience(&r.schedule.tz) {
            rep.error(
                &["audience", "channels"],
                format!(
                    "channel {c}: tz: audience applies to people; give the schedule an IANA zone"
                ),
            );
        }
        recipients.push(Recipient::Channel(c.clone()));
    }
    recipients.dedup_by(|a, b| a.id() == b.id());
    if recipients.is_empty() {
        rep.error(
            &["audience"],
            "no one to send it to: set people, team or channels",
        );
    }
    let mut contents = Vec::new();
    if r.contents.is_empty() {
        rep.error(&["contents"], "nothing to send: list questions or skills");
    }
    for item in r.contents {
        if let Some(s) = &item.skill {
            if skills.get(s).is_none() {
                rep.error(
                    &["contents"],
                    format!(
                        "unknown skill {s:?}{}",
                        did_you_mean(s, skills.skills.iter().map(|k| k.name.as_str()))
                    ),
                );
            }
        }
        let question = match (&item.question, &item.skill) {
            (Some(q), _) => q.clone(),
            (None, Some(s)) => s.replace('_', " "),
            (None, None) => {
                rep.error(&["contents"], "each item needs a question or a skill");
                continue;
            }
        };
        contents.push(Item {
            question,
            skill: item.skill,
        });
    }
    if rep.diagnostics.len() > before {
        return None;
    }
    Some(Briefing {
        name,
        title: r.title,
        file: file.to_path_buf(),
        cron: r.schedule.cron,
        zone: zone_spec,
        recipients,
        contents,
        pdf: r.format.pdf,
        notion: r.format.notion,
    })
}

fn zone_is_audience(tz: &str) -> bool {
    tz == "audience"
}

/// Loads `<project>/briefings` for `cortex check`, the CLI and the server.
pub fn load_dir(
    project: &Path,
    ctx: &Context,
    skills: &Skills,
) -> Result<Vec<Briefing>, Diagnostics> {
    load(&project.join("briefings"), ctx, skills)
}
