//! Fernet tokens: the payload format ([`format`]) and the key repository
//! ([`keys`]). A token is self-contained: any API replica holding the same
//! keys validates it without the database knowing it exists.

pub mod format;
pub mod keys;

pub use format::{Payload, TokenScope};
pub use keys::KeyRepository;
