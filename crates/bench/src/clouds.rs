//! Credentials from a `clouds.yaml` (the file `oxistack up` writes for the
//! OpenStack CLI), read with a deliberately tiny YAML subset parser.
//!
//! Supported: block mappings by indentation (spaces), `key: value` scalars
//! that are plain, `'single'` or `"double"` quoted, `#` comments, `---`.
//! Sequences are stepped over (their items are kept apart from sibling keys,
//! so they cannot be mistaken for them); flow collections, anchors, tags and
//! multi-line scalars are not understood and yield either nothing or the raw
//! text. That is enough for the few fields needed here:
//!
//! ```yaml
//! clouds:
//!   oxistack:
//!     auth:
//!       auth_url: http://127.0.0.1:5000/v3
//!       username: admin
//!       password: "s3cret"
//!       project_name: admin
//!       user_domain_name: Default
//!       project_domain_name: Default
//! ```
//!
//! A real YAML library would be a heavy dependency for reading six strings.

use std::path::Path;

use anyhow::{bail, Context};

/// The `auth` fields of one cloud; absent keys are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudAuth {
    /// `auth.auth_url`.
    pub auth_url: Option<String>,
    /// `auth.username`.
    pub username: Option<String>,
    /// `auth.password`.
    pub password: Option<String>,
    /// `auth.project_name`.
    pub project_name: Option<String>,
    /// `auth.user_domain_name` (falls back to `auth.domain_name`).
    pub user_domain_name: Option<String>,
    /// `auth.project_domain_name` (falls back to `auth.domain_name`).
    pub project_domain_name: Option<String>,
}

/// Every scalar in `text` as `(path of keys, value)`, in file order.
///
/// Items of a sequence appear under a `-` path element.
pub fn scalars(text: &str) -> anyhow::Result<Vec<(Vec<String>, String)>> {
    let mut out = Vec::new();
    // (indent, key) of the mappings enclosing the current line.
    let mut stack: Vec<(usize, String)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let lineno = n + 1;
        let line = raw.trim_end_matches('\r');
        let content = line.trim_start_matches(' ');
        let indent = line.len() - content.len();
        if content.starts_with('\t') {
            bail!("line {lineno}: tab in indentation");
        }
        let content = content.trim_end();
        if content.is_empty() || content.starts_with('#') || content == "---" || content == "..." {
            continue;
        }
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let mut content = content;
        let mut indent = indent;
        if content == "-" || content.starts_with("- ") {
            // A sequence item: nest whatever it holds under "-".
            stack.push((indent, "-".to_owned()));
            let rest = content.get(1..).unwrap_or("");
            let inner = rest.trim_start_matches(' ');
            indent += 1 + (rest.len() - inner.len());
            content = inner;
            if content.is_empty() {
                continue;
            }
        }
        let Some((key, value)) = split_key(content) else {
            continue; // a bare scalar (sequence item or continuation line)
        };
        let value = scalar(value);
        if value.is_empty() {
            stack.push((indent, key));
        } else {
            let mut path: Vec<String> = stack.iter().map(|(_, k)| k.clone()).collect();
            path.push(key);
            out.push((path, value));
        }
    }
    Ok(out)
}

/// Split `key: value` (value may be empty). `None` if the line is no mapping entry.
fn split_key(content: &str) -> Option<(String, &str)> {
    if let Some(q @ ('"' | '\'')) = content.chars().next() {
        let body = content.get(1..)?;
        let end = body.find(q)?;
        let key = body.get(..end)?.to_owned();
        let rest = body.get(end + 1..)?.trim_start();
        let value = rest.strip_prefix(':')?;
        if !(value.is_empty() || value.starts_with(' ')) {
            return None;
        }
        return Some((key, value));
    }
    let bytes = content.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b':' && matches!(bytes.get(i + 1), None | Some(b' ')) {
            let key = content.get(..i)?.trim_end().to_owned();
            return Some((key, content.get(i + 1..)?));
        }
        if *b == b' ' && bytes.get(i + 1) == Some(&b'#') {
            return None; // comment before any colon
        }
    }
    None
}

/// The value of a scalar after `key:`: unquoted, comment stripped.
fn scalar(v: &str) -> String {
    let v = v.trim();
    if let Some(body) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return out,
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('0') => out.push('\0'),
                    Some(other) => out.push(other),
                    None => {}
                },
                c => out.push(c),
            }
        }
        return out; // unterminated: take what there is
    }
    if let Some(body) = v.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = body.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    out.push('\'');
                } else {
                    return out;
                }
            } else {
                out.push(c);
            }
        }
        return out;
    }
    if v.starts_with('#') {
        return String::new();
    }
    match v.find(" #") {
        Some(i) => v.get(..i).unwrap_or(v).trim_end().to_owned(),
        None => v.to_owned(),
    }
}

/// The `auth` section of cloud `cloud` in clouds.yaml text.
pub fn cloud_auth(text: &str, cloud: &str) -> anyhow::Result<CloudAuth> {
    let all = scalars(text)?;
    let mut found = false;
    let mut auth = CloudAuth::default();
    let mut domain_name = None;
    for (path, value) in all {
        let [c, name, rest @ ..] = path.as_slice() else {
            continue;
        };
        if c != "clouds" || name != cloud {
            continue;
        }
        found = true;
        let [section, key] = rest else {
            continue;
        };
        if section != "auth" {
            continue;
        }
        let slot = match key.as_str() {
            "auth_url" => &mut auth.auth_url,
            "username" => &mut auth.username,
            "password" => &mut auth.password,
            "project_name" => &mut auth.project_name,
            "user_domain_name" => &mut auth.user_domain_name,
            "project_domain_name" => &mut auth.project_domain_name,
            "domain_name" => &mut domain_name,
            _ => continue,
        };
        *slot = Some(value);
    }
    if !found {
        bail!("no cloud named {cloud:?} under `clouds:`");
    }
    if auth.user_domain_name.is_none() {
        auth.user_domain_name.clone_from(&domain_name);
    }
    if auth.project_domain_name.is_none() {
        auth.project_domain_name = domain_name;
    }
    Ok(auth)
}

/// Read `path` and return cloud `cloud`'s auth section.
pub fn load(path: &Path, cloud: &str) -> anyhow::Result<CloudAuth> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    cloud_auth(&text, cloud).with_context(|| format!("in {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OXISTACK: &str = "\
# Written by oxistack up
clouds:
  oxistack:
    auth:
      auth_url: http://127.0.0.9:5000/v3
      username: admin
      password: 'it''s: a #secret'
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
";

    #[test]
    fn reads_oxistack_cloud() {
        let a = cloud_auth(OXISTACK, "oxistack").unwrap();
        assert_eq!(
            a,
            CloudAuth {
                auth_url: Some("http://127.0.0.9:5000/v3".into()),
                username: Some("admin".into()),
                password: Some("it's: a #secret".into()),
                project_name: Some("admin".into()),
                user_domain_name: Some("Default".into()),
                project_domain_name: Some("Default".into()),
            }
        );
    }

    #[test]
    fn reads_the_file_oxistack_up_writes() {
        // Byte for byte the layout of crates/oxistack/src/state.rs.
        let text = "clouds:\n  oxistack:\n    auth:\n      auth_url: \"http://127.0.0.9:5000/v3\"\n      \
                    username: \"admin\"\n      password: \"Zx9kQ2mN7pL4\"\n      project_name: \"admin\"\n      \
                    user_domain_name: \"Default\"\n      project_domain_name: \"Default\"\n    \
                    region_name: \"RegionOne\"\n    interface: \"public\"\n    identity_api_version: 3\n";
        let a = cloud_auth(text, "oxistack").unwrap();
        assert_eq!(a.auth_url.as_deref(), Some("http://127.0.0.9:5000/v3"));
        assert_eq!(a.username.as_deref(), Some("admin"));
        assert_eq!(a.password.as_deref(), Some("Zx9kQ2mN7pL4"));
        assert_eq!(a.project_name.as_deref(), Some("admin"));
        assert_eq!(a.user_domain_name.as_deref(), Some("Default"));
        assert_eq!(a.project_domain_name.as_deref(), Some("Default"));
    }

    #[test]
    fn picks_the_named_cloud_among_several() {
        let text = "\
---
clouds:
  devstack:   # another one
    auth:
      username: demo
      password: wrong
  oxistack:
    region_name: RegionOne
    auth:
      \"username\": \"ad\\\"min\"
      password: pw # trailing comment
      domain_name: Shared
      project_name: p#1
    regions:
      - RegionOne
      - name: RegionTwo
        password: not-this-one
  other:
    auth:
      password: nope
";
        let a = cloud_auth(text, "oxistack").unwrap();
        assert_eq!(a.username.as_deref(), Some("ad\"min"));
        assert_eq!(a.password.as_deref(), Some("pw"));
        assert_eq!(a.project_name.as_deref(), Some("p#1"));
        assert_eq!(a.user_domain_name.as_deref(), Some("Shared"));
        assert_eq!(a.project_domain_name.as_deref(), Some("Shared"));
        assert_eq!(a.auth_url, None);
        assert_eq!(
            cloud_auth(text, "devstack").unwrap().password.as_deref(),
            Some("wrong")
        );
    }

    #[test]
    fn sequence_items_do_not_leak_into_siblings() {
        let text = "a:\n  - b: 1\n    c: 2\n  -\n    d: 3\nc: 4\n";
        let s = scalars(text).unwrap();
        assert_eq!(
            s,
            vec![
                (vec!["a".into(), "-".into(), "b".into()], "1".into()),
                (vec!["a".into(), "-".into(), "c".into()], "2".into()),
                (vec!["a".into(), "-".into(), "d".into()], "3".into()),
                (vec!["c".into()], "4".into()),
            ]
        );
    }

    #[test]
    fn crlf_and_url_values() {
        let text = "clouds:\r\n  oxistack:\r\n    auth:\r\n      auth_url: http://[::1]:5000\r\n";
        let a = cloud_auth(text, "oxistack").unwrap();
        assert_eq!(a.auth_url.as_deref(), Some("http://[::1]:5000"));
    }

    #[test]
    fn missing_cloud_and_tabs_are_errors() {
        let err = cloud_auth(OXISTACK, "nope").unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        assert!(scalars("clouds:\n\toxistack: {}\n").is_err());
    }

    #[test]
    fn scalar_forms() {
        assert_eq!(scalar(" plain "), "plain");
        assert_eq!(scalar(" 'a''b' "), "a'b");
        assert_eq!(scalar(r#" "a\\b\"c" # x"#), "a\\b\"c");
        assert_eq!(scalar(" # only a comment"), "");
        assert_eq!(scalar(" a#b"), "a#b");
        assert_eq!(scalar(" a # b"), "a");
    }

    #[test]
    fn load_from_file() {
        let path =
            std::env::temp_dir().join(format!("bench-clouds-test-{}.yaml", std::process::id()));
        std::fs::write(&path, OXISTACK).unwrap();
        let a = load(&path, "oxistack").unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(a.username.as_deref(), Some("admin"));
        assert!(load(&path, "oxistack").is_err());
    }
}
