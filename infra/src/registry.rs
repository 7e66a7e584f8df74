//! The one list of resource kinds, in dependency order: a kind comes after every kind it
//! depends on (`Kind::DEPENDS_ON`; a unit test checks it). Plan, read, apply and output walk
//! this list; nothing else names every kind.

use std::sync::LazyLock;

use crate::engine::{DynKind, Registered};
use crate::resources::{
    cognito_client::Client, cognito_pool::UserPool, cognito_user::User, ecr_repository::Repository,
    iam_role::Role, iam_role_policy::RolePolicy, image::Image, log_group::LogGroup,
    runtime::Runtime, secret::Secret,
};
use crate::stack::{DynSection, Stack, StackErrors};

pub static KINDS: &[&dyn DynKind] = &[
    &Registered::<UserPool>::KIND,
    &Registered::<Client>::KIND,
    &Registered::<User>::KIND,
    &Registered::<Role>::KIND,
    &Registered::<RolePolicy>::KIND,
    &Registered::<Repository>::KIND,
    &Registered::<Image>::KIND,
    &Registered::<Secret>::KIND,
    &Registered::<Runtime>::KIND,
    &Registered::<LogGroup>::KIND,
];

/// Every kind's `stack.toml` section, in the same order: what `Stack::load` reads a file with.
pub fn sections() -> &'static [&'static dyn DynSection] {
    static SECTIONS: LazyLock<Vec<&'static dyn DynSection>> =
        LazyLock::new(|| KINDS.iter().map(|k| k.section()).collect());
    &SECTIONS
}

/// Read, parse and validate a stack file with every registered kind's section.
pub fn load_stack(
    path: &std::path::Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Stack, StackErrors> {
    Stack::load(path, sections(), env)
}

/// Read, parse and validate a stack file with every registered kind's section, with the
/// overlay of `environment` (`--env`) merged over it; a name another environment beside it
/// shares (the sections' [`crate::stack::UniqueName`]s) is refused.
pub fn load_environment(
    path: &std::path::Path,
    environment: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Stack, StackErrors> {
    Stack::load_environment(path, environment, sections(), env)
}

/// Parse and validate a stack file's text with every registered kind's section.
pub fn parse_stack(
    path: &std::path::Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Stack, StackErrors> {
    Stack::parse(path, text, sections(), env)
}

#[cfg(test)]
mod tests {
    use super::KINDS;

    #[test]
    fn every_kind_comes_after_what_it_depends_on_and_is_listed_once() {
        for (i, kind) in KINDS.iter().enumerate() {
            for dependency in kind.depends_on() {
                let at = KINDS.iter().position(|k| k.type_name() == *dependency);
                assert!(
                    at.is_some_and(|at| at < i),
                    "{} depends on {dependency}, which is not listed before it",
                    kind.type_name()
                );
            }
            assert_eq!(
                KINDS
                    .iter()
                    .filter(|k| k.type_name() == kind.type_name())
                    .count(),
                1,
                "{} is listed twice",
                kind.type_name()
            );
        }
    }
}
