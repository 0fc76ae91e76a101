//! The wire codec: bincode 2 (serde) inside a versioned envelope.
//!
//! An envelope is `MAGIC (2 bytes) | VERSION (1 byte) | body`. The body is the bincode 2
//! `standard()` encoding of the value, with a decode limit of [`MAX_BODY_BYTES`], so a forged
//! length prefix cannot make a node allocate gigabytes. [`decode`] checks all of it and returns a
//! [`WireError`]; it never panics, whatever the bytes (this is proved by a proptest over
//! arbitrary input).

use ractor::BytesConvertable;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// The two bytes every envelope starts with: "RR".
pub const MAGIC: [u8; 2] = *b"RR";

/// The envelope version this build writes and reads.
///
/// Bump it only together with a decoder for the previous version: nodes of a cluster may be
/// upgraded one at a time.
pub const WIRE_VERSION: u8 = 1;

/// The largest body [`decode`] accepts, matching ractor_cluster's default inbound frame cap.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Length of the envelope header in bytes.
const HEADER_LEN: usize = MAGIC.len() + 1;

/// Why bytes could not be turned into a value, or a value into bytes.
///
/// The payloads are strings so the error itself can cross the wire (STYLE.md, habit 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The input was shorter than the envelope header.
    #[error("frame too short: {len} bytes, need at least {HEADER_LEN}")]
    Truncated {
        /// The number of bytes received.
        len: u64,
    },
    /// The input did not start with [`MAGIC`].
    #[error("bad magic bytes {found:02x?}, expected \"RR\"")]
    BadMagic {
        /// The first two bytes received.
        found: [u8; 2],
    },
    /// The envelope came from a version this build cannot read.
    #[error("unsupported wire version {found}, this build reads version {WIRE_VERSION}")]
    UnsupportedVersion {
        /// The version byte received.
        found: u8,
    },
    /// The body was not a valid encoding of the expected type.
    #[error("malformed body for {type_name}: {reason}")]
    MalformedBody {
        /// The Rust type the body was decoded as.
        type_name: String,
        /// What bincode reported.
        reason: String,
    },
    /// The body decoded, but bytes were left over after it.
    #[error("{extra} trailing bytes after the body of {type_name}")]
    TrailingBytes {
        /// The Rust type the body was decoded as.
        type_name: String,
        /// How many bytes were left.
        extra: u64,
    },
    /// The value could not be encoded.
    #[error("cannot encode {type_name}: {reason}")]
    Encode {
        /// The Rust type being encoded.
        type_name: String,
        /// What bincode reported.
        reason: String,
    },
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_BODY_BYTES>()
}

/// Encodes `value` into an envelope.
///
/// # Errors
/// [`WireError::Encode`] if serde refuses the value (for example a map with non-string keys
/// that a serializer cannot represent) or it exceeds [`MAX_BODY_BYTES`].
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.push(WIRE_VERSION);
    bincode::serde::encode_into_std_write(value, &mut out, config()).map_err(|e| {
        WireError::Encode {
            type_name: std::any::type_name::<T>().to_string(),
            reason: e.to_string(),
        }
    })?;
    Ok(out)
}

/// Decodes an envelope written by [`encode`].
///
/// # Errors
/// A [`WireError`] naming what was wrong; never a panic.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    if bytes.len() < HEADER_LEN {
        return Err(WireError::Truncated {
            len: bytes.len() as u64,
        });
    }
    let found = [bytes[0], bytes[1]];
    if found != MAGIC {
        return Err(WireError::BadMagic { found });
    }
    if bytes[2] != WIRE_VERSION {
        return Err(WireError::UnsupportedVersion { found: bytes[2] });
    }
    let body = &bytes[HEADER_LEN..];
    let (value, used) = bincode::serde::decode_from_slice::<T, _>(body, config()).map_err(|e| {
        WireError::MalformedBody {
            type_name: std::any::type_name::<T>().to_string(),
            reason: e.to_string(),
        }
    })?;
    if used != body.len() {
        return Err(WireError::TrailingBytes {
            type_name: std::any::type_name::<T>().to_string(),
            extra: (body.len() - used) as u64,
        });
    }
    Ok(value)
}

/// A value as it crossed the wire: either decoded, or the reason it could not be.
///
/// Every field and reply of a cluster message is a `Wire<T>`. Between actors of one process
/// ractor passes the value through untouched (no encoding happens); between nodes it is
/// encoded with [`encode`] and decoded with [`decode`]. A peer that sends garbage therefore
/// produces `Wire::Malformed` at the handler, which answers with an error instead of the
/// message vanishing or the node crashing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire<T> {
    /// The value, intact.
    Value(T),
    /// The bytes that arrived could not be decoded into a `T`.
    Malformed(WireError),
}

impl<T> Wire<T> {
    /// Wraps a value for sending.
    pub fn new(value: T) -> Self {
        Wire::Value(value)
    }

    /// Returns the value, or the decoding error.
    ///
    /// # Errors
    /// The [`WireError`] recorded when the bytes arrived.
    pub fn open(self) -> Result<T, WireError> {
        match self {
            Wire::Value(v) => Ok(v),
            Wire::Malformed(e) => Err(e),
        }
    }
}

impl<T> From<T> for Wire<T> {
    fn from(value: T) -> Self {
        Wire::Value(value)
    }
}

impl<T: Serialize + DeserializeOwned> BytesConvertable for Wire<T> {
    fn into_bytes(self) -> Vec<u8> {
        match self {
            // An encoding failure is sent as an empty frame, which the receiver decodes as
            // `Truncated`: the error travels instead of a panic on the sender.
            Wire::Value(v) => encode(&v).unwrap_or_default(),
            Wire::Malformed(_) => Vec::new(),
        }
    }

    fn from_bytes(bytes: Vec<u8>) -> Self {
        match decode(&bytes) {
            Ok(v) => Wire::Value(v),
            Err(e) => Wire::Malformed(e),
        }
    }
}

#[cfg(test)]
mod tests;
