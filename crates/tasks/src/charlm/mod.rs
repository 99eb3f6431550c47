//! Text generation: a character (or word/BPE) language model on the models crate's recurrent
//! stack, its burn-train steps, and sampling through the single-step API.

pub mod experiment;
mod model;
mod sample;

pub use model::{CharLm, CharLmConfig};
pub use sample::{Sampler, SamplingConfig};
