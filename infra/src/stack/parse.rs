//! The first pass over `stack.toml`: TOML syntax, then the shape of every section (its keys and
//! the types of their values), reporting every problem with its field path, not only the first.
//!
//! The sections' serde types stay the one description of that shape. The file is parsed into a
//! spanned table; deserializing it stops at the first problem, so each problem is reported with
//! the path of the value it is at, what the field accepts (`accepts`) and what was found, and
//! the value is taken out of the table (a required one is stood in for by a placeholder that
//! validation then says nothing more about), and deserializing starts again, until it succeeds.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::RawFile;
use super::overlay::Document;
use super::section::Sections;
use super::shape::{declared, deserialize};
use super::source::Source;
use super::validate::{StackError, clip, humanize, quote};

/// After this many problems, the report stops (each one costs a pass over the file).
const MAX_PROBLEMS: usize = 50;

/// The outcome of the first pass.
pub struct Loose {
    /// The file's sections, typed; `None` when a problem could not be stepped over.
    pub raw: Option<RawFile>,
    pub errors: Vec<StackError>,
    /// Placeholders standing in for reported values: `(field, offset)`.
    pub reported: Vec<(String, usize)>,
    /// The paths of the sections the file declares.
    pub declared: BTreeSet<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A value (or key) of the table, by its steps from the root.
struct Hit {
    steps: Vec<Step>,
    span: Range<usize>,
}

/// A required field's stand-in, and which of [`stand_in`]'s values it is.
struct Placeholder {
    table: Vec<Step>,
    field: String,
    span: Range<usize>,
    candidate: usize,
}

/// Values a placeholder tries, in order, until the field's type takes one.
fn stand_in<'i>(candidate: usize) -> Option<DeValue<'i>> {
    Some(match candidate {
        0 => DeValue::String(Cow::Borrowed("")),
        1 => DeValue::Boolean(false),
        2 => DeValue::Array(DeArray::new()),
        3 => DeValue::Table(DeTable::new()),
        _ => return None,
    })
}

/// Read a document (a file, or a base with an overlay merged over it: [`Document`]) into its
/// sections, reporting every problem of syntax and shape, each in the file it is in. `accepts`
/// says what the field at a dotted path accepts. Without `raw`, there is at least one error.
pub fn parse(
    source: &Source,
    document: Document,
    sections: Sections,
    accepts: &dyn Fn(&str) -> Option<String>,
) -> Loose {
    let mut loose = parse_all(source, document, sections, accepts);
    if loose.raw.is_none() && loose.errors.is_empty() {
        loose.errors.push(StackError {
            path: source.path().to_owned(),
            position: None,
            field: String::new(),
            message: "the file's sections could not be read".into(),
            snippet: None,
        });
    }
    loose
}

fn parse_all(
    source: &Source,
    document: Document,
    sections: Sections,
    accepts: &dyn Fn(&str) -> Option<String>,
) -> Loose {
    let tables = sections.secret_tables();
    let may_hold_a_secret = |offset: usize| source.may_hold_a_secret(offset, &tables);
    let Document { mut root, syntax } = document;
    let error = |span: Range<usize>, field: &str, message: String, show: bool| {
        source.error(span, field, message, show)
    };
    let mut loose = Loose {
        raw: None,
        errors: Vec::new(),
        reported: Vec::new(),
        declared: declared(root.get_ref(), sections),
    };
    if !syntax.is_empty() {
        for (span, message) in syntax {
            let show = !may_hold_a_secret(span.start);
            loose.errors.push(error(span, "", humanize(&message), show));
        }
        source.sort(&mut loose.errors);
        loose.errors.dedup();
        loose.errors.truncate(MAX_PROBLEMS);
        return loose;
    }

    let mut removed: Vec<(Vec<Step>, String, Range<usize>)> = Vec::new();
    let mut placeholders: Vec<Placeholder> = Vec::new();
    // Each round reports a problem or tries a placeholder; this bounds them all.
    for _ in 0..MAX_PROBLEMS * 8 {
        let e = match deserialize(&root, sections) {
            Ok(raw) => {
                loose.raw = Some(raw);
                return loose;
            }
            Err(e) => e,
        };
        let message = e.message.trim().to_owned();
        let give_up = |loose: &mut Loose, span: Option<Range<usize>>| {
            // Nothing more can be said with a path; say what serde said, unless it was said.
            if loose.errors.is_empty() {
                let span = span.unwrap_or(0..0);
                let show = !may_hold_a_secret(span.start);
                let err = error(span, "", humanize(&message), show);
                loose.errors.push(err);
            }
        };
        if loose.errors.len() >= MAX_PROBLEMS {
            let err = error(
                0..0,
                "",
                format!("more problems follow these {MAX_PROBLEMS}; fix these first"),
                false,
            );
            loose.errors.push(err);
            return loose;
        }
        let Some(span) = e.span else {
            give_up(&mut loose, None);
            return loose;
        };

        if let Some(field) = between(&message, "missing field `", "`") {
            let Some(table) = find_table(root.get_ref(), root.span(), &span) else {
                give_up(&mut loose, Some(span));
                return loose;
            };
            let path = dotted(&table, Some(field));
            // A placeholder table lacks every field: that was said of the table.
            let in_placeholder = placeholders.iter().any(|p| {
                table.len() > p.table.len()
                    && table.starts_with(&p.table)
                    && table[p.table.len()] == Step::Key(p.field.clone())
            });
            let at = match removed.iter().find(|(t, k, _)| *t == table && k == field) {
                // Its value was reported and taken out: stand in for it there.
                Some((_, _, at)) => at.clone(),
                None if in_placeholder => span.clone(),
                None => {
                    let expected = accepts(&path)
                        .map(|a| format!("; expected {a}"))
                        .unwrap_or_default();
                    let err = error(
                        span.clone(),
                        &path,
                        format!("missing field `{field}`{expected}"),
                        !may_hold_a_secret(span.start),
                    );
                    loose.errors.push(err);
                    span.clone()
                }
            };
            let placeholder = Placeholder {
                table,
                field: field.to_owned(),
                span: at,
                candidate: 0,
            };
            if !fill(&mut root, &placeholder) {
                return loose;
            }
            loose.reported.push((path, placeholder.span.start));
            placeholders.push(placeholder);
            continue;
        }

        // A placeholder of the wrong type: try the next one; nothing to report.
        if let Some(placeholder) = placeholders.iter_mut().find(|p| p.span.start == span.start) {
            placeholder.candidate += 1;
            if !fill(&mut root, placeholder) {
                give_up(&mut loose, Some(span));
                return loose;
            }
            continue;
        }

        let unknown_field = message.starts_with("unknown field");
        let Some(hit) = locate(root.get_ref(), &span, unknown_field) else {
            give_up(&mut loose, Some(span));
            return loose;
        };
        let path = dotted(&hit.steps, None);
        // The value is never quoted where a secret may be; the line is not shown where it may
        // hold one (of this field or another).
        let secret = sections.secret_field(&path);
        let show = !secret && !may_hold_a_secret(span.start);
        let Some(value) = value_at(root.get_ref(), &hit.steps) else {
            give_up(&mut loose, Some(span));
            return loose;
        };
        let text_of = |value: &DeValue| describe(value, secret);
        let described = if unknown_field {
            let key = match hit.steps.last() {
                Some(Step::Key(key)) => key.clone(),
                _ => String::new(),
            };
            let allowed = listed(&message);
            if allowed.is_empty() {
                format!(
                    "unknown field `{}`; no fields are allowed here",
                    clip(&key, 60)
                )
            } else {
                format!("unknown field `{}`; allowed: {allowed}", clip(&key, 60))
            }
        } else if message.starts_with("unknown variant") {
            let found = match value {
                DeValue::String(s) if !secret => quote(s),
                other => text_of(other),
            };
            let allowed = accepts(&path).unwrap_or_else(|| listed(&message));
            format!("{found} is not allowed; allowed: {allowed}")
        } else {
            let expected = accepts(&path).unwrap_or_else(|| {
                humanize(message.rsplit(", expected ").next().unwrap_or(&message))
            });
            format!("expected {expected}; found {}", text_of(value))
        };
        let err = error(span.clone(), &path, described, show);
        loose.errors.push(err);

        // Take the value out, and go on.
        let Some((last, parent)) = hit.steps.split_last() else {
            return loose;
        };
        match last {
            Step::Key(key) => {
                let value_span = value_span(root.get_ref(), &hit.steps).unwrap_or(hit.span);
                removed.push((parent.to_vec(), key.clone(), value_span.clone()));
                loose.reported.push((path, value_span.start));
            }
            Step::Index(_) => {
                // An element: the list it is in was reported.
                if let Some(list) = value_span(root.get_ref(), parent) {
                    loose.reported.push((path, list.start));
                }
            }
        }
        if !remove(&mut root, &hit.steps) {
            return loose;
        }
    }
    loose
}

/// `text` between `open` and the next `close`.
fn between<'m>(text: &'m str, open: &str, close: &str) -> Option<&'m str> {
    let rest = text.strip_prefix(open)?;
    rest.find(close).map(|end| &rest[..end])
}

/// The names serde lists as expected (`expected one of `a`, `b``), comma-separated.
fn listed(message: &str) -> String {
    let Some((_, expected)) = message.split_once("expected") else {
        return String::new();
    };
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The dotted path of the steps (list positions left out, as in every other message), with
/// `field` after it.
fn dotted(steps: &[Step], field: Option<&str>) -> String {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Key(key) => Some(key.as_str()),
            Step::Index(_) => None,
        })
        .chain(field)
        .collect::<Vec<_>>()
        .join(".")
}

/// What a value is, for "found ...": never the content of a table or list, and no value at all
/// of a field that may hold a secret.
fn describe(value: &DeValue, secret: bool) -> String {
    match value {
        DeValue::String(_) if secret => "a string".into(),
        DeValue::String(s) => format!("the string {}", quote(s)),
        DeValue::Integer(_) if secret => "an integer".into(),
        DeValue::Integer(i) => format!("the integer {}", clip(i.as_str(), 60)),
        DeValue::Float(_) if secret => "a number".into(),
        DeValue::Float(f) => format!("the number {}", clip(f.as_str(), 60)),
        DeValue::Boolean(_) if secret => "a boolean".into(),
        DeValue::Boolean(b) => format!("{b}"),
        DeValue::Datetime(_) if secret => "a date".into(),
        DeValue::Datetime(d) => format!("the date {d}"),
        DeValue::Array(items) if items.is_empty() => "an empty list".into(),
        DeValue::Array(_) => "a list".into(),
        DeValue::Table(table) => {
            let keys: Vec<String> = table
                .iter()
                .take(5)
                .map(|(k, _)| format!("`{}`", clip(k.get_ref(), 60)))
                .collect();
            match keys.len() {
                0 => "an empty table".into(),
                1 => format!("a table with the key {}", keys[0]),
                _ => format!("a table with the keys {}", keys.join(", ")),
            }
        }
    }
}

/// The value or key at `span` (the innermost one; a key when `want_key`).
fn locate(root: &DeTable, span: &Range<usize>, want_key: bool) -> Option<Hit> {
    struct Search<'s> {
        span: &'s Range<usize>,
        want_key: bool,
        /// The best so far: exactly the span, of the kind wanted, the shortest.
        best: Option<((bool, bool, usize), Hit)>,
    }
    impl Search<'_> {
        fn consider(&mut self, candidate: Range<usize>, key: bool, steps: &[Step]) {
            let inside = candidate.start <= self.span.start && self.span.start < candidate.end;
            if !(inside || candidate == *self.span) {
                return;
            }
            let score = (
                candidate == *self.span,
                key == self.want_key,
                usize::MAX - (candidate.end - candidate.start),
            );
            // Of equals, the outer one: an array of tables has the span of its first table, and
            // a value of the wrong type there is the array.
            if self.best.as_ref().is_none_or(|(best, _)| score > *best) {
                let hit = Hit {
                    steps: steps.to_vec(),
                    span: candidate,
                };
                self.best = Some((score, hit));
            }
        }

        fn table(&mut self, table: &DeTable, steps: &mut Vec<Step>) {
            for (k, v) in table.iter() {
                steps.push(Step::Key(k.get_ref().to_string()));
                self.consider(k.span(), true, steps);
                self.value(v, steps);
                steps.pop();
            }
        }

        fn value(&mut self, value: &Spanned<DeValue>, steps: &mut Vec<Step>) {
            self.consider(value.span(), false, steps);
            match value.get_ref() {
                DeValue::Table(table) => self.table(table, steps),
                DeValue::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        steps.push(Step::Index(i));
                        self.value(item, steps);
                        steps.pop();
                    }
                }
                _ => {}
            }
        }
    }
    let mut search = Search {
        span,
        want_key,
        best: None,
    };
    search.table(root, &mut Vec::new());
    search.best.map(|(_, hit)| hit)
}

/// The table whose span is `span` (the innermost one), or the root.
fn find_table(root: &DeTable, root_span: Range<usize>, span: &Range<usize>) -> Option<Vec<Step>> {
    fn walk(
        value: &Spanned<DeValue>,
        steps: &mut Vec<Step>,
        span: &Range<usize>,
        found: &mut Option<Vec<Step>>,
    ) {
        if value.get_ref().is_table() && value.span() == *span {
            *found = Some(steps.clone());
        }
        match value.get_ref() {
            DeValue::Table(table) => {
                for (k, v) in table.iter() {
                    steps.push(Step::Key(k.get_ref().to_string()));
                    walk(v, steps, span, found);
                    steps.pop();
                }
            }
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    steps.push(Step::Index(i));
                    walk(item, steps, span, found);
                    steps.pop();
                }
            }
            _ => {}
        }
    }
    let mut found = None;
    for (k, v) in root.iter() {
        walk(
            v,
            &mut vec![Step::Key(k.get_ref().to_string())],
            span,
            &mut found,
        );
    }
    found.or_else(|| (root_span == *span).then(Vec::new))
}

fn value_at<'t, 'i>(root: &'t DeTable<'i>, steps: &[Step]) -> Option<&'t DeValue<'i>> {
    spanned_at(root, steps).map(Spanned::get_ref)
}

fn value_span(root: &DeTable, steps: &[Step]) -> Option<Range<usize>> {
    spanned_at(root, steps).map(Spanned::span)
}

fn spanned_at<'t, 'i>(root: &'t DeTable<'i>, steps: &[Step]) -> Option<&'t Spanned<DeValue<'i>>> {
    let (first, rest) = steps.split_first()?;
    let Step::Key(key) = first else { return None };
    let mut value = root.get(key.as_str())?;
    for step in rest {
        value = match (value.get_ref(), step) {
            (DeValue::Table(table), Step::Key(key)) => table.get(key.as_str())?,
            (DeValue::Array(items), Step::Index(i)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(value)
}

/// The table at `steps` (the root when there are none).
fn table_mut<'t, 'i>(root: &'t mut DeTable<'i>, steps: &[Step]) -> Option<&'t mut DeTable<'i>> {
    let mut table = root;
    let mut steps = steps.iter().peekable();
    while let Some(step) = steps.next() {
        let Step::Key(key) = step else { return None };
        let mut value = table.get_mut(key.as_str())?.get_mut();
        while let Some(Step::Index(i)) = steps.peek() {
            let DeValue::Array(items) = value else {
                return None;
            };
            value = items.get_mut(*i)?.get_mut();
            steps.next();
        }
        let DeValue::Table(inner) = value else {
            return None;
        };
        table = inner;
    }
    Some(table)
}

/// Take the value at `steps` out of the file.
fn remove(root: &mut Spanned<DeTable>, steps: &[Step]) -> bool {
    let Some((last, parent)) = steps.split_last() else {
        return false;
    };
    match last {
        Step::Key(key) => table_mut(root.get_mut(), parent)
            .and_then(|table| table.remove(key.as_str()))
            .is_some(),
        Step::Index(index) => {
            let Some((Step::Key(key), table)) = parent.split_last() else {
                return false;
            };
            let Some(table) = table_mut(root.get_mut(), table) else {
                return false;
            };
            let Some(DeValue::Array(items)) = table.get_mut(key.as_str()).map(|v| v.get_mut())
            else {
                return false;
            };
            let mut kept = DeArray::new();
            for (i, item) in items.iter().enumerate() {
                if i != *index {
                    kept.push(item.clone());
                }
            }
            *items = kept;
            true
        }
    }
}

/// Put the placeholder's current stand-in in its table; `false` when it has none left.
fn fill(root: &mut Spanned<DeTable>, placeholder: &Placeholder) -> bool {
    let Some(value) = stand_in(placeholder.candidate) else {
        return false;
    };
    let Some(table) = table_mut(root.get_mut(), &placeholder.table) else {
        return false;
    };
    table.insert(
        Spanned::new(
            placeholder.span.clone(),
            Cow::Owned(placeholder.field.clone()),
        ),
        Spanned::new(placeholder.span.clone(), value),
    );
    true
}
