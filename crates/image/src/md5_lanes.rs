//! MD5 of many files at once, eight side by side.
//!
//! One MD5 stream cannot go faster than its dependency chain: every step needs the one
//! before, so a core computes one of them at about 605 MB/s on the benchmark machine
//! (`md5_block`) and stays mostly idle. Eight independent files can share the core instead,
//! each in one 32-bit lane of a 256-bit AVX2 vector: a step costs about the same for eight
//! as for one. dpkg lists thousands of small files per image, so the hashing thread collects
//! them (`hash_stage`) and hands them here in batches: 2.9 GB/s for all eight lanes in
//! isolation.
//!
//! The AVX2 code is written with `std::arch` intrinsics; the compiler, left to vectorize the
//! same steps over `[u32; 8]` itself, mixed scalar and 128-bit code and reached half that.
//! Sixteen lanes (two groups of eight, steps alternating) were tried too: 10% faster in
//! isolation, and batches rarely fill sixteen. Without AVX2 each file is hashed on its own.
//! The tests check every length and every way of splitting a file against the `md-5` crate.

#[cfg(target_arch = "x86_64")]
use crate::md5_block::K;
use crate::md5_block::compress as md5_compress;

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const LANES: usize = 8;
const BLOCK: usize = 64;

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
type Lanes = [u32; LANES];

const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// The MD5 of each file, where a file is its bytes in one or more pieces, in order.
pub(crate) fn md5_many(files: &[Vec<&[u8]>]) -> Vec<[u8; 16]> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU was just seen to have AVX2, the only feature the function enables.
        return unsafe { avx2::md5_many(files) };
    }
    md5_one_by_one(files)
}

/// Without AVX2: each file on its own, one block at a time.
fn md5_one_by_one(files: &[Vec<&[u8]>]) -> Vec<[u8; 16]> {
    files
        .iter()
        .map(|pieces| {
            let mut cursor = Cursor::new(pieces);
            let mut state = INIT;
            while cursor.advance() {
                md5_compress(&mut state, std::slice::from_ref(cursor.current()));
            }
            digest(state)
        })
        .collect()
}

fn digest(state: [u32; 4]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (bytes, w) in out.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// One file's 64-byte blocks, padding included: each block read in place where it lies
/// within one piece, copied where it spans two or holds the end.
struct Cursor<'a> {
    pieces: &'a [&'a [u8]],
    piece: usize,
    at: usize,
    len: u64,
    end: End,
    /// Where the current block is: `Some((piece, offset))` in place, `None` in `copy`.
    current: Option<(usize, usize)>,
    copy: [u8; BLOCK],
}

#[derive(PartialEq)]
enum End {
    /// Data blocks still to come.
    NotYet,
    /// The data and its 0x80 ended too late in a block for the length: one block more.
    LengthBlock,
    Done,
}

impl<'a> Cursor<'a> {
    fn new(pieces: &'a [&'a [u8]]) -> Cursor<'a> {
        Cursor {
            pieces,
            piece: 0,
            at: 0,
            len: pieces.iter().map(|p| p.len() as u64).sum(),
            end: End::NotYet,
            current: None,
            copy: [0; BLOCK],
        }
    }

    /// The block `advance` moved to.
    fn current(&self) -> &[u8; BLOCK] {
        match self.current {
            Some((piece, at)) => self.pieces[piece][at..]
                .first_chunk()
                .expect("advance checked that a whole block is there"),
            None => &self.copy,
        }
    }

    /// Moves to the next block; false after the last.
    fn advance(&mut self) -> bool {
        self.current = None;
        match self.end {
            End::Done => return false,
            End::LengthBlock => {
                self.copy = [0; BLOCK];
                self.put_length();
                self.end = End::Done;
                return true;
            }
            End::NotYet => {}
        }
        while self.piece < self.pieces.len() && self.at == self.pieces[self.piece].len() {
            self.piece += 1;
            self.at = 0;
        }
        if self
            .pieces
            .get(self.piece)
            .is_some_and(|p| p.len() - self.at >= BLOCK)
        {
            self.current = Some((self.piece, self.at));
            self.at += BLOCK;
            return true;
        }
        let mut filled = 0;
        while filled < BLOCK && self.piece < self.pieces.len() {
            let rest = &self.pieces[self.piece][self.at..];
            let take = rest.len().min(BLOCK - filled);
            self.copy[filled..filled + take].copy_from_slice(&rest[..take]);
            filled += take;
            self.at += take;
            if self.at == self.pieces[self.piece].len() {
                self.piece += 1;
                self.at = 0;
            }
        }
        if filled == BLOCK {
            return true;
        }
        self.copy[filled] = 0x80;
        self.copy[filled + 1..].fill(0);
        if filled < BLOCK - 8 {
            self.put_length();
            self.end = End::Done;
        } else {
            self.end = End::LengthBlock;
        }
        true
    }

    fn put_length(&mut self) {
        self.copy[BLOCK - 8..].copy_from_slice(&self.len.wrapping_mul(8).to_le_bytes());
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{BLOCK, Cursor, INIT, K, LANES, Lanes, digest, md5_compress};

    const IDLE: [u8; BLOCK] = [0; BLOCK];

    /// The batch: the longest files first, each lane taking the next file when its own
    /// ends, so the lanes finish close together. When one file is left it finishes alone,
    /// since eight lanes for one file cost more than the plain function.
    #[target_feature(enable = "avx2")]
    pub(super) fn md5_many(files: &[Vec<&[u8]>]) -> Vec<[u8; 16]> {
        let size = |i: usize| files[i].iter().map(|p| p.len()).sum::<usize>();
        let mut order: Vec<usize> = (0..files.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(size(i)));
        let mut next = order.into_iter();
        let mut out = vec![[0u8; 16]; files.len()];
        let mut lanes: [Option<(usize, Cursor<'_>)>; LANES] = Default::default();
        let mut state = [Lanes::default(); 4];
        loop {
            let mut busy = 0;
            for (lane, slot) in lanes.iter_mut().enumerate() {
                loop {
                    if let Some((file, cursor)) = slot {
                        if cursor.advance() {
                            busy += 1;
                            break;
                        }
                        out[*file] = digest(state.map(|s| s[lane]));
                        *slot = None;
                    }
                    let Some(file) = next.next() else { break };
                    *slot = Some((file, Cursor::new(&files[file])));
                    for (s, init) in state.iter_mut().zip(INIT) {
                        s[lane] = init;
                    }
                }
            }
            if busy == 0 {
                return out;
            }
            if busy == 1 && next.len() == 0 {
                let Some((lane, (file, mut cursor))) = lanes
                    .iter_mut()
                    .enumerate()
                    .find_map(|(lane, slot)| slot.take().map(|s| (lane, s)))
                else {
                    return out;
                };
                let mut one = state.map(|s| s[lane]);
                loop {
                    md5_compress(&mut one, std::slice::from_ref(cursor.current()));
                    if !cursor.advance() {
                        break;
                    }
                }
                out[file] = digest(one);
                return out;
            }
            let blocks: [&[u8; BLOCK]; LANES] = std::array::from_fn(|lane| {
                lanes[lane]
                    .as_ref()
                    .map_or(&IDLE, |(_, cursor)| cursor.current())
            });
            compress(&mut state, &blocks);
        }
    }

    /// Rows of eight words in, columns out: `out[j]` holds word `j` of every row.
    #[target_feature(enable = "avx2")]
    fn transpose(r: [__m256i; 8]) -> [__m256i; 8] {
        let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
        let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
        let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
        let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
        let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
        let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
        let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
        let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
        let u0 = _mm256_unpacklo_epi64(t0, t2);
        let u1 = _mm256_unpackhi_epi64(t0, t2);
        let u2 = _mm256_unpacklo_epi64(t1, t3);
        let u3 = _mm256_unpackhi_epi64(t1, t3);
        let u4 = _mm256_unpacklo_epi64(t4, t6);
        let u5 = _mm256_unpackhi_epi64(t4, t6);
        let u6 = _mm256_unpacklo_epi64(t5, t7);
        let u7 = _mm256_unpackhi_epi64(t5, t7);
        [
            _mm256_permute2x128_si256::<0x20>(u0, u4),
            _mm256_permute2x128_si256::<0x20>(u1, u5),
            _mm256_permute2x128_si256::<0x20>(u2, u6),
            _mm256_permute2x128_si256::<0x20>(u3, u7),
            _mm256_permute2x128_si256::<0x31>(u0, u4),
            _mm256_permute2x128_si256::<0x31>(u1, u5),
            _mm256_permute2x128_si256::<0x31>(u2, u6),
            _mm256_permute2x128_si256::<0x31>(u3, u7),
        ]
    }

    #[target_feature(enable = "avx2")]
    fn load(x: &[u8; 32]) -> __m256i {
        // SAFETY: 32 readable bytes; the unaligned load has no alignment requirement.
        unsafe { _mm256_loadu_si256(x.as_ptr().cast()) }
    }

    #[target_feature(enable = "avx2")]
    fn load_lanes(x: &Lanes) -> __m256i {
        // SAFETY: as in `load`: eight u32 are 32 readable bytes.
        unsafe { _mm256_loadu_si256(x.as_ptr().cast()) }
    }

    #[target_feature(enable = "avx2")]
    fn store_lanes(x: &mut Lanes, v: __m256i) {
        // SAFETY: eight u32 are 32 writable bytes; the store has no alignment requirement.
        unsafe { _mm256_storeu_si256(x.as_mut_ptr().cast(), v) }
    }

    /// One block of every lane. Lanes without a file compute garbage that nobody reads.
    #[target_feature(enable = "avx2")]
    fn compress(state: &mut [Lanes; 4], blocks: &[&[u8; BLOCK]; LANES]) {
        let half = |h: usize| -> [__m256i; 8] {
            transpose(std::array::from_fn(|lane| {
                load(
                    blocks[lane][32 * h..32 * h + 32]
                        .try_into()
                        .expect("32 bytes"),
                )
            }))
        };
        let (lo, hi) = (half(0), half(1));
        let w: [__m256i; 16] = std::array::from_fn(|j| if j < 8 { lo[j] } else { hi[j - 8] });
        let ones = _mm256_set1_epi32(-1);
        let [mut a, mut b, mut c, mut d] = [0, 1, 2, 3].map(|i| load_lanes(&state[i]));
        // Hidden from the compiler for the reason given in `md5_block`.
        let k = std::hint::black_box(&K);
        // As in `md5_block`: what does not need `$b` (the previous step's result) is added
        // first, off the chain of dependent steps: `$a + m + k`, and `$early`, the part of
        // the round function that reads only the older words.
        macro_rules! step {
            ($a:ident, $b:ident, $early:expr, $late:expr, $i:expr, $m:expr, $s:literal) => {
                let t =
                    _mm256_add_epi32($a, _mm256_add_epi32(w[$m], _mm256_set1_epi32(k[$i] as i32)));
                let t = _mm256_add_epi32(_mm256_add_epi32(t, $early), $late);
                let t = _mm256_or_si256(
                    _mm256_slli_epi32::<$s>(t),
                    _mm256_srli_epi32::<{ 32 - $s }>(t),
                );
                $a = _mm256_add_epi32($b, t);
            };
        }
        let zero = _mm256_setzero_si256();
        // Each function as (early, late): the late part is the one that reads x.
        // f = z ^ (x & (y ^ z))
        macro_rules! f {
            ($x:ident, $y:ident, $z:ident) => {
                (
                    zero,
                    _mm256_xor_si256($z, _mm256_and_si256($x, _mm256_xor_si256($y, $z))),
                )
            };
        }
        // g = (x & z) + (y & !z): the halves share no bit.
        macro_rules! g {
            ($x:ident, $y:ident, $z:ident) => {
                (_mm256_andnot_si256($z, $y), _mm256_and_si256($x, $z))
            };
        }
        // h = x ^ (y ^ z)
        macro_rules! h {
            ($x:ident, $y:ident, $z:ident) => {
                (zero, _mm256_xor_si256($x, _mm256_xor_si256($y, $z)))
            };
        }
        // i = y ^ (x | !z)
        macro_rules! i {
            ($x:ident, $y:ident, $z:ident) => {
                (
                    zero,
                    _mm256_xor_si256($y, _mm256_or_si256($x, _mm256_xor_si256($z, ones))),
                )
            };
        }
        // A round: 16 steps of one function, the message word of step i at index m(i), the
        // four rotations repeating.
        macro_rules! round {
            ($fun:ident, $first:expr, $m:expr, $s0:literal, $s1:literal, $s2:literal, $s3:literal) => {
                let m = $m;
                for j in 0..4 {
                    let i = $first + 4 * j;
                    let (e, l) = $fun!(b, c, d);
                    step!(a, b, e, l, i, m(i), $s0);
                    let (e, l) = $fun!(a, b, c);
                    step!(d, a, e, l, i + 1, m(i + 1), $s1);
                    let (e, l) = $fun!(d, a, b);
                    step!(c, d, e, l, i + 2, m(i + 2), $s2);
                    let (e, l) = $fun!(c, d, a);
                    step!(b, c, e, l, i + 3, m(i + 3), $s3);
                }
            };
        }
        round!(f, 0, |i: usize| i, 7, 12, 17, 22);
        round!(g, 16, |i: usize| (5 * i + 1) % 16, 5, 9, 14, 20);
        round!(h, 32, |i: usize| (3 * i + 5) % 16, 4, 11, 16, 23);
        round!(i, 48, |i: usize| (7 * i) % 16, 6, 10, 15, 21);
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            let sum = _mm256_add_epi32(load_lanes(s), v);
            store_lanes(s, sum);
        }
    }
}

#[cfg(test)]
mod tests {
    use customs_test_support::noise;

    use super::*;
    use md5::Digest as _;

    fn reference(pieces: &[&[u8]]) -> [u8; 16] {
        let mut h = md5::Md5::new();
        for p in pieces {
            h.update(p);
        }
        h.finalize().into()
    }

    fn check(files: &[Vec<&[u8]>]) {
        let got = md5_many(files);
        let portable = md5_one_by_one(files);
        for (i, file) in files.iter().enumerate() {
            let lens: Vec<usize> = file.iter().map(|p| p.len()).collect();
            assert_eq!(got[i], reference(file), "file {i}, pieces {lens:?}");
            assert_eq!(portable[i], got[i], "file {i}, pieces {lens:?}");
        }
    }

    /// Every length across the one- and two-block padding cases, in one batch, so lanes
    /// end at every offset and take new files mid-batch.
    #[test]
    fn every_length_in_one_batch() {
        let data: Vec<Vec<u8>> = (0..=300).map(|n| noise(n, n as u32)).collect();
        let files: Vec<Vec<&[u8]>> = data.iter().map(|d| vec![d.as_slice()]).collect();
        check(&files);
    }

    /// Pieces that split blocks anywhere, empty pieces, and files of no bytes at all.
    #[test]
    fn any_split_into_pieces() {
        let data = noise(1000, 7);
        let mut files: Vec<Vec<&[u8]>> = Vec::new();
        for len in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 500, 1000] {
            let d = &data[..len];
            for piece in [1, 3, 7, 63, 64, 65, 256] {
                files.push(d.chunks(piece).collect());
            }
            let (x, y) = d.split_at(len / 2);
            files.push(vec![&[], x, &[], y, &[]]);
        }
        files.push(Vec::new());
        check(&files);
    }

    /// Fewer files than lanes, one file, and none.
    #[test]
    fn small_batches() {
        let data = noise(5000, 3);
        for n in 0..=LANES + 1 {
            let files: Vec<Vec<&[u8]>> = (0..n).map(|i| vec![&data[..i * 517]]).collect();
            check(&files);
        }
    }

    /// One long file among short ones: the short ones end early, the long one finishes
    /// alone on the single-file path.
    #[test]
    fn one_long_file_finishes_alone() {
        let long = noise(100_000, 1);
        let short = noise(200, 2);
        let mut files: Vec<Vec<&[u8]>> = vec![long.chunks(4096).collect()];
        files.extend((0..20).map(|i| vec![&short[..i * 10]]));
        check(&files);
    }

    #[test]
    fn known_answers() {
        let got = md5_many(&[vec![b"abc"], vec![b""]]);
        let hex = |d: &[u8; 16]| d.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(hex(&got[0]), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(hex(&got[1]), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
