//! Credentials (`/v3/credentials`) and EC2 credentials
//! (`/v3/users/{id}/credentials/OS-EC2`).
//!
//! Blobs are encrypted at rest with their own fernet key repository
//! (`credential-keys`, rotated by `oxistack identity rotate-credential-keys`,
//! which re-encrypts every blob with the new primary key). An EC2
//! credential is a credential of type `ec2` whose blob holds `access` and
//! `secret`; its id is the SHA-256 of the access key, as Keystone makes it,
//! so `/v3/ec2tokens` finds it from the access key alone.

use super::domains::strip_readonly;
use super::policy_target::{PolicyTarget, Ref};
use super::Identity;
use crate::db::credentials::StoredCredential;
use common::context::AuthContext;
use common::http::{Page, QueryMap};
use common::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

#[derive(Debug, Deserialize, Default)]
pub struct CredentialInput {
    pub blob: Option<String>,
    #[serde(rename = "type")]
    pub cred_type: Option<String>,
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "super::double_option")]
    pub project_id: Option<Option<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A credential with its blob in the clear.
#[derive(Debug, Clone)]
pub struct Credential {
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub cred_type: String,
    pub blob: String,
    pub extra: Map<String, Value>,
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("Could not find credential: {id}."))
}

pub fn ec2_id(access: &str) -> String {
    hex(&Sha256::digest(access.as_bytes()))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn target(user_id: &str) -> PolicyTarget {
    PolicyTarget::none().credential_of(user_id).user_id(user_id)
}

/// The blob of a new EC2 credential, as Keystone's `ec2tokens` reads it:
/// `trust_id` is written as null (no delegation), so a later blob update
/// is held to the same.
#[derive(Serialize)]
struct Ec2Blob<'a> {
    access: &'a str,
    secret: &'a str,
    trust_id: Option<&'a str>,
}

impl Identity {
    fn seal(&self, blob: &str) -> String {
        let now = u64::try_from(self.now() / 1_000_000).unwrap_or(0);
        self.cred_keys.encrypt(blob.as_bytes(), now)
    }

    fn open(&self, c: StoredCredential) -> Result<Credential> {
        let now = u64::try_from(self.now() / 1_000_000).unwrap_or(0);
        let plain = self
            .cred_keys
            .decrypt(&c.encrypted_blob, now)
            .ok_or_else(|| {
                Error::internal(format!(
                    "credential {} cannot be decrypted with the active keys",
                    c.id
                ))
            })?;
        Ok(Credential {
            id: c.id,
            user_id: c.user_id,
            project_id: c.project_id,
            cred_type: c.cred_type,
            blob: String::from_utf8_lossy(&plain).into_owned(),
            extra: c.extra,
        })
    }

    pub async fn create_credential(
        &self,
        ctx: &AuthContext,
        mut input: CredentialInput,
    ) -> Result<Credential> {
        let user_id = input
            .user_id
            .take()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'user_id': required."))?;
        self.enforce(ctx, "identity:create_credential", target(&user_id))?;
        let blob = input
            .blob
            .take()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'blob': required."))?;
        let cred_type = input
            .cred_type
            .take()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'type': required."))?;
        let project_id = input.project_id.take().flatten();
        if crate::db::users::get(&self.db.pool, &user_id)
            .await?
            .is_none()
        {
            return Err(Error::bad_request(format!(
                "Invalid input for field 'user_id': no user {user_id}."
            )));
        }
        let id = if cred_type == "ec2" {
            let parsed: Value = serde_json::from_str(&blob).map_err(|_| {
                Error::bad_request("Invalid input for field 'blob': an ec2 blob must be JSON.")
            })?;
            let access = parsed["access"].as_str().ok_or_else(|| {
                Error::bad_request("Invalid input for field 'blob': an ec2 blob needs 'access'.")
            })?;
            if project_id.is_none() {
                return Err(Error::bad_request(
                    "Invalid input for field 'project_id': required for ec2 credentials.",
                ));
            }
            ec2_id(access)
        } else {
            common::ids::hex_id()
        };
        strip_readonly(&mut input.extra);
        let stored = StoredCredential {
            id,
            user_id,
            project_id,
            cred_type,
            encrypted_blob: self.seal(&blob),
            extra: input.extra,
            created_at: self.now(),
        };
        let mut tx = self.begin().await?;
        crate::db::credentials::insert(tx.conn(), &stored)
            .await
            .map_err(|e| match Error::from(e) {
                e if e.kind() == common::ErrorKind::Conflict => Error::conflict(
                    "Conflict occurred attempting to store credential - Duplicate ID.",
                ),
                other => other,
            })?;
        self.commit(tx).await?;
        self.open(stored)
    }

    pub async fn get_credential(&self, ctx: &AuthContext, id: &str) -> Result<Credential> {
        let c = crate::db::credentials::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        // Someone else's credential is not shown to exist.
        self.enforce(ctx, "identity:get_credential", target(&c.user_id))
            .map_err(|_| not_found(id))?;
        self.open(c)
    }

    /// One page of `GET /v3/credentials`, filtered and paged in SQL.
    /// Admins and system readers see every credential; anyone else only
    /// their own, as Keystone filters them.
    pub async fn list_credentials(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<Page<Credential>> {
        let sees_all = self.check(ctx, "identity:list_credentials", PolicyTarget::none());
        let filter = crate::db::credentials::CredentialFilter {
            user_id: q.get("user_id"),
            owner: (!sees_all).then_some(ctx.user_id.as_str()),
            cred_type: q.get("type"),
        };
        let paging = self.paging(q)?;
        let page =
            super::listed(crate::db::credentials::list_page(&self.db, &filter, &paging).await)?;
        self.open_page(page)
    }

    /// A page of stored credentials with their blobs in the clear.
    fn open_page(&self, page: Page<StoredCredential>) -> Result<Page<Credential>> {
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|c| self.open(c))
                .collect::<Result<_>>()?,
            next_marker: page.next_marker,
        })
    }

    pub async fn update_credential(
        &self,
        ctx: &AuthContext,
        id: &str,
        mut input: CredentialInput,
    ) -> Result<Credential> {
        let mut c = crate::db::credentials::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, "identity:update_credential", target(&c.user_id))
            .map_err(|e| match e {
                e if e.kind() == common::ErrorKind::Forbidden && c.user_id != ctx.user_id => {
                    not_found(id)
                }
                other => other,
            })?;
        if input.user_id.as_ref().is_some_and(|u| *u != c.user_id) {
            return Err(Error::bad_request(
                "Invalid input for field 'user_id': it cannot be changed.",
            ));
        }
        if let Some(t) = input.cred_type.take() {
            if t != c.cred_type && (t == "ec2" || c.cred_type == "ec2") {
                return Err(Error::bad_request(
                    "Invalid input for field 'type': an ec2 credential keeps its type.",
                ));
            }
            c.cred_type = t;
        }
        if let Some(p) = input.project_id.take() {
            c.project_id = p;
        }
        if let Some(b) = input.blob.take() {
            if c.cred_type == "ec2" {
                self.check_ec2_blob_update(&c, &b)?;
            }
            c.encrypted_blob = self.seal(&b);
        }
        strip_readonly(&mut input.extra);
        c.extra.extend(input.extra);
        let mut tx = self.begin().await?;
        crate::db::credentials::update(tx.conn(), &c).await?;
        self.commit(tx).await?;
        self.open(c)
    }

    /// Keystone's `_validate_blob_update_keys`: a new EC2 blob is a JSON
    /// object with an `access` key, and keeps the delegation it was made
    /// under (`trust_id`, `app_cred_id`, `access_token_id`, `access_id`).
    /// The access key itself may change; the credential keeps its id (the
    /// SHA-256 of the first access key), as in Keystone.
    fn check_ec2_blob_update(&self, current: &StoredCredential, new_blob: &str) -> Result<()> {
        let new: Value = serde_json::from_str(new_blob)
            .map_err(|_| Error::bad_request("Invalid blob in credential"))?;
        if new.as_object().is_none_or(serde_json::Map::is_empty) {
            return Err(Error::bad_request(
                "Invalid input for field 'blob': an ec2 blob must be a JSON object.",
            ));
        }
        if new.get("access").is_none_or(Value::is_null) {
            return Err(Error::bad_request(
                "Invalid input for field 'blob': 'access' is a required property.",
            ));
        }
        let now = u64::try_from(self.now() / 1_000_000).unwrap_or(0);
        let old: Value = self
            .cred_keys
            .decrypt(&current.encrypted_blob, now)
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .unwrap_or(Value::Null);
        for key in ["trust_id", "app_cred_id", "access_token_id", "access_id"] {
            let was = old.get(key).unwrap_or(&Value::Null);
            let is = new.get(key).unwrap_or(&Value::Null);
            if was != is {
                return Err(Error::bad_request(format!(
                    "{key} can not be updated for credential"
                )));
            }
        }
        Ok(())
    }

    pub async fn delete_credential(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let c = crate::db::credentials::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, "identity:delete_credential", target(&c.user_id))
            .map_err(|e| match e {
                e if e.kind() == common::ErrorKind::Forbidden && c.user_id != ctx.user_id => {
                    not_found(id)
                }
                other => other,
            })?;
        let mut tx = self.begin().await?;
        crate::db::credentials::delete(tx.conn(), id).await?;
        self.commit(tx).await
    }

    /// `POST /v3/users/{id}/credentials/OS-EC2`: a new access/secret pair
    /// for the user on `tenant_id`.
    pub async fn create_ec2(
        &self,
        ctx: &AuthContext,
        user_id: &str,
        tenant_id: &str,
    ) -> Result<Credential> {
        self.enforce(
            ctx,
            "identity:ec2_create_credential",
            PolicyTarget::none().user_id(user_id).user(Ref::id(user_id)),
        )?;
        let snap = self.view().await?;
        if !snap.users.contains_key(user_id) {
            return Err(super::users::not_found(user_id));
        }
        if !snap.projects.contains_key(tenant_id) {
            return Err(Error::bad_request(format!(
                "Invalid input for field 'tenant_id': no project {tenant_id}."
            )));
        }
        let access = common::ids::hex_id();
        let secret = common::ids::hex_id();
        let blob = serde_json::to_string(&Ec2Blob {
            access: &access,
            secret: &secret,
            trust_id: None,
        })?;
        let stored = StoredCredential {
            id: ec2_id(&access),
            user_id: user_id.to_string(),
            project_id: Some(tenant_id.to_string()),
            cred_type: "ec2".into(),
            encrypted_blob: self.seal(&blob),
            extra: Map::new(),
            created_at: self.now(),
        };
        let mut tx = self.begin().await?;
        crate::db::credentials::insert(tx.conn(), &stored).await?;
        self.commit(tx).await?;
        self.open(stored)
    }

    /// One page of the user's EC2 credentials, in id order (the SHA-256
    /// of the access key, which is also the marker).
    pub async fn list_ec2(
        &self,
        ctx: &AuthContext,
        user_id: &str,
        q: &QueryMap,
    ) -> Result<Page<Credential>> {
        self.enforce(
            ctx,
            "identity:ec2_list_credentials",
            PolicyTarget::none().user_id(user_id).user(Ref::id(user_id)),
        )?;
        let filter = crate::db::credentials::CredentialFilter {
            user_id: Some(user_id),
            owner: None,
            cred_type: Some("ec2"),
        };
        let paging = self.paging(q)?;
        let page =
            super::listed(crate::db::credentials::list_page(&self.db, &filter, &paging).await)?;
        self.open_page(page)
    }

    /// One EC2 credential of `user_id` by its access key.
    pub async fn get_ec2(
        &self,
        ctx: &AuthContext,
        user_id: &str,
        access: &str,
        action: &str,
    ) -> Result<Credential> {
        let nf = || Error::not_found(format!("Could not find credential: {access}."));
        self.enforce(
            ctx,
            action,
            PolicyTarget::none().user_id(user_id).user(Ref::id(user_id)),
        )
        .map_err(|_| nf())?;
        let c = crate::db::credentials::get(&self.db.pool, &ec2_id(access))
            .await?
            .ok_or_else(nf)?;
        if c.user_id != user_id || c.cred_type != "ec2" {
            return Err(nf());
        }
        self.open(c)
    }

    pub async fn delete_ec2(&self, ctx: &AuthContext, user_id: &str, access: &str) -> Result<()> {
        let c = self
            .get_ec2(ctx, user_id, access, "identity:ec2_delete_credential")
            .await?;
        let mut tx = self.begin().await?;
        crate::db::credentials::delete(tx.conn(), &c.id).await?;
        self.commit(tx).await
    }

    /// Re-encrypts every credential blob with the current primary key, so
    /// the keys retired by the next rotations are no longer needed.
    pub async fn reencrypt_credentials(&self) -> Result<usize> {
        let all = crate::db::credentials::list(&self.db.pool).await?;
        let mut tx = self.begin().await?;
        let n = all.len();
        for c in all {
            let mut c2 = c.clone();
            let clear = self.open(c)?;
            c2.encrypted_blob = self.seal(&clear.blob);
            crate::db::credentials::update(tx.conn(), &c2).await?;
        }
        self.commit(tx).await?;
        Ok(n)
    }
}
