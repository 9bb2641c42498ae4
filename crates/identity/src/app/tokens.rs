//! Issuing, validating and revoking tokens (`/v3/auth/tokens`).

use super::policy_target::PolicyTarget;
use super::snapshot::{Snapshot, Target};
use super::Identity;
use crate::token::format::{
    method_names, new_audit_id, Payload, TokenScope, METHOD_APPLICATION_CREDENTIAL, METHOD_EC2,
    METHOD_OAUTH1, METHOD_PASSWORD, METHOD_TOKEN,
};
use common::context::{AuthContext, RoleRef, Scope};
use common::{Error, Result};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AuthRequest {
    pub auth: AuthBody,
    /// The signed HTTP request, for the `oauth1` method (filled in by the
    /// handler from the request's headers, not from the body).
    #[serde(skip)]
    pub oauth: Option<super::oauth1::SignedRequest>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AuthBody {
    pub identity: IdentityReq,
    /// An object, or the string `"unscoped"`.
    #[serde(default)]
    pub scope: Option<Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct IdentityReq {
    pub methods: Vec<String>,
    pub password: Option<PasswordReq>,
    pub token: Option<TokenReq>,
    pub application_credential: Option<AppCredReq>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordReq {
    pub user: UserRef,
}

#[derive(Debug, Deserialize, Clone, utoipa::ToSchema)]
pub struct UserRef {
    pub id: Option<String>,
    pub name: Option<String>,
    pub domain: Option<DomainRef>,
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, Clone, utoipa::ToSchema)]
pub struct DomainRef {
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenReq {
    pub id: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AppCredReq {
    pub id: Option<String>,
    pub name: Option<String>,
    pub secret: String,
    pub user: Option<UserRef>,
}

#[derive(Debug, Deserialize)]
struct ScopeReq {
    project: Option<ProjectRef>,
    domain: Option<DomainRef>,
    system: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ProjectRef {
    id: Option<String>,
    name: Option<String>,
    domain: Option<DomainRef>,
}

/// A token just issued: its string and who it is for.
#[derive(Debug)]
pub struct Issued {
    pub token: String,
    pub ctx: Arc<AuthContext>,
}

fn auth_failed() -> Error {
    Error::unauthorized("The request you have made requires authentication.")
}

fn token_not_found() -> Error {
    Error::not_found("Could not find token.")
}

impl Identity {
    /// `POST /v3/auth/tokens`.
    pub async fn authenticate(&self, req: AuthRequest) -> Result<Issued> {
        let id = &req.auth.identity;
        if id.methods.is_empty() {
            return Err(Error::bad_request(
                "Invalid input for field 'identity.methods': it must not be empty.",
            ));
        }
        let now = self.now();
        let mut methods = 0u8;
        let mut user_id: Option<String> = None;
        let mut expires_at = now + self.settings.token_lifetime;
        let mut parent_audit: Option<String> = None;
        let mut app_cred: Option<String> = None;
        let mut inherited_scope: Option<TokenScope> = None;
        let mut oauth_access_token_id: Option<String> = None;
        let mut set_user = |uid: String| -> Result<()> {
            match &user_id {
                Some(existing) if *existing != uid => Err(auth_failed()),
                _ => {
                    user_id = Some(uid);
                    Ok(())
                }
            }
        };
        for m in &id.methods {
            match m.as_str() {
                "password" => {
                    let p = id.password.as_ref().ok_or_else(|| {
                        Error::bad_request("Invalid input for field 'identity.password': it is required by the method.")
                    })?;
                    set_user(self.check_password(&p.user).await?)?;
                    methods |= METHOD_PASSWORD;
                }
                "token" => {
                    let t = id.token.as_ref().ok_or_else(|| {
                        Error::bad_request("Invalid input for field 'identity.token': it is required by the method.")
                    })?;
                    let (payload, ctx) = self
                        .validate_payload(&t.id)
                        .await
                        .map_err(|_| auth_failed())?;
                    if payload.trust_id.is_some() {
                        return Err(Error::forbidden("A trust-scoped token cannot be rescoped."));
                    }
                    set_user(ctx.user_id.clone())?;
                    methods |= METHOD_TOKEN | payload.methods;
                    expires_at = expires_at.min(payload.expires_at);
                    parent_audit = payload.audit_ids.first().cloned();
                    if let Some(ac) = payload.application_credential_id {
                        // An application credential's token may not be
                        // used to reach beyond that credential's scope.
                        app_cred = Some(ac);
                        inherited_scope = Some(payload.scope.clone());
                    }
                }
                "oauth1" => {
                    let signed = req.oauth.as_ref().ok_or_else(|| {
                        Error::unauthorized("An OAuth Authorization header is required.")
                    })?;
                    let (at, uid, project) = self.oauth_authenticate(signed).await?;
                    set_user(uid)?;
                    methods |= METHOD_OAUTH1;
                    oauth_access_token_id = Some(at);
                    inherited_scope = Some(TokenScope::Project(project));
                }
                "application_credential" => {
                    let a = id.application_credential.as_ref().ok_or_else(|| {
                        Error::bad_request(
                            "Invalid input for field 'identity.application_credential': it is required by the method.",
                        )
                    })?;
                    let (cred_id, uid, scope, cred_exp) = self.check_app_cred(a).await?;
                    set_user(uid)?;
                    methods |= METHOD_APPLICATION_CREDENTIAL;
                    if let Some(e) = cred_exp {
                        expires_at = expires_at.min(e);
                    }
                    app_cred = Some(cred_id);
                    inherited_scope = Some(scope);
                }
                other => {
                    return Err(Error::unauthorized(format!(
                        "Attempted to authenticate with an unsupported method: {other}."
                    )))
                }
            }
        }
        let mut user_id = user_id.ok_or_else(auth_failed)?;
        let snap = self.view().await?;
        let trust_ref = req
            .auth
            .scope
            .as_ref()
            .and_then(|s| s.get("OS-TRUST:trust"))
            .cloned();
        let mut trust_id = None;
        let requested = match trust_ref {
            Some(t) => {
                if app_cred.is_some() {
                    return Err(Error::forbidden(
                        "Application credentials cannot be used with a trust.",
                    ));
                }
                let id = t.get("id").and_then(Value::as_str).ok_or_else(|| {
                    Error::bad_request(
                        "Invalid input for field 'scope.OS-TRUST:trust.id': required.",
                    )
                })?;
                let (uid, scope) = self.use_trust(&snap, id, &user_id).await?;
                user_id = uid;
                trust_id = Some(id.to_string());
                Some(scope)
            }
            None => self.requested_scope(&snap, req.auth.scope.as_ref())?,
        };
        let scope = match (inherited_scope, requested) {
            (Some(s), None) => s,
            (Some(s), Some(r)) if s == r => s,
            (Some(_), Some(_)) => {
                return Err(Error::unauthorized(
                    "Application credentials cannot request a scope.",
                ));
            }
            (None, Some(r)) => r,
            (None, None) => self.default_scope(&snap, &user_id),
        };
        let mut audit_ids = vec![new_audit_id()];
        audit_ids.extend(parent_audit);
        let payload = Payload {
            methods,
            user_id,
            scope,
            issued_at: now,
            expires_at,
            audit_ids,
            application_credential_id: app_cred,
            trust_id,
            oauth_access_token_id,
        };
        let ctx = self.resolve(&snap, &payload).map_err(|e| match e {
            e if e.kind() == common::ErrorKind::NotFound => auth_failed(),
            other => other,
        })?;
        let at = u64::try_from(now / 1_000_000).unwrap_or(0);
        let token = self.keys.encrypt(&payload.encode(), at);
        Ok(Issued {
            token,
            ctx: Arc::new(ctx),
        })
    }

    async fn check_password(&self, u: &UserRef) -> Result<String> {
        let password = u.password.clone().ok_or_else(|| {
            Error::bad_request(
                "Invalid input for field 'identity.password.user.password': it is required.",
            )
        })?;
        let user = self.find_user(u).await?;
        let c = &self.settings.compliance;
        let now = self.now();
        if let (Some(u), true) = (&user, c.lockout_failure_attempts > 0) {
            let (count, last) = crate::db::users::failures(&self.db.pool, &u.id).await?;
            if count >= i64::from(c.lockout_failure_attempts)
                && last.is_some_and(|t| t + c.lockout_duration > now)
            {
                return Err(Error::unauthorized(format!(
                    "The account is locked for user: {}.",
                    u.id
                )));
            }
        }
        let hash = match &user {
            Some(u) => u
                .password_hash
                .clone()
                .unwrap_or_else(|| self.dummy_hash().to_string()),
            None => self.dummy_hash().to_string(),
        };
        // Verify even for an unknown user so both cost the same.
        let ok = crate::password::verify_async(password, hash).await;
        match user {
            Some(u) if ok && u.password_hash.is_some() => {
                let snap = self.view().await?;
                if !snap.user_usable(&u.id) {
                    return Err(auth_failed());
                }
                if c.lockout_failure_attempts > 0 {
                    crate::db::users::record_failure(&self.db.pool, &u.id, None).await?;
                }
                if u.password_expires_at.is_some_and(|e| e <= now) {
                    return Err(Error::unauthorized(format!(
                        "The password is expired and needs to be changed for user: {}.",
                        u.id
                    )));
                }
                Ok(u.id)
            }
            Some(u) => {
                if c.lockout_failure_attempts > 0 {
                    crate::db::users::record_failure(&self.db.pool, &u.id, Some(now)).await?;
                }
                Err(auth_failed())
            }
            None => Err(auth_failed()),
        }
    }

    async fn find_user(&self, u: &UserRef) -> Result<Option<crate::db::users::User>> {
        let pool = &self.db.pool;
        if let Some(id) = &u.id {
            return Ok(crate::db::users::get(pool, id).await?);
        }
        let name = u.name.as_deref().ok_or_else(|| {
            Error::bad_request(
                "Invalid input for field 'user': either 'id' or 'name' with 'domain' is required.",
            )
        })?;
        let domain = u.domain.as_ref().ok_or_else(|| {
            Error::bad_request("Invalid input for field 'user.domain': required with 'name'.")
        })?;
        let Some(domain_id) = self.find_domain_id(domain).await? else {
            return Ok(None);
        };
        Ok(crate::db::users::get_by_name(pool, &domain_id, name).await?)
    }

    async fn find_domain_id(&self, d: &DomainRef) -> Result<Option<String>> {
        if let Some(id) = &d.id {
            return Ok(Some(id.clone()));
        }
        let name = d.name.as_deref().ok_or_else(|| {
            Error::bad_request("Invalid input for field 'domain': 'id' or 'name' is required.")
        })?;
        Ok(crate::db::domains::get_by_name(&self.db.pool, name)
            .await?
            .map(|d| d.id))
    }

    async fn check_app_cred(
        &self,
        a: &AppCredReq,
    ) -> Result<(String, String, TokenScope, Option<i64>)> {
        let snap = self.view().await?;
        let cred = match (&a.id, &a.name) {
            (Some(id), _) => snap.app_creds.get(id).cloned(),
            (None, Some(name)) => {
                let u = a.user.as_ref().ok_or_else(|| {
                    Error::bad_request("Invalid input for field 'application_credential.user': required with 'name'.")
                })?;
                let user = self.find_user(u).await?;
                user.and_then(|u| {
                    snap.app_creds
                        .values()
                        .find(|c| c.user_id == u.id && c.name == *name)
                        .cloned()
                })
            }
            (None, None) => {
                return Err(Error::bad_request(
                    "Invalid input for field 'application_credential': 'id' or 'name' is required.",
                ))
            }
        };
        let hash = cred
            .as_ref()
            .map(|c| c.secret_hash.clone())
            .unwrap_or_else(|| self.dummy_hash().to_string());
        let ok = crate::password::verify_async(a.secret.clone(), hash).await;
        let cred = cred.filter(|_| ok).ok_or_else(auth_failed)?;
        if cred.expires_at.is_some_and(|e| e <= self.now()) {
            return Err(auth_failed());
        }
        let scope = match (&cred.project_id, &cred.system) {
            (Some(p), _) => TokenScope::Project(p.clone()),
            (None, Some(_)) => TokenScope::System,
            (None, None) => return Err(auth_failed()),
        };
        Ok((cred.id, cred.user_id, scope, cred.expires_at))
    }

    /// `POST /v3/ec2tokens`: a token for the owner of an EC2 credential,
    /// scoped to its project, when the request signature checks out.
    pub async fn ec2_authenticate(&self, r: super::ec2::SignedRequest) -> Result<Issued> {
        let stored =
            crate::db::credentials::get(&self.db.pool, &super::credentials::ec2_id(&r.access))
                .await?
                .filter(|c| c.cred_type == "ec2")
                .ok_or_else(auth_failed)?;
        let now_secs = u64::try_from(self.now() / 1_000_000).unwrap_or(0);
        let blob = self
            .cred_keys
            .decrypt(&stored.encrypted_blob, now_secs)
            .ok_or_else(auth_failed)?;
        let blob: Value = serde_json::from_slice(&blob).map_err(|_| auth_failed())?;
        let secret = blob["secret"].as_str().ok_or_else(auth_failed)?;
        match super::ec2::verify(secret, &r) {
            Ok(true) => {}
            Ok(false) => return Err(Error::unauthorized("Invalid EC2 signature.")),
            Err(e) => return Err(Error::bad_request(format!("Invalid EC2 request: {e}."))),
        }
        let project = stored.project_id.clone().ok_or_else(auth_failed)?;
        let now = self.now();
        let payload = Payload {
            methods: METHOD_EC2,
            user_id: stored.user_id.clone(),
            scope: TokenScope::Project(project),
            issued_at: now,
            expires_at: now + self.settings.token_lifetime,
            audit_ids: vec![new_audit_id()],
            application_credential_id: None,
            trust_id: None,
            oauth_access_token_id: None,
        };
        let snap = self.view().await?;
        let ctx = self.resolve(&snap, &payload).map_err(|_| auth_failed())?;
        let token = self.keys.encrypt(&payload.encode(), now_secs);
        Ok(Issued {
            token,
            ctx: Arc::new(ctx),
        })
    }

    fn requested_scope(
        &self,
        snap: &Snapshot,
        scope: Option<&Value>,
    ) -> Result<Option<TokenScope>> {
        let Some(v) = scope else { return Ok(None) };
        if v.as_str() == Some("unscoped") {
            return Ok(Some(TokenScope::Unscoped));
        }
        let s: ScopeReq = serde_json::from_value(v.clone())
            .map_err(|e| Error::bad_request(format!("Invalid input for field 'scope': {e}")))?;
        let given = [s.project.is_some(), s.domain.is_some(), s.system.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if given != 1 {
            return Err(Error::bad_request(
                "Invalid input for field 'scope': exactly one of project, domain or system.",
            ));
        }
        let domain_id_of = |d: &DomainRef| -> Result<Option<String>> {
            match (&d.id, &d.name) {
                (Some(id), _) => Ok(Some(id.clone())),
                (None, Some(n)) => Ok(snap
                    .domains
                    .values()
                    .find(|x| x.name == *n)
                    .map(|x| x.id.clone())),
                (None, None) => Err(Error::bad_request(
                    "Invalid input for field 'domain': 'id' or 'name' is required.",
                )),
            }
        };
        if let Some(p) = s.project {
            let id = match (&p.id, &p.name) {
                (Some(id), _) => id.clone(),
                (None, Some(name)) => {
                    let d = p.domain.as_ref().ok_or_else(|| {
                        Error::bad_request(
                            "Invalid input for field 'scope.project.domain': required with 'name'.",
                        )
                    })?;
                    let did = domain_id_of(d)?.ok_or_else(auth_failed)?;
                    snap.projects
                        .values()
                        .find(|x| x.domain_id == did && x.name == *name)
                        .map(|x| x.id.clone())
                        .ok_or_else(auth_failed)?
                }
                (None, None) => {
                    return Err(Error::bad_request(
                        "Invalid input for field 'scope.project': 'id' or 'name' is required.",
                    ))
                }
            };
            return Ok(Some(TokenScope::Project(id)));
        }
        if let Some(d) = s.domain {
            return Ok(Some(TokenScope::Domain(
                domain_id_of(&d)?.ok_or_else(auth_failed)?,
            )));
        }
        match s.system {
            Some(sys) if sys.get("all").and_then(Value::as_bool) == Some(true) => {
                Ok(Some(TokenScope::System))
            }
            _ => Err(Error::bad_request(
                "Invalid input for field 'scope.system': expected {\"all\": true}.",
            )),
        }
    }

    /// No scope asked: the user's default project when it is usable,
    /// otherwise unscoped.
    fn default_scope(&self, snap: &Snapshot, user_id: &str) -> TokenScope {
        let Some(dp) = snap
            .users
            .get(user_id)
            .and_then(|u| u.default_project_id.clone())
        else {
            return TokenScope::Unscoped;
        };
        if snap.project_usable(&dp)
            && !snap
                .effective_roles(user_id, &Target::Project(dp.clone()))
                .is_empty()
        {
            TokenScope::Project(dp)
        } else {
            TokenScope::Unscoped
        }
    }

    /// Decrypts and fully validates `token` (expiry, revocation, user,
    /// scope and roles as the store has them now).
    pub async fn validate_payload(&self, token: &str) -> Result<(Payload, AuthContext)> {
        let now_secs = u64::try_from(self.now() / 1_000_000).unwrap_or(0);
        let bytes = self
            .keys
            .decrypt(token, now_secs)
            .ok_or_else(token_not_found)?;
        let payload = Payload::decode(&bytes).map_err(|_| token_not_found())?;
        if payload.expires_at <= self.now() {
            return Err(token_not_found());
        }
        let snap = self.view().await?;
        let ctx = self.resolve(&snap, &payload)?;
        Ok((payload, ctx))
    }

    /// [`Identity::validate_payload`], answered from the token cache when
    /// identity has not changed since the token was last validated.
    pub async fn validate(&self, token: &str) -> Result<Arc<AuthContext>> {
        let revision = (self.view().await?.revision, self.keys.generation());
        if let Some(ctx) = self.token_cache.get(token, revision, self.now()) {
            return Ok(ctx);
        }
        let ctx = Arc::new(self.validate_payload(token).await?.1);
        self.token_cache.put(token, revision, ctx.clone());
        Ok(ctx)
    }

    /// Who a payload stands for, as of `snap`; `NotFound` when the token no
    /// longer grants anything.
    pub fn resolve(&self, snap: &Snapshot, p: &Payload) -> Result<AuthContext> {
        let user = snap
            .users
            .get(&p.user_id)
            .filter(|_| snap.user_usable(&p.user_id))
            .ok_or_else(token_not_found)?;
        let user_domain = snap
            .domains
            .get(&user.domain_id)
            .ok_or_else(token_not_found)?;
        let (scope, target, project_id, scope_domain) = match &p.scope {
            TokenScope::Unscoped => (Scope::Unscoped, None, None, None),
            TokenScope::Project(pid) => {
                if !snap.project_usable(pid) {
                    return Err(token_not_found());
                }
                let proj = snap.projects.get(pid).ok_or_else(token_not_found)?;
                let dom = snap
                    .domains
                    .get(&proj.domain_id)
                    .ok_or_else(token_not_found)?;
                (
                    Scope::Project {
                        id: proj.id.clone(),
                        name: proj.name.clone(),
                        domain_id: dom.id.clone(),
                        domain_name: dom.name.clone(),
                    },
                    Some(Target::Project(pid.clone())),
                    Some(pid.as_str()),
                    Some(dom.id.as_str()),
                )
            }
            TokenScope::Domain(did) => {
                let dom = snap
                    .domains
                    .get(did)
                    .filter(|d| d.enabled)
                    .ok_or_else(token_not_found)?;
                (
                    Scope::Domain {
                        id: dom.id.clone(),
                        name: dom.name.clone(),
                    },
                    Some(Target::Domain(did.clone())),
                    None,
                    Some(dom.id.as_str()),
                )
            }
            TokenScope::System => (Scope::System, Some(Target::System), None, None),
        };
        let mut domains: Vec<&str> = vec![user.domain_id.as_str()];
        domains.extend(scope_domain);
        if snap.is_revoked(
            &p.user_id,
            project_id,
            &domains,
            p.audit_ids.first().map(String::as_str),
            p.issued_at,
        ) {
            return Err(token_not_found());
        }
        let mut role_ids: Vec<String> = match (&p.trust_id, &p.oauth_access_token_id, &target) {
            (Some(tid), _, _) => self.trust_roles(snap, tid, &p.user_id)?,
            (None, Some(at), Some(_)) => self.oauth_roles(snap, at, &p.user_id)?,
            (None, _, None) => vec![],
            (None, None, Some(t)) => snap.effective_roles(&p.user_id, t).as_ref().clone(),
        };
        if target.is_some() && role_ids.is_empty() {
            return Err(token_not_found());
        }
        if let Some(ac_id) = &p.application_credential_id {
            let cred = snap.app_creds.get(ac_id).ok_or_else(token_not_found)?;
            if cred.user_id != p.user_id || cred.expires_at.is_some_and(|e| e <= self.now()) {
                return Err(token_not_found());
            }
            // The credential's roles, as long as the user still holds all
            // of them (Keystone invalidates it otherwise).
            let held = snap.expand_implied(cred.role_ids.iter().cloned());
            if !held.iter().all(|r| {
                role_ids.contains(r) || snap.roles.get(r).is_some_and(|x| x.domain_id.is_some())
            }) {
                return Err(token_not_found());
            }
            role_ids.retain(|r| held.contains(r));
        }
        let roles = role_ids
            .iter()
            .filter_map(|id| {
                snap.roles.get(id).map(|r| RoleRef {
                    id: r.id.clone(),
                    name: r.name.clone(),
                })
            })
            .collect();
        Ok(AuthContext {
            user_id: user.id.clone(),
            user_name: user.name.clone(),
            user_domain_id: user_domain.id.clone(),
            user_domain_name: user_domain.name.clone(),
            is_admin_project: project_id.is_some()
                && project_id == snap.admin_project_id.as_deref(),
            scope,
            roles,
            methods: method_names(p.methods),
            audit_ids: p.audit_ids.clone(),
            issued_at: p.issued_at,
            expires_at: p.expires_at,
            application_credential_id: p.application_credential_id.clone(),
            trust_id: p.trust_id.clone(),
            oauth_access_token_id: p.oauth_access_token_id.clone(),
            access_rules: p
                .application_credential_id
                .as_ref()
                .and_then(|ac| snap.app_cred_rules.get(ac))
                .map(|ids| {
                    Arc::new(
                        ids.iter()
                            .filter_map(|id| snap.access_rules.get(id))
                            .map(|r| common::context::AccessRule {
                                service: r.service.clone(),
                                method: r.method.clone(),
                                path: r.path.clone(),
                            })
                            .collect(),
                    )
                }),
        })
    }

    /// `DELETE /v3/auth/tokens`: revokes the subject token (by audit id).
    pub async fn revoke_token(&self, caller: &AuthContext, subject: &str) -> Result<()> {
        let (payload, ctx) = self.validate_payload(subject).await?;
        let target = PolicyTarget::none()
            .token_of(&ctx.user_id)
            .token(&ctx.user_id);
        self.enforce(caller, "identity:revoke_token", target)?;
        let audit = payload
            .audit_ids
            .first()
            .cloned()
            .ok_or_else(token_not_found)?;
        self.add_revocation(crate::db::revocations::RevocationEvent {
            audit_id: Some(audit),
            issued_before: payload.issued_at,
            ..Default::default()
        })
        .await
    }

    /// Records a revocation event, stamping its id and time.
    pub async fn add_revocation(
        &self,
        mut e: crate::db::revocations::RevocationEvent,
    ) -> Result<()> {
        let now = self.now();
        e.id = common::ids::hex_id();
        e.revoked_at = now;
        let mut tx = self.begin().await?;
        crate::db::revocations::insert(tx.conn(), &e).await?;
        crate::db::revocations::prune(
            tx.conn(),
            now - self.settings.token_lifetime - 3_600_000_000,
        )
        .await?;
        self.commit(tx).await
    }

    /// A revocation event for `user_id` (optionally one project) as of now,
    /// inside an existing write.
    pub(crate) async fn revoke_user_in(
        &self,
        conn: &mut crate::db::Conn,
        user_id: &str,
        project_id: Option<&str>,
    ) -> Result<()> {
        let now = self.now();
        let e = crate::db::revocations::RevocationEvent {
            id: common::ids::hex_id(),
            user_id: Some(user_id.to_string()),
            project_id: project_id.map(str::to_string),
            domain_id: None,
            audit_id: None,
            issued_before: now,
            revoked_at: now,
        };
        crate::db::revocations::insert(conn, &e).await?;
        Ok(())
    }
}

impl common::auth::TokenValidator for Identity {
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> common::auth::BoxFuture<'a, Result<Arc<AuthContext>, Error>> {
        Box::pin(async move {
            let ctx = Identity::validate(self, token).await?;
            // Every service validates through here: the access log learns
            // the caller without each handler reporting it.
            common::http::request_id::record_caller(&ctx);
            Ok(ctx)
        })
    }
}
