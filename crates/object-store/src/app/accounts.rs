//! The account: `GET` (container listing), `HEAD` (counts, bytes,
//! metadata), `POST` (metadata, temp URL keys, and quotas for a reseller
//! admin). Accounts are created on first write (`account_autocreate`);
//! one never written to reads as empty.

use super::auth::Target;
use super::listing::{self, Entry, Params};
use super::meta::{self, Kind};
use super::{Access, ObjectStore, Request, Result, SwiftError};
use crate::db::{accounts, accounts::Account, containers::Container, Metadata};

/// Metadata only the account's owner sees.
const OWNER_ONLY: [&str; 2] = [
    "x-account-meta-temp-url-key",
    "x-account-meta-temp-url-key-2",
];

/// Account quota headers: `(header, remove header)`; the legacy
/// `X-Account-Meta-Quota-Bytes` counts as `X-Account-Quota-Bytes`.
const QUOTA_BYTES: [&str; 2] = ["x-account-quota-bytes", "x-account-meta-quota-bytes"];
const REMOVE_QUOTA_BYTES: [&str; 2] = [
    "x-remove-account-quota-bytes",
    "x-remove-account-meta-quota-bytes",
];

/// An account as `HEAD` shows it (a never-written account reads as
/// empty, stamped now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    pub container_count: i64,
    pub object_count: i64,
    pub bytes_used: i64,
    /// Microseconds since the epoch.
    pub created_at: i64,
    pub put_timestamp: i64,
    /// `x-account-meta-*` and the like, as stored, less what this caller
    /// may not see.
    pub metadata: Metadata,
    pub quota_bytes: Option<i64>,
    pub quota_count: Option<i64>,
}

impl ObjectStore {
    fn authorize_account(&self, req: &Request, method: &str) -> Result<Access> {
        self.authorize(
            &req.caller,
            Target {
                account: req.account(),
                container: None,
                object: None,
                method,
                acl: None,
                referer: req.header("referer"),
            },
        )
    }

    /// The account's row, or an empty one for an account never written.
    async fn account_or_empty(&self, account: &str) -> Result<Account> {
        Ok(accounts::get(&self.db.pool, account)
            .await?
            .unwrap_or_else(|| Account {
                account: account.to_string(),
                created_at: self.now(),
                put_timestamp: self.now(),
                ..Account::default()
            }))
    }

    /// `GET`/`HEAD /v1/{account}` without the listing: the counts, the
    /// quotas and the metadata this caller may see.
    pub async fn account_info(&self, req: &Request) -> Result<AccountInfo> {
        let method = if req.is_head() { "HEAD" } else { "GET" };
        let access = self.authorize_account(req, method)?;
        let a = self.account_or_empty(req.account()).await?;
        // The temp URL keys are secrets: only the owner reads them back.
        let metadata = a
            .metadata
            .into_iter()
            .filter(|(k, _)| access.owner || !OWNER_ONLY.contains(&k.as_str()))
            .collect();
        Ok(AccountInfo {
            container_count: a.container_count,
            object_count: a.object_count,
            bytes_used: a.bytes_used,
            created_at: a.created_at,
            put_timestamp: a.put_timestamp,
            metadata,
            quota_bytes: a.quota_bytes,
            quota_count: a.quota_count,
        })
    }

    /// The containers of a `GET /v1/{account}` listing, by the request's
    /// `limit`, `marker`, `prefix`, `delimiter`, … (authorized by
    /// [`ObjectStore::account_info`] first).
    pub async fn list_account(&self, req: &Request) -> Result<Vec<Entry<Container>>> {
        let params = Params::from_query(&req.query)?;
        let pool = self.db.pool.clone();
        let account = req.account().to_string();
        listing::list(
            &params,
            |c: &Container| c.name.as_str(),
            |page| {
                let (pool, account) = (pool.clone(), account.clone());
                async move { crate::db::containers::page(&pool, &account, &page).await }
            },
        )
        .await
    }

    /// `POST /v1/{account}`.
    pub async fn post_account(&self, req: &Request) -> Result<()> {
        let access = self.authorize_account(req, "POST")?;
        let a = self.account_or_empty(req.account()).await?;
        let (quota_bytes, quota_count) = self.account_quota_update(req, &access, &a)?;
        let mut metadata: Metadata = a.metadata.clone();
        meta::apply(Kind::Account, &req.headers, &mut metadata)?;
        meta::check_totals(Kind::Account, &metadata)?;
        let now = self.now();
        let mut tx = self.db.begin_write().await?;
        accounts::ensure(tx.conn(), req.account(), now).await?;
        accounts::update(
            tx.conn(),
            req.account(),
            &metadata,
            quota_bytes,
            quota_count,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account's quotas after this request: only a reseller admin may
    /// change them (403 for anyone else trying), to digits or nothing.
    fn account_quota_update(
        &self,
        req: &Request,
        access: &Access,
        a: &Account,
    ) -> Result<(Option<i64>, Option<i64>)> {
        fn value(req: &Request, set: &[&str], remove: &[&str]) -> Option<String> {
            if remove
                .iter()
                .any(|h| req.header(h).is_some_and(|v| !v.is_empty()))
            {
                return Some(String::new());
            }
            set.iter().find_map(|h| req.header(h).map(str::to_string))
        }
        let bytes = value(req, &QUOTA_BYTES, &REMOVE_QUOTA_BYTES);
        let count = value(
            req,
            &["x-account-quota-count"],
            &["x-remove-account-quota-count"],
        );
        if bytes.is_none() && count.is_none() {
            return Ok((a.quota_bytes, a.quota_count));
        }
        if !access.reseller {
            return Err(SwiftError::forbidden(""));
        }
        let parse = |v: Option<String>, current: Option<i64>| -> Result<Option<i64>> {
            match v {
                None => Ok(current),
                Some(v) if v.is_empty() => Ok(None),
                Some(v) if v.bytes().all(|b| b.is_ascii_digit()) => {
                    v.parse().map(Some).map_err(|_| SwiftError::bad_request(""))
                }
                Some(_) => Err(SwiftError::bad_request(String::new())),
            }
        };
        Ok((parse(bytes, a.quota_bytes)?, parse(count, a.quota_count)?))
    }
}
