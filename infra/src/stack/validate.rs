//! Diagnostics for `stack.toml`: errors with file, line, column, field and a caret snippet, and
//! the [`Validator`] each section's validation reports through. Nothing here calls AWS.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::Stack;
use super::section::{Section, Sections};
use super::source::Source;
use crate::policy::{self, Vars};

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

/// How many characters of a source line a snippet shows, around the column.
const SNIPPET_WIDTH: usize = 120;
/// How many characters of a value a message quotes.
const QUOTE_WIDTH: usize = 60;
/// Longest a message and a field path are printed (a key of the file can be any length).
pub(crate) const MESSAGE_WIDTH: usize = 1000;
pub(crate) const FIELD_WIDTH: usize = 200;

/// `  8 | the line` and a caret line under the span (first line of the span only). A long line
/// is cut to [`SNIPPET_WIDTH`] characters around the column, marked with `…`.
pub fn snippet(text: &str, span: &Range<usize>) -> Option<String> {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = &text[line_start..line_end];
    let (number, _) = line_col(text, start);
    let column = text[line_start..start].chars().count();
    let length = column + text[start..line_end].chars().count();
    let width = text[start..span.end.clamp(start, line_end)]
        .chars()
        .count()
        .max(1);
    let from = column
        .saturating_sub(SNIPPET_WIDTH / 3)
        .min(length.saturating_sub(SNIPPET_WIDTH));
    let to = (from + SNIPPET_WIDTH).min(length);
    let (open, close) = (
        if from > 0 { "…" } else { "" },
        if to < length { "…" } else { "" },
    );
    let shown: String = line.chars().skip(from).take(to - from).collect();
    let gutter = " ".repeat(number.to_string().len());
    let indent: String = open
        .chars()
        .map(|_| ' ')
        .chain(
            line.chars()
                .skip(from)
                .take(column - from)
                .map(|c| if c == '\t' { '\t' } else { ' ' }),
        )
        .collect();
    Some(format!(
        "  {number} | {open}{shown}{close}\n  {gutter} | {indent}{}",
        "^".repeat(width.min(to.saturating_sub(column)).max(1))
    ))
}

/// A value as a message quotes it: in double quotes, cut to [`QUOTE_WIDTH`] characters with `…`.
pub fn quote(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(QUOTE_WIDTH).collect();
    let quoted = format!("{head:?}");
    if chars.next().is_none() {
        quoted
    } else {
        format!("{}…\"", &quoted[..quoted.len() - 1])
    }
}

/// `text` cut to `width` characters, with `…` when cut.
pub fn clip(text: &str, width: usize) -> String {
    match text.char_indices().nth(width) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// Whether the line at `offset` may hold a secret, so a snippet must not show it: a line in a
/// user's table, a secret's table or the runtime's environment, or one with a key that names a
/// secret (an inline table can hold several).
pub fn may_hold_a_secret(text: &str, offset: usize, tables: &[&str]) -> bool {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = &text[line_start..line_end];
    let table = before
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('['))
        .unwrap_or("");
    // The key before each `=` (or the whole line, when it has none: an unfinished one).
    let mut keys: Vec<String> = line
        .split('=')
        .rev()
        .skip(1)
        .map(|part| {
            let key: String = part
                .trim_end()
                .chars()
                .rev()
                .take_while(|c| c.is_alphanumeric() || "_-.\"'".contains(*c))
                .collect();
            key.chars().rev().collect::<String>().to_ascii_lowercase()
        })
        .collect();
    if keys.is_empty() {
        keys.push(line.to_ascii_lowercase());
    }
    keys.iter().any(|key| {
        let key = key.replace("password_policy", "");
        ["pass", "secret", "token", "key", "environment"]
            .iter()
            .any(|w| key.contains(w))
    }) || tables.iter().any(|w| table.contains(w))
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

/// Collects every problem in a file, so all are reported at once.
pub struct Validator<'a> {
    /// The file (or base and overlay) validated: where each span is.
    source: &'a Source,
    errors: Vec<StackError>,
    sections: Sections<'a>,
    /// The sections the file declares (by path), known before any is validated, so that no
    /// section's checks depend on the order the others are validated in.
    declared: BTreeSet<String>,
    /// Where each section's tables are, by path.
    spans: BTreeMap<&'static str, Vec<Range<usize>>>,
    /// Where fields that a check across sections may report on are, by field.
    marks: BTreeMap<String, Range<usize>>,
    /// Values for the placeholders of policy documents, to size them as IAM will: the stack's own
    /// names, and the longest values the account, region and partition can take. Known once
    /// every section is validated (for the checks across sections).
    pub vars: Vars,
    /// Fields whose value (at this offset) had the wrong type and stands in as a placeholder: it
    /// was reported already, so nothing more is said about it.
    reported: Vec<(String, usize)>,
}

/// A name rule from the AWS API reference.
pub struct NameRule {
    pub min: usize,
    pub max: usize,
    pub allowed: fn(char) -> bool,
    pub described: &'static str,
}

/// Stack names become tag values (`infra:stack = <name>`): IAM, Cognito, ECR, Secrets Manager and
/// AgentCore allow tag values of up to 256 characters of letters, digits, spaces and `_.:/=+-@`
/// (`tagValueType` in IAM's API reference, `TagValue` in AgentCore's), so this rule keeps every
/// stack name a valid tag value. The stack's two tags are the only tags (the limit is 50).
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

/// `{ env = "NAME" }`: a value read from the local environment. Only a table: serde's derived
/// structs also take a list (`["NAME"]`), which would read a value meant literally as the name
/// of a variable (and quote it in messages).
pub struct RawEnv {
    pub env: String,
}

impl<'de> Deserialize<'de> for RawEnv {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Table;
        impl<'de> serde::de::Visitor<'de> for Table {
            type Value = RawEnv;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("{ env = \"VARIABLE\" }")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawEnv, A::Error> {
                use serde::de::Error;
                let mut env = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "env" if env.is_none() => env = Some(map.next_value()?),
                        "env" => return Err(A::Error::duplicate_field("env")),
                        other => return Err(A::Error::unknown_field(other, &["env"])),
                    }
                }
                env.map(|env| RawEnv { env })
                    .ok_or_else(|| A::Error::missing_field("env"))
            }
        }
        deserializer.deserialize_map(Table)
    }
}

impl<'a> Validator<'a> {
    pub fn new(source: &'a Source, sections: Sections<'a>, declared: BTreeSet<String>) -> Self {
        Validator {
            source,
            errors: Vec::new(),
            sections,
            declared,
            spans: BTreeMap::new(),
            marks: BTreeMap::new(),
            vars: Vars::sample(),
            reported: Vec::new(),
        }
    }

    pub fn sections(&self) -> Sections<'a> {
        self.sections
    }

    /// Whether the file declares the section `S` (known before any section is validated).
    pub fn declares<S: Section>(&self) -> bool {
        self.declared.contains(S::PATH)
    }

    pub(crate) fn record_spans(&mut self, path: &'static str, spans: Vec<Range<usize>>) {
        self.spans.insert(path, spans);
    }

    /// Where the `index`th table of the section `S` is in the file.
    pub fn span<S: Section>(&self, index: usize) -> Option<Range<usize>> {
        self.spans.get(S::PATH)?.get(index).cloned()
    }

    /// Remember where `field` is, for a check across sections that may report on it.
    pub fn mark(&mut self, field: &str, span: Range<usize>) {
        self.marks.insert(field.to_owned(), span);
    }

    pub fn marked(&self, field: &str) -> Option<Range<usize>> {
        self.marks.get(field).cloned()
    }

    /// Size policy documents from now on with `stack`'s placeholder values: its region (and
    /// that region's partition) when it names one, else the longest region and partition names
    /// there are; an account id has 12 digits.
    pub(crate) fn size_with(&mut self, stack: &Stack) {
        let region = stack.region.as_deref().filter(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        });
        let (region, partition) = match region {
            Some(region) => (region, partition_of(region)),
            None => ("us-isof-south-1", "aws-us-gov"),
        };
        self.vars = stack.vars(region, "123456789012", partition);
    }

    /// The problems found (in the order of the file), or none.
    pub fn finish(self) -> Result<(), StackErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.failed())
        }
    }

    /// The problems found, in the order of the files (base first), then of their lines.
    pub fn failed(mut self) -> StackErrors {
        self.source.sort(&mut self.errors);
        StackErrors {
            errors: self.errors,
        }
    }

    /// The stack file's path (the base's, when an environment's overlay is merged over it).
    pub fn path(&self) -> &Path {
        self.source.path()
    }

    /// A problem found before validation (the first pass reports its own).
    pub(crate) fn push(&mut self, error: StackError) {
        self.errors.push(error);
    }

    /// `field`, at `offset`, holds a placeholder for a value already reported: say nothing more
    /// about it.
    pub(crate) fn reported(&mut self, field: String, offset: usize) {
        self.reported.push((field, offset));
    }

    pub fn error(
        &mut self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.report(span, field.into(), message.into(), true);
    }

    /// An error about a value that may be a secret: no source snippet, which would echo it.
    pub fn secret_error(&mut self, span: Range<usize>, field: &str, message: impl Into<String>) {
        self.report(span, field.to_owned(), message.into(), false);
    }

    fn report(&mut self, span: Range<usize>, field: String, message: String, show: bool) {
        if self
            .reported
            .iter()
            .any(|(f, offset)| *f == field && *offset == span.start)
        {
            return;
        }
        let error = self.source.error(span, &field, message, show);
        self.errors.push(error);
    }

    /// The value of `{ env = "VAR" }` at `field`: `None` when the variable is unset. Set to the
    /// empty string, it is reported (`set_to` says what it should hold, `unset` what unsetting it
    /// does instead): an empty password or secret is a mistake, never "keep the value".
    pub fn env_value(
        &mut self,
        span: Range<usize>,
        field: &str,
        var: &str,
        env: &dyn Fn(&str) -> Option<String>,
        set_to: &str,
        unset: &str,
    ) -> Option<String> {
        if var.is_empty() || !var.chars().all(ENV_NAME.allowed) {
            self.error(
                span,
                format!("{field}.env"),
                format!(
                    "{} is not valid; allowed: {}",
                    quote(var),
                    ENV_NAME.described
                ),
            );
            return None;
        }
        match env(var) {
            Some(value) if value.is_empty() => {
                self.error(
                    span,
                    field,
                    format!("${var} is set but empty: set it to {set_to}, or unset it {unset}"),
                );
                None
            }
            value => value,
        }
    }

    /// A policy document's size as IAM counts it against its quotas: with the placeholders
    /// filled in ([`Validator::vars`]), whitespace not counted.
    pub fn policy_size(&self, template: &str) -> usize {
        policy::render(template, &self.vars)
            .chars()
            .filter(|c| !c.is_whitespace())
            .count()
    }

    pub fn name(&mut self, value: &Spanned<String>, field: &str, rule: &NameRule) -> String {
        let name = value.get_ref();
        let len = name.chars().count();
        if len < rule.min || len > rule.max || !name.chars().all(rule.allowed) {
            self.error(
                value.span(),
                field,
                format!(
                    "{} is not a valid name; allowed: {}",
                    quote(name),
                    rule.described
                ),
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
        let sections = self.sections;
        let known = |name: &str| {
            policy::BASE_PLACEHOLDERS.iter().any(|(n, _)| *n == name)
                || sections.provider(name).is_some()
        };
        match policy::unknown_placeholders(text, &known) {
            Err(message) => self.error(value.span(), field, message),
            Ok(unknown) if !unknown.is_empty() => {
                let known: Vec<String> = policy::BASE_PLACEHOLDERS
                    .iter()
                    .chain(sections.iter().flat_map(|s| s.placeholders()))
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
    fn unavailable<'t>(&self, text: &'t str) -> Option<(&'t str, String)> {
        let names = policy::placeholders(text).ok()?;
        names.into_iter().find_map(|name| {
            let provider = self.sections.provider(name)?;
            (!self.declared.contains(provider.path())).then(|| (name, provider.title()))
        })
    }
}

/// The partition a region is in.
pub fn partition_of(region: &str) -> &'static str {
    [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-iso-", "aws-iso"),
    ]
    .iter()
    .find(|(prefix, _)| region.starts_with(prefix))
    .map_or("aws", |(_, partition)| partition)
}
