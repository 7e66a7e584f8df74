//! `[runtime] log_retention_days`: how long CloudWatch Logs keeps the runtime's logs. The key
//! sits in the runtime's table, where users look for it; it is this kind's section, so the
//! runtime's own section never sees it.

use toml::Spanned;

use super::LogGroup;
use crate::stack::validate::Validator;
use crate::stack::{Input, Section};

/// The values `PutRetentionPolicy` accepts for `retentionInDays`
/// (<https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html>).
pub const RETENTION_DAYS: [i64; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// How long the runtime's log group keeps events, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogGroupSpec {
    pub retention_days: i32,
}

fn allowed() -> String {
    let days: Vec<String> = RETENTION_DAYS.iter().map(ToString::to_string).collect();
    format!(
        "a number of days CloudWatch Logs allows: {} (leave it out: AgentCore's default, never expire)",
        days.join(", ")
    )
}

impl Section for LogGroup {
    const PATH: &'static str = "runtime.log_retention_days";
    type Raw = i64;
    type Spec = LogGroupSpec;

    fn accepts(field: &str) -> Option<String> {
        field.is_empty().then(allowed)
    }

    fn validate(v: &mut Validator, raw: Spanned<i64>, _: &Input) -> Option<LogGroupSpec> {
        let days = *raw.get_ref();
        if !RETENTION_DAYS.contains(&days) {
            v.error(
                raw.span(),
                "runtime.log_retention_days",
                format!("{days} is not allowed; allowed: {}", allowed()),
            );
            return None;
        }
        Some(LogGroupSpec {
            retention_days: days as i32,
        })
    }
}
