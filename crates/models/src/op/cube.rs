//! The op on CubeCL devices (wgpu): the trait's default bodies, from burn's backend ops
//! (`generic.rs`): per step one matmul launch and a handful of element-wise launches.

use burn::backend::Cube;

use super::RecurrentOps;

impl RecurrentOps for Cube {}
