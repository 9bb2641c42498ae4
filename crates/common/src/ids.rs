//! Identifiers and random secrets.
//!
//! OpenStack ids are UUID4; Keystone prints them as 32 hex digits, most other
//! services with dashes. Randomness comes from the OS (`getrandom`).

use base64::Engine;

/// A Keystone-style id: 32 lowercase hex digits.
pub fn hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A dashed UUID4, as Nova, Neutron, Glance and Cinder print ids.
pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `n` random bytes from the OS.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    if getrandom::fill(&mut buf).is_err() {
        // getrandom only fails when the kernel has no entropy source at all;
        // fall back to UUID4 (itself OS-random) rather than returning zeros.
        for chunk in buf.chunks_mut(16) {
            let u = uuid::Uuid::new_v4();
            chunk.copy_from_slice(&u.as_bytes()[..chunk.len()]);
        }
    }
    buf
}

/// A random URL-safe secret of `n` bytes of entropy (no padding).
pub fn random_secret(n: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(n))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_have_their_shapes() {
        let h = super::hex_id();
        assert_eq!(h.len(), 32);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(super::uuid().len(), 36);
        assert_ne!(super::random_secret(32), super::random_secret(32));
    }
}
