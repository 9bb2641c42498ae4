//! The account: `GET` (container listing), `HEAD` (counts, bytes,
//! metadata), `POST` (metadata, temp URL keys, and quotas for a reseller
//! admin). Accounts are created on first write (`account_autocreate`);
//! one never written to reads as empty.

use super::auth::Target;
use super::listing::{self, Entry, Format, Params};
use super::meta::{self, Kind};
use super::{Access, ObjectStore, Reply, Request, Result, SwiftError};
use crate::db::{accounts, accounts::Account, containers::Container, Metadata};
use crate::http::{iso_listing, timestamp_normal};
use axum::http::StatusCode;

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

    fn account_headers(&self, a: &Account, access: &Access, reply: &mut Reply) {
        reply.set("x-account-container-count", a.container_count.to_string());
        reply.set("x-account-object-count", a.object_count.to_string());
        reply.set("x-account-bytes-used", a.bytes_used.to_string());
        reply.set("x-timestamp", timestamp_normal(a.created_at));
        reply.set("x-put-timestamp", timestamp_normal(a.put_timestamp));
        let p = "x-account-storage-policy-policy-0-";
        reply.set(
            &format!("{p}container-count"),
            a.container_count.to_string(),
        );
        reply.set(&format!("{p}object-count"), a.object_count.to_string());
        reply.set(&format!("{p}bytes-used"), a.bytes_used.to_string());
        for (k, v) in &a.metadata {
            if access.owner || !OWNER_ONLY.contains(&k.as_str()) {
                reply.set(k, v);
            }
        }
        if let Some(q) = a.quota_bytes {
            reply.set("x-account-quota-bytes", q.to_string());
        }
        if let Some(q) = a.quota_count {
            reply.set("x-account-quota-count", q.to_string());
        }
    }

    /// `GET`/`HEAD /v1/{account}`.
    pub async fn get_account(&self, req: &Request) -> Result<Reply> {
        let method = if req.is_head() { "HEAD" } else { "GET" };
        let access = self.authorize_account(req, method)?;
        let format = Format::negotiate(&req.query, &req.headers)?;
        let a = self.account_or_empty(req.account()).await?;
        let mut reply = Reply::new(StatusCode::NO_CONTENT);
        self.account_headers(&a, &access, &mut reply);
        reply.set("content-type", format.content_type());
        if req.is_head() {
            return Ok(reply);
        }
        let params = Params::from_query(&req.query)?;
        let pool = self.db.pool.clone();
        let account = req.account().to_string();
        let entries = listing::list(
            &params,
            |c: &Container| c.name.as_str(),
            |page| {
                let (pool, account) = (pool.clone(), account.clone());
                async move { crate::db::containers::page(&pool, &account, &page).await }
            },
        )
        .await?;
        let body = match format {
            Format::Plain => {
                let mut s = String::new();
                for e in &entries {
                    match e {
                        Entry::Item(c) => s.push_str(&c.name),
                        Entry::Subdir(d) => s.push_str(d),
                    }
                    s.push('\n');
                }
                s
            }
            Format::Json => listing::json_body::<_, listing::AccountListingEntry>(&entries)?,
            Format::Xml | Format::TextXml => {
                let x = listing::xml_escape;
                let mut s = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<account name=\"{}\">\n",
                    x(req.account())
                );
                for e in &entries {
                    match e {
                        Entry::Item(c) => s.push_str(&format!(
                            "<container><name>{}</name><count>{}</count><bytes>{}</bytes>\
                             <last_modified>{}</last_modified><storage_policy>Policy-0</storage_policy></container>\n",
                            x(&c.name),
                            c.object_count,
                            c.bytes_used,
                            iso_listing(c.put_timestamp)
                        )),
                        Entry::Subdir(d) => s.push_str(&format!("<subdir name=\"{}\" />\n", x(d))),
                    }
                }
                s.push_str("</account>");
                s
            }
        };
        if body.is_empty() {
            return Ok(reply);
        }
        reply.status = StatusCode::OK;
        Ok(reply.with_body(format.content_type(), body))
    }

    /// `POST /v1/{account}`.
    pub async fn post_account(&self, req: &Request) -> Result<Reply> {
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
        Ok(Reply::new(StatusCode::NO_CONTENT))
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
