//! The compute part of a node's desired state (`parts.compute`) and of
//! its status report (`roles.compute`), typed once for both ends: the
//! controller writes [`ComputeFeed`] and reads [`ComputeStatus`], the
//! agent's compute role (`crates/agent/src/compute`) the other way round.
//! The contract is documented in `docs/agent-feed.md` ("The compute
//! part"); the feed refuses unknown keys so drift fails a test.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use virt::{InstanceSpec, PowerState};

/// `document.parts.compute`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeFeed {
    /// The instances whose guest should exist on the node, by id.
    pub instances: Vec<FeedInstance>,
    /// The calls not yet answered, oldest first.
    pub commands: Vec<FeedCommand>,
}

/// An instance the node hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedInstance {
    pub id: String,
    pub spec: InstanceSpec,
    pub desired_power: DesiredPower,
}

/// What the guest should be doing, from the server's `vm_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DesiredPower {
    Running,
    Shutdown,
    Paused,
    Suspended,
}

impl DesiredPower {
    /// The power a server in `vm_state` wants; `None` for states whose
    /// guest is not expected to exist (building, error, deleted, …).
    pub fn of_vm_state(vm_state: &str) -> Option<DesiredPower> {
        match vm_state {
            "active" | "rescued" | "resized" => Some(DesiredPower::Running),
            "stopped" => Some(DesiredPower::Shutdown),
            "paused" => Some(DesiredPower::Paused),
            "suspended" => Some(DesiredPower::Suspended),
            _ => None,
        }
    }
}

/// One driver call for the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedCommand {
    pub id: String,
    pub instance_id: String,
    /// A [`Op`] name.
    pub op: String,
    /// The call's arguments (see [`Op`]); `{}` when it has none.
    pub args: Value,
}

/// The calls, by their `op` name, and their `args`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", content = "args", rename_all = "snake_case")]
pub enum Op {
    /// `{"spec": InstanceSpec}`
    Spawn {
        spec: Box<InstanceSpec>,
    },
    Destroy {},
    /// `{"kind": "soft"|"hard"}`
    Reboot {
        kind: virt::RebootKind,
    },
    PowerOff {},
    PowerOn {},
    Pause {},
    Unpause {},
    Suspend {},
    Resume {},
    /// Result: `{"ok": true, "power_state": PowerState}`.
    GetInfo {},
    /// Result: `{"ok": true, "lines": [str]}` (the last 1 MiB).
    ConsoleOutput {},
    Rebuild {
        spec: Box<InstanceSpec>,
    },
    Resize {
        spec: Box<InstanceSpec>,
    },
    ConfirmResize {},
    RevertResize {
        old: Box<InstanceSpec>,
    },
    Rescue {
        spec: Box<InstanceSpec>,
        rescue_image: virt::ImageRef,
    },
    Unrescue {
        spec: Box<InstanceSpec>,
    },
    AttachInterface {
        vif: virt::Vif,
    },
    DetachInterface {
        port_id: String,
    },
    /// The node streams the guest's disk to
    /// `PUT /internal/v1/nodes/{name}/compute/snapshots/{command id}`
    /// (formats in `x-disk-format`/`x-container-format`), then answers.
    Snapshot {},
    /// The node opens the guest's VNC console and connects it to
    /// `GET /internal/v1/nodes/{name}/compute/consoles/{command id}`
    /// (an HTTP/1.1 upgrade to `oxistack-console`), then answers.
    OpenConsole {},
}

impl Op {
    /// Its `op` name and `args`.
    pub fn split(&self) -> (String, Value) {
        let v = serde_json::to_value(self).unwrap_or(Value::Null);
        let op = v["op"].as_str().unwrap_or_default().to_string();
        let args = match v.get("args") {
            Some(Value::Object(m)) => Value::Object(m.clone()),
            _ => Value::Object(serde_json::Map::new()),
        };
        (op, args)
    }

    /// The call a feed command names, or why it cannot be read.
    pub fn of(cmd: &FeedCommand) -> Result<Op, String> {
        serde_json::from_value(serde_json::json!({"op": cmd.op, "args": cmd.args}))
            .map_err(|e| format!("command {} ({}): {e}", cmd.id, cmd.op))
    }
}

/// A call's answer: `{"ok": true, …}` or `{"error": "<message>"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandResult {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// With `error`: `not_found` (the guest is not on the node),
    /// `unsupported`, or `failed` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `get_info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_state: Option<PowerState>,
    /// `console_output`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<String>>,
}

impl CommandResult {
    pub fn ok() -> CommandResult {
        CommandResult {
            ok: true,
            ..CommandResult::default()
        }
    }

    pub fn error(message: impl Into<String>) -> CommandResult {
        CommandResult {
            error: Some(message.into()),
            ..CommandResult::default()
        }
    }

    /// A driver's failure, its kind kept so the controller raises the same.
    pub fn of_virt_error(e: &virt::VirtError) -> CommandResult {
        let kind = match e {
            virt::VirtError::NotFound(_) => "not_found",
            virt::VirtError::Unsupported(_) => "unsupported",
            virt::VirtError::Failed(_) => "failed",
        };
        CommandResult {
            kind: Some(kind.into()),
            ..CommandResult::error(e.to_string())
        }
    }
}

/// `roles.compute` of a status report. Other keys (`network_ports`, read
/// by the network service, and `errors`) travel beside these.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComputeStatus {
    /// Every guest the node's driver holds or the feed names: its power
    /// state (`no_state` when there is no such guest).
    #[serde(default)]
    pub instances: BTreeMap<String, PowerState>,
    /// The answers to the feed's commands, by command id, until the
    /// command leaves the feed.
    #[serde(default)]
    pub results: BTreeMap<String, CommandResult>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn ops_split_into_name_and_args_and_back() {
        let (op, args) = Op::Reboot {
            kind: virt::RebootKind::Hard,
        }
        .split();
        assert_eq!((op.as_str(), &args), ("reboot", &json!({"kind": "hard"})));
        let (op, args) = Op::PowerOff {}.split();
        assert_eq!((op.as_str(), &args), ("power_off", &json!({})));
        let cmd = FeedCommand {
            id: "c".into(),
            instance_id: "i".into(),
            op,
            args,
        };
        assert_eq!(Op::of(&cmd).unwrap(), Op::PowerOff {});
        let bad = FeedCommand {
            op: "format_disk".into(),
            ..cmd
        };
        assert!(Op::of(&bad).is_err());
    }

    #[test]
    fn the_feed_refuses_unknown_keys() {
        let ok = json!({"instances": [], "commands": []});
        assert!(serde_json::from_value::<ComputeFeed>(ok).is_ok());
        let bad = json!({"instances": [], "commands": [], "extra": 1});
        assert!(serde_json::from_value::<ComputeFeed>(bad).is_err());
    }

    #[test]
    fn results_read_as_ok_or_error() {
        let r: CommandResult =
            serde_json::from_value(json!({"ok": true, "power_state": "running"})).unwrap();
        assert!(r.ok && r.power_state == Some(PowerState::Running));
        let r: CommandResult = serde_json::from_value(json!({"error": "boom"})).unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), json!({"error": "boom"}));
    }
}
