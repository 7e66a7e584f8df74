//! `plan(&Stack, &Live) -> Plan`: pure, no IO. Every registered kind, in dependency order,
//! decides what apply must do to its resources, and why.

use crate::engine::{Action, Live, Plan, PlanContext, Planner, Summary};
use crate::registry::KINDS;
use crate::stack::Stack;

pub use crate::engine::{Blocker, FieldChange, ResourcePlan, Shown};

pub fn plan(stack: &Stack, live: &Live) -> Plan {
    let vars = live.vars(stack);
    let cx = PlanContext {
        stack,
        live,
        vars: &vars,
    };
    let mut planner = Planner::default();
    for kind in KINDS {
        // The blocker on what it needs says it all.
        if planner.any_blocked(kind.depends_on()) {
            continue;
        }
        planner.start(kind.type_name(), kind.depends_on());
        kind.plan(&cx, &mut planner);
    }
    // What is tagged for the stack but no longer declared: listed and kept.
    for (kind, planned) in &live.undeclared {
        planner.start(kind.type_name(), kind.depends_on());
        planner.add_undeclared(planned.clone());
    }

    let mut summary = Summary::default();
    for r in &planner.resources {
        match r.action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::Delete => summary.delete += 1,
            Action::NoOp => {}
        }
    }
    Plan {
        format_version: 1,
        stack: stack.name.clone(),
        region: live.region.clone(),
        account_id: live.account_id.clone(),
        resources: planner.resources,
        blockers: planner.blockers,
        summary,
    }
}
