//! Everything that makes bpf(2) calls. [`sys`] is the raw layer over aya's generated uapi
//! bindings, for what aya 0.14 cannot express (runtime sizes, NULL keys, batch ops, freeze,
//! map_extra, inner_map_fd).
pub mod mmap;
pub mod sys;
