//! Diagnostics for `stack.toml`: errors with file, line, column, field and a caret snippet, and
//! the [`Validator`] each section's validation reports through. Nothing here calls AWS.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::policy;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackError {
    pub path: PathBuf,
    /// 1-based line and column.
    pub position: Option<(usize, usize)>,
    /// Dotted path of the field, e.g. `cognito.user_pool.name`; empty for syntax errors.
    pub field: String,
    pub message: String,
    /// The offending source line with a caret under the span, for the terminal.
    pub snippet: Option<String>,
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        if self.field.is_empty() {
            write!(f, ": {}", self.message)?;
        } else {
            write!(f, ": {}: {}", self.field, self.message)?;
        }
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{snippet}")?;
        }
        Ok(())
    }
}

#[derive(Debug)]
pub struct StackErrors {
    pub errors: Vec<StackError>,
}

impl fmt::Display for StackErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StackErrors {}

/// `  8 | the line` and a caret line under the span (first line of the span only).
pub fn snippet(text: &str, span: &Range<usize>) -> Option<String> {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = &text[line_start..line_end];
    let (number, col) = line_col(text, start);
    let width = span.end.min(line_end).saturating_sub(start).max(1);
    let gutter = " ".repeat(number.to_string().len());
    let indent: String = line[..start - line_start]
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    debug_assert_eq!(indent.chars().count() + 1, col);
    Some(format!(
        "  {number} | {line}\n  {gutter} | {indent}{}",
        "^".repeat(line[start - line_start..].chars().count().min(width).max(1))
    ))
}

/// Whether the line at `offset` may hold a secret (a user's table, or a key naming one), so a
/// syntax error there must not quote it.
pub fn may_hold_a_secret(text: &str, offset: usize) -> bool {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = text[line_start..line_end].to_ascii_lowercase();
    let table = before
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('['))
        .unwrap_or("");
    ["pass", "secret", "token", "key"]
        .iter()
        .any(|w| line.contains(w))
        || table.contains("users")
}

/// Make serde's wording readable for people who write TOML, not Rust.
pub fn humanize(message: &str) -> String {
    message
        .trim()
        .replace("expected i64", "expected an integer")
        .replace("expected i32", "expected an integer")
        .replace("expected a boolean", "expected true or false")
}

pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, col)
}

/// What the file declares, known before any section is validated, so that no section's checks
/// depend on the order the others are validated in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Declared {
    pub user_pool: bool,
    pub client: bool,
    pub role: bool,
    pub repository: bool,
    pub image: bool,
    pub runtime: bool,
}

/// Collects every problem in a file, so all are reported at once.
pub struct Validator<'a> {
    path: &'a Path,
    text: &'a str,
    errors: Vec<StackError>,
    pub declared: Declared,
}

/// A name rule from the AWS API reference.
pub struct NameRule {
    pub min: usize,
    pub max: usize,
    pub allowed: fn(char) -> bool,
    pub described: &'static str,
}

pub const STACK_NAME: NameRule = NameRule {
    min: 1,
    max: 128,
    allowed: |c| c.is_ascii_alphanumeric() || "_.:/=+-@".contains(c),
    described: "1-128 characters: ASCII letters, digits and _.:/=+-@",
};

pub const ENV_NAME: NameRule = NameRule {
    min: 1,
    max: 256,
    allowed: |c| c.is_ascii_alphanumeric() || c == '_',
    described: "an environment variable name: ASCII letters, digits and _",
};

/// `{ env = "NAME" }`: a value read from the local environment.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnv {
    pub env: String,
}

impl<'a> Validator<'a> {
    pub fn new(path: &'a Path, text: &'a str, declared: Declared) -> Self {
        Validator {
            path,
            text,
            errors: Vec::new(),
            declared,
        }
    }

    /// The problems found, or none.
    pub fn finish(self) -> Result<(), StackErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(StackErrors {
                errors: self.errors,
            })
        }
    }

    pub fn path(&self) -> &Path {
        self.path
    }

    pub fn error(
        &mut self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.errors.push(StackError {
            path: self.path.to_owned(),
            position: Some(line_col(self.text, span.start)),
            field: field.into(),
            message: message.into(),
            snippet: snippet(self.text, &span),
        });
    }

    /// An error about a value that may be a secret: no source snippet, which would echo it.
    pub fn secret_error(&mut self, span: Range<usize>, field: &str, message: impl Into<String>) {
        self.error(span, field, message);
        if let Some(e) = self.errors.last_mut() {
            e.snippet = None;
        }
    }

    pub fn name(&mut self, value: &Spanned<String>, field: &str, rule: &NameRule) -> String {
        let name = value.get_ref();
        let len = name.chars().count();
        if len < rule.min || len > rule.max || !name.chars().all(rule.allowed) {
            self.error(
                value.span(),
                field,
                format!("{name:?} is not a valid name; allowed: {}", rule.described),
            );
        }
        name.clone()
    }

    pub fn range(&mut self, value: &Spanned<i64>, field: &str, min: i64, max: i64) -> i32 {
        let n = *value.get_ref();
        if !(min..=max).contains(&n) {
            self.error(
                value.span(),
                field,
                format!("{n} is out of range; allowed: {min} to {max}"),
            );
            return min as i32;
        }
        n as i32
    }

    pub fn document(&mut self, value: &Spanned<String>, field: &str) -> String {
        let text = value.get_ref();
        match policy::unknown_placeholders(text) {
            Err(message) => self.error(value.span(), field, message),
            Ok(unknown) if !unknown.is_empty() => {
                let known: Vec<String> = policy::PLACEHOLDERS
                    .iter()
                    .map(|(n, _)| format!("${{{n}}}"))
                    .collect();
                self.error(
                    value.span(),
                    field,
                    format!(
                        "unknown placeholder {}; allowed: {}",
                        unknown
                            .iter()
                            .map(|n| format!("${{{n}}}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        known.join(", ")
                    ),
                );
            }
            Ok(_) if self.unavailable(text).is_some() => {
                let (name, needs) = self.unavailable(text).expect("checked");
                self.error(
                    value.span(),
                    field,
                    format!("${{{name}}} needs {needs} in the stack"),
                );
            }
            Ok(_) => {
                // Check it is JSON with sample values, so a typo fails here and not at AWS.
                let sample = policy::Vars::sample();
                match serde_json::from_str::<serde_json::Value>(&policy::render(text, &sample)) {
                    Ok(doc) if doc.get("Statement").is_some() => {}
                    Ok(_) => self.error(
                        value.span(),
                        field,
                        "a policy document is a JSON object with a \"Statement\"",
                    ),
                    Err(e) => self.error(value.span(), field, format!("not valid JSON: {e}")),
                }
            }
        }
        text.clone()
    }

    /// A placeholder used in `text` whose resource is not declared, with what it needs.
    fn unavailable<'t>(&self, text: &'t str) -> Option<(&'t str, &'static str)> {
        let names = policy::placeholders(text).ok()?;
        names.into_iter().find_map(|name| match name {
            "repository_arn" | "repository_uri" if !self.declared.repository => {
                Some((name, "[ecr.repository]"))
            }
            "runtime_name" if !self.declared.runtime => Some((name, "[runtime]")),
            _ => None,
        })
    }
}
