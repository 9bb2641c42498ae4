//! `fields=`: the subset of attributes a list or show returns (Neutron's
//! `?fields=id&fields=name`, also spelled `fields=id,name`).
//!
//! Selection happens on the rendered JSON object rather than in SQL: the
//! rows a page reads are already bounded by `limit`, the attributes of a
//! resource come from several tables (tags, fixed IPs), and doing it last
//! keeps the one rendering path that every other request uses.

use crate::http::QueryMap;
use serde_json::Value;

/// The attributes a request asked for, in the order asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields(Vec<String>);

impl Fields {
    /// `None` when the request names no field (every attribute is
    /// returned). Empty values are ignored, as upstream's `list_args` does.
    pub fn from_query(q: &QueryMap) -> Option<Fields> {
        let names: Vec<String> = q
            .get_all("fields")
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect();
        (!names.is_empty()).then_some(Fields(names))
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|n| n == name)
    }

    /// Keeps exactly the requested keys of `obj` (a non-object is left
    /// alone); a requested key the resource does not have is left out.
    pub fn retain(&self, obj: &mut Value) {
        if let Value::Object(map) = obj {
            map.retain(|k, _| self.contains(k));
        }
    }

    /// [`Fields::retain`] on every element of an array.
    pub fn retain_all(&self, items: &mut [Value]) {
        for item in items {
            self.retain(item);
        }
    }
}

/// Applies the request's `fields=` (if any) to one rendered resource.
pub fn select(q: &QueryMap, mut obj: Value) -> Value {
    if let Some(f) = Fields::from_query(q) {
        f.retain(&mut obj);
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repeated_and_comma_separated_names_are_both_read() {
        let q = QueryMap::parse("fields=id&fields=name,status&fields=&limit=2");
        let f = Fields::from_query(&q).unwrap();
        assert_eq!(f.names(), ["id", "name", "status"]);
        assert!(Fields::from_query(&QueryMap::parse("limit=2")).is_none());
        assert!(Fields::from_query(&QueryMap::parse("fields=")).is_none());
    }

    #[test]
    fn exactly_the_requested_keys_are_kept() {
        let q = QueryMap::parse("fields=id&fields=tags&fields=no_such");
        let out = select(&q, json!({"id": "a", "name": "n", "tags": [], "mtu": 1450}));
        assert_eq!(out, json!({"id": "a", "tags": []}));
        let mut items = vec![json!({"id": "a", "x": 1}), json!({"id": "b"})];
        Fields::from_query(&q).unwrap().retain_all(&mut items);
        assert_eq!(items, vec![json!({"id": "a"}), json!({"id": "b"})]);
        // Without fields= nothing changes.
        let v = json!({"id": "a", "name": "n"});
        assert_eq!(select(&QueryMap::default(), v.clone()), v);
    }
}
