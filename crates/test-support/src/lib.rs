//! Test fixtures for customs, built in code from real formats: OCI image layouts and
//! archives, both `docker save` flavours, gzip/zstd/plain layers, multi-platform indexes,
//! whiteouts and hostile tars; and a real `docker-registry` on loopback.
#![deny(missing_docs)]

pub mod cli;
pub mod cosign;
pub mod fixtures;
pub mod real_inputs;
pub mod registry;
