//! A section of `stack.toml`, as a resource kind declares it: where it is in the file, its raw
//! serde type, what each field accepts, its validation into a resolved spec, its checks across
//! sections and the placeholders it provides. The file's shape, what is declared and the
//! validation order are built from the registry's list of sections; nothing here names a kind.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

use super::Stack;
use super::validate::Validator;

/// How a section appears in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `[a.b]`: at most one.
    One,
    /// `[[a.b]]`: a list of tables.
    List,
    /// `[a.b.KEY]`: tables by key.
    Map,
}

/// Looks up an environment variable (injected, so tests need not touch the process's).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What a section's validation sees besides its own table.
pub struct Input<'a> {
    /// The table's key, for [`Shape::Map`] (`[a.KEY]`); empty otherwise.
    pub key: &'a str,
    /// The stack so far: its name and region, and the sections validated before this one (the
    /// kinds this kind depends on come first in the registry).
    pub stack: &'a Stack,
    pub env: Env<'a>,
}

/// The base values every placeholder rendering has: where and for which stack.
#[derive(Debug, Clone)]
pub struct Base<'a> {
    pub region: &'a str,
    pub account_id: &'a str,
    pub partition: &'a str,
}

/// A stack section, declared by the kind it configures (`impl Section for UserPool`).
pub trait Section: 'static {
    /// Dotted path in the file: `a.b`, or `a.b.c` inside the table of the section `a.b`.
    /// A section may sit inside another one's table: the outer one never sees its key.
    const PATH: &'static str;
    const SHAPE: Shape = Shape::One;
    /// For a [`Shape::Map`]: what the table of tables holds, e.g. `tables [a.KEY] (KEY
    /// names the entry)`.
    const MAP_OF: &'static str = "";
    /// Fields (relative to the section, or to its entry for a map) whose values may be secrets:
    /// never quoted in a message, their lines never shown. A trailing `.` covers a whole table.
    const SECRET_FIELDS: &'static [&'static str] = &[];
    /// Its fields holding a name AWS keeps unique in an account (or an account's region),
    /// which two environments ([`crate::stack::overlay`]) may therefore not share.
    const UNIQUE_NAMES: &'static [UniqueName] = &[];
    /// Placeholders (`${name}`) this section provides to policy documents and image URIs, with
    /// what each stands for.
    const PLACEHOLDERS: &'static [(&'static str, &'static str)] = &[];

    /// The section as written (unknown keys rejected).
    type Raw: DeserializeOwned + 'static;
    /// The section, validated and resolved.
    type Spec: Clone + fmt::Debug + Send + Sync + 'static;

    /// What the field at `field` (relative; `""`: the section or one of its entries) accepts.
    fn accepts(field: &str) -> Option<String>;

    /// Validate one table of the section; `None` when nothing can be resolved from it (it was
    /// reported).
    fn validate(v: &mut Validator, raw: Spanned<Self::Raw>, input: &Input) -> Option<Self::Spec>;

    /// Checks across sections, once every section is validated (and the placeholders' sizing
    /// values are known). They run from the last kind to the first, so a kind may add to what
    /// the kinds it depends on declare (a policy it needs on another kind's resource) before those
    /// check themselves.
    fn check(_v: &mut Validator, _stack: &mut Stack) {}

    /// The value of one of [`Section::PLACEHOLDERS`] for this spec.
    fn placeholder(_spec: &Self::Spec, _name: &str, _base: &Base) -> Option<String> {
        None
    }
}

/// A resolved spec, stored by the stack whatever its type.
pub trait AnySpec: Any + fmt::Debug + Send + Sync {
    fn as_any(&self) -> &dyn Any;
}

impl<T: Any + fmt::Debug + Send + Sync> AnySpec for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A field of a section that holds a name AWS keeps unique in an account (or region).
pub struct UniqueName {
    /// The field, in the section (`name`).
    pub field: &'static str,
    /// What it names, e.g. `IAM role name`.
    pub what: &'static str,
    /// Why two environments may not share it.
    pub why: &'static str,
    /// Whether AWS compares it regardless of case (IAM names).
    pub any_case: bool,
}

/// One table of a section, deserialized: its key (maps), its span and its raw value.
pub struct RawEntry {
    pub key: String,
    pub span: Range<usize>,
    pub raw: Box<dyn Any>,
}

/// The object-safe face of a [`Section`], for the registry's list.
pub trait DynSection: Sync {
    fn path(&self) -> &'static str;
    fn shape(&self) -> Shape;
    fn map_of(&self) -> &'static str;
    fn secret_fields(&self) -> &'static [&'static str];
    fn unique_names(&self) -> &'static [UniqueName];
    fn placeholders(&self) -> &'static [(&'static str, &'static str)];
    fn accepts(&self, field: &str) -> Option<String>;
    fn deserialize(&self, value: Spanned<DeValue<'_>>) -> Result<Vec<RawEntry>, toml::de::Error>;
    fn validate(
        &self,
        v: &mut Validator,
        entry: RawEntry,
        input: &Input,
    ) -> Option<Arc<dyn AnySpec>>;
    fn check(&self, v: &mut Validator, stack: &mut Stack);
    fn placeholder(&self, spec: &dyn AnySpec, name: &str, base: &Base) -> Option<String>;
    /// `[a.b]`, `[[a.b]]` or `[a.b.KEY]`, as messages name the section.
    fn title(&self) -> String {
        match self.shape() {
            Shape::One => format!("[{}]", self.path()),
            Shape::List => format!("[[{}]]", self.path()),
            Shape::Map => format!("[{}.KEY]", self.path()),
        }
    }
}

/// A section as the registry lists it.
pub struct Sectioned<S>(PhantomData<fn() -> S>);

impl<S: Section> Sectioned<S> {
    pub const SECTION: Sectioned<S> = Sectioned(PhantomData);
}

fn raw<'i, T: DeserializeOwned>(value: Spanned<DeValue<'i>>) -> Result<T, toml::de::Error> {
    T::deserialize(ValueDeserializer::from(value))
}

impl<S: Section> DynSection for Sectioned<S> {
    fn path(&self) -> &'static str {
        S::PATH
    }
    fn shape(&self) -> Shape {
        S::SHAPE
    }
    fn map_of(&self) -> &'static str {
        S::MAP_OF
    }
    fn secret_fields(&self) -> &'static [&'static str] {
        S::SECRET_FIELDS
    }
    fn unique_names(&self) -> &'static [UniqueName] {
        S::UNIQUE_NAMES
    }
    fn placeholders(&self) -> &'static [(&'static str, &'static str)] {
        S::PLACEHOLDERS
    }
    fn accepts(&self, field: &str) -> Option<String> {
        S::accepts(field)
    }

    fn deserialize(&self, value: Spanned<DeValue<'_>>) -> Result<Vec<RawEntry>, toml::de::Error> {
        let entry = |key: String, raw: Spanned<S::Raw>| RawEntry {
            key,
            span: raw.span(),
            raw: Box::new(raw),
        };
        Ok(match S::SHAPE {
            Shape::One => vec![entry(String::new(), raw(value)?)],
            Shape::List => raw::<Vec<Spanned<S::Raw>>>(value)?
                .into_iter()
                .map(|r| entry(String::new(), r))
                .collect(),
            Shape::Map => raw::<std::collections::BTreeMap<String, Spanned<S::Raw>>>(value)?
                .into_iter()
                .map(|(k, r)| entry(k, r))
                .collect(),
        })
    }

    fn validate(
        &self,
        v: &mut Validator,
        entry: RawEntry,
        input: &Input,
    ) -> Option<Arc<dyn AnySpec>> {
        let raw = entry.raw.downcast::<Spanned<S::Raw>>().ok()?;
        S::validate(v, *raw, input).map(|spec| Arc::new(spec) as Arc<dyn AnySpec>)
    }

    fn check(&self, v: &mut Validator, stack: &mut Stack) {
        S::check(v, stack);
    }

    fn placeholder(&self, spec: &dyn AnySpec, name: &str, base: &Base) -> Option<String> {
        S::placeholder(spec.as_any().downcast_ref()?, name, base)
    }
}

/// The registry's sections, in dependency order, and what the file's shape follows from them.
#[derive(Clone, Copy)]
pub struct Sections<'a>(pub &'a [&'static dyn DynSection]);

impl<'a> Sections<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &'static dyn DynSection> + 'a {
        self.0.iter().copied()
    }

    /// The section at `path` exactly.
    pub fn at(&self, path: &str) -> Option<&'static dyn DynSection> {
        self.iter().find(|s| s.path() == path)
    }

    /// The sections directly under the group `path`: not inside another section.
    pub fn children(&self, path: &str) -> Vec<&'static dyn DynSection> {
        self.iter()
            .filter(|s| {
                s.path()
                    .strip_prefix(path)
                    .is_some_and(|rest| rest.starts_with('.') || path.is_empty())
            })
            .filter(|s| !self.iter().any(|outer| is_inside(s.path(), outer.path())))
            .collect()
    }

    /// The keys a table at `path` may hold besides its section's own fields: the sections and
    /// groups under it, one step down.
    pub fn keys_under(&self, path: &str) -> Vec<&'static str> {
        let mut keys: Vec<&'static str> = Vec::new();
        for s in self.iter() {
            let rest = if path.is_empty() {
                Some(s.path())
            } else {
                s.path()
                    .strip_prefix(path)
                    .and_then(|r| r.strip_prefix('.'))
            };
            if let Some(rest) = rest {
                let key = rest.split('.').next().unwrap_or(rest);
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        keys
    }

    /// The section `path` belongs to (the innermost one) and the rest of the path in it.
    pub fn owner<'p>(&self, path: &'p str) -> Option<(&'static dyn DynSection, &'p str)> {
        self.iter()
            .filter_map(|s| {
                let rest = path.strip_prefix(s.path())?;
                match rest.strip_prefix('.') {
                    Some(rest) => Some((s, rest)),
                    None if rest.is_empty() => Some((s, rest)),
                    None => None,
                }
            })
            .max_by_key(|(s, _)| s.path().len())
    }

    /// What the field at a dotted path accepts, for the first pass's messages.
    pub fn accepts(&self, path: &str) -> Option<String> {
        let Some((section, rest)) = self.owner(path) else {
            // A group: the sections under it.
            let children = self.children(path);
            if children.is_empty() {
                return None;
            }
            let titles: Vec<String> = children.iter().map(|s| s.title()).collect();
            return Some(format!("a table: {}", titles.join(", ")));
        };
        if section.shape() != Shape::Map {
            return section.accepts(rest);
        }
        if rest.is_empty() {
            return Some(section.map_of().to_owned());
        }
        // `KEY`, or `KEY.field` (a quoted KEY may hold dots).
        rest.match_indices('.')
            .find_map(|(i, _)| section.accepts(&rest[i + 1..]))
            .or_else(|| section.accepts(""))
    }

    /// Whether a field's value may be a secret, so a message must not quote it.
    pub fn secret_field(&self, path: &str) -> bool {
        let Some((section, rest)) = self.owner(path) else {
            return false;
        };
        let mut candidates = vec![rest];
        if section.shape() == Shape::Map {
            candidates = rest
                .match_indices('.')
                .map(|(i, _)| &rest[i + 1..])
                .collect();
        }
        candidates.iter().any(|field| {
            section
                .secret_fields()
                .iter()
                .any(|secret| match secret.strip_suffix('.') {
                    Some(table) => field
                        .strip_prefix(table)
                        .is_some_and(|r| r.starts_with('.')),
                    None => {
                        *field == *secret
                            || field
                                .strip_prefix(secret)
                                .is_some_and(|r| r.starts_with('.'))
                    }
                })
        })
    }

    /// The names of the tables whose lines may hold secrets (`users`, `secrets`, `environment`).
    pub fn secret_tables(&self) -> Vec<&'static str> {
        let mut tables = Vec::new();
        for s in self.iter() {
            for field in s.secret_fields() {
                let table = match field.strip_suffix('.') {
                    Some(table) => table,
                    None => s.path().rsplit('.').next().unwrap_or(s.path()),
                };
                if !tables.contains(&table) {
                    tables.push(table);
                }
            }
        }
        tables
    }

    /// The section that provides the placeholder `name`.
    pub fn provider(&self, name: &str) -> Option<&'static dyn DynSection> {
        self.iter()
            .find(|s| s.placeholders().iter().any(|(n, _)| *n == name))
    }
}

/// Whether `inner` lies inside the section at `outer`.
fn is_inside(inner: &str, outer: &str) -> bool {
    inner
        .strip_prefix(outer)
        .is_some_and(|rest| rest.starts_with('.'))
}
