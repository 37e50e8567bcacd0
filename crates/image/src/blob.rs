//! Blob access shared by every source, and the readers that check what a blob claims.

use std::io::{self, BufRead, BufReader, Read};

use customs_core::Digest;
use sha2::{Digest as _, Sha256, Sha512};

use crate::ImageError;

/// How a source finds a blob again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobKey {
    /// Content-addressed (OCI layout, registry, Docker ≥ 25 archive).
    Digest(Digest),
    /// A member of an archive that is not named by digest (legacy `docker save`).
    Path(String),
}

/// A place blobs can be streamed from. Readers it returns are raw: the caller verifies.
pub trait BlobStore: Send + Sync {
    /// Opens a blob for streaming.
    fn open(&self, key: &BlobKey) -> Result<Box<dyn Read + Send + '_>, ImageError>;

    /// Reads a manifest. Registries serve manifests on another endpoint than blobs.
    fn manifest(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>, ImageError> {
        let r = self.open(&BlobKey::Digest(digest.clone()))?;
        read_verified(r, digest, limit, &format!("manifest {digest}"))
    }
}

/// Largest manifest, index or config customs believes in.
pub const METADATA_LIMIT: u64 = 8 << 20;

/// Reads at most `limit` bytes of `r`; more is an error, not a truncation.
pub fn read_limited(mut r: impl Read, limit: u64, what: &str) -> Result<Vec<u8>, ImageError> {
    let mut buf = Vec::new();
    (&mut r)
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|source| ImageError::Read {
            what: what.to_string(),
            source,
        })?;
    if buf.len() as u64 > limit {
        return Err(ImageError::TooLarge {
            what: what.to_string(),
            limit,
        });
    }
    Ok(buf)
}

/// Reads a small blob whole and checks it against its digest.
pub fn read_verified(
    r: impl Read,
    digest: &Digest,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, ImageError> {
    let buf = read_limited(r, limit, what)?;
    let actual = digest_of(digest, &buf);
    if &actual != digest {
        return Err(ImageError::DigestMismatch {
            what: what.to_string(),
            expected: digest.clone(),
            actual,
        });
    }
    Ok(buf)
}

/// The digest of `bytes` with the algorithm of `like`.
pub fn digest_of(like: &Digest, bytes: &[u8]) -> Digest {
    let mut h = Hasher::for_digest(like);
    h.update(bytes);
    h.finish()
}

/// sha256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Digest {
    Digest::sha256_from_bytes(&Sha256::digest(bytes))
}

enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn for_digest(d: &Digest) -> Hasher {
        if d.is_sha256() {
            Hasher::Sha256(Sha256::new())
        } else {
            Hasher::Sha512(Sha512::new())
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }
    fn finish(self) -> Digest {
        let bytes = match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        };
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}:{hex}",
            if bytes.len() == 32 {
                "sha256"
            } else {
                "sha512"
            }
        )
        .parse()
        .expect("hex digest is valid")
    }
}

/// The error a [`VerifyingReader`] returns inside an `io::Error` when the bytes are wrong.
#[derive(Debug, thiserror::Error)]
#[error("digest mismatch: expected {expected}, got {actual}")]
pub struct Mismatch {
    /// Promised.
    pub expected: Digest,
    /// Read.
    pub actual: Digest,
}

/// Hashes everything read through it and fails the read that reaches the end if the bytes
/// do not match the digest (or exceed the promised size). Nothing is trusted before EOF.
pub struct VerifyingReader<R> {
    inner: R,
    expected: Digest,
    size: Option<u64>,
    hasher: Option<Hasher>,
    read: u64,
}

impl<R: Read> VerifyingReader<R> {
    /// Wraps `inner`; `size` is checked too when known.
    pub fn new(inner: R, expected: Digest, size: Option<u64>) -> Self {
        let hasher = Some(Hasher::for_digest(&expected));
        VerifyingReader {
            inner,
            expected,
            size,
            hasher,
            read: 0,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.read += n as u64;
            if let Some(size) = self.size
                && self.read > size
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob {} is longer than its declared {size} bytes",
                        self.expected
                    ),
                ));
            }
            if let Some(h) = &mut self.hasher {
                h.update(&buf[..n]);
            }
            return Ok(n);
        }
        if let Some(h) = self.hasher.take() {
            let actual = h.finish();
            if actual != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    Mismatch {
                        expected: self.expected.clone(),
                        actual,
                    },
                ));
            }
            if let Some(size) = self.size
                && self.read != size
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob {} has {} bytes, not its declared {size}",
                        self.expected, self.read
                    ),
                ));
            }
        }
        Ok(0)
    }
}

/// How a layer's bytes are compressed, from their first bytes (media types lie).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip, possibly several members.
    Gzip,
    /// zstd.
    Zstd,
}

/// Looks at the first bytes of `r` and returns a reader of the decompressed stream.
pub fn decompress<'a>(
    r: impl Read + Send + 'a,
) -> io::Result<(Compression, Box<dyn Read + Send + 'a>)> {
    let mut r = BufReader::with_capacity(256 << 10, r);
    let head = {
        // fill_buf may return fewer bytes than a magic number; keep filling until it can't.
        let mut want = r.fill_buf()?.len();
        while want < 6 {
            let more = r.fill_buf()?;
            if more.len() == want {
                break;
            }
            want = more.len();
        }
        r.fill_buf()?.get(..6.min(want)).unwrap_or(&[]).to_vec()
    };
    match head.as_slice() {
        [0x1f, 0x8b, ..] => Ok((
            Compression::Gzip,
            Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        )),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Ok((
            Compression::Zstd,
            Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
        )),
        [0xfd, b'7', b'z', b'X', b'Z', 0] => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "xz-compressed layers are not supported",
        )),
        [b'B', b'Z', b'h', ..] => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "bzip2-compressed layers are not supported",
        )),
        _ => Ok((Compression::None, Box::new(r))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifying_reader_accepts_and_rejects() {
        let data = b"hello layer";
        let good = sha256(data);
        let mut out = Vec::new();
        VerifyingReader::new(&data[..], good.clone(), Some(data.len() as u64))
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);

        let bad = sha256(b"other");
        let err = VerifyingReader::new(&data[..], bad, None)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(err.get_ref().unwrap().is::<Mismatch>(), "{err}");

        let err = VerifyingReader::new(&data[..], good, Some(3))
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("longer"), "{err}");
    }

    #[test]
    fn sniffs_compression() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"abc").unwrap();
        let gz = gz.finish().unwrap();
        let (c, mut r) = decompress(&gz[..]).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!((c, s.as_str()), (Compression::Gzip, "abc"));

        let z = zstd::encode_all(&b"xyz"[..], 1).unwrap();
        let (c, mut r) = decompress(&z[..]).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!((c, s.as_str()), (Compression::Zstd, "xyz"));

        let (c, _) = decompress(&b"plain"[..]).unwrap();
        assert_eq!(c, Compression::None);
        assert!(decompress(&b"\xfd7zXZ\0rest"[..]).is_err());
    }
}
