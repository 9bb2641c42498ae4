//! The cluster join secret: a random string in the state directory (mode
//! 0600), written on the controller's first start. A node proves it may
//! join by presenting it once, at registration; the in-process agent of
//! `oxistack up` reads the file directly.

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

#[cfg(test)]
mod tests {
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
