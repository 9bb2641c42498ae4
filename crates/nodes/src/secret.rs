//! The cluster join secret: a random string in the state directory (mode
//! 0600), written on the controller's first start. A node proves it may
//! join by presenting it once, at registration; the in-process agent of
//! `oxistack up` reads the file directly.
//!
//! The metadata proxy's shared secret is derived from it
//! ([`metadata_secret`]), so the network nodes' proxies and the metadata
//! API (which sits with the controller and has the join secret) agree
//! without a second file for operators to copy: both call this one
//! function. Instance ids are signed with it as Nova checks them
//! ([`sign_instance_id`]).

use std::io::Write;
use std::path::Path;

/// Reads the secret at `path`, creating it when absent.
pub fn load_or_create(path: &Path) -> std::io::Result<String> {
    match read(path) {
        Ok(s) => return Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let secret = common::ids::random_secret(32);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(format!("{secret}\n").as_bytes())?;
            f.sync_all()?;
            Ok(secret)
        }
        // Another starter won the race: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(e) => Err(e),
    }
}

/// Reads a secret file (surrounding whitespace ignored); empty is an error.
pub fn read(path: &Path) -> std::io::Result<String> {
    let s = std::fs::read_to_string(path)?.trim().to_string();
    if s.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the secret file is empty",
        ));
    }
    Ok(s)
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn hmac_hex(key: &[u8], msg: &[u8]) -> String {
    use hmac::Mac;
    // HMAC takes a key of any length: `new_from_slice` cannot fail.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return String::new();
    };
    mac.update(msg);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The metadata proxy's shared secret (Nova's and Neutron's
/// `metadata_proxy_shared_secret`): HMAC-SHA256(join secret,
/// `"metadata-proxy"`), hex. A node knows the join secret (its
/// `--secret-file`), so does the controller; nothing else is shared.
pub fn metadata_secret(join_secret: &str) -> String {
    hmac_hex(join_secret.as_bytes(), b"metadata-proxy")
}

/// `X-Instance-ID-Signature`: HMAC-SHA256(shared secret, instance id),
/// hex, as Nova's metadata handler (`_handle_instance_id_request`)
/// verifies it.
pub fn sign_instance_id(shared_secret: &str, instance_id: &str) -> String {
    hmac_hex(shared_secret.as_bytes(), instance_id.as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_are_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::hmac_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let s = super::metadata_secret("join");
        assert_eq!(s, super::hmac_hex(b"join", b"metadata-proxy"));
        assert_ne!(s, super::metadata_secret("other"));
        assert_eq!(super::sign_instance_id(&s, "vm").len(), 64);
    }

    #[test]
    fn created_once_private_and_stable() {
        let dir = std::env::temp_dir().join(format!("oxistack-secret-{}", common::ids::hex_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("node-secret");
        let a = super::load_or_create(&p).unwrap();
        let b = super::load_or_create(&p).unwrap();
        assert_eq!(a, b);
        assert!(a.len() >= 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
