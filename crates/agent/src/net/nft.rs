//! nftables for the data plane: building rulesets in nft's JSON syntax
//! (`libnftables-json(5)`) and applying one as a single transaction with
//! `nft -j -f -` spawned inside a namespace (`netns::spawn_in`), and
//! reading a table back with `nft -j list table`.
//!
//! Every table oxistack owns is named `oxistack-…`. A table is replaced
//! whole, in one transaction: `add table` (so the next command cannot
//! fail on a missing table), `delete table`, then the new table, its
//! chains, sets and rules. Either all of it lands or none of it, and no
//! chain or set dropped from the desired state lingers (a `flush table`
//! would empty the rules but keep stale chains and sets).
//!
//! Built on `serde_json` values rather than the `nftables` crate: that
//! crate's helper runs `nft` itself in the caller's namespace (this code
//! must spawn it through `netns::spawn_in`), and the subset of the schema
//! used here (tables, chains, sets, matches, verdicts, NAT) is small
//! enough that plain constructors below keep it readable.

use crate::net::netns;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

/// The prefix of every table oxistack owns.
pub const TABLE_PREFIX: &str = "oxistack-";

#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error(transparent)]
    Netns(#[from] netns::NetnsError),
    #[error("nft: {0}")]
    Io(#[from] std::io::Error),
    #[error("nft {op} failed ({status}): {stderr}")]
    Failed {
        op: &'static str,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("nft printed invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// An nftables address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Inet,
    Bridge,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Inet => "inet",
            Family::Bridge => "bridge",
        }
    }
}

/// One table's desired content: chains, sets and rules in the order they
/// must be added (a chain before the rules that jump to it).
#[derive(Debug, Clone)]
pub struct Table {
    pub family: Family,
    pub name: String,
    objects: Vec<Value>,
}

impl Table {
    pub fn new(family: Family, name: impl Into<String>) -> Self {
        Table {
            family,
            name: name.into(),
            objects: Vec::new(),
        }
    }

    /// A regular chain (a jump target).
    pub fn chain(&mut self, name: &str) {
        self.objects.push(json!({"chain": {
            "family": self.family.as_str(), "table": self.name, "name": name,
        }}));
    }

    /// A base chain on `hook` (`type` `filter` or `nat`).
    pub fn base_chain(&mut self, name: &str, kind: &str, hook: &str, prio: i32, policy: &str) {
        self.objects.push(json!({"chain": {
            "family": self.family.as_str(), "table": self.name, "name": name,
            "type": kind, "hook": hook, "prio": prio, "policy": policy,
        }}));
    }

    /// A named set of `kind` (`ipv4_addr`, …) holding prefixes or
    /// addresses (`interval` so prefixes may be elements).
    pub fn set(&mut self, name: &str, kind: &str, elems: Vec<Value>) {
        let mut set = json!({
            "family": self.family.as_str(), "table": self.name, "name": name,
            "type": kind, "flags": ["interval"],
        });
        if !elems.is_empty() {
            set["elem"] = Value::Array(elems);
        }
        self.objects.push(json!({ "set": set }));
    }

    /// A named set of `kind` without flags (`mark`, `ether_addr`, …).
    pub fn plain_set(&mut self, name: &str, kind: &str) {
        self.objects.push(json!({"set": {
            "family": self.family.as_str(), "table": self.name, "name": name, "type": kind,
        }}));
    }

    /// A verdict map keyed by `kind` (`ifname`, `mark`, …), so one rule
    /// dispatches to any number of per-port chains.
    pub fn vmap(&mut self, name: &str, kind: &str) {
        self.objects.push(json!({"map": {
            "family": self.family.as_str(), "table": self.name, "name": name,
            "type": kind, "map": "verdict",
        }}));
    }

    /// A rule at the end of `chain`.
    pub fn rule(&mut self, chain: &str, expr: Vec<Value>) {
        self.objects.push(json!({"rule": {
            "family": self.family.as_str(), "table": self.name, "chain": chain, "expr": expr,
        }}));
    }

    /// The transaction replacing this table whole (see the module doc).
    pub fn replace_document(&self) -> Value {
        let table = json!({"table": {"family": self.family.as_str(), "name": self.name}});
        let mut cmds = vec![
            json!({ "add": table.clone() }),
            json!({ "delete": table.clone() }),
            json!({ "add": table }),
        ];
        cmds.extend(self.objects.iter().map(|o| json!({ "add": o })));
        json!({ "nftables": cmds })
    }
}

/// The objects of a table (chains, sets, maps, rules) in the order added.
impl Table {
    pub fn objects(&self) -> &[Value] {
        &self.objects
    }
}

/// `add` or `delete` of `elems` in set or map `set` of a table (a map's
/// element is a `[key, value]` pair; deleting takes the key alone).
pub fn element(verb: &str, family: Family, table: &str, set: &str, elems: Vec<Value>) -> Value {
    json!({ verb: {"element": {
        "family": family.as_str(), "table": table, "name": set, "elem": elems,
    }}})
}

/// A chain as the object of a command (`flush`, `delete`, `add`).
pub fn chain_object(family: Family, table: &str, name: &str) -> Value {
    json!({"chain": {"family": family.as_str(), "table": table, "name": name}})
}

/// A rule at the end of `chain` as the object of an `add`.
pub fn rule_object(family: Family, table: &str, chain: &str, expr: Vec<Value>) -> Value {
    json!({"rule": {"family": family.as_str(), "table": table, "chain": chain, "expr": expr}})
}

/// The transaction removing a table if it exists.
pub fn delete_document(family: Family, name: &str) -> Value {
    let table = json!({"table": {"family": family.as_str(), "name": name}});
    json!({"nftables": [{ "add": table.clone() }, { "delete": table }]})
}

// Expressions and statements.

/// `meta KEY == VALUE` (`iifname`, `oifname`, `l4proto`, `nfproto`, …).
pub fn meta_eq(key: &str, value: impl Into<Value>) -> Value {
    json!({"match": {"op": "==", "left": {"meta": {"key": key}}, "right": value.into()}})
}

/// `PROTO FIELD == VALUE` (`ip saddr`, `tcp dport`, `ether saddr`, …).
pub fn payload_eq(protocol: &str, field: &str, value: impl Into<Value>) -> Value {
    payload_op("==", protocol, field, value)
}

/// `PROTO FIELD OP VALUE`.
pub fn payload_op(op: &str, protocol: &str, field: &str, value: impl Into<Value>) -> Value {
    json!({"match": {"op": op, "left": {"payload": {"protocol": protocol, "field": field}},
        "right": value.into()}})
}

/// An address prefix as a match's right side.
pub fn prefix(addr: &str, len: u8) -> Value {
    json!({"prefix": {"addr": addr, "len": len}})
}

/// An inclusive range as a match's right side.
pub fn range(lo: impl Into<Value>, hi: impl Into<Value>) -> Value {
    json!({"range": [lo.into(), hi.into()]})
}

/// A reference to named set `name` as a match's right side.
pub fn set_ref(name: &str) -> Value {
    Value::String(format!("@{name}"))
}

pub fn accept() -> Value {
    json!({"accept": null})
}

pub fn drop_() -> Value {
    json!({"drop": null})
}

/// `notrack`: no connection tracking for this packet.
pub fn notrack() -> Value {
    json!({ "notrack": null })
}

pub fn jump(chain: &str) -> Value {
    json!({"jump": {"target": chain}})
}

/// `dnat ip to ADDR[:PORT]`.
pub fn dnat_ip(addr: &str, port: Option<u16>) -> Value {
    let mut d = json!({"addr": addr, "family": "ip"});
    if let Some(p) = port {
        d["port"] = json!(p);
    }
    json!({ "dnat": d })
}

/// `snat ip to ADDR`.
pub fn snat_ip(addr: &str) -> Value {
    json!({"snat": {"addr": addr, "family": "ip"}})
}

// Running nft.

/// Applies `doc` (a `{"nftables": [...]}` document) in namespace `ns`
/// (`None`: the agent's own) as one transaction.
pub fn apply(ns: Option<&str>, doc: &Value) -> Result<(), NftError> {
    let input = serde_json::to_vec(doc)?;
    run(ns, "apply", &["-j", "-f", "-"], Some(&input)).map(|_| ())
}

/// Replaces `table` whole in `ns`.
pub fn replace(ns: Option<&str>, table: &Table) -> Result<(), NftError> {
    apply(ns, &table.replace_document())
}

/// Removes table `name` from `ns` (no error if it is not there).
pub fn delete(ns: Option<&str>, family: Family, name: &str) -> Result<(), NftError> {
    apply(ns, &delete_document(family, name))
}

/// `nft -j list table`: the table's objects (its `table`, `chain`, `set`,
/// `rule` entries; the `metainfo` left out), or `None` if there is no
/// such table.
pub fn list_table(
    ns: Option<&str>,
    family: Family,
    name: &str,
) -> Result<Option<Vec<Value>>, NftError> {
    let out = match run(
        ns,
        "list table",
        &["-j", "list", "table", family.as_str(), name],
        None,
    ) {
        Ok(out) => out,
        // nft says so on stderr with ENOENT's text; anything else is a failure.
        Err(NftError::Failed { stderr, .. }) if stderr.contains("No such file or directory") => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let doc: Value = serde_json::from_slice(&out)?;
    let items = doc
        .get("nftables")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|o| o.get("metainfo").is_none())
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(items))
}

fn run(
    ns: Option<&str>,
    op: &'static str,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Result<Vec<u8>, NftError> {
    let mut cmd = Command::new("nft");
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = netns::spawn_in(ns, cmd)?;
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // Dropping the pipe after writing is nft's end of input.
        pipe.write_all(data)?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(NftError::Failed {
            op,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_a_table_adds_deletes_and_rebuilds_it_in_one_document() {
        let mut t = Table::new(Family::Inet, "oxistack-x");
        t.base_chain("pre", "nat", "prerouting", -100, "accept");
        t.rule(
            "pre",
            vec![meta_eq("iifname", "qg-1"), dnat_ip("10.0.0.5", None)],
        );
        let doc = t.replace_document();
        let cmds = doc["nftables"].as_array().cloned().unwrap_or_default();
        let verbs: Vec<&str> = cmds
            .iter()
            .filter_map(|c| {
                c.as_object()
                    .and_then(|o| o.keys().next())
                    .map(String::as_str)
            })
            .collect();
        assert_eq!(verbs, ["add", "delete", "add", "add", "add"]);
        assert_eq!(cmds[1]["delete"]["table"]["name"], "oxistack-x");
        assert_eq!(cmds[3]["add"]["chain"]["hook"], "prerouting");
        assert_eq!(
            cmds[4]["add"]["rule"]["expr"][1]["dnat"]["addr"],
            "10.0.0.5"
        );
        assert_eq!(cmds[4]["add"]["rule"]["expr"][1]["dnat"]["family"], "ip");
    }

    #[test]
    fn an_empty_set_has_no_elem_key() {
        // nft refuses `"elem": []`.
        let mut t = Table::new(Family::Inet, "oxistack-x");
        t.set("s", "ipv4_addr", vec![]);
        t.set("t", "ipv4_addr", vec![prefix("10.0.0.0", 8)]);
        let doc = t.replace_document();
        assert!(doc["nftables"][3]["add"]["set"].get("elem").is_none());
        assert_eq!(
            doc["nftables"][4]["add"]["set"]["elem"][0]["prefix"]["len"],
            8
        );
    }
}
