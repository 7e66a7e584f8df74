//! The file's shape, built from the registry's sections: which top-level keys and groups exist,
//! which section each table belongs to, and each section's tables deserialized into its kind's
//! raw type (a key no section claims is an unknown field of the table it is in).

use std::collections::BTreeSet;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::section::Sections;
use super::{RawFile, RawStack};

/// What the file declares (the paths of its sections), known before any is validated.
pub(super) fn declared(root: &DeTable, sections: Sections) -> BTreeSet<String> {
    sections
        .iter()
        .map(|s| s.path())
        .filter(|p| at(root, &p.split('.').collect::<Vec<_>>()).is_some())
        .map(str::to_owned)
        .collect()
}

/// A problem deserializing the file: serde's message, and where.
pub(super) struct Problem {
    pub(super) message: String,
    pub(super) span: Option<Range<usize>>,
}

impl From<toml::de::Error> for Problem {
    fn from(e: toml::de::Error) -> Problem {
        Problem {
            message: e.message().to_owned(),
            span: e.span(),
        }
    }
}

/// The file's sections, each deserialized into its kind's raw type; a key no section claims is
/// an unknown field of the table it is in.
pub(super) fn deserialize(root: &Spanned<DeTable>, sections: Sections) -> Result<RawFile, Problem> {
    let mut stack = None;
    let mut found = Vec::new();
    for (key, value) in root.get_ref().iter() {
        if key.get_ref() == "stack" {
            stack = Some(RawStack::deserialize(ValueDeserializer::from(
                value.clone(),
            ))?);
            continue;
        }
        visit(key, value, "", sections, &mut found)?;
    }
    let stack = stack.ok_or_else(|| Problem {
        message: "missing field `stack`".into(),
        span: Some(root.span()),
    })?;
    Ok(RawFile {
        stack,
        sections: found,
    })
}

/// The table `value` is, if it is one.
fn inner<'t, 'i>(value: &'t Spanned<DeValue<'i>>) -> Option<&'t DeTable<'i>> {
    match value.get_ref() {
        DeValue::Table(table) => Some(table),
        _ => None,
    }
}

/// The key `key` of the table at `parent`: a section, a table that holds sections, or unknown.
fn visit(
    key: &Spanned<std::borrow::Cow<'_, str>>,
    value: &Spanned<DeValue>,
    parent: &str,
    sections: Sections,
    found: &mut Vec<(&'static dyn super::DynSection, super::section::RawEntry)>,
) -> Result<(), Problem> {
    let path = if parent.is_empty() {
        key.get_ref().to_string()
    } else {
        format!("{parent}.{}", key.get_ref())
    };
    if let Some(section) = sections.at(&path) {
        // The keys other sections claim are theirs, not this one's.
        let claimed = sections.keys_under(&path);
        let mut own = value.clone();
        if let DeValue::Table(table) = own.get_mut() {
            for key in &claimed {
                table.remove(*key);
            }
        }
        let entries = section.deserialize(own).map_err(|e| {
            let mut problem = Problem::from(e);
            if problem.message.starts_with("unknown field") && !claimed.is_empty() {
                let at_top = inner(value)
                    .is_some_and(|t| t.iter().any(|(k, _)| Some(k.span()) == problem.span));
                if at_top {
                    for key in &claimed {
                        problem.message.push_str(&format!(", `{key}`"));
                    }
                }
            }
            problem
        })?;
        found.extend(entries.into_iter().map(|e| (section, e)));
        if let Some(table) = inner(value) {
            for (k, v) in table.iter() {
                if claimed.contains(&k.get_ref().as_ref()) {
                    visit(k, v, &path, sections, found)?;
                }
            }
        }
        return Ok(());
    }
    let keys = sections.keys_under(&path);
    if keys.is_empty() {
        let allowed = sections.keys_under(parent);
        let expected: Vec<String> = (if parent.is_empty() {
            vec!["stack"]
        } else {
            vec![]
        })
        .into_iter()
        .chain(allowed)
        .map(|k| format!("`{k}`"))
        .collect();
        return Err(Problem {
            message: format!(
                "unknown field `{}`, expected one of {}",
                key.get_ref(),
                expected.join(", ")
            ),
            span: Some(key.span()),
        });
    }
    let Some(table) = inner(value) else {
        return Err(Problem {
            message: "invalid type, expected a table".into(),
            span: Some(value.span()),
        });
    };
    for (k, v) in table.iter() {
        visit(k, v, &path, sections, found)?;
    }
    Ok(())
}

fn at<'t, 'i>(root: &'t DeTable<'i>, keys: &[&str]) -> Option<&'t DeValue<'i>> {
    let (first, rest) = keys.split_first()?;
    let mut value = root.get(*first)?.get_ref();
    for key in rest {
        match value {
            DeValue::Table(table) => value = table.get(*key)?.get_ref(),
            _ => return None,
        }
    }
    Some(value)
}
