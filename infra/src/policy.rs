//! IAM policy documents: placeholders, canonical form and semantic comparison.
//!
//! IAM hands documents back URL-encoded, may reorder keys, and treats `"Action": "x"` and
//! `"Action": ["x"]` as the same thing. Two documents are equal when their canonical forms are:
//! decoded, parsed, object keys sorted, one-element lists collapsed to their element, and lists
//! of plain strings sorted (IAM treats them as sets).

use std::collections::BTreeMap;

use serde_json::Value;

/// The placeholders every stack provides, with what each stands for. Sections add their own
/// (`Section::PLACEHOLDERS`: the repository's ARN and URI, the runtime's name).
pub const BASE_PLACEHOLDERS: &[(&str, &str)] = &[
    ("region", "the stack's AWS region"),
    ("account_id", "the AWS account id of the caller"),
    ("partition", "the AWS partition (aws, aws-cn, aws-us-gov)"),
    ("stack", "the stack name"),
];

/// Values for the placeholders, known once the region and account are.
#[derive(Debug, Clone)]
pub struct Vars {
    pub region: String,
    pub account_id: String,
    pub partition: String,
    pub stack: String,
    /// What the declared sections provide, by placeholder name.
    provided: BTreeMap<String, String>,
}

impl Vars {
    /// The base values, once the caller's region, account and partition are known.
    pub fn new(region: &str, account_id: &str, partition: &str, stack: &str) -> Vars {
        Vars {
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            partition: partition.to_owned(),
            stack: stack.to_owned(),
            provided: BTreeMap::new(),
        }
    }

    /// Add a value a section provides.
    pub fn provide(&mut self, name: &str, value: String) {
        self.provided.insert(name.to_owned(), value);
    }

    /// The value of a placeholder; `None` when no declared section provides it.
    pub fn get(&self, name: &str) -> Option<&str> {
        match name {
            "region" => Some(&self.region),
            "account_id" => Some(&self.account_id),
            "partition" => Some(&self.partition),
            "stack" => Some(&self.stack),
            _ => self.provided.get(name).map(String::as_str),
        }
    }

    /// Stand-in base values, to check that a template renders to valid JSON before any AWS call
    /// (the placeholders sections provide stay as written, inside their JSON strings).
    pub fn sample() -> Vars {
        Vars::new("us-east-1", "000000000000", "aws", "stack")
    }
}

/// Names of the `${...}` placeholders in `text`, in order, or the first malformed one.
pub fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("a `${` placeholder is not closed with `}`".into());
        };
        found.push(&after[..end]);
        rest = &after[end + 1..];
    }
    Ok(found)
}

/// The names in `text` that are not known placeholders. IAM's own policy variables, such as
/// `${aws:username}` (they contain a `:`), pass through untouched.
pub fn unknown_placeholders(
    text: &str,
    known: &dyn Fn(&str) -> bool,
) -> Result<Vec<String>, String> {
    Ok(placeholders(text)?
        .into_iter()
        .filter(|name| !name.contains(':'))
        .filter(|name| !known(name))
        .map(str::to_owned)
        .collect())
}

/// Substitute every placeholder. Callers validate first, so unknown names are left as they are.
pub fn render(text: &str, vars: &Vars) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match vars.get(name) {
                    Some(value) => out.push_str(value),
                    None => {
                        out.push_str("${");
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parse a document as IAM returns it: URL-encoded (RFC 3986) JSON.
pub fn decode(document: &str) -> Result<Value, serde_json::Error> {
    let decoded = percent_encoding::percent_decode_str(document).decode_utf8_lossy();
    serde_json::from_str(&decoded)
}

/// The canonical form used for comparison and display.
pub fn canonical(value: &Value) -> Value {
    match value {
        // Sorted by key whatever serde_json's `Map` keeps (insertion order, when any crate in
        // the build turns on its `preserve_order` feature).
        Value::Object(_) => match keys_sorted(value) {
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, canonical(&v))).collect())
            }
            _ => unreachable!("an object stays an object"),
        },
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(canonical).collect();
            if items.len() == 1 {
                return items.pop().expect("one element");
            }
            if items.iter().all(Value::is_string) {
                items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                items.dedup();
            }
            Value::Array(items)
        }
        other => other.clone(),
    }
}

/// `value` with every object's keys sorted, lists as they are: how documents are shown,
/// whatever order serde_json's `Map` keeps.
pub fn keys_sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), keys_sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(keys_sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        Vars::new("us-west-2", "123456789012", "aws", "demo")
    }

    fn known(name: &str) -> bool {
        BASE_PLACEHOLDERS.iter().any(|(n, _)| *n == name)
    }

    #[test]
    fn renders_known_placeholders() {
        let text = r#"{"Resource": "arn:${partition}:logs:${region}:${account_id}:log-group:/${stack}/*"}"#;
        assert_eq!(
            render(text, &vars()),
            r#"{"Resource": "arn:aws:logs:us-west-2:123456789012:log-group:/demo/*"}"#
        );
    }

    #[test]
    fn reports_unknown_and_unclosed_placeholders() {
        assert_eq!(
            unknown_placeholders("${region} ${acount_id} ${stack}", &known).unwrap(),
            vec!["acount_id"]
        );
        assert!(unknown_placeholders("arn:${region", &known).is_err());
        let iam_variable = "arn:aws:s3:::bucket/${aws:username}/*";
        assert!(
            unknown_placeholders(iam_variable, &known)
                .unwrap()
                .is_empty()
        );
        assert_eq!(render(iam_variable, &vars()), iam_variable);
        assert!(
            unknown_placeholders("no placeholders, $ alone is fine", &known)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn url_encoded_reordered_and_collapsed_documents_are_equal() {
        let declared = json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "*"}]
        });
        let live = "%7B%22Statement%22%3A%5B%7B%22Resource%22%3A%22%2A%22%2C%22Action%22%3A%22logs%3APutLogEvents%22%2C%22Effect%22%3A%22Allow%22%7D%5D%2C%22Version%22%3A%222012-10-17%22%7D";
        assert_eq!(canonical(&decode(live).unwrap()), canonical(&declared));
    }

    #[test]
    fn action_lists_compare_as_sets_but_statements_keep_order() {
        let a = json!({"Action": ["b:Y", "a:X"], "Statement": [{"Sid": "2"}, {"Sid": "1"}]});
        let b = json!({"Action": ["a:X", "b:Y"], "Statement": [{"Sid": "2"}, {"Sid": "1"}]});
        let c = json!({"Action": ["a:X", "b:Y"], "Statement": [{"Sid": "1"}, {"Sid": "2"}]});
        assert_eq!(canonical(&a), canonical(&b));
        assert_ne!(canonical(&a), canonical(&c));
    }

    #[test]
    fn a_real_change_is_not_equal() {
        let a = json!({"Action": "s3:GetObject", "Resource": "*"});
        let b = json!({"Action": "s3:PutObject", "Resource": "*"});
        assert_ne!(canonical(&a), canonical(&b));
    }
}
