//! mapconform: a conformance suite for Linux eBPF maps across kernel versions.
//!
//! Pure parts (no syscalls): [`case`] (the YAML case format), [`outcome`] (what a kernel did).
//! Parts that talk to a kernel: [`bpf`] (raw bpf(2)), [`exec`] (runs a case's steps).
//! Infrastructure: [`kernels`] (the kernel matrix and cache), [`vm`] (booting with virtme-ng).
pub mod case;
pub mod outcome;
pub mod bpf;
pub mod exec;
pub mod kernels;
pub mod vm;
