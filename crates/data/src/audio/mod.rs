//! Audio: WAV files ([`read_wav`]) to log-mel or MFCC feature sequences
//! ([`FeatureExtractor`]), and padded batches of them ([`FrameBatcher`]; an `InMemDataset` of
//! [`FrameItem`]s, bucketed with [`bucket_by_length`](crate::classification::bucket_by_length),
//! feeds it). The per-feature
//! normalisation fitted on a training split is a [`Scaler`](crate::timeseries::Scaler) over
//! the frames.

mod batch;
mod config;
mod features;
mod wav;

pub use batch::{FrameBatch, FrameBatcher, FrameItem};
pub use config::FeatureConfig;
pub use features::{
    FeatureExtractor, Features, LOG_FLOOR, dct_matrix, hz_to_mel, mel_filterbank, mel_to_hz,
};
pub use wav::{Clip, read_wav};
