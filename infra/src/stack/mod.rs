//! `stack.toml`: parse (`parse`: syntax, then each section's serde type, unknown keys rejected)
//! → validate → [`Stack`], typed and resolved.
//!
//! Everything here happens before any AWS call. Errors name the file, line, column and field, and
//! say what is allowed; all problems in a file are reported at once, type errors included, in
//! the order of the file. Nothing here names a resource kind: each kind declares its section
//! ([`section::Section`]: where it is in the file, its raw form, what its fields accept, its
//! validation and its checks across sections), and the file's shape, what is declared and the
//! validation order follow from the registry's list of sections, which callers pass in.
//!
//! An environment (`--env NAME`, [`overlay`]) is `stack.NAME.toml` merged over the file before
//! any of this; each value keeps the place of the file it came from ([`source::Source`]), so its
//! errors name that file and line.

pub mod overlay;
mod parse;
pub mod section;
mod shape;
pub mod source;
pub mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::policy::Vars;
use overlay::Document;
pub use overlay::{AccountName, ENVIRONMENT_NAME, environment_name};
pub use section::{
    AnySpec, Base, DynSection, Input, Section, Sectioned, Sections, Shape, UniqueName,
};
use source::Source;
use validate::{STACK_NAME, Validator};
pub use validate::{StackError, StackErrors};

/// Tag keys this tool puts on everything it creates.
pub const TAG_STACK: &str = "infra:stack";
pub const TAG_MANAGED_BY: &str = "infra:managed-by";

/// `[stack]`: the one section every file has.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStack {
    name: Spanned<String>,
    region: Option<Spanned<String>>,
}

/// What `[stack]` accepts, by field.
fn stack_accepts(field: &str) -> Option<String> {
    match field {
        "" => Some("a table: [stack] with name = \"...\"".into()),
        "name" => Some(format!("a string of {}", STACK_NAME.described)),
        "region" => Some("an AWS region name, such as \"us-west-2\"".into()),
        _ => None,
    }
}

/// The file as written: `[stack]`, and each declared section's tables.
pub(crate) struct RawFile {
    pub stack: RawStack,
    pub sections: Vec<(&'static dyn DynSection, section::RawEntry)>,
}

// ---------------------------------------------------------------------------------------------
// The stack, validated.

/// One declared section's resolved specs (one, or one per table of a list or map).
#[derive(Debug, Clone)]
struct Entry {
    section: &'static dyn DynSection,
    specs: Vec<Arc<dyn AnySpec>>,
}

impl std::fmt::Debug for dyn DynSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.title())
    }
}

#[derive(Debug, Clone)]
pub struct Stack {
    /// The stack file (the base, when an environment's overlay is merged over it).
    pub path: PathBuf,
    /// The environment's overlay merged over [`Stack::path`] (`--env NAME`: `stack.NAME.toml`).
    pub overlay: Option<PathBuf>,
    pub name: String,
    pub region: Option<String>,
    /// The declared sections, in the registry's order.
    entries: Vec<Entry>,
}

/// The largest stack file infra reads: a stack file is a few kilobytes (its policies are
/// bounded by IAM's 10,240 characters each), so anything over 1 MiB is not one.
pub const MAX_STACK_FILE_BYTES: u64 = 1024 * 1024;

/// The stack file's text, or what is wrong with it (with the 1-based line and column of a
/// byte that is not UTF-8): refused before reading when it is not a regular file (a device
/// such as `/dev/zero`, a FIFO, a directory) or larger than [`MAX_STACK_FILE_BYTES`].
pub fn read_file(path: &Path) -> Result<String, (Option<(usize, usize)>, String)> {
    use std::io::Read as _;
    let cannot = |e: std::io::Error| {
        (
            None,
            format!("cannot read the stack file: {}", file_error(path, &e)),
        )
    };
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, FIFO or socket)"
        };
        return Err((
            None,
            format!("the stack file is {what}; --stack names a TOML file"),
        ));
    }
    if meta.len() > MAX_STACK_FILE_BYTES {
        return Err((
            None,
            format!(
                "the stack file is {} bytes; a stack file is at most {MAX_STACK_FILE_BYTES} bytes (1 MiB)",
                meta.len()
            ),
        ));
    }
    // Read no more than the limit even if the file grows meanwhile.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_STACK_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_STACK_FILE_BYTES {
        return Err((
            None,
            format!(
                "the stack file grew past {MAX_STACK_FILE_BYTES} bytes (1 MiB) while being read"
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..offset];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
        let byte = e.as_bytes()[offset];
        (
            Some((line, column)),
            format!("the stack file is not UTF-8 text: byte 0x{byte:02X} at byte offset {offset} (TOML files are UTF-8)"),
        )
    })
}

/// An I/O error on `path` in words: a symlink loop or a dangling symlink said as such.
fn file_error(path: &Path, e: &std::io::Error) -> String {
    // ELOOP on Linux and macOS.
    if matches!(e.raw_os_error(), Some(40) | Some(62)) {
        return format!(
            "{} is a symlink loop (too many levels of symbolic links)",
            path.display()
        );
    }
    if e.kind() == std::io::ErrorKind::NotFound
        && let Ok(target) = std::fs::read_link(path)
    {
        return format!(
            "{} is a symlink to {}, which does not exist",
            path.display(),
            target.display()
        );
    }
    e.to_string()
}

impl Stack {
    /// A stack with no sections (tests build on it with [`Stack::push`]).
    pub fn new(path: &Path, name: &str, region: Option<&str>) -> Stack {
        Stack {
            path: path.to_owned(),
            overlay: None,
            name: name.to_owned(),
            region: region.map(str::to_owned),
            entries: Vec::new(),
        }
    }

    fn entry<S: Section>(&self) -> Option<&Entry> {
        self.entries.iter().find(|e| e.section.path() == S::PATH)
    }

    /// The declared spec of a one-table section (`[a.b]`), if declared.
    pub fn one<S: Section>(&self) -> Option<&S::Spec> {
        self.all::<S>().next()
    }

    /// Every declared spec of a section, in the file's order (by key for a map).
    pub fn all<S: Section>(&self) -> impl Iterator<Item = &S::Spec> + Clone {
        self.entry::<S>()
            .into_iter()
            .flat_map(|e| e.specs.iter())
            .filter_map(|spec| (**spec).as_any().downcast_ref())
    }

    /// Whether the section is declared.
    pub fn declares<S: Section>(&self) -> bool {
        self.entry::<S>().is_some_and(|e| !e.specs.is_empty())
    }

    /// Add a spec to a section (a kind adding what it needs to a section it depends on, or a
    /// test building a stack).
    pub fn push<S: Section>(&mut self, spec: S::Spec) {
        let spec = Arc::new(spec) as Arc<dyn AnySpec>;
        match self
            .entries
            .iter_mut()
            .find(|e| e.section.path() == S::PATH)
        {
            Some(entry) => entry.specs.push(spec),
            None => self.entries.push(Entry {
                section: &Sectioned::<S>::SECTION,
                specs: vec![spec],
            }),
        }
    }

    /// The tags everything this stack creates carries.
    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (TAG_STACK.to_owned(), self.name.clone()),
            (TAG_MANAGED_BY.to_owned(), "infra".to_owned()),
        ])
    }

    /// The values of the placeholders in policy documents and the image URI, once the
    /// caller's region, account and partition are known: the base ones and those the declared
    /// sections provide.
    pub fn vars(&self, region: &str, account_id: &str, partition: &str) -> Vars {
        let mut vars = Vars::new(region, account_id, partition, &self.name);
        let base = Base {
            region,
            account_id,
            partition,
        };
        for entry in &self.entries {
            for (name, _) in entry.section.placeholders() {
                if let Some(value) = entry
                    .specs
                    .first()
                    .and_then(|spec| entry.section.placeholder(spec.as_ref(), name, &base))
                {
                    vars.provide(name, value);
                }
            }
        }
        vars
    }

    /// Read, parse and validate a stack file against the registry's `sections`. `env` looks up
    /// environment variables (injected so tests need not touch the process environment).
    pub fn load(
        path: &Path,
        sections: &[&'static dyn DynSection],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Stack, StackErrors> {
        let text = read_file(path).map_err(|(position, message)| StackErrors {
            errors: vec![StackError {
                path: path.to_owned(),
                position,
                field: String::new(),
                message,
                snippet: None,
            }],
        })?;
        Self::parse(path, &text, sections, env)
    }

    /// Parse and validate the text of one stack file against the registry's `sections`.
    pub fn parse(
        path: &Path,
        text: &str,
        sections: &[&'static dyn DynSection],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Stack, StackErrors> {
        let source = Source::new(path, text);
        let document = Document::parse(source.file(0));
        Self::from_document(&source, document, sections, env, Vec::new())
    }

    /// Validate a document read from `source` (one file, or a base with an overlay merged over
    /// it), reporting `errors` (found before, such as names shared between environments) with
    /// its own, every one in the file it is in.
    fn from_document(
        source: &Source,
        document: Document,
        sections: &[&'static dyn DynSection],
        env: &dyn Fn(&str) -> Option<String>,
        errors: Vec<StackError>,
    ) -> Result<Stack, StackErrors> {
        let sections = Sections(sections);
        let accepts = |field: &str| match field.strip_prefix("stack") {
            Some(rest) if rest.is_empty() || rest.starts_with('.') => {
                stack_accepts(rest.trim_start_matches('.'))
            }
            _ => sections.accepts(field),
        };
        let loose = parse::parse(source, document, sections, &accepts);
        let mut v = Validator::new(source, sections, loose.declared);
        for error in errors.into_iter().chain(loose.errors) {
            v.push(error);
        }
        for (field, offset) in loose.reported {
            v.reported(field, offset);
        }
        match loose.raw {
            Some(raw) => {
                let stack = validate_file(&mut v, raw, env);
                v.finish().map(|()| stack)
            }
            None => Err(v.failed()),
        }
    }
}

/// Validate `[stack]`, then every section in the registry's order (a section sees the ones
/// before it), then the checks across sections from the last kind to the first.
fn validate_file(v: &mut Validator, raw: RawFile, env: &dyn Fn(&str) -> Option<String>) -> Stack {
    let name = v.name(&raw.stack.name, "stack.name", &STACK_NAME);
    let region = raw.stack.region.map(|r| {
        let valid = !r.get_ref().is_empty()
            && r.get_ref()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            v.error(
                r.span(),
                "stack.region",
                "not an AWS region name, such as \"us-west-2\"",
            );
        }
        r.into_inner()
    });
    let mut stack = Stack::new(v.path(), &name, region.as_deref());
    let sections = v.sections();
    let mut pending = raw.sections;
    for section in sections.iter() {
        let (mine, rest): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(s, _)| s.path() == section.path());
        pending = rest;
        v.record_spans(
            section.path(),
            mine.iter().map(|(_, e)| e.span.clone()).collect(),
        );
        let mut specs = Vec::new();
        for (_, entry) in mine {
            let key = entry.key.clone();
            let input = Input {
                key: &key,
                stack: &stack,
                env,
            };
            if let Some(spec) = section.validate(v, entry, &input) {
                specs.push(spec);
            }
        }
        if !specs.is_empty() {
            stack.entries.push(Entry { section, specs });
        }
    }
    v.size_with(&stack);
    for section in sections.iter().collect::<Vec<_>>().into_iter().rev() {
        section.check(v, &mut stack);
    }
    stack
}

#[cfg(test)]
mod tests;
