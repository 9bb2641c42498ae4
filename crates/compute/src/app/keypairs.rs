//! Key pairs: import of an SSH public key or an X.509 certificate (the
//! key is checked to parse and fingerprinted as Nova does), generation
//! of a new SSH key pair or self-signed certificate for old
//! microversions, the per-user
//! `key_pairs` quota, and who may touch whose key pairs (a user their
//! own, admins anyone's).

use super::Compute;
use crate::db::keypairs as q;
use base64::Engine;
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::json;

pub use crate::db::keypairs::KeyPair;

pub mod policy {
    pub const INDEX: &str = "os_compute_api:os-keypairs:index";
    pub const CREATE: &str = "os_compute_api:os-keypairs:create";
    pub const SHOW: &str = "os_compute_api:os-keypairs:show";
    pub const DELETE: &str = "os_compute_api:os-keypairs:delete";
}

pub const TYPE_SSH: &str = "ssh";
pub const TYPE_X509: &str = "x509";

/// A key pair to create, as the API parsed it.
#[derive(Debug, Clone)]
pub struct NewKeyPair {
    pub name: String,
    /// `ssh` or `x509`.
    pub key_type: String,
    /// `None`: generate one (SSH only, before 2.92).
    pub public_key: Option<String>,
    /// Another user's id (admins, 2.10+).
    pub user_id: Option<String>,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn invalid(reason: &str) -> Error {
    Error::bad_request(format!("Keypair data is invalid: {reason}"))
}

/// Reads SSH wire-format strings (`uint32` length, bytes) off a blob.
struct Wire<'a>(&'a [u8]);

impl<'a> Wire<'a> {
    fn string(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_be_bytes(self.0.get(..4)?.try_into().ok()?) as usize;
        let s = self.0.get(4..4usize.checked_add(len)?)?;
        self.0 = &self.0[4 + len..];
        Some(s)
    }
    fn mpint(&mut self) -> Option<&'a [u8]> {
        self.string().filter(|m| !m.is_empty())
    }
}

/// Checks an OpenSSH public key line (`type base64 [comment]`) the way
/// `cryptography`'s `load_ssh_public_key` does for the key types it
/// knows, and returns the decoded blob.
pub fn parse_ssh_public_key(line: &str) -> Option<Vec<u8>> {
    let mut words = line.split_whitespace();
    let kind = words.next()?;
    let blob = b64().decode(words.next()?).ok()?;
    let mut w = Wire(&blob);
    if w.string()? != kind.as_bytes() {
        return None;
    }
    let ok = match kind {
        "ssh-rsa" => w.mpint().is_some() && w.mpint().is_some(),
        "ssh-dss" => (0..4).all(|_| w.mpint().is_some()),
        "ssh-ed25519" => w.string()?.len() == 32,
        "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp521" => {
            let curve = &kind["ecdsa-sha2-".len()..];
            let point_len = match curve {
                "nistp256" => 65,
                "nistp384" => 97,
                _ => 133,
            };
            w.string()? == curve.as_bytes() && {
                let p = w.string()?;
                p.len() == point_len && p[0] == 4
            }
        }
        _ => false,
    };
    (ok && w.0.is_empty()).then_some(blob)
}

/// Nova's `crypto.generate_fingerprint`: the MD5 of the key blob, as
/// colon-separated hex.
pub fn ssh_fingerprint(public_key: &str) -> Result<String> {
    use md5::Digest;
    let blob = parse_ssh_public_key(public_key)
        .ok_or_else(|| invalid("failed to generate fingerprint"))?;
    Ok(colon_hex(&md5::Md5::digest(&blob)))
}

/// Nova's `crypto.generate_x509_fingerprint`: the SHA-1 of a PEM
/// certificate's DER. The DER must be one well-formed SEQUENCE holding
/// the three parts of a certificate.
pub fn x509_fingerprint(pem: &str) -> Result<String> {
    use sha1::Digest;
    let der = pem_certificate(pem).ok_or_else(|| {
        invalid("failed to generate X509 fingerprint. Error message: Unable to load PEM file.")
    })?;
    Ok(colon_hex(&sha1::Sha1::digest(&der)))
}

fn pem_certificate(pem: &str) -> Option<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = pem.find(BEGIN)? + BEGIN.len();
    let end = start + pem[start..].find(END)?;
    let body: String = pem[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = b64().decode(body).ok()?;
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
    // signatureValue }.
    let (tag, content, rest) = der_element(&der)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let (t1, _, r) = der_element(content)?;
    let (t2, _, r) = der_element(r)?;
    let (t3, _, r) = der_element(r)?;
    (t1 == 0x30 && t2 == 0x30 && t3 == 0x03 && r.is_empty()).then_some(der)
}

/// One DER element: its tag, its content, and what follows it.
fn der_element(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, head) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let content = b.get(head..head.checked_add(len)?)?;
    Some((tag, content, &b[head + len..]))
}

/// A new Ed25519 key pair: the OpenSSH private key file (unencrypted
/// `openssh-key-v1`) and the public key line.
pub fn generate_ssh_key_pair() -> (String, String) {
    let seed: [u8; 32] = {
        let mut s = [0u8; 32];
        s.copy_from_slice(&common::ids::random_bytes(32));
        s
    };
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    let public = signing.verifying_key().to_bytes();

    fn put(out: &mut Vec<u8>, s: &[u8]) {
        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
        out.extend_from_slice(s);
    }
    let mut pub_blob = Vec::new();
    put(&mut pub_blob, b"ssh-ed25519");
    put(&mut pub_blob, &public);
    let public_line = format!("ssh-ed25519 {} Generated-by-Nova", b64().encode(&pub_blob));

    // The private section: a repeated check number, the key, a comment,
    // padded to the (unencrypted) block size of 8.
    let check = common::ids::random_bytes(4);
    let mut private = Vec::new();
    private.extend_from_slice(&check);
    private.extend_from_slice(&check);
    put(&mut private, b"ssh-ed25519");
    put(&mut private, &public);
    let mut secret = seed.to_vec();
    secret.extend_from_slice(&public);
    put(&mut private, &secret);
    put(&mut private, b"Generated-by-Nova");
    let mut pad = 1u8;
    while private.len() % 8 != 0 {
        private.push(pad);
        pad += 1;
    }
    let mut file = b"openssh-key-v1\0".to_vec();
    put(&mut file, b"none");
    put(&mut file, b"none");
    put(&mut file, b"");
    file.extend_from_slice(&1u32.to_be_bytes());
    put(&mut file, &pub_blob);
    put(&mut file, &private);
    let encoded = b64().encode(&file);
    let mut pem = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for chunk in encoded.as_bytes().chunks(70) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    (pem, public_line)
}

/// A DER element: `tag`, the length, `content`.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

fn der_seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

/// `YYMMDDHHMMSSZ`.
fn utc_time(micros: i64) -> Vec<u8> {
    let t = common::clock::from_micros(micros);
    let s = format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        t.year().rem_euclid(100),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    der(0x17, s.as_bytes())
}

fn pem(label: &str, der: &[u8]) -> String {
    let encoded = b64().encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Nova's `generate_winrm_x509_cert`: a self-signed client-auth
/// certificate for `CN=<user_id>`, valid ten years, and its private key
/// (PKCS#8 PEM). The key is Ed25519 (RFC 8410) rather than Nova's RSA,
/// since no RSA implementation is linked in.
pub fn generate_x509_cert(user_id: &str, now: i64) -> (String, String) {
    use ed25519_dalek::Signer;
    const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&common::ids::random_bytes(32));
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let alg = der(0x30, ED25519_OID);
    let name = der_seq(&[der(
        0x31,
        &der_seq(&[
            der(0x06, &[0x55, 0x04, 0x03]),
            der(0x0c, user_id.as_bytes()),
        ]),
    )]);
    let mut serial = common::ids::random_bytes(16);
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    const TEN_YEARS: i64 = 3650 * 86_400 * 1_000_000;
    let mut spki_bits = vec![0u8];
    spki_bits.extend_from_slice(&key.verifying_key().to_bytes());
    // extendedKeyUsage = clientAuth.
    let eku = der_seq(&[
        der(0x06, &[0x55, 0x1d, 0x25]),
        der(
            0x04,
            &der_seq(&[der(0x06, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02])]),
        ),
    ]);
    let tbs = der_seq(&[
        der(0xa0, &der(0x02, &[2])),
        der(0x02, &serial),
        alg.clone(),
        name.clone(),
        der_seq(&[utc_time(now), utc_time(now + TEN_YEARS)]),
        name,
        der_seq(&[alg.clone(), der(0x03, &spki_bits)]),
        der(0xa3, &der_seq(&[eku])),
    ]);
    let mut sig_bits = vec![0u8];
    sig_bits.extend_from_slice(&key.sign(&tbs).to_bytes());
    let cert = der_seq(&[tbs, alg.clone(), der(0x03, &sig_bits)]);
    let pkcs8 = der_seq(&[der(0x02, &[0]), alg, der(0x04, &der(0x04, &seed))]);
    (pem("PRIVATE KEY", &pkcs8), pem("CERTIFICATE", &cert))
}

fn not_found(name: &str, user_id: &str) -> Error {
    Error::not_found(format!("Keypair {name} not found for user {user_id}"))
}

impl Compute {
    fn keypair_owner(
        &self,
        ctx: &AuthContext,
        user_id: Option<&str>,
        action: &str,
    ) -> Result<String> {
        let user = user_id.unwrap_or(&ctx.user_id).to_string();
        self.enforce(ctx, action, &json!({"user_id": user}))?;
        Ok(user)
    }

    /// The caller's key pair `name`: what the servers API injects.
    pub async fn get_keypair_for(&self, ctx: &AuthContext, name: &str) -> Result<KeyPair> {
        self.show_keypair(ctx, name, None).await
    }

    pub async fn show_keypair(
        &self,
        ctx: &AuthContext,
        name: &str,
        user_id: Option<&str>,
    ) -> Result<KeyPair> {
        let user = self.keypair_owner(ctx, user_id, policy::SHOW)?;
        q::get(&self.db.pool, &user, name)
            .await?
            .ok_or_else(|| not_found(name, &user))
    }

    pub async fn list_keypairs(
        &self,
        ctx: &AuthContext,
        user_id: Option<&str>,
        limit: Option<usize>,
        marker: Option<&str>,
    ) -> Result<(Vec<KeyPair>, Option<String>)> {
        let user = self.keypair_owner(ctx, user_id, policy::INDEX)?;
        q::list(&self.db, &user, limit, marker)
            .await
            .map_err(|e| match e {
                db::list::ListError::MarkerNotFound(m) => {
                    Error::bad_request(format!("Marker {m} could not be found."))
                }
                db::list::ListError::Sql(e) => Error::from(e),
            })
    }

    /// Imports or generates a key pair; the private key is returned only
    /// when generated (it is never stored).
    pub async fn create_keypair(
        &self,
        ctx: &AuthContext,
        new: NewKeyPair,
    ) -> Result<(KeyPair, Option<String>)> {
        let user = self.keypair_owner(ctx, new.user_id.as_deref(), policy::CREATE)?;
        let (public_key, fingerprint, private_key) = match (&new.public_key, new.key_type.as_str())
        {
            (Some(pk), TYPE_X509) => (pk.clone(), x509_fingerprint(pk)?, None),
            (Some(pk), _) => (pk.clone(), ssh_fingerprint(pk)?, None),
            (None, TYPE_X509) => {
                let (private, cert) = generate_x509_cert(&user, self.now());
                let fp = x509_fingerprint(&cert)?;
                (cert, fp, Some(private))
            }
            (None, _) => {
                let (private, public) = generate_ssh_key_pair();
                let fp = ssh_fingerprint(&public)?;
                (public, fp, Some(private))
            }
        };
        let quota = self.settings.quota_key_pairs;
        let mut tx = self.begin().await?;
        if quota >= 0 && q::count(tx.conn(), &user).await? >= quota {
            return Err(Error::over_quota("Quota exceeded, too many key pairs."));
        }
        let id = tx.bump("compute_key_pairs").await?;
        let kp = KeyPair {
            id,
            user_id: user,
            name: new.name,
            key_type: new.key_type,
            fingerprint,
            public_key,
            created_at: self.now(),
        };
        if !q::insert(tx.conn(), &kp).await? {
            return Err(Error::conflict(format!(
                "Key pair '{}' already exists.",
                kp.name
            )));
        }
        tx.commit().await?;
        Ok((kp, private_key))
    }

    pub async fn delete_keypair(
        &self,
        ctx: &AuthContext,
        name: &str,
        user_id: Option<&str>,
    ) -> Result<()> {
        let user = self.keypair_owner(ctx, user_id, policy::DELETE)?;
        let mut tx = self.begin().await?;
        if !q::delete(tx.conn(), &user, name).await? {
            return Err(not_found(name, &user));
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // Keys made by ssh-keygen, with `ssh-keygen -l -E md5`'s fingerprints.
    pub const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCna1BHouNWdqxklaDSwUk9cR2AvlvKAdPXfGSywXSrJ/3Fuc965nPvTnQAySlocrCdgkaTQ046bX3qe1KxxkZjuNR4dsaovWG/05FgnGlXyZlkm9cR/Txgwofm7YuYcDYYhbUHWs0rJXPOhVc/xvX0+Tk/45HP/XGD63Uw6JjK3w== test";
    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBP+zL9Ngwm+lDNKSh8bIEYC2zdn+OGzZTCZLWvZP1Hkect/Si/TjYXhxyj7s4LwhOrDKfnykTyiNrrd8GxISqO0= root@vm";
    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJls9UfFS29/O3yO0MWH7N+nh394uN0f9iezJPyqOBkx root@vm";

    #[test]
    fn ssh_keys_parse_and_fingerprint_as_nova() {
        assert_eq!(
            ssh_fingerprint(RSA).unwrap(),
            "29:f9:43:22:e0:2c:e4:cc:a7:12:83:f7:81:f5:47:ed"
        );
        assert_eq!(
            ssh_fingerprint(ECDSA).unwrap(),
            "73:f6:d8:0c:78:fe:ad:5a:d1:94:7b:ba:7d:d3:ec:45"
        );
        assert_eq!(
            ssh_fingerprint(ED25519).unwrap(),
            "57:14:ea:bd:c1:8f:b9:71:77:ad:09:20:1d:ab:67:9e"
        );
        for bad in [
            "",
            "ssh-rsa",
            "ssh-rsa not-base64!",
            "ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAAAgQDx",
            "ssh-foo AAAA",
        ] {
            assert!(parse_ssh_public_key(bad).is_none(), "{bad}");
        }
        // The key type outside must name the one inside.
        let swapped = RSA.replacen("ssh-rsa", "ssh-dss", 1);
        assert!(parse_ssh_public_key(&swapped).is_none());
    }

    #[test]
    fn generated_keys_are_openssh_ed25519() {
        let (private, public) = generate_ssh_key_pair();
        assert!(private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
        assert!(private.ends_with("-----END OPENSSH PRIVATE KEY-----\n"));
        let blob = parse_ssh_public_key(&public).unwrap();
        // The public key is the one the private file carries.
        let body: String = private
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let file = b64().decode(body).unwrap();
        assert!(file.starts_with(b"openssh-key-v1\0"));
        let mut w = Wire(&file[15..]);
        assert_eq!(w.string().unwrap(), b"none");
        assert_eq!(w.string().unwrap(), b"none");
        assert_eq!(w.string().unwrap(), b"");
        w.0 = &w.0[4..];
        assert_eq!(w.string().unwrap(), &blob[..]);
        let private_section = w.string().unwrap();
        assert_eq!(private_section.len() % 8, 0);
        assert_eq!(private_section[..4], private_section[4..8]);
    }

    #[test]
    fn generated_certificates_parse_and_fingerprint() {
        let (key, cert) = generate_x509_cert("user-1", 1_800_000_000_000_000);
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(pem_certificate(&cert).is_some());
        assert_eq!(x509_fingerprint(&cert).unwrap().len(), 59);
        let long = der(0x04, &[7u8; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(der_element(&long).unwrap().1.len(), 300);
    }

    #[test]
    fn der_lengths_are_checked() {
        assert!(der_element(&[0x30, 0x03, 1, 2]).is_none());
        assert_eq!(der_element(&[0x30, 0x01, 1, 2]).unwrap().2, &[2]);
        assert!(
            pem_certificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")
                .is_none()
        );
    }
}
