//! Load-time errors for the declarative files (metrics.yaml, skills, context), reported
//! all at once with file, line and key, and a helper that finds a key's line in YAML text.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based line, when it could be located.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `metrics.arr.measure`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// All problems found while loading; displays one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Collects diagnostics for one file, locating keys in its source text.
pub struct Reporter<'a> {
    file: PathBuf,
    locator: Locator<'a>,
    pub diagnostics: Vec<Diagnostic>,
}

impl<'a> Reporter<'a> {
    pub fn new(file: &Path, source: &'a str) -> Self {
        Reporter {
            file: file.to_path_buf(),
            locator: Locator::new(source),
            diagnostics: Vec::new(),
        }
    }

    /// Records a problem at a key path: `[section, item name, key, ...]`.
    pub fn error(&mut self, path: &[&str], message: impl Into<String>) {
        let line = self.locator.locate(path);
        self.push(line, path.join("."), message);
    }

    /// Records a problem at a known line.
    pub fn push(&mut self, line: Option<usize>, key: String, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            file: self.file.clone(),
            line,
            key,
            message: message.into(),
        });
    }

    pub fn finish(self) -> Result<(), Diagnostics> {
        if self.diagnostics.is_empty() {
            Ok(())
        } else {
            Err(Diagnostics(self.diagnostics))
        }
    }
}

/// Finds the line of a key path in block-style YAML: a top-level key, then a list item by
/// its `name:`, then nested keys. Falls back to the deepest part it found.
pub struct Locator<'a> {
    lines: Vec<(usize, &'a str)>,
}

impl<'a> Locator<'a> {
    pub fn new(source: &'a str) -> Self {
        let lines = source
            .lines()
            .map(|l| (l.len() - l.trim_start().len(), l.trim()))
            .collect();
        Locator { lines }
    }

    pub fn locate(&self, path: &[&str]) -> Option<usize> {
        let (first, rest) = path.split_first()?;
        let top = self
            .lines
            .iter()
            .position(|(ind, t)| *ind == 0 && key_of(t) == Some(first))?;
        // A list may sit at the key's own indent (`semantic_models:` then `- name: x`).
        let section_end = self.lines[top + 1..]
            .iter()
            .position(|(ind, t)| {
                *ind == 0 && !t.is_empty() && !t.starts_with('#') && !t.starts_with('-')
            })
            .map_or(self.lines.len(), |p| top + 1 + p);
        let Some((item, keys)) = rest.split_first() else {
            return Some(top + 1);
        };
        // Items are the section's own list entries, not same-named entries nested in them
        // (an entity or dimension called like a later model).
        let list_indent = (top + 1..section_end)
            .find(|&i| self.lines[i].1.starts_with("- "))
            .map(|i| self.lines[i].0);
        let Some(item_line) = (top + 1..section_end).find(|&i| {
            let (ind, line) = self.lines[i];
            let at_item = match list_indent {
                Some(l) => {
                    (ind == l && line.starts_with("- "))
                        || (ind == l + 2 && !line.starts_with("- "))
                }
                None => true,
            };
            let t = line.trim_start_matches("- ");
            at_item && matches!(key_of(t), Some("name" | "id")) && unquote(value_of(t)) == *item
        }) else {
            return Some(top + 1);
        };
        // The item runs until the next list item at the same indent as its `- `.
        let item_indent = self.lines[item_line].0;
        let dash_indent = if self.lines[item_line].1.starts_with("- ") {
            item_indent
        } else {
            item_indent.saturating_sub(2)
        };
        let item_end = (item_line + 1..section_end)
            .find(|&i| {
                let (ind, t) = self.lines[i];
                ind <= dash_indent && t.starts_with("- ")
            })
            .unwrap_or(section_end);
        let mut found = item_line;
        for key in keys {
            // A key (`measure:`) or a named list item (`- name: bad_expr`).
            let matches = |i: usize| {
                let t = self.lines[i].1.trim_start_matches("- ");
                key_of(t) == Some(key)
                    || (matches!(key_of(t), Some("name" | "id")) && unquote(value_of(t)) == *key)
            };
            match (found + 1..item_end).find(|&i| matches(i)) {
                Some(i) => found = i,
                None => break,
            }
        }
        Some(found + 1)
    }
}

fn key_of(t: &str) -> Option<&str> {
    let (k, _) = t.split_once(':')?;
    let k = k.trim();
    (!k.is_empty() && !k.contains(' ')).then_some(k)
}

fn value_of(t: &str) -> &str {
    t.split_once(':').map_or("", |(_, v)| v.trim())
}

fn unquote(v: &str) -> &str {
    v.trim_matches(|c| c == '"' || c == '\'')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "\
semantic_models:
  - name: tickets
    table: tickets
metrics:
  - name: arr
    type: cumulative
    measure: arr_delta
  - name: csat
    type: simple
    measure: csat_score
";

    #[test]
    fn locates_sections_items_and_keys() {
        let l = Locator::new(SRC);
        assert_eq!(l.locate(&["metrics"]), Some(4));
        assert_eq!(l.locate(&["metrics", "arr"]), Some(5));
        assert_eq!(l.locate(&["metrics", "arr", "measure"]), Some(7));
        assert_eq!(l.locate(&["metrics", "csat", "measure"]), Some(10));
        assert_eq!(l.locate(&["semantic_models", "tickets", "table"]), Some(3));
        // An absent key falls back to its item.
        assert_eq!(l.locate(&["metrics", "csat", "unit"]), Some(8));
    }

    #[test]
    fn locates_items_of_unindented_lists_and_skips_nested_names() {
        let src = "\
semantic_models:
- name: claims
  entities:
  - name: policy
    type: foreign
- name: policy
  table: Policy
";
        let l = Locator::new(src);
        assert_eq!(
            l.locate(&["semantic_models", "claims", "entities"]),
            Some(3)
        );
        assert_eq!(
            l.locate(&["semantic_models", "claims", "entities", "policy"]),
            Some(4)
        );
        // The model `policy`, not the entity of the same name inside `claims`.
        assert_eq!(l.locate(&["semantic_models", "policy", "table"]), Some(7));
    }
}
