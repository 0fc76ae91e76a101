//! Records at rest: MessagePack with named fields, inside an envelope that names the
//! record's kind and schema version.
//!
//! Reading a record of an older version migrates it; a newer or unknown version, a record
//! of another kind, or bytes that are not a record at all give a [`RecordError`], never a
//! panic and never a silent default.
//!
//! ```
//! use reporunner_protocols::record::{self, Record};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct Note { text: String }
//! impl Record for Note {
//!     const KIND: &'static str = "note";
//!     const VERSION: u16 = 1;
//! }
//!
//! let bytes = record::encode(&Note { text: "hi".into() }).unwrap();
//! assert_eq!(record::decode::<Note>(&bytes).unwrap(), Note { text: "hi".into() });
//! assert!(record::decode::<Note>(b"garbage").is_err());
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Why bytes at rest could not be read as a record, or a record written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The bytes are not a record envelope.
    #[error("corrupt record: {reason}")]
    Corrupt {
        /// What the decoder reported.
        reason: String,
    },
    /// The record is of another kind than the one asked for.
    #[error("record is a {found:?}, expected a {expected:?}")]
    WrongKind {
        /// The kind asked for.
        expected: String,
        /// The kind stored.
        found: String,
    },
    /// The record was written by a newer build.
    #[error(
        "{kind:?} record has schema version {found}, newer than this build's {supported}: upgrade reporunner to read it"
    )]
    NewerVersion {
        /// The record's kind.
        kind: String,
        /// The version stored.
        found: u16,
        /// The newest version this build reads.
        supported: u16,
    },
    /// The record is of an old version that no migration reads.
    #[error("{kind:?} record has schema version {found}, which this build cannot migrate")]
    NoMigration {
        /// The record's kind.
        kind: String,
        /// The version stored.
        found: u16,
    },
    /// The record's body does not match its declared schema.
    #[error("{kind:?} record v{version} has a malformed body: {reason}")]
    MalformedBody {
        /// The record's kind.
        kind: String,
        /// The version stored.
        version: u16,
        /// What the decoder reported.
        reason: String,
    },
    /// The record could not be encoded.
    #[error("cannot encode {kind:?} record: {reason}")]
    Encode {
        /// The record's kind.
        kind: String,
        /// What the encoder reported.
        reason: String,
    },
}

/// A type stored at rest. Each has a kind, unique among records, and a schema version that
/// is bumped whenever its fields change in a way old readers or new readers cannot absorb.
pub trait Record: Serialize + DeserializeOwned {
    /// The record's kind, written into every envelope.
    const KIND: &'static str;
    /// The schema version this build writes.
    const VERSION: u16;

    /// Reads a record stored with an older `version`. The default knows no older version.
    ///
    /// Implementations decode the old shape with [`decode_body`] and convert it.
    ///
    /// # Errors
    /// [`RecordError::NoMigration`] for a version with no migration, or the old body's
    /// decoding error.
    fn migrate(version: u16, bytes: &[u8]) -> Result<Self, RecordError> {
        let _ = bytes;
        Err(RecordError::NoMigration {
            kind: Self::KIND.to_string(),
            found: version,
        })
    }
}

#[derive(Serialize)]
struct EnvelopeOut<'a, T> {
    kind: &'a str,
    v: u16,
    data: &'a T,
}

#[derive(Deserialize)]
struct Header {
    kind: String,
    v: u16,
}

#[derive(Deserialize)]
struct EnvelopeIn<T> {
    data: T,
}

/// Encodes a record in its envelope.
///
/// # Errors
/// [`RecordError::Encode`] if serde refuses the value.
pub fn encode<R: Record>(record: &R) -> Result<Vec<u8>, RecordError> {
    rmp_serde::to_vec_named(&EnvelopeOut {
        kind: R::KIND,
        v: R::VERSION,
        data: record,
    })
    .map_err(|e| RecordError::Encode {
        kind: R::KIND.to_string(),
        reason: e.to_string(),
    })
}

/// Returns the kind and version in an envelope, without decoding the body.
///
/// # Errors
/// [`RecordError::Corrupt`] if the bytes are not an envelope.
pub fn peek(bytes: &[u8]) -> Result<(String, u16), RecordError> {
    let h: Header = rmp_serde::from_slice(bytes).map_err(|e| RecordError::Corrupt {
        reason: e.to_string(),
    })?;
    Ok((h.kind, h.v))
}

/// Decodes an envelope's body as `T`, whatever its declared version: the building block of
/// [`Record::migrate`].
///
/// # Errors
/// [`RecordError::MalformedBody`] if the body is not a `T`.
pub fn decode_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RecordError> {
    let (kind, version) = peek(bytes)?;
    rmp_serde::from_slice::<EnvelopeIn<T>>(bytes)
        .map(|e| e.data)
        .map_err(|e| RecordError::MalformedBody {
            kind,
            version,
            reason: e.to_string(),
        })
}

/// Decodes a record, migrating an older version.
///
/// # Errors
/// A [`RecordError`] naming what is wrong; never a panic.
pub fn decode<R: Record>(bytes: &[u8]) -> Result<R, RecordError> {
    let (kind, version) = peek(bytes)?;
    if kind != R::KIND {
        return Err(RecordError::WrongKind {
            expected: R::KIND.to_string(),
            found: kind,
        });
    }
    match version.cmp(&R::VERSION) {
        std::cmp::Ordering::Equal => decode_body(bytes),
        std::cmp::Ordering::Less => R::migrate(version, bytes),
        std::cmp::Ordering::Greater => Err(RecordError::NewerVersion {
            kind,
            found: version,
            supported: R::VERSION,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct UserV1 {
        name: String,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct User {
        name: String,
        tier: String,
    }

    impl Record for User {
        const KIND: &'static str = "user";
        const VERSION: u16 = 2;
        fn migrate(version: u16, bytes: &[u8]) -> Result<Self, RecordError> {
            match version {
                1 => {
                    let old: UserV1 = decode_body(bytes)?;
                    Ok(User {
                        name: old.name,
                        tier: "free".into(),
                    })
                }
                v => Err(RecordError::NoMigration {
                    kind: Self::KIND.into(),
                    found: v,
                }),
            }
        }
    }

    fn envelope<T: Serialize>(kind: &str, v: u16, data: &T) -> Vec<u8> {
        rmp_serde::to_vec_named(&EnvelopeOut { kind, v, data }).unwrap()
    }

    #[test]
    fn round_trips_with_named_fields() {
        let u = User {
            name: "ann".into(),
            tier: "premium".into(),
        };
        let bytes = encode(&u).unwrap();
        assert_eq!(peek(&bytes).unwrap(), ("user".to_string(), 2));
        assert_eq!(decode::<User>(&bytes).unwrap(), u);
        // Named fields: the field names are in the bytes.
        assert!(bytes.windows(4).any(|w| w == b"tier"));
    }

    #[test]
    fn an_older_version_is_migrated() {
        let bytes = envelope("user", 1, &UserV1 { name: "bob".into() });
        assert_eq!(
            decode::<User>(&bytes).unwrap(),
            User {
                name: "bob".into(),
                tier: "free".into()
            }
        );
        assert_eq!(
            decode::<User>(&envelope("user", 0, &UserV1 { name: "x".into() })),
            Err(RecordError::NoMigration {
                kind: "user".into(),
                found: 0
            })
        );
    }

    #[test]
    fn newer_versions_other_kinds_and_garbage_are_clear_errors() {
        let newer = envelope("user", 3, &UserV1 { name: "c".into() });
        let err = decode::<User>(&newer).unwrap_err();
        assert!(matches!(
            err,
            RecordError::NewerVersion {
                found: 3,
                supported: 2,
                ..
            }
        ));
        assert!(err.to_string().contains("upgrade reporunner"));
        assert!(matches!(
            decode::<User>(&envelope("run", 2, &UserV1 { name: "c".into() })),
            Err(RecordError::WrongKind { .. })
        ));
        assert!(matches!(
            decode::<User>(b"\xff\x00garbage"),
            Err(RecordError::Corrupt { .. })
        ));
        assert!(matches!(
            decode::<User>(&envelope(
                "user",
                2,
                &UserV1 {
                    name: "no tier".into()
                }
            )),
            Err(RecordError::MalformedBody { version: 2, .. })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode::<User>(&bytes);
        }
    }
}
