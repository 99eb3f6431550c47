//! Sentence classification (MR polarity by default): embedding → (bi)recurrent stack → masked
//! pooling (last state, mean or attention) → linear head; its burn-train steps, evaluation with
//! a confusion matrix, and predictions with explanations.

pub mod experiment;
mod explain;
mod model;

pub use explain::{Explanation, explain};
pub use model::{Pooling, SentimentClassifier, SentimentConfig};
