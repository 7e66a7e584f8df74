//! The engine: everything plan, read and apply share, naming no resource kind.
//!
//! ```text
//! kind.rs     the Kind trait a resource kind implements (read, plan, apply, outputs)
//! read.rs     Live (every kind's state) and ReadContext (a kind's reader awaits others)
//! planner.rs  Plan, ResourcePlan, Planner, Planned, PlanContext
//! change.rs   Action, Shown, FieldChange, Changes
//! lookup.rs   Lookup, claim, owned_by, tag_changes: identity without a state file
//! apply.rs    ApplyContext, Progress
//! backoff.rs  Backoff: the delays of every poll and retry
//! ```
//! Resource kinds (`crate::resources`) sit above it; the registry lists them. Below it: the
//! stack (`crate::stack`), the AWS clients (`crate::aws`) and the one error type
//! (`crate::error`), none of which imports it.

pub mod apply;
pub mod backoff;
pub mod change;
pub mod doomed;
pub mod kind;
pub mod lookup;
pub mod planner;
pub mod read;

pub use crate::error::{Error, error_chain, not_found_as_none};
pub use apply::{ApplyContext, Progress, together};
pub use backoff::Backoff;
pub use change::{Action, Changes, FieldChange, Shown};
pub use doomed::{NOT_OWNED, doomed, protected_message};
pub use kind::{Destroying, DynKind, Kind, Output, Registered};
pub use lookup::{Claim, Lookup, Noun, Owned, claim, foreign_message, owned_by, tag_changes};
pub use planner::{
    Blocker, Plan, PlanContext, Planned, Planner, ResourcePlan, Summary, UNDECLARED,
    UNDECLARED_DELETED, address,
};
pub use read::{Live, Prepared, ReadContext, WriteOnly};
