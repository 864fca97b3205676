//! The cryptography of crypto-shredding: a key-encryption key (KEK) per store, a data key per
//! person (per case stream), and the one authenticated cipher both use, XChaCha20-Poly1305
//! from RustCrypto (`chacha20poly1305`). Keys and nonces come from the operating system's
//! random source (`OsRng`, i.e. `getrandom`). Why this design:
//! docs/decisions/0009-crypto-shredding.md.
//!
//! A sealed value is `version byte ‖ 24-byte nonce ‖ ciphertext ‖ 16-byte tag`; its associated
//! data is the subject (the stream id), so a value or a wrapped key moved to another person's
//! stream does not open. Destroying a person's data key (the key store's
//! [`crate::keystore::KeyStore::destroy_data_key`]) makes every value sealed with it
//! unreadable for good: that is the erasure.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Length of every key (KEK and data key), in bytes: XChaCha20-Poly1305's 256-bit key.
pub const KEY_BYTES: usize = 32;
/// Length of a nonce, in bytes (XChaCha20's 192-bit nonce: random nonces never collide in
/// practice, so no counter has to be kept).
pub const NONCE_BYTES: usize = 24;
/// Length of the Poly1305 tag, in bytes.
pub const TAG_BYTES: usize = 16;
/// The version byte of a sealed value or wrapped key (this format).
pub const SEALED_FORMAT_V1: u8 = 1;
/// What sealing adds to a value, in bytes: version byte, nonce and tag.
pub const SEAL_OVERHEAD_BYTES: usize = 1 + NONCE_BYTES + TAG_BYTES;
/// Length of a wrapped (KEK-encrypted) data key, in bytes.
pub const WRAPPED_KEY_BYTES: usize = KEY_BYTES + SEAL_OVERHEAD_BYTES;
/// Longest key file accepted, in bytes: 64 hex digits and a line break, with room for a
/// carriage return or trailing spaces; a larger file is not a key file.
pub const KEY_FILE_BYTES_MAX: u64 = 256;
/// The environment variable naming the KEK file (docs/operations.md "Key management").
pub const KEY_FILE_ENV: &str = "CASELEDGER_KEY_FILE";

/// Why a key could not be loaded or a value could not be opened.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum CryptoError {
    #[error("key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("sealed value is {bytes} bytes or has format {format}; expected format {SEALED_FORMAT_V1} and at least {SEAL_OVERHEAD_BYTES} bytes")]
    Malformed { bytes: usize, format: u8 },
    #[error("a sealed value did not open with its key: the stored bytes were altered or belong to another person")]
    Unauthentic,
}

/// The identity of a KEK, safe to show and to store: the first 16 bytes of SHA-256 over a
/// domain-separation label and the key, in hex. The store keeps the id of the KEK its data
/// keys are wrapped under, so a missing or wrong KEK is named instead of producing garbage.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KekId(String);

impl KekId {
    /// An id as stored (32 lowercase hex digits); anything else is not an id.
    pub fn parse(id: &str) -> Option<KekId> {
        let ok = id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| KekId(id.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KekId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 256-bit key held in memory that is zeroed when dropped.
#[derive(Clone)]
struct SecretKey(Zeroizing<[u8; KEY_BYTES]>);

impl SecretKey {
    fn generate() -> SecretKey {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        bytes.copy_from_slice(&key);
        SecretKey(bytes)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.0[..]))
    }

    /// Seal under a fresh random nonce (wrapped keys: never compared).
    fn seal(&self, subject: &str, plaintext: &[u8]) -> Vec<u8> {
        self.seal_with_nonce(
            &XChaCha20Poly1305::generate_nonce(&mut OsRng),
            subject,
            plaintext,
        )
    }

    /// Seal under a nonce derived from the key, the subject and the plaintext (a synthetic
    /// nonce, as in SIV modes, RFC 5297): the same value sealed twice for the same person
    /// under the same key gives the same bytes, so a command recorded twice (the pipelined
    /// and the one-command import, a re-run) records the same payload and the same hash, and
    /// no nonce has to be remembered. Distinct (subject, value) pairs get distinct nonces
    /// with the collision odds of 192 random bits. What it reveals: that two records of one
    /// person hold the same value — which their event types already say.
    fn seal_deterministic(&self, subject: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce_key = Sha256::new()
            .chain_update(b"caseledger synthetic nonce key v1")
            .chain_update(&self.0[..])
            .finalize();
        let digest = Sha256::new()
            .chain_update(nonce_key)
            .chain_update((subject.len() as u64).to_le_bytes())
            .chain_update(subject.as_bytes())
            .chain_update(plaintext)
            .finalize();
        self.seal_with_nonce(
            XNonce::from_slice(&digest[..NONCE_BYTES]),
            subject,
            plaintext,
        )
    }

    fn seal_with_nonce(&self, nonce: &XNonce, subject: &str, plaintext: &[u8]) -> Vec<u8> {
        let sealed = self
            .cipher()
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext,
                    aad: subject.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message shorter than 256 GiB");
        let mut out = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        out.push(SEALED_FORMAT_V1);
        out.extend_from_slice(nonce);
        out.extend_from_slice(&sealed);
        debug_assert_eq!(out.len(), plaintext.len() + SEAL_OVERHEAD_BYTES);
        out
    }

    fn open(&self, subject: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < SEAL_OVERHEAD_BYTES || sealed[0] != SEALED_FORMAT_V1 {
            return Err(CryptoError::Malformed {
                bytes: sealed.len(),
                format: sealed.first().copied().unwrap_or(0),
            });
        }
        let nonce = XNonce::from_slice(&sealed[1..=NONCE_BYTES]);
        self.cipher()
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[1 + NONCE_BYTES..],
                    aad: subject.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Unauthentic)
    }
}

/// The key-encryption key: wraps every person's data key. Read from a file (hex) named by
/// `--key-file` / [`KEY_FILE_ENV`]; never stored in the log or the key store.
#[derive(Clone)]
pub struct Kek {
    key: SecretKey,
    id: KekId,
    /// Where it came from, for messages ("key file /etc/caseledger/kek", "in memory").
    origin: String,
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kek {{ id: {}, origin: {} }}", self.id, self.origin)
    }
}

impl Kek {
    /// A fresh KEK from the OS random source that lives only in memory (a memory store's).
    pub fn ephemeral() -> Kek {
        Kek::from_key(SecretKey::generate(), "a key generated in memory".into())
    }

    /// The one KEK of this process that lives only in memory, the same on every call: the
    /// KEK of engines over a store handed in without one (`Engine::with_store`), so two such
    /// engines over one store read each other's keys. Nothing it wraps can be read by
    /// another process.
    pub fn process_ephemeral() -> Kek {
        static PROCESS_KEK: std::sync::OnceLock<Kek> = std::sync::OnceLock::new();
        PROCESS_KEK
            .get_or_init(|| {
                Kek::from_key(
                    SecretKey::generate(),
                    "this process's in-memory key (Engine::with_store)".into(),
                )
            })
            .clone()
    }

    fn from_key(key: SecretKey, origin: String) -> Kek {
        let mut hash = Sha256::new();
        hash.update(b"caseledger key-encryption key id v1\0");
        hash.update(&key.0[..]);
        let id = KekId(hex::encode(&hash.finalize()[..16]));
        Kek { key, id, origin }
    }

    pub fn id(&self) -> &KekId {
        &self.id
    }

    /// Where the key came from, for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Read a KEK file: 64 hex digits, optionally followed by a line break. A file that
    /// group or others may read is refused (as ssh refuses such a private key): the key
    /// unlocks every person's data.
    pub fn load(path: &Path) -> Result<Kek, CryptoError> {
        let fail = |reason: String| CryptoError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
        if !meta.is_file() || meta.len() > KEY_FILE_BYTES_MAX {
            return Err(fail(format!(
                "is not a key file (a regular file of at most {KEY_FILE_BYTES_MAX} bytes)"
            )));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(fail(format!(
                    "has mode {mode:03o}; a key file must be private to its owner: chmod 600 {}",
                    path.display()
                )));
            }
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?);
        let digits = text.trim();
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        if digits.len() != 2 * KEY_BYTES || hex::decode_to_slice(digits, &mut key[..]).is_err() {
            return Err(fail(format!(
                "must hold {} hex digits (a {}-bit key), as `caseledger init` writes",
                2 * KEY_BYTES,
                8 * KEY_BYTES
            )));
        }
        Ok(Kek::from_key(
            SecretKey(key),
            format!("key file {}", path.display()),
        ))
    }

    /// Create a new KEK file at `path` (mode 0600; refused if the file exists) from the OS
    /// random source and return the key.
    pub fn create_file(path: &Path) -> Result<Kek, CryptoError> {
        let fail = |reason: String| CryptoError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        let key = SecretKey::generate();
        let mut file = crate::private_file_options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| fail(format!("cannot create: {e}")))?;
        let mut text = Zeroizing::new(hex::encode(&key.0[..]));
        text.push('\n');
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| fail(format!("cannot write: {e}")))?;
        Ok(Kek::from_key(key, format!("key file {}", path.display())))
    }

    /// Wrap `key` for `subject`: the form the key store keeps.
    pub fn wrap(&self, subject: &str, key: &DataKey) -> WrappedKey {
        WrappedKey(self.key.seal(subject, &key.0 .0[..]))
    }

    /// Unwrap a key stored for `subject`. A wrong KEK never gets here (the store's KEK id is
    /// checked on open), so a failure is a damaged or moved key.
    pub fn unwrap(&self, subject: &str, wrapped: &WrappedKey) -> Result<DataKey, CryptoError> {
        let bytes = Zeroizing::new(self.key.open(subject, &wrapped.0)?);
        if bytes.len() != KEY_BYTES {
            return Err(CryptoError::Malformed {
                bytes: wrapped.0.len(),
                format: wrapped.0[0],
            });
        }
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        key.copy_from_slice(&bytes);
        Ok(DataKey(SecretKey(key)))
    }
}

/// The default place of a sled store's KEK file when none is named: beside the data
/// directory, never inside it (`./caseledger-data` → `./caseledger-data.key`), so a copy of
/// the data directory alone does not carry the key.
pub fn default_key_file(data_dir: &Path) -> PathBuf {
    let mut name = data_dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "caseledger-data".into());
    name.push(".key");
    data_dir.with_file_name(name)
}

/// One person's data key. Never stored unwrapped.
#[derive(Clone)]
pub struct DataKey(SecretKey);

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(…)")
    }
}

impl DataKey {
    /// A fresh key from the OS random source.
    pub fn generate() -> DataKey {
        DataKey(SecretKey::generate())
    }

    /// Seal `plaintext` for `subject` (its stream id). Deterministic: the same plaintext for
    /// the same subject under the same key gives the same bytes (a synthetic nonce).
    pub fn seal(&self, subject: &str, plaintext: &[u8]) -> Vec<u8> {
        self.0.seal_deterministic(subject, plaintext)
    }

    /// A data key from its 32 bytes: for golden payloads and tests that must seal
    /// reproducibly. Real keys come from [`DataKey::generate`].
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> DataKey {
        DataKey(SecretKey(Zeroizing::new(bytes)))
    }

    /// Open a value sealed for `subject`.
    pub fn open(&self, subject: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.0.open(subject, sealed)
    }
}

/// A data key encrypted under the KEK, as the key store keeps it ([`WRAPPED_KEY_BYTES`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey(Vec<u8>);

impl WrappedKey {
    /// Stored bytes back into a wrapped key; `None` when they cannot be one.
    pub fn from_stored(bytes: Vec<u8>) -> Option<WrappedKey> {
        (bytes.len() == WRAPPED_KEY_BYTES && bytes[0] == SEALED_FORMAT_V1)
            .then_some(WrappedKey(bytes))
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_with_its_key_and_subject() {
        let key = DataKey::generate();
        let sealed = key.seal("X123456", b"Alex Example");
        assert_eq!(sealed.len(), 12 + SEAL_OVERHEAD_BYTES);
        assert!(!sealed.windows(4).any(|w| w == b"Alex"));
        assert_eq!(key.open("X123456", &sealed).unwrap(), b"Alex Example");
        assert_eq!(key.open("X654321", &sealed), Err(CryptoError::Unauthentic));
        assert_eq!(
            DataKey::generate().open("X123456", &sealed),
            Err(CryptoError::Unauthentic)
        );
        let mut altered = sealed.clone();
        altered[30] ^= 1;
        assert_eq!(key.open("X123456", &altered), Err(CryptoError::Unauthentic));
        assert!(matches!(
            key.open("X123456", &sealed[..10]),
            Err(CryptoError::Malformed { .. })
        ));
    }

    #[test]
    fn a_value_seals_to_the_same_bytes_for_the_same_key_subject_and_value_only() {
        let key = DataKey::from_bytes([7; KEY_BYTES]);
        let once = key.seal("X123456", b"Alex Example");
        assert_eq!(key.seal("X123456", b"Alex Example"), once);
        assert_ne!(key.seal("X654321", b"Alex Example")[1..25], once[1..25]);
        assert_ne!(key.seal("X123456", b"Alex Exampld")[1..25], once[1..25]);
        assert_ne!(
            DataKey::from_bytes([8; KEY_BYTES]).seal("X123456", b"Alex Example"),
            once
        );
    }

    #[test]
    fn a_wrapped_key_unwraps_only_under_its_kek_and_subject() {
        let kek = Kek::ephemeral();
        let key = DataKey::generate();
        let wrapped = kek.wrap("X123456", &key);
        assert_eq!(wrapped.as_bytes().len(), WRAPPED_KEY_BYTES);
        let back = kek.unwrap("X123456", &wrapped).unwrap();
        assert_eq!(
            back.open("X123456", &key.seal("X123456", b"v")).unwrap(),
            b"v"
        );
        assert!(kek.unwrap("X000001", &wrapped).is_err());
        assert!(Kek::ephemeral().unwrap("X123456", &wrapped).is_err());
        assert_ne!(Kek::ephemeral().id(), kek.id());
    }

    #[test]
    fn a_key_file_round_trips_and_a_readable_or_malformed_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        let kek = Kek::create_file(&path).unwrap();
        assert_eq!(Kek::load(&path).unwrap().id(), kek.id());
        assert!(Kek::create_file(&path).is_err(), "an existing file is kept");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = Kek::load(&path).unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{err}");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::write(&path, "not hex\n").unwrap();
        let err = Kek::load(&path).unwrap_err().to_string();
        assert!(err.contains("64 hex digits"), "{err}");
    }

    #[test]
    fn the_default_key_file_sits_beside_the_data_directory() {
        assert_eq!(
            default_key_file(Path::new("/srv/caseledger-data")),
            PathBuf::from("/srv/caseledger-data.key")
        );
    }
}
