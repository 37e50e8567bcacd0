//! Test fixtures for customs, built in code from real formats: OCI image layouts and
//! archives, both `docker save` flavours, gzip/zstd/plain layers, multi-platform indexes,
//! whiteouts and hostile tars; and a real `docker-registry` on loopback.
#![deny(missing_docs)]

pub mod cli;
pub mod cosign;
pub mod fixtures;
pub mod real_inputs;
pub mod registry;

/// `len` deterministic bytes that are not periodic within a 64-byte block (xorshift32):
/// input for hash and chunking tests that must differ from seed to seed.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9 ^ seed.wrapping_mul(0x85eb_ca6b);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}
