//! Saved plans: `infra plan --out FILE` writes the reviewed plan with a fingerprint of what it
//! read from live AWS; `infra apply FILE` applies it only while that fingerprint still holds.
//!
//! The file is JSON (`SavedPlan`): the `infra` version and the SHA-256 of the stack file's
//! content (another version or another content is refused), the plan as `plan --json` prints
//! it and as text (for `infra show`), whether write-only values were checked, and the
//! fingerprint: per resource address, each value the plan depends on, as compact JSON (a
//! `sha256:` digest for a value over [`INLINE_LIMIT`] characters). What goes in:
//!
//! - what the plan itself says of each resource: its id, its action (counting only changes of
//!   values that are shown: write-only values are checked again when the plan is applied) and
//!   each shown change, before and after;
//! - what each kind adds ([`crate::engine::Kind::fingerprint`]): values the plan depends on but
//!   does not show (a runtime's version, a tag's digest, policy documents in canonical form).
//!
//! No secret value goes in, hashed or not: a write-only value is only ever `(sensitive)` in a
//! plan, and kinds add no secret. `apply FILE` reads live AWS again, plans, and compares
//! fingerprints: equal, it applies that plan (the same plan: same stack file, same live
//! values); different, it stops before any write ("the plan is stale"), naming each resource
//! and field that changed since.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::engine::{Action, Live, Plan, PlanContext, Shown, WriteOnly};
use crate::registry::KINDS;
use crate::stack::Stack;

/// What a saved plan file says it is (the first field).
pub const FORMAT: &str = "infra saved plan";
/// Its format's version: a file of another version is refused.
pub const FORMAT_VERSION: u32 = 1;
/// Values longer than this (in compact JSON) are recorded as their SHA-256.
pub const INLINE_LIMIT: usize = 200;

/// Each resource's recorded values, by address then field.
pub type Fingerprint = BTreeMap<String, BTreeMap<String, String>>;

/// A saved plan file.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: String,
    pub format_version: u32,
    /// The `infra` version that made it; only the same version applies it.
    pub infra_version: String,
    pub stack: String,
    pub account_id: String,
    pub region: String,
    /// `sha256:` of the stack file's bytes.
    pub stack_file_sha256: String,
    /// `checked`, or `not checked` (`--skip-password-check`).
    pub write_only_values: String,
    /// The plan as `plan` printed it, without colour.
    pub text: String,
    /// The plan as `plan --json` prints it.
    pub plan: Value,
    pub fingerprint: Fingerprint,
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The SHA-256 of the stack file `stack` was loaded from (followed, with `--env`, by its
/// environment's overlay).
pub fn stack_file_digest(stack: &Stack) -> Result<String, String> {
    let mut bytes = Vec::new();
    for path in std::iter::once(&stack.path).chain(stack.overlay.as_ref()) {
        let content =
            std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        bytes.extend(sha256(&content).into_bytes());
    }
    Ok(sha256(&bytes))
}

/// A value as recorded: compact JSON, or its digest when long.
fn recorded(value: &Value) -> String {
    let text = serde_json::to_string(&crate::policy::keys_sorted(value)).unwrap_or_default();
    if text.chars().count() > INLINE_LIMIT {
        sha256(text.as_bytes())
    } else {
        text
    }
}

fn shown(value: &Shown) -> Option<Value> {
    match value {
        Shown::Sensitive => None,
        other => serde_json::to_value(other).ok(),
    }
}

/// The fingerprint of `plan`, made from `live` for `stack`.
pub fn fingerprint(stack: &Stack, live: &Live, plan: &Plan) -> Fingerprint {
    let mut out = Fingerprint::new();
    for r in &plan.resources {
        let entry = out.entry(r.address.clone()).or_default();
        let mut shown_changes = 0;
        for change in &r.changes {
            let (Some(before), Some(after)) = (shown(&change.before), shown(&change.after)) else {
                continue;
            };
            shown_changes += 1;
            entry.insert(
                format!("{} (planned change)", change.field),
                recorded(&serde_json::json!([before, after])),
            );
        }
        let action = match r.action {
            Action::Update if shown_changes == 0 => Action::NoOp,
            action => action,
        };
        entry.insert(
            "action".into(),
            recorded(&serde_json::to_value(action).unwrap_or_default()),
        );
        entry.insert(
            "id".into(),
            recorded(
                &r.id
                    .as_ref()
                    .map_or(Value::Null, |id| Value::from(id.as_str())),
            ),
        );
    }
    let vars = live.vars(stack);
    let cx = PlanContext {
        stack,
        live,
        vars: &vars,
    };
    for kind in KINDS {
        for (address, field, value) in kind.fingerprint(&cx) {
            out.entry(address)
                .or_default()
                .insert(field.to_owned(), recorded(&value));
        }
    }
    out
}

/// What differs between the fingerprint a plan was saved with and the one read now: one line
/// per resource and field (`iam_role_policy.X: document: was ..., now ...`).
pub fn changed_since(saved: &Fingerprint, now: &Fingerprint) -> Vec<String> {
    let mut lines = Vec::new();
    let absent = BTreeMap::new();
    let addresses: std::collections::BTreeSet<&String> = saved.keys().chain(now.keys()).collect();
    for address in addresses {
        let before = saved.get(address).unwrap_or(&absent);
        let after = now.get(address).unwrap_or(&absent);
        if !saved.contains_key(address) {
            lines.push(format!(
                "{address}: not in the saved plan, in a plan made now"
            ));
            continue;
        }
        if !now.contains_key(address) {
            lines.push(format!(
                "{address}: in the saved plan, not in a plan made now"
            ));
            continue;
        }
        let fields: std::collections::BTreeSet<&String> =
            before.keys().chain(after.keys()).collect();
        for field in fields {
            let (was, is) = (before.get(field), after.get(field));
            if was != is {
                lines.push(format!(
                    "{address}: {field}: was {}, now {}",
                    described(was),
                    described(is)
                ));
            }
        }
    }
    lines
}

fn described(value: Option<&String>) -> String {
    match value {
        None => "absent".into(),
        Some(v) if v.starts_with("sha256:") => format!("a value with digest {}", &v[..19]),
        Some(v) => v.clone(),
    }
}

impl SavedPlan {
    pub fn new(stack: &Stack, live: &Live, plan: &Plan, text: String) -> Result<SavedPlan, String> {
        Ok(SavedPlan {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            infra_version: env!("CARGO_PKG_VERSION").into(),
            stack: stack.name.clone(),
            account_id: live.account_id.clone(),
            region: live.region.clone(),
            stack_file_sha256: stack_file_digest(stack)?,
            write_only_values: match live.write_only {
                WriteOnly::Verify => "checked".into(),
                WriteOnly::Skip => "not checked".into(),
            },
            text,
            plan: serde_json::to_value(plan).map_err(|e| e.to_string())?,
            fingerprint: fingerprint(stack, live, plan),
        })
    }

    /// Write it to `path` whole: a temporary file beside it, renamed over it.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => std::path::PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map_or_else(|| "plan".into(), |n| n.to_string_lossy().into_owned());
        let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        std::fs::write(&temporary, json + "\n")
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&temporary);
                format!("writing {}: {e}", path.display())
            })
    }

    /// Read a saved plan, refusing a file that is not one or is of another format version.
    pub fn read(path: &Path) -> Result<SavedPlan, String> {
        let shown = path.display();
        let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
        if !meta.is_file() || meta.len() > 64 * 1024 * 1024 {
            return Err(format!(
                "{shown} is not a saved plan (not a regular file of at most 64 MiB)"
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
        let value: Value = serde_json::from_str(&text).map_err(|_| {
            format!("{shown} is not a saved plan (not JSON); `infra plan --out FILE` writes one")
        })?;
        if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(format!(
                "{shown} is not a saved plan; `infra plan --out FILE` writes one"
            ));
        }
        let version = value.get("format_version").and_then(Value::as_u64);
        if version != Some(u64::from(FORMAT_VERSION)) {
            return Err(format!(
                "{shown} is a saved plan of format version {}, this infra reads version {FORMAT_VERSION}; plan again",
                version.map_or("unknown".into(), |v| v.to_string())
            ));
        }
        serde_json::from_value(value).map_err(|e| format!("{shown}: not a valid saved plan: {e}"))
    }

    /// Why this plan may not be applied to `stack` by this infra, before anything is read.
    pub fn refusal(&self, stack: &Stack) -> Option<String> {
        let ours = env!("CARGO_PKG_VERSION");
        if self.infra_version != ours {
            return Some(format!(
                "the plan was made by infra {}, this is infra {ours}; plan again with this version",
                self.infra_version
            ));
        }
        if self.stack != stack.name {
            return Some(format!(
                "the plan is for the stack {:?}, {} declares {:?}",
                self.stack,
                stack.path.display(),
                stack.name
            ));
        }
        match stack_file_digest(stack) {
            Ok(digest) if digest == self.stack_file_sha256 => None,
            Ok(digest) => Some(format!(
                "the plan was made from another content of {}{} (its {} now, {} then); plan again",
                stack.path.display(),
                stack
                    .overlay
                    .as_ref()
                    .map(|o| format!(" and {}", o.display()))
                    .unwrap_or_default(),
                &digest[..19],
                &self.stack_file_sha256[..19.min(self.stack_file_sha256.len())]
            )),
            Err(e) => Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(entries: &[(&str, &str, &str)]) -> Fingerprint {
        let mut f = Fingerprint::new();
        for (address, field, value) in entries {
            f.entry((*address).into())
                .or_default()
                .insert((*field).into(), (*value).into());
        }
        f
    }

    #[test]
    fn each_changed_field_and_resource_is_named() {
        let saved = print(&[
            ("iam_role.r", "id", "\"r\""),
            (
                "iam_role_policy.p",
                "document",
                "sha256:0123456789abcdef0123",
            ),
            ("image.server", "digest", "\"sha256:aa\""),
        ]);
        let now = print(&[
            ("iam_role.r", "id", "\"r\""),
            (
                "iam_role_policy.p",
                "document",
                "sha256:fedcba9876543210fedc",
            ),
            ("agentcore_runtime.x", "version", "\"2\""),
        ]);
        assert_eq!(
            changed_since(&saved, &now),
            [
                "agentcore_runtime.x: not in the saved plan, in a plan made now",
                "iam_role_policy.p: document: was a value with digest sha256:0123456789ab, \
                 now a value with digest sha256:fedcba987654",
                "image.server: in the saved plan, not in a plan made now",
            ]
        );
        assert!(changed_since(&saved, &saved).is_empty());
    }

    #[test]
    fn long_values_are_recorded_by_digest_and_keys_in_order() {
        let short = serde_json::json!({"b": 1, "a": 2});
        assert_eq!(recorded(&short), r#"{"a":2,"b":1}"#);
        let long = Value::from("x".repeat(INLINE_LIMIT + 1));
        assert!(recorded(&long).starts_with("sha256:"));
    }
}
