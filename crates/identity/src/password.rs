//! Password and secret hashing: Argon2id (the RustCrypto `argon2` crate,
//! pure Rust, PHC string format), the KDF OWASP recommends today; Keystone
//! itself defaults to bcrypt.
//!
//! Hashing is CPU- and memory-bound by design, so it runs on a small set of
//! dedicated threads, one per CPU, each reusing one work area. Letting every
//! request allocate its own (19 MiB at OWASP's first setting) on the blocking
//! pool made a burst of logins grow the process past a GiB, since the
//! allocator kept the freed areas; here the memory is fixed at
//! `CPUs × memory cost` once logins have happened, and a burst queues.

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

#[derive(Debug, Clone, Copy)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
}

const OUTPUT_LEN: usize = 32;

fn params(p: HashParams) -> Result<Params, common::Error> {
    Params::new(p.memory_kib, p.iterations, 1, Some(OUTPUT_LEN))
        .map_err(|e| common::Error::internal(format!("argon2 parameters: {e}")))
}

/// Runs Argon2id into `out` using (and growing when needed) `work`.
fn run(
    alg: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    work: &mut Vec<Block>,
) -> Result<(), argon2::Error> {
    let blocks = params.block_count();
    if work.len() < blocks {
        work.resize(blocks, Block::default());
    }
    Argon2::new(alg, version, params).hash_password_into_with_memory(
        password,
        salt,
        out,
        &mut work[..blocks],
    )
}

/// A PHC-format hash of `password` with a fresh random salt.
fn hash_with(
    password: &str,
    p: HashParams,
    work: &mut Vec<Block>,
) -> Result<String, common::Error> {
    let salt = SaltString::encode_b64(&common::ids::random_bytes(16))
        .map_err(|e| common::Error::internal(format!("salt: {e}")))?;
    let params = params(p)?;
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_buf)
        .map_err(|e| common::Error::internal(format!("salt: {e}")))?;
    let mut out = [0u8; OUTPUT_LEN];
    run(
        Algorithm::Argon2id,
        Version::V0x13,
        params.clone(),
        password.as_bytes(),
        salt_bytes,
        &mut out,
        work,
    )
    .map_err(|e| common::Error::internal(format!("argon2: {e}")))?;
    let output =
        Output::new(&out).map_err(|e| common::Error::internal(format!("argon2 output: {e}")))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params)
            .try_into()
            .map_err(|e| common::Error::internal(format!("argon2 params: {e}")))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// True when `password` matches `phc`. The parameters stored in the hash
/// are used, so hashes made with older parameters keep verifying.
fn verify_with(password: &str, phc: &str, work: &mut Vec<Block>) -> bool {
    let Ok(h) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(alg), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(h.algorithm),
        Params::try_from(&h),
        h.salt,
        h.hash,
    ) else {
        return false;
    };
    let version = h
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or(Version::V0x13);
    let mut salt_buf = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    if run(
        alg,
        version,
        params,
        password.as_bytes(),
        salt_bytes,
        &mut out,
        work,
    )
    .is_err()
    {
        return false;
    }
    // Output's equality is constant-time.
    Output::new(&out).is_ok_and(|o| o == expected)
}

pub fn hash(password: &str, p: HashParams) -> Result<String, common::Error> {
    hash_with(password, p, &mut Vec::new())
}

pub fn verify(password: &str, phc: &str) -> bool {
    verify_with(password, phc, &mut Vec::new())
}

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The hashing threads' queue, started on first use.
fn workers() -> &'static Mutex<mpsc::Sender<Job>> {
    static TX: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        for i in 0..n {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    let mut work: Vec<Block> = Vec::new();
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut work),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Mutex::new(tx)
    })
}

async fn on_worker<T: Send + 'static>(
    f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
) -> Option<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move |work| {
        let _ = done.send(f(work));
    });
    let sent = match workers().lock() {
        Ok(tx) => tx.send(job).is_ok(),
        Err(_) => false,
    };
    if !sent {
        return None;
    }
    result.await.ok()
}

/// [`hash`] on a hashing thread.
pub async fn hash_async(password: String, p: HashParams) -> Result<String, common::Error> {
    on_worker(move |work| hash_with(&password, p, work))
        .await
        .unwrap_or_else(|| Err(common::Error::internal("password hashing threads are gone")))
}

/// [`verify`] on a hashing thread.
pub async fn verify_async(password: String, phc: String) -> bool {
    on_worker(move |work| verify_with(&password, &phc, work))
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
        assert!(a.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{a}");
        assert_ne!(a, b, "salted");
        assert!(verify("s3cret", &a));
        assert!(!verify("S3cret", &a));
        assert!(!verify("s3cret", "not a hash"));
        assert!(!verify("", &dummy_hash(P)));
    }

    #[test]
    fn verifies_hashes_made_with_other_parameters_and_by_the_reference_api() {
        use argon2::password_hash::PasswordHasher;
        let strong = hash(
            "pw",
            HashParams {
                memory_kib: 8192,
                iterations: 2,
            },
        )
        .unwrap();
        assert!(verify("pw", &strong));
        // A hash produced by the crate's own high-level API verifies too.
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let reference = Argon2::default()
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(verify("pw", &reference));
        assert!(!verify("px", &reference));
    }

    #[tokio::test]
    async fn worker_threads_share_the_queue() {
        let h = hash_async("pw".into(), P).await.unwrap();
        let checks: Vec<_> = (0..6)
            .map(|i| verify_async(if i % 2 == 0 { "pw" } else { "no" }.into(), h.clone()))
            .collect();
        let mut results = Vec::new();
        for c in checks {
            results.push(c.await);
        }
        assert_eq!(results, vec![true, false, true, false, true, false]);
    }
}
