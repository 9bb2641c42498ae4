//! An oslo.policy-compatible rule engine.
//!
//! Rules are data: each service hands [`Policy::new`] its upstream default
//! rules as `(name, expression)` pairs, and an operator's JSON policy file
//! overrides any of them. The expression language is oslo.policy's: `@`,
//! `!`, `rule:NAME`, `role:NAME`, `KEY:%(target.path)s`, `KEY:'literal'`,
//! `not`, `and`, `or` and parentheses.
//!
//! The rules can be re-read from the same file while the service runs
//! ([`Policy::reload`], on SIGHUP): every clone of a policy shares them.
//!
//! One deliberate difference from oslo.policy: a check where either side is
//! missing or null never matches (oslo compares the string `"None"`, which
//! lets an unscoped `domain_id` match a target without one).

use crate::error::Error;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy rule {rule:?}: {msg}")]
    Parse { rule: String, msg: String },
    #[error("policy file {path}: {msg}")]
    File { path: String, msg: String },
}

#[derive(Debug, Clone, PartialEq)]
enum Check {
    True,
    False,
    Rule(String),
    Role(String),
    Generic { kind: String, matcher: String },
    Not(Box<Check>),
    And(Vec<Check>),
    Or(Vec<Check>),
}

type Rules = HashMap<String, Check>;

/// A set of named rules, defaults overlaid with the operator's overrides.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Swapped whole by [`Policy::reload`]; a check holds one version.
    rules: Arc<RwLock<Arc<Rules>>>,
    defaults: Arc<Vec<(String, String)>>,
    file: Option<PathBuf>,
}

impl Policy {
    /// Builds the policy from `defaults`, then overrides from `file` (a JSON
    /// object of rule name to expression) when given.
    pub fn new(defaults: &[(&str, &str)], file: Option<&Path>) -> Result<Self, PolicyError> {
        let defaults: Vec<(String, String)> = defaults
            .iter()
            .map(|(n, e)| ((*n).to_string(), (*e).to_string()))
            .collect();
        let rules = build(&defaults, file)?;
        Ok(Self {
            rules: Arc::new(RwLock::new(Arc::new(rules))),
            defaults: Arc::new(defaults),
            file: file.map(Path::to_path_buf),
        })
    }

    /// Re-reads the policy file (if the policy has one) and replaces the
    /// rules for every clone of this policy. On error the rules in force
    /// stay, so a typo in the file never leaves a service without policy.
    /// Returns the file re-read.
    pub fn reload(&self) -> Result<Option<&Path>, PolicyError> {
        let Some(file) = &self.file else {
            return Ok(None);
        };
        let rules = build(&self.defaults, Some(file))?;
        let mut w = self.rules.write().unwrap_or_else(|e| e.into_inner());
        *w = Arc::new(rules);
        Ok(Some(file.as_path()))
    }

    fn current(&self) -> Arc<Rules> {
        // A poisoned lock still holds a whole, valid rule set (writers only
        // swap an Arc), so its value is used.
        self.rules.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn build(defaults: &[(String, String)], file: Option<&Path>) -> Result<Rules, PolicyError> {
    let mut rules = HashMap::new();
    for (name, expr) in defaults {
        rules.insert(name.clone(), parse_rule(name, expr)?);
    }
    if let Some(path) = file {
        let ferr = |msg: String| PolicyError::File {
            path: path.display().to_string(),
            msg,
        };
        let text = std::fs::read_to_string(path).map_err(|e| ferr(e.to_string()))?;
        let map: HashMap<String, String> =
            serde_json::from_str(&text).map_err(|e| ferr(e.to_string()))?;
        for (name, expr) in map {
            let check = parse_rule(&name, &expr)?;
            rules.insert(name, check);
        }
    }
    Ok(rules)
}

impl Policy {
    /// True when `action` allows a caller with `creds` to act on `target`.
    /// An action with no rule is denied.
    pub fn check(&self, action: &str, creds: &Value, target: &Value) -> bool {
        let rules = self.current();
        match rules.get(action) {
            Some(c) => eval(&rules, c, creds, target, 0),
            None => false,
        }
    }

    /// [`Policy::check`] as a 403 in Keystone's words.
    pub fn enforce(&self, action: &str, creds: &Value, target: &Value) -> Result<(), Error> {
        if self.check(action, creds, target) {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "You are not authorized to perform the requested action: {action}."
            )))
        }
    }
}

fn eval(rules: &Rules, c: &Check, creds: &Value, target: &Value, depth: usize) -> bool {
    // Rules referring to each other in a cycle must not recurse forever.
    if depth > 32 {
        return false;
    }
    match c {
        Check::True => true,
        Check::False => false,
        Check::Rule(name) => match rules.get(name) {
            Some(r) => eval(rules, r, creds, target, depth + 1),
            None => false,
        },
        Check::Role(role) => {
            let Some(role) = interpolate(role, target) else {
                return false;
            };
            creds
                .get("roles")
                .and_then(Value::as_array)
                .is_some_and(|rs| {
                    rs.iter()
                        .filter_map(Value::as_str)
                        .any(|r| r.eq_ignore_ascii_case(&role))
                })
        }
        Check::Generic { kind, matcher } => {
            let Some(m) = interpolate(matcher, target) else {
                return false;
            };
            if let Some(lit) = literal(kind) {
                return lit == m;
            }
            match lookup(creds, kind) {
                Some(Value::Array(items)) => items.iter().filter_map(scalar).any(|v| v == m),
                Some(v) => scalar(v).is_some_and(|v| v == m),
                None => false,
            }
        }
        Check::Not(inner) => !eval(rules, inner, creds, target, depth + 1),
        Check::And(cs) => cs.iter().all(|c| eval(rules, c, creds, target, depth + 1)),
        Check::Or(cs) => cs.iter().any(|c| eval(rules, c, creds, target, depth + 1)),
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A quoted string or Python literal on the left of a check.
fn literal(kind: &str) -> Option<String> {
    let k = kind.trim();
    if k.len() >= 2
        && ((k.starts_with('\'') && k.ends_with('\'')) || (k.starts_with('"') && k.ends_with('"')))
    {
        return Some(k[1..k.len() - 1].to_string());
    }
    match k {
        "True" | "False" => Some(k.to_string()),
        _ if k.parse::<i64>().is_ok() => Some(k.to_string()),
        _ => None,
    }
}

/// Finds `a.b.c` in a JSON object, trying the dotted key itself first at each
/// level (oslo flattens targets, so both shapes appear).
fn lookup<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    if let Some(x) = v.get(path) {
        return if x.is_null() { None } else { Some(x) };
    }
    let (head, rest) = path.split_once('.')?;
    lookup(v.get(head)?, rest)
}

/// Expands `%(key)s` from the target; a missing or null key fails the check.
fn interpolate(s: &str, target: &Value) -> Option<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("%(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find(")s")?;
        let v = lookup(target, &after[..end])?;
        out.push_str(&scalar(v)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    // A quoted literal on the right compares as its contents.
    Some(
        literal(&out)
            .filter(|_| out.starts_with('\'') || out.starts_with('"'))
            .unwrap_or(out),
    )
}

/// Splits on whitespace, then peels parentheses off the ends of each word
/// the way oslo.policy does, so `%(target.id)s` stays whole.
fn tokenize(s: &str) -> Vec<String> {
    let mut toks = Vec::new();
    for word in s.split_whitespace() {
        let mut w = word;
        while let Some(rest) = w.strip_prefix('(') {
            toks.push("(".to_string());
            w = rest;
        }
        let trimmed = w.trim_end_matches(')');
        let trailing = w.len() - trimmed.len();
        if !trimmed.is_empty() {
            toks.push(trimmed.to_string());
        }
        toks.extend(std::iter::repeat_n(")".to_string(), trailing));
    }
    toks
}

fn parse_rule(name: &str, expr: &str) -> Result<Check, PolicyError> {
    let toks = tokenize(expr);
    if toks.is_empty() {
        return Ok(Check::True);
    }
    let mut p = Parser {
        toks: &toks,
        pos: 0,
    };
    let err = |msg: String| PolicyError::Parse {
        rule: name.to_string(),
        msg,
    };
    let c = p.or_expr().map_err(err)?;
    if p.pos != toks.len() {
        return Err(err(format!("unexpected {:?}", toks[p.pos])));
    }
    Ok(c)
}

struct Parser<'t> {
    toks: &'t [String],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.pos).map(String::as_str)
    }

    fn or_expr(&mut self) -> Result<Check, String> {
        let mut items = vec![self.and_expr()?];
        while self.peek() == Some("or") {
            self.pos += 1;
            items.push(self.and_expr()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Check::Or(items)
        })
    }

    fn and_expr(&mut self) -> Result<Check, String> {
        let mut items = vec![self.not_expr()?];
        while self.peek() == Some("and") {
            self.pos += 1;
            items.push(self.not_expr()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Check::And(items)
        })
    }

    fn not_expr(&mut self) -> Result<Check, String> {
        if self.peek() == Some("not") {
            self.pos += 1;
            return Ok(Check::Not(Box::new(self.not_expr()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Check, String> {
        let tok = self.peek().ok_or("unexpected end of rule")?.to_string();
        self.pos += 1;
        match tok.as_str() {
            "(" => {
                let c = self.or_expr()?;
                if self.peek() != Some(")") {
                    return Err("missing ')'".into());
                }
                self.pos += 1;
                Ok(c)
            }
            ")" | "and" | "or" => Err(format!("unexpected {tok:?}")),
            "@" => Ok(Check::True),
            "!" => Ok(Check::False),
            _ => {
                let (kind, m) = tok
                    .split_once(':')
                    .ok_or(format!("{tok:?} is not a check"))?;
                Ok(match kind {
                    "rule" => Check::Rule(m.to_string()),
                    "role" => Check::Role(m.to_string()),
                    _ => Check::Generic {
                        kind: kind.to_string(),
                        matcher: m.to_string(),
                    },
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> Policy {
        Policy::new(
            &[
                ("admin_required", "role:admin or is_admin:1"),
                ("owner", "user_id:%(target.user.id)s"),
                (
                    "identity:get_user",
                    "rule:admin_required or (role:reader and system_scope:all) or rule:owner",
                ),
                ("identity:create_user", "rule:admin_required"),
                ("open", ""),
                ("closed", "!"),
                ("negated", "not role:admin"),
                ("literal", "'member':%(role.name)s"),
                ("loop", "rule:loop"),
            ],
            None,
        )
        .unwrap()
    }

    #[test]
    fn reload_rereads_the_file_for_every_clone_and_keeps_rules_on_error() {
        let f = std::env::temp_dir().join(format!("policy-{}.json", crate::ids::hex_id()));
        std::fs::write(&f, r#"{"x": "role:a"}"#).unwrap();
        let p = Policy::new(&[("x", "!")], Some(&f)).unwrap();
        let clone = p.clone();
        let a = json!({"roles": ["a"]});
        let b = json!({"roles": ["b"]});
        assert!(clone.check("x", &a, &json!({})));
        std::fs::write(&f, r#"{"x": "role:b"}"#).unwrap();
        assert_eq!(p.reload().unwrap(), Some(f.as_path()));
        assert!(!clone.check("x", &a, &json!({})));
        assert!(clone.check("x", &b, &json!({})));
        std::fs::write(&f, "{not json").unwrap();
        assert!(p.reload().is_err());
        assert!(clone.check("x", &b, &json!({})), "rules in force stay");
        std::fs::remove_file(&f).unwrap();
        assert_eq!(Policy::new(&[], None).unwrap().reload().unwrap(), None);
    }

    #[test]
    fn admin_member_reader_and_owner() {
        let p = policy();
        let admin = json!({"roles": ["admin", "member", "reader"], "user_id": "a"});
        let member = json!({"roles": ["member", "reader"], "user_id": "m"});
        let sys_reader = json!({"roles": ["reader"], "user_id": "r", "system_scope": "all"});
        let target = json!({"target": {"user": {"id": "m"}}});
        assert!(p.check("identity:create_user", &admin, &target));
        assert!(!p.check("identity:create_user", &member, &target));
        assert!(
            p.check("identity:get_user", &member, &target),
            "owner may read itself"
        );
        assert!(p.check("identity:get_user", &sys_reader, &target));
        let other = json!({"target": {"user": {"id": "x"}}});
        assert!(!p.check("identity:get_user", &member, &other));
        assert!(p.enforce("identity:create_user", &member, &target).is_err());
    }

    #[test]
    fn constants_not_literals_and_unknowns() {
        let p = policy();
        let c = json!({"roles": ["member"]});
        assert!(p.check("open", &c, &json!({})));
        assert!(!p.check("closed", &c, &json!({})));
        assert!(p.check("negated", &c, &json!({})));
        assert!(p.check("literal", &c, &json!({"role": {"name": "member"}})));
        assert!(!p.check("literal", &c, &json!({"role": {"name": "admin"}})));
        assert!(!p.check("no-such-rule", &c, &json!({})));
        assert!(!p.check("loop", &c, &json!({})));
    }

    #[test]
    fn null_never_matches() {
        let p = Policy::new(&[("d", "domain_id:%(target.domain_id)s")], None).unwrap();
        assert!(!p.check(
            "d",
            &json!({"domain_id": null}),
            &json!({"target": {"domain_id": null}})
        ));
        assert!(!p.check("d", &json!({}), &json!({})));
        assert!(p.check(
            "d",
            &json!({"domain_id": "x"}),
            &json!({"target.domain_id": "x"})
        ));
    }

    #[test]
    fn parse_errors_are_reported() {
        assert!(Policy::new(&[("x", "(role:admin")], None).is_err());
        assert!(Policy::new(&[("x", "role:admin or")], None).is_err());
        assert!(Policy::new(&[("x", "justaword")], None).is_err());
    }

    #[test]
    fn file_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("policy-{}", crate::ids::hex_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("policy.json");
        std::fs::write(&f, r#"{"identity:create_user": "role:member"}"#).unwrap();
        let p = Policy::new(&[("identity:create_user", "role:admin")], Some(&f)).unwrap();
        assert!(p.check(
            "identity:create_user",
            &json!({"roles": ["member"]}),
            &json!({})
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
