//! What `infra destroy` plans for one resource found by name: delete it when the stack owns it,
//! keep it (saying why) when it does not, refuse when its section protects it.

use super::lookup::{Lookup, Owned};
use super::planner::{Planned, Planner};

/// Why a resource found without the stack's tag is left alone.
pub const NOT_OWNED: &str = "kept: not owned by this stack (it does not carry the stack's tag)";

/// The line of a destroy refused by `protect = true` in `section`.
pub fn protected_message(section: &str) -> String {
    format!(
        "protect = true in {section}: destroy deletes nothing while it is set. Remove it (or set \
         it to false) to destroy this stack"
    )
}

/// The live resource `infra destroy` deletes, when `lookup` found one the stack owns: `None`
/// when there is nothing to delete, when it is kept (added to the plan with why) or when
/// `protect` refuses the destroy (a blocker, so nothing at all is deleted).
pub fn doomed<'a, T: Owned>(
    planner: &mut Planner,
    name: &str,
    lookup: &'a Lookup<T>,
    protect: Option<&str>,
) -> Option<&'a T> {
    match lookup {
        Lookup::Missing => None,
        Lookup::Found(found) if !found.owned() => {
            planner.add(Planned::kept(
                name,
                Some(found.identifier().to_owned()),
                NOT_OWNED,
            ));
            None
        }
        Lookup::Found(found) => {
            if let Some(section) = protect {
                planner.protect(name, "protect", protected_message(section));
                return None;
            }
            Some(found)
        }
        Lookup::Many { ids, owned } => {
            let why = if *owned {
                "kept: several resources with this name are tagged for this stack; infra never \
                 guesses which to delete (delete the others, then run destroy again)"
            } else {
                NOT_OWNED
            };
            planner.add(Planned::kept(name, Some(ids.join(", ")), why));
            None
        }
    }
}
