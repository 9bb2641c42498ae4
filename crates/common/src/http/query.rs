//! Query strings as ordered key/value pairs: OpenStack filters are open-ended
//! (`name`, `enabled`, `scope.project.id`, repeated `tag`), so services read
//! them by name rather than through a fixed struct.

use crate::error::Error;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

#[derive(Debug, Clone, Default)]
pub struct QueryMap(pub Vec<(String, String)>);

impl QueryMap {
    pub fn parse(q: &str) -> Self {
        QueryMap(url_decode_pairs(q).into_iter().collect())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// A boolean flag as OpenStack reads them: present with no value, or
    /// `true`/`1`/`yes`, is true; `false`/`0`/`no` is false; else 400.
    pub fn flag(&self, key: &str) -> Result<Option<bool>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse_bool(v).map(Some).ok_or_else(|| {
                Error::bad_request(format!("Invalid value {v:?} for query parameter '{key}'"))
            }),
        }
    }

    /// A non-negative integer parameter, or 400 naming it.
    pub fn usize(&self, key: &str) -> Result<Option<usize>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                Error::bad_request(format!("Invalid value {v:?} for query parameter '{key}'"))
            }),
        }
    }
}

pub fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "" | "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn url_decode_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        Ok(QueryMap::parse(parts.uri.query().unwrap_or("")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_flags_and_numbers() {
        let q = QueryMap::parse("name=a%20b&tag=x&tag=y&enabled&limit=5&bad=zz&n=p+q");
        assert_eq!(q.get("name"), Some("a b"));
        assert_eq!(q.get_all("tag").collect::<Vec<_>>(), vec!["x", "y"]);
        assert_eq!(q.flag("enabled").unwrap(), Some(true));
        assert_eq!(q.usize("limit").unwrap(), Some(5));
        assert!(q.flag("bad").is_err());
        assert!(q.usize("bad").is_err());
        assert_eq!(q.get("n"), Some("p q"));
    }
}
