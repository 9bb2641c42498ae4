//! Domain-specific configuration (`/v3/domains/{id}/config`): the
//! `identity` and `ldap` option groups Keystone lets a domain override.
//!
//! Only the SQL identity backend exists, so a configuration that selects
//! another one (`identity.driver = "ldap"`) is refused with a 400 rather
//! than stored and silently ignored; LDAP options are stored and returned
//! (the password never is) for when that backend exists.

use super::Identity;
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::{json, Map, Value};

/// Options a domain may set, with Keystone's defaults.
pub fn defaults() -> Value {
    json!({
        "identity": {"driver": "sql", "list_limit": null},
        "ldap": {
            "url": "ldap://localhost", "user": null, "password": null, "suffix": "cn=example,cn=com",
            "query_scope": "one", "page_size": 0, "alias_dereferencing": "default", "chase_referrals": null,
            "user_tree_dn": null, "user_filter": null, "user_objectclass": "inetOrgPerson",
            "user_id_attribute": "cn", "user_name_attribute": "sn", "user_description_attribute": "description",
            "user_mail_attribute": "mail", "user_pass_attribute": "userPassword", "user_enabled_attribute": "enabled",
            "group_tree_dn": null, "group_filter": null, "group_objectclass": "groupOfNames",
            "group_id_attribute": "cn", "group_name_attribute": "ou", "group_member_attribute": "member",
            "group_desc_attribute": "description", "use_tls": false, "tls_cacertfile": null, "tls_req_cert": "demand",
            "use_pool": true, "pool_size": 10, "use_auth_pool": true
        }
    })
}

/// Options never shown back (Keystone's sensitive options).
const SENSITIVE: [(&str, &str); 1] = [("ldap", "password")];

fn check_option(group: &str, option: &str, value: &Value) -> Result<()> {
    let d = defaults();
    let Some(g) = d.get(group).and_then(Value::as_object) else {
        return Err(Error::forbidden(format!(
            "Group {group} is not supported for domain specific configurations."
        )));
    };
    if !g.contains_key(option) {
        return Err(Error::forbidden(format!(
            "Option {option} in group {group} is not supported for domain specific configurations."
        )));
    }
    if group == "identity" && option == "driver" && value.as_str() != Some("sql") {
        return Err(Error::bad_request(format!(
            "Invalid domain configuration: identity driver {value} is not available; only \"sql\" is implemented."
        )));
    }
    Ok(())
}

fn not_found(domain: &str) -> Error {
    Error::not_found(format!("Could not find domain config: {domain}."))
}

impl Identity {
    async fn config_domain(&self, ctx: &AuthContext, action: &str, domain: &str) -> Result<()> {
        self.enforce(ctx, action, json!({"target": {"domain": {"id": domain}}}))?;
        if crate::db::domains::get(&self.db.pool, domain)
            .await?
            .is_none()
        {
            return Err(super::domains::not_found(domain));
        }
        Ok(())
    }

    /// The stored configuration as `{group: {option: value}}`, without
    /// sensitive options.
    pub async fn get_domain_config(
        &self,
        ctx: &AuthContext,
        domain: &str,
        group: Option<&str>,
        option: Option<&str>,
    ) -> Result<Value> {
        self.config_domain(ctx, "identity:get_domain_config", domain)
            .await?;
        let rows = crate::db::domain_configs::get(&self.db.pool, domain).await?;
        let mut out = Map::new();
        for (g, o, v) in rows {
            if SENSITIVE.contains(&(g.as_str(), o.as_str()))
                || group.is_some_and(|x| x != g)
                || option.is_some_and(|x| x != o)
            {
                continue;
            }
            let entry = out.entry(g).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = entry {
                m.insert(o, v);
            }
        }
        if out.is_empty() {
            return Err(not_found(domain));
        }
        Ok(Value::Object(out))
    }

    /// PUT (replace = true: create, 409 if one exists) or PATCH (merge).
    pub async fn set_domain_config(
        &self,
        ctx: &AuthContext,
        domain: &str,
        config: &Value,
        create: bool,
    ) -> Result<()> {
        let action = if create {
            "identity:create_domain_config"
        } else {
            "identity:update_domain_config"
        };
        self.config_domain(ctx, action, domain).await?;
        let groups = config
            .as_object()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                Error::bad_request(
                    "Invalid input for field 'config': a non-empty object is required.",
                )
            })?;
        let mut pairs = Vec::new();
        for (g, opts) in groups {
            let opts = opts.as_object().ok_or_else(|| {
                Error::bad_request(format!(
                    "Invalid input for field 'config.{g}': an object is required."
                ))
            })?;
            for (o, v) in opts {
                check_option(g, o, v)?;
                pairs.push((g.clone(), o.clone(), v.clone()));
            }
        }
        let existing = crate::db::domain_configs::get(&self.db.pool, domain).await?;
        if create && !existing.is_empty() {
            return Err(Error::conflict(format!(
                "A configuration already exists for domain {domain}."
            )));
        }
        if !create && existing.is_empty() {
            return Err(not_found(domain));
        }
        let mut tx = self.begin().await?;
        for (g, o, v) in &pairs {
            crate::db::domain_configs::set(tx.conn(), domain, g, o, v).await?;
        }
        self.commit(tx).await
    }

    pub async fn delete_domain_config(
        &self,
        ctx: &AuthContext,
        domain: &str,
        group: Option<&str>,
        option: Option<&str>,
    ) -> Result<()> {
        self.config_domain(ctx, "identity:delete_domain_config", domain)
            .await?;
        let mut tx = self.begin().await?;
        if crate::db::domain_configs::delete(tx.conn(), domain, group, option).await? == 0 {
            return Err(not_found(domain));
        }
        self.commit(tx).await
    }

    /// `/v3/domains/config[/{group}[/{option}]]/default`.
    pub fn default_domain_config(
        &self,
        ctx: &AuthContext,
        group: Option<&str>,
        option: Option<&str>,
    ) -> Result<Value> {
        self.enforce(ctx, "identity:get_domain_config_default", json!({}))?;
        let mut d = defaults();
        for (g, o) in SENSITIVE {
            if let Some(m) = d.get_mut(g).and_then(Value::as_object_mut) {
                m.remove(o);
            }
        }
        match (group, option) {
            (None, _) => Ok(d),
            (Some(g), None) => d.get(g).map(|v| json!({ g: v })).ok_or_else(|| {
                Error::forbidden(format!(
                    "Group {g} is not supported for domain specific configurations."
                ))
            }),
            (Some(g), Some(o)) => d
                .get(g)
                .and_then(|v| v.get(o))
                .map(|v| json!({ o: v }))
                .ok_or_else(|| {
                    Error::forbidden(format!("Option {o} in group {g} is not supported."))
                }),
        }
    }
}
