//! Streaming digests of uploaded data: the MD5 that Swift's ETag and
//! Glance's `checksum` are defined as, and the SHA-512 of Glance's
//! `os_hash_value`.
//!
//! Crate chosen: `openssl` (the system's libcrypto) rather than RustCrypto's
//! `md-5`/`sha2`. Hashing is the slowest stage of a large upload, and on the
//! project's machines OpenSSL's assembly hashed 630 MiB/s (MD5) and
//! 690 MiB/s (SHA-512) on one core where RustCrypto's, even with its `asm`
//! features, did 515 and 485 (BENCHMARKS.md has the runs). Small one-shot
//! hashes elsewhere (ETags of manifests, HMACs, tokens) keep RustCrypto:
//! infallible and fast enough for a few bytes.

use openssl::hash::{Hasher, MessageDigest};

/// A digest algorithm uploads are hashed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha512,
}

impl Algorithm {
    fn message_digest(self) -> MessageDigest {
        match self {
            Algorithm::Md5 => MessageDigest::md5(),
            Algorithm::Sha512 => MessageDigest::sha512(),
        }
    }
}

/// A digest being computed over a stream of chunks.
pub struct Digest {
    hasher: Hasher,
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Digest")
    }
}

/// OpenSSL fails a digest only when it cannot allocate: report it as I/O.
fn openssl_error(e: openssl::error::ErrorStack) -> std::io::Error {
    std::io::Error::other(format!("digest: {e}"))
}

impl Digest {
    pub fn new(algorithm: Algorithm) -> std::io::Result<Digest> {
        Ok(Digest {
            hasher: Hasher::new(algorithm.message_digest()).map_err(openssl_error)?,
        })
    }

    pub fn update(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.hasher.update(data).map_err(openssl_error)
    }

    /// The digest in lowercase hex.
    pub fn finish_hex(mut self) -> std::io::Result<String> {
        let out = self.hasher.finish().map_err(openssl_error)?;
        Ok(hex(&out))
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() -> std::io::Result<()> {
        let mut md5 = Digest::new(Algorithm::Md5)?;
        md5.update(b"hello ")?;
        md5.update(b"world")?;
        assert_eq!(md5.finish_hex()?, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        let sha = Digest::new(Algorithm::Sha512)?;
        assert_eq!(
            sha.finish_hex()?,
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
             47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
        );
        assert_eq!(hex(&[0, 0x0f, 0xa5, 0xff]), "000fa5ff");
        Ok(())
    }
}
