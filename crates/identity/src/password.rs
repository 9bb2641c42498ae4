//! Password and secret hashing: Argon2id (the RustCrypto `argon2` crate,
//! pure Rust, PHC string format), the KDF OWASP recommends today; Keystone
//! itself defaults to bcrypt. Hashing is CPU- and memory-bound by design, so
//! callers run it on the blocking pool.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

#[derive(Debug, Clone, Copy)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
}

fn hasher(p: HashParams) -> Result<Argon2<'static>, common::Error> {
    let params = Params::new(p.memory_kib, p.iterations, 1, None)
        .map_err(|e| common::Error::internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A PHC-format hash of `password` with a fresh random salt.
pub fn hash(password: &str, p: HashParams) -> Result<String, common::Error> {
    let salt = SaltString::encode_b64(&common::ids::random_bytes(16))
        .map_err(|e| common::Error::internal(format!("salt: {e}")))?;
    hasher(p)?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| common::Error::internal(format!("argon2: {e}")))
}

/// True when `password` matches `phc`. The parameters stored in the hash
/// are used, so hashes made with older parameters keep verifying.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// [`hash`] on the blocking pool.
pub async fn hash_async(password: String, p: HashParams) -> Result<String, common::Error> {
    tokio::task::spawn_blocking(move || hash(&password, p))
        .await
        .map_err(|e| common::Error::internal(format!("hash task: {e}")))?
}

/// [`verify`] on the blocking pool.
pub async fn verify_async(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&password, &phc))
        .await
        .unwrap_or(false)
}

/// A hash that no password matches, verified against when a user does not
/// exist so that unknown users cost the same time as wrong passwords.
pub fn dummy_hash(p: HashParams) -> String {
    hash(&common::ids::random_secret(24), p).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: HashParams = HashParams {
        memory_kib: 1024,
        iterations: 1,
    };

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash("s3cret", P).unwrap();
        let b = hash("s3cret", P).unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify("s3cret", &a));
        assert!(!verify("S3cret", &a));
        assert!(!verify("s3cret", "not a hash"));
        assert!(!verify("", &dummy_hash(P)));
    }

    #[test]
    fn verifies_hashes_made_with_other_parameters() {
        let strong = hash(
            "pw",
            HashParams {
                memory_kib: 8192,
                iterations: 2,
            },
        )
        .unwrap();
        assert!(verify("pw", &strong));
    }
}
