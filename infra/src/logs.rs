//! `infra logs [--since AGE] [--follow] [--json]`: the runtime's log, read from CloudWatch Logs
//! (the log group AgentCore writes the runtime's output to, every stream merged by time: the
//! log group kind's reading code, [`events`]). The server's JSON lines are shown as readable
//! lines (time, level, tool, duration, outcome, message, the other fields), or with `--json`
//! passed through as the server wrote them; any other line is printed as it is. Read-only:
//! `GetAgentRuntime` (through the runtime's read) and `FilterLogEvents`.

use std::io::{self, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::cli::{Cli, EXIT_OK, LogsArgs, connect};
use crate::engine::{Error, Prepared, ReadContext, WriteOnly};
use crate::registry::KINDS;
use crate::resources::log_group::{events, group_name};
use crate::resources::runtime::Runtime;
use crate::stack::Stack;

/// How often `--follow` asks CloudWatch for new events.
const POLL: Duration = Duration::from_secs(2);

/// `--since`: a whole number of seconds, minutes, hours or days (`30s`, `10m`, `2h`, `1d`).
pub fn since(text: &str) -> Result<Duration, String> {
    let allowed = "allowed: a whole number followed by s, m, h or d, e.g. 30s, 10m, 2h, 1d \
                   (at most 3650d)";
    let unit = text.chars().last().unwrap_or(' ');
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return Err(format!("{text:?} has no unit; {allowed}")),
    };
    let number = &text[..text.len() - 1];
    let count: u64 = match number.parse() {
        Ok(count) if number.chars().all(|c| c.is_ascii_digit()) => count,
        _ => return Err(format!("{number:?} is not a whole number; {allowed}")),
    };
    match count.checked_mul(seconds) {
        Some(total) if total > 0 && total <= 3_650 * 86_400 => Ok(Duration::from_secs(total)),
        _ => Err(format!("{text} is out of range; {allowed}")),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// The stack's runtime id, read from live AWS; an error when the stack declares none or it
/// does not exist.
pub async fn runtime_id(aws: &crate::aws::Aws, stack: &Stack) -> Result<String, Error> {
    let Some(spec) = stack.one::<Runtime>() else {
        return Err(Error::new(
            "logs",
            "stack",
            format!(
                "{} declares no [runtime]: there is no runtime log to read",
                stack.path.display()
            ),
        ));
    };
    let prepared = Prepared::default();
    let cx = ReadContext::new(aws, stack, WriteOnly::Skip, &prepared, KINDS);
    match cx.id_of::<Runtime>().await? {
        Some(id) => Ok(id),
        None => Err(Error::new(
            "logs",
            "read",
            format!(
                "the runtime {:?} does not exist: the stack was never deployed (run `infra \
                 apply` first), so there is no log",
                spec.name
            ),
        )),
    }
}

pub async fn command(cli: &Cli, stack: &Stack, args: &LogsArgs) -> Result<u8, Error> {
    let aws = connect(cli, stack).await?;
    let id = runtime_id(&aws, stack).await?;
    let group = group_name(&id);
    let since_ms = now_ms().saturating_sub(i64::try_from(args.since.as_millis()).unwrap_or(0));
    let mut follow = events::Follow::new(since_ms);
    let mut printed_any = false;
    let mut noted = false;
    loop {
        let found = events::read(&aws, &group, follow.start()).await?;
        let no_group = found.is_none();
        let fresh = follow.fresh(found.unwrap_or_default());
        if print(&fresh, args.json).is_err() {
            // A closed pipe (`infra logs | head`): nothing more to say.
            return Ok(EXIT_OK);
        }
        printed_any |= !fresh.is_empty();
        if !printed_any && !noted {
            noted = true;
            let age = humanize(args.since);
            if no_group {
                eprintln!(
                    "note: the runtime {id} has not logged yet: there is no log group {group} \
                     (AgentCore makes it when the runtime first runs){}",
                    if args.follow { "; waiting for it" } else { "" }
                );
            } else {
                eprintln!(
                    "note: no events in {group} in the last {age}{}",
                    if args.follow {
                        "; waiting for new ones"
                    } else {
                        " (--since sets how far back to look)"
                    }
                );
            }
        }
        if !args.follow {
            return Ok(EXIT_OK);
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = tokio::signal::ctrl_c() => return Ok(EXIT_OK),
        }
    }
}

/// `--since` as the user would say it.
fn humanize(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3_600) => format!("{}h", s / 3_600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

fn print(events: &[events::LogEvent], json: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    for event in events {
        if json {
            writeln!(out, "{}", event.message.trim_end_matches(['\r', '\n']))?;
        } else {
            writeln!(out, "{}", readable(event))?;
        }
    }
    out.flush()
}

/// The fields shown in their own place, not as `key=value`.
const PLACED: &[&str] = &[
    "timestamp",
    "level",
    "message",
    "tool",
    "duration_ms",
    "outcome",
    "target",
];

/// One event as a readable line: a JSON line of the server as time, level, tool, duration,
/// outcome, message and its other fields (`key=value`); any other line as it is, after the
/// event's time.
pub fn readable(event: &events::LogEvent) -> String {
    let time = aws_smithy_types::DateTime::from_millis(event.timestamp)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| event.timestamp.to_string());
    let line = event.message.trim_end_matches(['\r', '\n']);
    let fields = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(fields)) => fields,
        _ => return format!("{time}  {line}"),
    };
    let mut parts = vec![time];
    let text = |name: &str| fields.get(name).map(shown);
    parts.push(format!("{:<5}", text("level").unwrap_or_default()));
    parts.extend(text("tool"));
    if let Some(ms) = fields.get("duration_ms").and_then(Value::as_f64) {
        parts.push(format!("{ms:.0}ms"));
    }
    parts.extend(text("outcome"));
    parts.extend(text("message"));
    parts.extend(others(&fields));
    parts.join("  ")
}

/// A field's value: a string as it is, anything else as JSON.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The fields without a place of their own, `key=value`, in the line's order.
fn others(fields: &Map<String, Value>) -> Vec<String> {
    fields
        .iter()
        .filter(|(k, _)| !PLACED.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={}", shown(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(message: &str) -> events::LogEvent {
        events::LogEvent {
            timestamp: 1_796_700_000_123,
            ingestion_time: 0,
            stream: "s".into(),
            message: message.into(),
            id: "1".into(),
        }
    }

    #[test]
    fn since_takes_a_whole_number_and_a_unit() {
        assert_eq!(since("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(since("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(since("2h"), Ok(Duration::from_secs(7_200)));
        assert_eq!(since("1d"), Ok(Duration::from_secs(86_400)));
        for bad in [
            "",
            "10",
            "m",
            "1.5h",
            "-1m",
            "+1m",
            "0s",
            "10w",
            "3651d",
            "99999999999999999d",
        ] {
            let error = since(bad).unwrap_err();
            assert!(error.contains("30s, 10m, 2h, 1d"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_server_line_reads_as_time_level_tool_duration_outcome_message() {
        let line = r#"{"timestamp":"2026-12-08T04:20:00.123456Z","level":"INFO","message":"tool call","tool":"web_search","duration_ms":1234.5,"outcome":"ok","target":"server::tools","query_chars":12}"#;
        assert_eq!(
            readable(&event(line)),
            "2026-12-08T03:20:00.123Z  INFO   web_search  1234ms  ok  tool call  query_chars=12"
        );
        let startup = r#"{"level":"ERROR","message":"secret read at startup","secret":"arn:x","outcome":"AccessDeniedException","error":"denied"}"#;
        assert_eq!(
            readable(&event(startup)),
            "2026-12-08T03:20:00.123Z  ERROR  AccessDeniedException  secret read at startup  \
             secret=arn:x  error=denied"
        );
    }

    #[test]
    fn other_lines_are_printed_as_they_are() {
        assert_eq!(
            readable(&event("plain text {not json\n")),
            "2026-12-08T03:20:00.123Z  plain text {not json"
        );
        assert_eq!(readable(&event("[1,2]")), "2026-12-08T03:20:00.123Z  [1,2]");
    }
}
