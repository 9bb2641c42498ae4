//! Domain-specific configuration (`/v3/domains/{id}/config`): the
//! `identity` and `ldap` option groups Keystone lets a domain override.
//!
//! As in Keystone, the API stores any value for a whitelisted option,
//! `identity.driver = "ldap"` included: Keystone's API does not check that
//! the driver exists either, only its identity layer does when it loads a
//! domain's driver. Only the SQL identity backend exists here, so such a
//! configuration is kept for clients and tools that manage it (tempest's
//! domain configuration tests do) and the domain's users still live in
//! SQL. The LDAP password is stored and never shown back (Keystone's
//! sensitive options).

use super::policy_target::{PolicyTarget, Ref};
use super::Identity;
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A domain's configuration: group → option → value. Values are what the
/// client stored (Keystone takes any JSON for an option).
pub type DomainConfig = BTreeMap<String, BTreeMap<String, Value>>;

/// Keystone's `DomainConfigManager.whitelisted_options`, with each
/// option's default from keystone.conf (`keystone/conf/identity.py`,
/// `keystone/conf/ldap.py`); `/v3/domains/config/default` shows these.
const WHITELISTED: &[(&str, &[&str])] = &[
    ("identity", &["driver", "list_limit"]),
    (
        "ldap",
        &[
            "url",
            "user",
            "suffix",
            "query_scope",
            "page_size",
            "alias_dereferencing",
            "debug_level",
            "chase_referrals",
            "user_tree_dn",
            "user_filter",
            "user_objectclass",
            "user_id_attribute",
            "user_name_attribute",
            "user_mail_attribute",
            "user_description_attribute",
            "user_pass_attribute",
            "user_enabled_attribute",
            "user_enabled_invert",
            "user_enabled_mask",
            "user_enabled_default",
            "user_attribute_ignore",
            "user_default_project_id_attribute",
            "user_enabled_emulation",
            "user_enabled_emulation_dn",
            "user_enabled_emulation_use_group_config",
            "user_additional_attribute_mapping",
            "group_tree_dn",
            "group_filter",
            "group_objectclass",
            "group_id_attribute",
            "group_name_attribute",
            "group_members_are_ids",
            "group_member_attribute",
            "group_desc_attribute",
            "group_attribute_ignore",
            "group_additional_attribute_mapping",
            "tls_cacertfile",
            "tls_cacertdir",
            "use_tls",
            "tls_req_cert",
            "use_pool",
            "pool_size",
            "pool_retry_max",
            "pool_retry_delay",
            "pool_connection_timeout",
            "pool_connection_lifetime",
            "use_auth_pool",
            "auth_pool_size",
            "auth_pool_connection_lifetime",
        ],
    ),
];

/// Options a domain may set but that are never shown back (Keystone's
/// `sensitive_options`).
const SENSITIVE: [(&str, &str); 1] = [("ldap", "password")];

/// The default value of a whitelisted option, as keystone.conf has it
/// (null for an option without one).
fn default_value(group: &str, option: &str) -> Value {
    match (group, option) {
        ("identity", "driver") => Value::from("sql"),
        ("ldap", "url") => Value::from("ldap://localhost"),
        ("ldap", "suffix") => Value::from("cn=example,cn=com"),
        ("ldap", "query_scope") => Value::from("one"),
        ("ldap", "page_size" | "user_enabled_mask") => Value::from(0),
        ("ldap", "alias_dereferencing") => Value::from("default"),
        ("ldap", "user_objectclass") => Value::from("inetOrgPerson"),
        ("ldap", "user_id_attribute" | "group_id_attribute") => Value::from("cn"),
        ("ldap", "user_name_attribute") => Value::from("sn"),
        ("ldap", "user_description_attribute" | "group_desc_attribute") => {
            Value::from("description")
        }
        ("ldap", "user_mail_attribute") => Value::from("mail"),
        ("ldap", "user_pass_attribute") => Value::from("userPassword"),
        ("ldap", "user_enabled_attribute") => Value::from("enabled"),
        ("ldap", "user_enabled_default") => Value::from("True"),
        ("ldap", "user_attribute_ignore") => Value::from(vec!["default_project_id"]),
        (
            "ldap",
            "user_enabled_invert"
            | "user_enabled_emulation"
            | "user_enabled_emulation_use_group_config"
            | "group_members_are_ids"
            | "use_tls",
        ) => Value::from(false),
        (
            "ldap",
            "user_additional_attribute_mapping"
            | "group_attribute_ignore"
            | "group_additional_attribute_mapping",
        ) => Value::Array(Vec::new()),
        ("ldap", "group_objectclass") => Value::from("groupOfNames"),
        ("ldap", "group_name_attribute") => Value::from("ou"),
        ("ldap", "group_member_attribute") => Value::from("member"),
        ("ldap", "tls_req_cert") => Value::from("demand"),
        ("ldap", "use_pool" | "use_auth_pool") => Value::from(true),
        ("ldap", "pool_size") => Value::from(10),
        ("ldap", "pool_retry_max") => Value::from(3),
        ("ldap", "pool_retry_delay") => Value::from(0.1),
        ("ldap", "pool_connection_timeout") => Value::from(-1),
        ("ldap", "pool_connection_lifetime") => Value::from(600),
        ("ldap", "auth_pool_size") => Value::from(100),
        ("ldap", "auth_pool_connection_lifetime") => Value::from(60),
        _ => Value::Null,
    }
}

fn whitelisted(group: &str) -> Option<&'static [&'static str]> {
    WHITELISTED
        .iter()
        .find(|(g, _)| *g == group)
        .map(|(_, opts)| *opts)
}

/// Keystone's `_assert_valid_group_and_option`: 403 (its
/// `InvalidDomainConfig`) for a group or option it does not support.
fn check_option(group: &str, option: Option<&str>) -> Result<()> {
    let Some(opts) = whitelisted(group) else {
        return Err(Error::forbidden(format!(
            "Invalid domain specific configuration: Group {group} is not supported for domain specific configurations."
        )));
    };
    if let Some(o) = option {
        if !opts.contains(&o) && !SENSITIVE.contains(&(group, o)) {
            return Err(Error::forbidden(format!(
                "Invalid domain specific configuration: Option {o} in group {group} is not supported for domain specific configurations."
            )));
        }
    }
    Ok(())
}

/// Keystone's `InvalidDomainConfig`, a 403.
fn invalid(reason: &str) -> Error {
    Error::forbidden(format!("Invalid domain specific configuration: {reason}"))
}

fn not_found(domain: &str) -> Error {
    Error::not_found(format!("Could not find domain config: {domain}."))
}

impl Identity {
    async fn config_domain(&self, ctx: &AuthContext, action: &str, domain: &str) -> Result<()> {
        self.enforce(ctx, action, PolicyTarget::none().domain(Ref::id(domain)))?;
        if crate::db::domains::get(&self.db.pool, domain)
            .await?
            .is_none()
        {
            return Err(super::domains::not_found(domain));
        }
        Ok(())
    }

    /// The stored configuration (of one group, or one option of it),
    /// without sensitive options; 404 when nothing is set there.
    pub async fn get_domain_config(
        &self,
        ctx: &AuthContext,
        domain: &str,
        group: Option<&str>,
        option: Option<&str>,
    ) -> Result<DomainConfig> {
        self.config_domain(ctx, "identity:get_domain_config", domain)
            .await?;
        let rows = crate::db::domain_configs::get(&self.db.pool, domain).await?;
        let mut out = DomainConfig::new();
        for (g, o, v) in rows {
            if SENSITIVE.contains(&(g.as_str(), o.as_str()))
                || group.is_some_and(|x| x != g)
                || option.is_some_and(|x| x != o)
            {
                continue;
            }
            out.entry(g).or_default().insert(o, v);
        }
        if out.is_empty() {
            return Err(not_found(domain));
        }
        Ok(out)
    }

    /// One stored option's value.
    pub async fn get_domain_config_option(
        &self,
        ctx: &AuthContext,
        domain: &str,
        group: &str,
        option: &str,
    ) -> Result<Value> {
        let cfg = self
            .get_domain_config(ctx, domain, Some(group), Some(option))
            .await?;
        Ok(cfg
            .get(group)
            .and_then(|opts| opts.get(option))
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// `PUT /v3/domains/{id}/config` (`create`): replaces the whole
    /// configuration; true when one existed (Keystone then answers 200
    /// instead of 201). `PATCH …/config[/{group}[/{option}]]`: merges
    /// into an existing configuration, group or option (404 when absent);
    /// for an option, `config` is `{option: value}` as Keystone takes it.
    pub async fn set_domain_config(
        &self,
        ctx: &AuthContext,
        domain: &str,
        config: &Value,
        create: bool,
        group: Option<&str>,
        option: Option<&str>,
    ) -> Result<bool> {
        let action = if create {
            "identity:create_domain_config"
        } else {
            "identity:update_domain_config"
        };
        self.config_domain(ctx, action, domain).await?;
        let wrapped;
        let config = match (group, option) {
            (Some(g), Some(_)) => {
                wrapped = Value::Object(Map::from_iter([(g.to_string(), config.clone())]));
                &wrapped
            }
            _ => config,
        };
        let groups = config
            .as_object()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| invalid("No options specified."))?;
        let mut pairs = Vec::new();
        for (g, opts) in groups {
            let opts = opts.as_object().filter(|m| !m.is_empty()).ok_or_else(|| {
                invalid(&format!(
                    "The value of group {g} specified in the config should be a dictionary of options."
                ))
            })?;
            for (o, v) in opts {
                check_option(g, Some(o))?;
                pairs.push((g.clone(), o.clone(), v.clone()));
            }
        }
        // Keystone's `_assert_valid_update`: a group or option update
        // names that group or option, and only it.
        if let Some(g) = group {
            check_option(g, option)?;
            if groups.len() != 1 || !groups.contains_key(g) {
                return Err(invalid(&format!(
                    "Trying to update group {g}, so that, and only that, group must be specified in the config."
                )));
            }
            if let Some(o) = option {
                if pairs.len() != 1 || pairs.iter().any(|(_, po, _)| po != o) {
                    return Err(invalid(&format!(
                        "Trying to update option {o} in group {g}, so that, and only that, option must be specified in the config."
                    )));
                }
            }
        }
        let existing = crate::db::domain_configs::get(&self.db.pool, domain).await?;
        let present = existing.iter().any(|(eg, eo, _)| {
            group.is_none_or(|g| eg.as_str() == g) && option.is_none_or(|o| eo.as_str() == o)
        });
        if !create && !present {
            return Err(not_found(domain));
        }
        let mut tx = self.begin().await?;
        if create {
            crate::db::domain_configs::delete(tx.conn(), domain, None, None).await?;
        }
        for (g, o, v) in &pairs {
            crate::db::domain_configs::set(tx.conn(), domain, g, o, v).await?;
        }
        self.commit(tx).await?;
        Ok(!existing.is_empty())
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

    /// `/v3/domains/config[/{group}]/default`: Keystone's
    /// `get_config_default` for the whitelisted options, of every group or
    /// of one.
    pub fn default_domain_config(
        &self,
        ctx: &AuthContext,
        group: Option<&str>,
    ) -> Result<DomainConfig> {
        self.enforce(
            ctx,
            "identity:get_domain_config_default",
            PolicyTarget::none(),
        )?;
        if let Some(g) = group {
            check_option(g, None)?;
        }
        Ok(WHITELISTED
            .iter()
            .filter(|(g, _)| group.is_none_or(|x| x == *g))
            .map(|(g, opts)| {
                let defaults = opts
                    .iter()
                    .map(|o| ((*o).to_string(), default_value(g, o)))
                    .collect();
                ((*g).to_string(), defaults)
            })
            .collect())
    }

    /// `/v3/domains/config/{group}/{option}/default`: one option's default.
    pub fn default_domain_config_option(
        &self,
        ctx: &AuthContext,
        group: &str,
        option: &str,
    ) -> Result<Value> {
        self.enforce(
            ctx,
            "identity:get_domain_config_default",
            PolicyTarget::none(),
        )?;
        check_option(group, Some(option))?;
        // A sensitive option passes the check but has no default to show.
        if !whitelisted(group).unwrap_or_default().contains(&option) {
            return Err(Error::forbidden(format!(
                "Invalid domain specific configuration: Reading the default for option {option} in group {group} is not supported."
            )));
        }
        Ok(default_value(group, option))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_whitelisted_option_is_valid_and_password_is_sensitive() {
        for (g, opts) in WHITELISTED {
            for o in *opts {
                assert!(check_option(g, Some(o)).is_ok(), "{g}.{o}");
            }
        }
        assert!(check_option("ldap", Some("password")).is_ok());
        assert!(check_option("ldap", Some("nope")).is_err());
        assert!(check_option("nope", None).is_err());
        assert_eq!(
            default_value("ldap", "pool_retry_delay"),
            serde_json::json!(0.1)
        );
        assert_eq!(default_value("identity", "list_limit"), Value::Null);
    }
}
