//! Remote consoles: `POST /servers/{id}/remote-consoles` (2.6+), the
//! legacy `os-getVNCConsole` action (≤2.5) and
//! `GET /os-console-auth-tokens/{token}` (admins). A console URL carries
//! a random token; only its SHA-256 is stored, with the server, the
//! console type and an expiry (`[compute] console_token_ttl`). The noVNC
//! proxy (`crate::console_proxy`) turns a valid token into the guest's
//! VNC stream.
//!
//! Only noVNC over VNC is served: Nova's other protocols (spice, serial,
//! rdp, mks) are refused as its manager refuses a console type that is
//! not enabled (`ConsoleTypeUnavailable`, 400).

use super::Compute;
use crate::db::consoles::{self as tokens, TokenRow};
use crate::db::servers::InstanceRow;
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The policy of both console-creating calls (nova/policies/remote_consoles.py).
pub const POLICY: &str = "os_compute_api:os-remote-consoles";
/// The token lookup's policy (nova/policies/console_auth_tokens.py).
pub const TOKEN_POLICY: &str = "os_compute_api:os-console-auth-tokens";

/// The one console type this cloud serves.
pub const NOVNC: &str = "novnc";

/// The SHA-256 of a token, as stored, in hex.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Nova's `ConsoleTypeUnavailable` (400).
fn unavailable(console_type: &str) -> Error {
    Error::bad_request(format!("Unavailable console type {console_type}."))
}

impl Compute {
    /// The noVNC proxy's public base URL: `[compute] novncproxy_base_url`
    /// when set, else `http://<public host>:<proxy port>` (the bound port
    /// once the proxy listens, which matters for port 0).
    pub fn novncproxy_base_url(&self) -> String {
        let configured = self.settings.novncproxy_base_url.trim_end_matches('/');
        if !configured.is_empty() {
            return configured.to_string();
        }
        let port = self
            .console_proxy_port
            .get()
            .copied()
            .unwrap_or(self.settings.novncproxy_port);
        format!("http://{}:{port}", self.public_host)
    }

    /// A console of `protocol`/`console_type` for server `id`: its URL.
    /// The body was checked against Nova's schema by the handler; here
    /// are the manager's rules (only `vnc`/`novnc` is enabled).
    pub async fn remote_console(
        &self,
        ctx: &AuthContext,
        id: &str,
        protocol: &str,
        console_type: &str,
    ) -> Result<String> {
        let row = self.visible_server(ctx, id, POLICY).await?;
        console_ready(&row)?;
        match (protocol, console_type) {
            ("vnc", NOVNC) => {}
            // Nova's manager: a VNC console of another type is invalid.
            ("vnc", other) => {
                return Err(Error::bad_request(format!("Invalid console type {other}")))
            }
            (_, other) => return Err(unavailable(other)),
        }
        let token = self.issue_token(&row, NOVNC).await?;
        Ok(format!(
            "{}/vnc_lite.html?path=%3Ftoken%3D{token}",
            self.novncproxy_base_url()
        ))
    }

    /// A new token for `row`'s console: stored hashed, returned in clear.
    async fn issue_token(&self, row: &InstanceRow, console_type: &str) -> Result<String> {
        let now = self.now();
        tokens::purge_expired(&self.db.pool, now).await?;
        let token = common::ids::hex_id();
        let ttl_micros = i64::try_from(self.settings.console_token_ttl)
            .unwrap_or(i64::MAX / 1_000_000)
            .saturating_mul(1_000_000);
        let stored = TokenRow {
            instance_uuid: row.id.clone(),
            console_type: console_type.to_string(),
            host: row.host.clone().unwrap_or_default(),
            expires_at: now.saturating_add(ttl_micros),
        };
        tokens::insert(&self.db.pool, &token_hash(&token), &stored, now).await?;
        Ok(token)
    }

    /// The unexpired token `token`, if any; expired ones are purged.
    pub async fn check_console_token(&self, token: &str) -> Result<Option<TokenRow>> {
        let now = self.now();
        tokens::purge_expired(&self.db.pool, now).await?;
        Ok(tokens::valid(&self.db.pool, &token_hash(token), now).await?)
    }

    /// `GET /os-console-auth-tokens/{token}`: the connection a token
    /// stands for. Before 2.31 Nova shows only RDP tokens (401 for any
    /// other); a noVNC console is a Unix socket on the host here, so
    /// there is no TCP `port` to show (the schema does not require it).
    pub async fn console_token_details(
        &self,
        ctx: &AuthContext,
        token: &str,
        rdp_only: bool,
    ) -> Result<Value> {
        self.enforce(ctx, TOKEN_POLICY, &json!({}))?;
        if token.is_empty() {
            return Err(Error::bad_request("token not provided"));
        }
        let Some(t) = self.check_console_token(token).await? else {
            return Err(Error::not_found("Token not found"));
        };
        if rdp_only && t.console_type != "rdp-html5" {
            // Nova's controller raises this 401 itself, so its body is
            // Nova's fault, not keystonemiddleware's.
            return Err(Error::unauthorized(
                "The requested console type details are not accessible",
            )
            .with_fault("unauthorized"));
        }
        Ok(json!({ "console": {
            "instance_uuid": t.instance_uuid,
            "host": t.host,
            "internal_access_path": Value::Null,
        }}))
    }
}

/// Nova's `check_instance_host` and `reject_instance_state`: a server not
/// yet on a host (or still building) has no console (409
/// `InstanceNotReady`), nor has one being deleted or migrated.
fn console_ready(row: &InstanceRow) -> Result<()> {
    if row.host.is_none() || row.vm_state == "building" {
        return Err(Error::conflict(format!("Instance {} is not ready", row.id)));
    }
    if let Some(task) = row
        .task_state
        .as_deref()
        .filter(|t| matches!(*t, "deleting" | "migrating"))
    {
        return Err(Error::conflict(format!(
            "Instance {} in task_state {task}. Cannot get_vnc_console while the instance is \
             in this state.",
            row.id
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_is_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
