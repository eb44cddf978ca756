//! `cortex test`: each skill's own tests (question -> this skill, these parameters, this
//! text), so an analyst can check a skill without Rust.

use chrono::NaiveDate;

use super::run::Runtime;

pub use crate::eval::{Miss, Report};

pub fn run_tests(rt: &Runtime, today: NaiveDate, progress: &mut dyn FnMut(&str)) -> Report {
    let mut total = 0;
    let mut misses = Vec::new();
    for skill in &rt.skills.skills {
        for t in &skill.tests {
            total += 1;
            let asker = t.asker.as_deref().and_then(|id| rt.context.person(id));
            let mut why = Vec::new();
            if t.asker.is_some() && asker.is_none() {
                why.push(format!("asker {:?} is not in context/people.yaml", t.asker));
            }
            let a =
                super::answer_question(rt, &t.question, asker, t.today.unwrap_or(today), "test");
            if a.skill != skill.name {
                why.push(format!(
                    "routed to {:?} ({}), expected {:?}",
                    a.skill, a.headline, skill.name
                ));
            }
            for (k, v) in &t.params {
                match a.params.get(k) {
                    Some(got) if got == v => {}
                    got => why.push(format!("param {k} = {got:?}, expected {v:?}")),
                }
            }
            for c in &t.contains {
                if !a.text.contains(c.as_str()) {
                    why.push(format!("answer lacks {c:?}"));
                }
            }
            if a.status == crate::answer::Status::Error {
                why.push(format!("error: {}", a.headline));
            }
            progress(&format!(
                "{} [{}] {}",
                if why.is_empty() { "pass" } else { "MISS" },
                skill.name,
                t.question
            ));
            if !why.is_empty() {
                misses.push(Miss {
                    question: format!("[{}] {}", skill.name, t.question),
                    why: why.join("; "),
                    refused: false,
                });
            }
        }
    }
    Report { total, misses }
}
