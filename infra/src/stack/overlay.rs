//! Environments from one repository: `--env NAME` reads `stack.toml`, then `stack.NAME.toml`
//! beside it merged over it (tables merge; a scalar or an array, arrays of tables included,
//! replaces), and validates the merged document as one stack file.
//!
//! Each file is parsed on its own, so a syntax error is reported in the file it is in. Their
//! spans are moved to the file's place in the [`Source`] before merging, so every value of the
//! merged document still says which file it came from: an error about it names that file, line
//! and column, and shows that file's line.
//!
//! Each environment is a stack of its own (its own `[stack] name`), and the names AWS keeps
//! unique in an account must differ between environments, or two of them would fight over one
//! role, repository or runtime: loading an environment also reads every other `stack.*.toml`
//! beside the base, merges each over the base, and refuses a name the loaded environment shares
//! with one of them, before any AWS call. The base alone is an environment only when it is used
//! without `--env`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::section::{DynSection, Sections};
use super::source::{Source, SourceFile};
use super::validate::{NameRule, StackError, StackErrors, quote};
use super::{Stack, read_file};

/// What `--env` accepts (a part of a file name: `stack.NAME.toml`).
pub const ENVIRONMENT_NAME: NameRule = NameRule {
    min: 1,
    max: 32,
    allowed: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_',
    described: "1-32 characters: lower-case letters, digits, - and _",
};

/// Whether `name` is an environment's name.
pub fn is_environment_name(name: &str) -> bool {
    (ENVIRONMENT_NAME.min..=ENVIRONMENT_NAME.max).contains(&name.chars().count())
        && name.chars().all(ENVIRONMENT_NAME.allowed)
}

/// `--env NAME` as the command line takes it (clap's value parser).
pub fn environment_name(name: &str) -> Result<String, String> {
    if is_environment_name(name) {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "{} is not an environment name; allowed: {} (the overlay is stack.NAME.toml)",
            quote(name),
            ENVIRONMENT_NAME.described
        ))
    }
}

/// A name AWS keeps unique in an account (or an account's region), which two environments
/// therefore may not share: the field that holds it, and what to say about it (the sections
/// declare theirs as [`crate::stack::UniqueName`]s).
pub struct AccountName {
    /// Its dotted path in the file, e.g. `iam.role.name`.
    pub field: String,
    /// What it names, e.g. `IAM role name`.
    pub what: &'static str,
    /// Why two environments may not share it.
    pub why: &'static str,
    /// Whether AWS compares it regardless of case (IAM names).
    pub any_case: bool,
}

/// The names two environments may not share: the stack's own name, and each section's
/// [`crate::stack::UniqueName`]s at their place in the file.
pub fn account_names(sections: &[&'static dyn DynSection]) -> Vec<AccountName> {
    let stack = AccountName {
        field: "stack.name".into(),
        what: "stack name",
        why: "a stack is what is tagged infra:stack = <name>, so two environments of one name \
              would be one stack",
        any_case: false,
    };
    let declared = sections.iter().flat_map(|section| {
        section.unique_names().iter().map(|name| AccountName {
            field: format!("{}.{}", section.path(), name.field),
            what: name.what,
            why: name.why,
            any_case: name.any_case,
        })
    });
    std::iter::once(stack).chain(declared).collect()
}

// ---------------------------------------------------------------------------------------------
// Documents: a file parsed, its spans at its place in the source; merging.

/// A file parsed (with best-effort recovery), or several merged: the table and the syntax
/// errors, their spans at their files' places in the [`Source`].
#[derive(Clone)]
pub struct Document<'i> {
    pub root: Spanned<DeTable<'i>>,
    pub syntax: Vec<(Range<usize>, String)>,
}

impl<'i> Document<'i> {
    /// Parse one file of a source.
    pub fn parse(file: &'i SourceFile) -> Document<'i> {
        let (mut root, errors) = DeTable::parse_recoverable(&file.text);
        let by = file.start;
        if by > 0 {
            let span = root.span();
            shift_table(root.get_mut(), by);
            root = Spanned::new(span.start + by..span.end + by, root.into_inner());
        }
        let syntax = errors
            .into_iter()
            .map(|e| {
                let span = e.span().unwrap_or(0..0);
                (span.start + by..span.end + by, e.message().to_owned())
            })
            .collect();
        Document { root, syntax }
    }

    /// `overlay` merged over this document: tables merge, any other value of the overlay
    /// replaces the one here (an array whole, an array of tables included). A table present in
    /// both keeps this document's span; every other value, and its key, has the span of the file
    /// it came from.
    pub fn merge(&mut self, overlay: Document<'i>) {
        merge(self.root.get_mut(), overlay.root.into_inner());
        self.syntax.extend(overlay.syntax);
    }
}

fn shifted(span: Range<usize>, by: usize) -> Range<usize> {
    span.start + by..span.end + by
}

fn shift_table(table: &mut DeTable, by: usize) {
    for (key, mut value) in std::mem::take(table) {
        shift_value(&mut value, by);
        let span = shifted(key.span(), by);
        table.insert(Spanned::new(span, key.into_inner()), value);
    }
}

fn shift_value(value: &mut Spanned<DeValue>, by: usize) {
    match value.get_mut() {
        DeValue::Table(table) => shift_table(table, by),
        DeValue::Array(items) => items.iter_mut().for_each(|item| shift_value(item, by)),
        _ => {}
    }
    let span = shifted(value.span(), by);
    let inner = std::mem::replace(value.get_mut(), DeValue::Boolean(false));
    *value = Spanned::new(span, inner);
}

/// `overlay` merged into `base` ([`Document::merge`]).
fn merge<'i>(base: &mut DeTable<'i>, overlay: DeTable<'i>) {
    for (key, value) in overlay {
        let both_tables = value.get_ref().is_table()
            && base
                .get(key.get_ref().as_ref())
                .is_some_and(|v| v.get_ref().is_table());
        if both_tables {
            let (Some(DeValue::Table(mine)), DeValue::Table(theirs)) = (
                base.get_mut(key.get_ref().as_ref()).map(Spanned::get_mut),
                value.into_inner(),
            ) else {
                unreachable!("both are tables");
            };
            merge(mine, theirs);
        } else {
            // Removed first: inserting over a key keeps the old key, and its span.
            base.remove(key.get_ref().as_ref());
            base.insert(key, value);
        }
    }
}

/// The value at a dotted path.
fn at<'t, 'i>(root: &'t DeTable<'i>, field: &str) -> Option<&'t Spanned<DeValue<'i>>> {
    let mut keys = field.split('.');
    let mut value = root.get(keys.next()?)?;
    for key in keys {
        value = value.get_ref().as_table()?.get(key)?;
    }
    Some(value)
}

// ---------------------------------------------------------------------------------------------
// Environments: the overlays beside a base file.

/// The overlay of the environment `env` beside `base`: `stack.toml` → `stack.ENV.toml`.
pub fn overlay_path(base: &Path, env: &str) -> PathBuf {
    base.with_file_name(format!("{}.{env}.toml", stem(base)))
}

/// The file name of `base` without `.toml`.
fn stem(base: &Path) -> String {
    let name = base
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.strip_suffix(".toml").unwrap_or(&name).to_owned()
}

/// The environments beside `base` (each `stack.NAME.toml` whose NAME is an environment's name),
/// by name.
pub fn environments(base: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let dir = match base.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let prefix = format!("{}.", stem(base));
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(env) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".toml"))
        else {
            continue;
        };
        if is_environment_name(env) {
            found.push((env.to_owned(), overlay_path(base, env)));
        }
    }
    found.sort();
    Ok(found)
}

/// One environment's merged document, for comparing names.
struct Environment<'i> {
    /// `prod`; empty for the base used alone.
    name: String,
    /// Its overlay; `None` for the base alone.
    overlay: Option<PathBuf>,
    root: &'i DeTable<'i>,
}

/// The name at `name.field` if `loaded` shares it with one of `others`: an error at the loaded
/// environment's value, naming the other environment and where its value is.
fn shared_name(
    source: &Source,
    name: &AccountName,
    loaded: &Environment,
    others: &[Environment],
    show: &dyn Fn(usize) -> bool,
) -> Option<StackError> {
    let base = source.path();
    let (mine, span) =
        at(loaded.root, &name.field).and_then(|v| Some((v.get_ref().as_str()?, v.span())))?;
    let same = |theirs: &str| match name.any_case {
        true => theirs.eq_ignore_ascii_case(mine),
        false => theirs == mine,
    };
    let (other, other_span) = others.iter().find_map(|other| {
        let value = at(other.root, &name.field)?;
        same(value.get_ref().as_str()?).then(|| (other, value.span()))
    })?;
    let other_file = other.overlay.as_deref().unwrap_or(base);
    let theirs = if other_span == span {
        format!(
            "{} does not set {}, so it takes this one",
            other_file.display(),
            name.field
        )
    } else if source.file_at(other_span.start).path == other_file {
        source.place(other_span.start)
    } else {
        format!("which takes it from {}", source.place(other_span.start))
    };
    // Where to give the loaded environment a name of its own: its overlay; for the base
    // alone, the other environment's overlay.
    let fix = match (&loaded.overlay, &other.overlay) {
        (Some(mine), _) => mine,
        (None, Some(theirs)) => theirs,
        (None, None) => base,
    };
    // Without --env, the base is deployed as it is: say so, as it may not be meant to be.
    let alone = match loaded.overlay {
        Some(_) => String::new(),
        None => ", and without --env this file is an environment of its own".to_owned(),
    };
    let message = format!(
        "{} is also the {} of environment {} ({theirs}){alone}; {}, so each environment needs \
         its own: set {} in {}",
        quote(mine),
        name.what,
        other.name,
        name.why,
        name.field,
        fix.display()
    );
    Some(source.error(span.clone(), &name.field, message, show(span.start)))
}

impl Stack {
    /// Read, parse and validate the stack file `path`, with the environment `environment`'s
    /// overlay merged over it ([`overlay_path`]); refuse a name the environment shares with
    /// another environment beside it (`names`: the names AWS keeps unique in an account). Without
    /// an environment, the base alone is an environment, compared with every overlay beside it.
    pub fn load_environment(
        path: &Path,
        environment: Option<&str>,
        sections: &[&'static dyn DynSection],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Stack, StackErrors> {
        let names = account_names(sections);
        let refused =
            |path: &Path, position: Option<(usize, usize)>, message: String| StackErrors {
                errors: vec![StackError {
                    path: path.to_owned(),
                    position,
                    field: String::new(),
                    message,
                    snippet: None,
                }],
            };
        let text = read_file(path).map_err(|(pos, message)| refused(path, pos, message))?;
        let listed = environments(path).map_err(|e| {
            refused(
                path,
                None,
                format!(
                    "cannot list the directory of {} to compare the environments beside it: {e}",
                    path.display()
                ),
            )
        })?;
        let mut source = Source::new(path, text);
        let mut errors = Vec::new();

        // The environment's overlay.
        let overlay = match environment {
            None => None,
            Some(name) => {
                let overlay = overlay_path(path, name);
                let missing = std::fs::symlink_metadata(&overlay)
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound);
                if missing {
                    let here: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
                    let here = match here.as_slice() {
                        [] => format!("there is no {}.NAME.toml beside it", stem(path)),
                        names => format!("environments beside it: {}", names.join(", ")),
                    };
                    return Err(refused(
                        &overlay,
                        None,
                        format!(
                            "no such file: --env {name} reads this overlay beside {} ({here})",
                            path.display()
                        ),
                    ));
                }
                let text = read_file(&overlay).map_err(|(pos, m)| refused(&overlay, pos, m))?;
                Some((name, overlay.clone(), source.add(&overlay, text)))
            }
        };
        // The other environments, read to compare names.
        let mut others = Vec::new();
        for (name, other) in &listed {
            if Some(name.as_str()) == environment {
                continue;
            }
            match read_file(other) {
                Ok(text) => others.push((name.clone(), other.clone(), source.add(other, text))),
                Err((position, message)) => errors.push(StackError {
                    path: other.clone(),
                    position,
                    field: String::new(),
                    message: format!("{message} ({})", why_read(path)),
                    snippet: None,
                }),
            }
        }

        let secret_tables = Sections(sections).secret_tables();
        let show = |offset: usize| !source.may_hold_a_secret(offset, &secret_tables);
        let base = Document::parse(source.file(0));
        let mut document = base.clone();
        if let Some((name, overlay, index)) = &overlay {
            let own = Document::parse(source.file(*index));
            if own.syntax.is_empty() && at(own.root.get_ref(), "stack.name").is_none() {
                errors.push(unnamed(&source, &base, &own, name, overlay));
            }
            document.merge(own);
        }
        // Names are compared only when both files could be read whole.
        if document.syntax.is_empty() {
            let merged: Vec<(String, PathBuf, Document)> = others
                .iter()
                .filter_map(|(name, path, index)| {
                    let theirs = Document::parse(source.file(*index));
                    for (span, message) in &theirs.syntax {
                        let message = format!("{message} ({})", why_read(source.path()));
                        errors.push(source.error(span.clone(), "", message, show(span.start)));
                    }
                    if !theirs.syntax.is_empty() {
                        return None;
                    }
                    let mut merged = base.clone();
                    merged.merge(theirs);
                    Some((name.clone(), path.clone(), merged))
                })
                .collect();
            let others: Vec<Environment> = merged
                .iter()
                .map(|(name, path, document)| Environment {
                    name: name.clone(),
                    overlay: Some(path.clone()),
                    root: document.root.get_ref(),
                })
                .collect();
            let loaded = Environment {
                name: environment.unwrap_or_default().to_owned(),
                overlay: overlay.as_ref().map(|(_, path, _)| path.clone()),
                root: document.root.get_ref(),
            };
            // An overlay without its own stack name was reported as such.
            let unnamed = errors.iter().any(|e| e.field == "stack.name");
            for name in &names {
                if !(unnamed && name.field == "stack.name") {
                    errors.extend(shared_name(&source, name, &loaded, &others, &show));
                }
            }
        }
        let mut stack = Stack::from_document(&source, document, sections, env, errors)?;
        stack.overlay = overlay.map(|(_, path, _)| path);
        Ok(stack)
    }
}

/// Why another environment's overlay was read.
fn why_read(base: &Path) -> String {
    format!(
        "each {}.NAME.toml beside {} is an environment, read to check that no two share a name",
        stem(base),
        base.display()
    )
}

/// The error of an overlay that does not set `[stack] name`: at its `[stack]` table, if it has
/// one.
fn unnamed(source: &Source, base: &Document, own: &Document, env: &str, path: &Path) -> StackError {
    let base_name = at(base.root.get_ref(), "stack.name").and_then(|v| v.get_ref().as_str());
    let suggestion = base_name.map_or_else(String::new, |n| {
        format!(" = {}", quote(&format!("{n}-{env}")))
    });
    let message = format!(
        "{} does not set [stack] name, so environment {env} would be the stack of {} itself: \
         each environment is a stack of its own; add [stack] name{suggestion} to it",
        path.display(),
        source.path().display()
    );
    match at(own.root.get_ref(), "stack") {
        Some(table) => source.error(table.span(), "stack.name", message, true),
        None => StackError {
            path: path.to_owned(),
            position: None,
            field: "stack.name".into(),
            message,
            snippet: None,
        },
    }
}

#[cfg(test)]
mod tests;
