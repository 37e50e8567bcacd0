//! The digests of one file while its bytes go by: sha256 of every file, MD5 and SHA-1 of
//! the files package databases describe. (Small files that need MD5 get it eight at a time
//! instead, in `md5_lanes`; this is the path for the rest.)
//!
//! A file that needs all three is fed to them one 64-byte block at a time, each hash in
//! turn, rather than the whole chunk to MD5, then to SHA-1, then to sha256. MD5's rounds are
//! one long dependency chain that leaves most of a core idle; with the SHA-1 and SHA-256
//! instructions of the same block close behind it, the core runs them side by side. On the
//! benchmark machine that is 370 MB/s for the three together instead of 296 (see
//! `bench/README.md`). All three are Merkle–Damgård hashes over 64-byte blocks with the same
//! padding, so block functions are all this needs: the RustCrypto crates' for the SHAs,
//! `md5_block`'s for MD5 (faster than `md-5`'s); the tests check every length against the
//! crates' own `Digest` implementations.

use sha1::block_api::compress as sha1_compress;
use sha2::digest::consts::U64;
use sha2::digest::generic_array::GenericArray;
use sha2::{Digest as _, Sha256};

use customs_core::Digest;

use crate::md5_block::compress as md5_compress;
use crate::walk::ExtraDigests;

const BLOCK: usize = 64;

const MD5_INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
const SHA1_INIT: [u32; 5] = [
    0x6745_2301,
    0xefcd_ab89,
    0x98ba_dcfe,
    0x1032_5476,
    0xc3d2_e1f0,
];
const SHA256_INIT: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// A file's digests, once all of it was read.
pub(crate) struct Digests {
    pub(crate) sha256: Option<Digest>,
    pub(crate) md5: Option<[u8; 16]>,
    pub(crate) sha1: Option<[u8; 20]>,
}

impl Digests {
    pub(crate) const NONE: Digests = Digests {
        sha256: None,
        md5: None,
        sha1: None,
    };
}

/// The digests of one file being read.
pub(crate) enum Hashers {
    /// Nothing to compute.
    None,
    /// sha256 alone: the `sha2` hasher, which takes whole chunks at once.
    Sha256(Box<Sha256>),
    /// MD5 and/or SHA-1 (and maybe sha256), interleaved block by block.
    Blocks(Box<BlockHashers>),
}

/// Raw states of the hashes that are on, and the bytes short of a whole block.
pub(crate) struct BlockHashers {
    sha256: Option<[u32; 8]>,
    md5: Option<[u32; 4]>,
    sha1: Option<[u32; 5]>,
    pending: [u8; BLOCK],
    pending_len: usize,
    len: u64,
}

impl Hashers {
    pub(crate) fn new(sha256: bool, extra: ExtraDigests) -> Hashers {
        if extra.md5 || extra.sha1 {
            Hashers::Blocks(Box::new(BlockHashers {
                sha256: sha256.then_some(SHA256_INIT),
                md5: extra.md5.then_some(MD5_INIT),
                sha1: extra.sha1.then_some(SHA1_INIT),
                pending: [0; BLOCK],
                pending_len: 0,
                len: 0,
            }))
        } else if sha256 {
            Hashers::Sha256(Box::new(Sha256::new()))
        } else {
            Hashers::None
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Hashers::None => {}
            Hashers::Sha256(h) => h.update(bytes),
            Hashers::Blocks(b) => b.update(bytes),
        }
    }

    pub(crate) fn finish(self) -> Digests {
        match self {
            Hashers::None => Digests::NONE,
            Hashers::Sha256(h) => Digests {
                sha256: Some(Digest::sha256_from_bytes(&h.finalize())),
                md5: None,
                sha1: None,
            },
            Hashers::Blocks(b) => b.finish(),
        }
    }
}

impl BlockHashers {
    fn update(&mut self, mut bytes: &[u8]) {
        self.len = self.len.wrapping_add(bytes.len() as u64);
        if self.pending_len > 0 {
            let take = (BLOCK - self.pending_len).min(bytes.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&bytes[..take]);
            self.pending_len += take;
            bytes = &bytes[take..];
            if self.pending_len < BLOCK {
                return;
            }
            let block = self.pending;
            self.compress(std::slice::from_ref(&block));
            self.pending_len = 0;
        }
        let (blocks, rest) = bytes.as_chunks::<BLOCK>();
        self.compress(blocks);
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    /// Every hash that is on takes a block before the next block starts.
    fn compress(&mut self, blocks: &[[u8; BLOCK]]) {
        for block in blocks {
            let one = std::slice::from_ref(block);
            if let Some(s) = &mut self.md5 {
                md5_compress(s, one);
            }
            if let Some(s) = &mut self.sha1 {
                sha1_compress(s, one);
            }
            if let Some(s) = &mut self.sha256 {
                sha2::compress256(
                    s,
                    std::slice::from_ref(GenericArray::<u8, U64>::from_slice(block)),
                );
            }
        }
    }

    /// The padding all three share: 0x80, zeros, then the length in bits in the last 8 bytes
    /// of a block, little-endian for MD5 and big-endian for the SHAs.
    fn finish(self) -> Digests {
        let bits = self.len.wrapping_mul(8);
        let mut tail = [0u8; 2 * BLOCK];
        tail[..self.pending_len].copy_from_slice(&self.pending[..self.pending_len]);
        tail[self.pending_len] = 0x80;
        let end = if self.pending_len < BLOCK - 8 {
            BLOCK
        } else {
            2 * BLOCK
        };
        let padded = |len: [u8; 8]| {
            let mut t = tail;
            t[end - 8..end].copy_from_slice(&len);
            t
        };
        let (le, be) = (padded(bits.to_le_bytes()), padded(bits.to_be_bytes()));
        let (le, be) = (
            le[..end].as_chunks::<BLOCK>().0,
            be[..end].as_chunks::<BLOCK>().0,
        );
        let md5 = self.md5.map(|mut s| {
            md5_compress(&mut s, le);
            words_le(&s)
        });
        let sha1 = self.sha1.map(|mut s| {
            sha1_compress(&mut s, be);
            words_be(&s)
        });
        let sha256 = self.sha256.map(|mut s| {
            for block in be {
                sha2::compress256(
                    &mut s,
                    std::slice::from_ref(GenericArray::from_slice(block)),
                );
            }
            Digest::sha256_from_bytes(&words_be::<8, 32>(&s))
        });
        Digests { sha256, md5, sha1 }
    }
}

fn words_le<const W: usize, const B: usize>(words: &[u32; W]) -> [u8; B] {
    let mut out = [0u8; B];
    for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    out
}

fn words_be<const W: usize, const B: usize>(words: &[u32; W]) -> [u8; B] {
    let mut out = [0u8; B];
    for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&w.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use customs_test_support::noise;

    use super::*;

    fn reference(data: &[u8]) -> (String, [u8; 16], [u8; 20]) {
        (
            Digest::sha256_from_bytes(&Sha256::digest(data)).to_string(),
            <md5::Md5 as md5::Digest>::digest(data).into(),
            <sha1::Sha1 as sha1::Digest>::digest(data).into(),
        )
    }

    fn all() -> ExtraDigests {
        ExtraDigests {
            md5: true,
            sha1: true,
        }
    }

    /// Every length across the one- and two-block padding cases and a few blocks more, fed
    /// whole, byte by byte, and in uneven pieces that cross block edges.
    #[test]
    fn every_length_and_split_matches_the_reference_hashes() {
        let data = noise(300, 0);
        for len in 0..=data.len() {
            let d = &data[..len];
            let (sha256, md5, sha1) = reference(d);
            for piece in [usize::MAX, 1, 7, 63, 64, 65] {
                let mut h = Hashers::new(true, all());
                for part in d.chunks(piece.min(len.max(1))) {
                    h.update(part);
                }
                let got = h.finish();
                assert_eq!(
                    got.sha256.unwrap().to_string(),
                    sha256,
                    "len {len} piece {piece}"
                );
                assert_eq!(got.md5.unwrap(), md5, "len {len} piece {piece}");
                assert_eq!(got.sha1.unwrap(), sha1, "len {len} piece {piece}");
            }
        }
    }

    #[test]
    fn only_the_digests_asked_for_are_computed() {
        let data = noise(1000, 0);
        let (sha256, md5, sha1) = reference(&data);
        let cases = [
            (false, false, false),
            (true, false, false),
            (false, true, false),
            (false, false, true),
            (true, true, false),
            (true, false, true),
        ];
        for (want256, want_md5, want_sha1) in cases {
            let mut h = Hashers::new(
                want256,
                ExtraDigests {
                    md5: want_md5,
                    sha1: want_sha1,
                },
            );
            h.update(&data[..500]);
            h.update(&data[500..]);
            let got = h.finish();
            assert_eq!(
                got.sha256.map(|d| d.to_string()),
                want256.then(|| sha256.clone())
            );
            assert_eq!(got.md5, want_md5.then_some(md5));
            assert_eq!(got.sha1, want_sha1.then_some(sha1));
        }
    }

    /// A known answer, so a reference crate that changed would not go unnoticed.
    #[test]
    fn known_answers_for_abc() {
        let mut h = Hashers::new(true, all());
        h.update(b"abc");
        let got = h.finish();
        assert_eq!(
            got.sha256.unwrap().to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex(&got.md5.unwrap()), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(&got.sha1.unwrap()),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
