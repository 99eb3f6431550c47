//! Reading WAV files (with `hound`) into mono `f32` samples in `[-1, 1]`.

use std::io::Cursor;
use std::path::Path;

use hound::{SampleFormat, WavReader};

use crate::error::DataError;

/// A mono recording.
#[derive(Clone, Debug, PartialEq)]
pub struct Clip {
    /// Samples scaled to `[-1, 1]` (integer PCM divided by `2^(bits-1)`).
    pub samples: Vec<f32>,
    /// Samples per second.
    pub sample_rate: u32,
}

impl Clip {
    /// Duration in seconds.
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate.max(1) as f64
    }
}

/// Reads a PCM (8–32-bit integer or 32-bit float) mono WAV file. Not a WAV file, a corrupt or
/// truncated header or data chunk, and more than one channel are errors naming the file.
pub fn read_wav(path: &Path) -> Result<Clip, DataError> {
    let bytes =
        std::fs::read(path).map_err(|e| DataError::in_file(path, format!("cannot read: {e}")))?;
    let bad = |what: String| DataError::in_file(path, what);
    let mut reader = WavReader::new(Cursor::new(bytes))
        .map_err(|e| bad(format!("not a readable WAV file ({e})")))?;
    let spec = reader.spec();
    if spec.channels != 1 {
        return Err(bad(format!(
            "{} channels; expected a mono recording (mix it down first, e.g. `sox in.wav -c 1 out.wav`)",
            spec.channels
        )));
    }
    let promised = reader.len() as usize;
    let truncated = |e: hound::Error, read: usize| {
        bad(format!(
            "truncated or corrupt data: the header promises {promised} samples, \
             sample {} cannot be read ({e})",
            read + 1
        ))
    };
    let mut samples = Vec::with_capacity(promised);
    match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Int, bits @ 1..=32) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f64;
            for s in reader.samples::<i32>() {
                let s = s.map_err(|e| truncated(e, samples.len()))?;
                samples.push((s as f64 * scale) as f32);
            }
        }
        (SampleFormat::Float, 32) => {
            for s in reader.samples::<f32>() {
                let s = s.map_err(|e| truncated(e, samples.len()))?;
                if !s.is_finite() {
                    return Err(bad(format!("sample {} is {s}", samples.len() + 1)));
                }
                samples.push(s);
            }
        }
        (format, bits) => {
            return Err(bad(format!(
                "{bits}-bit {format:?} samples; expected integer PCM or 32-bit float"
            )));
        }
    }
    if samples.len() < promised {
        return Err(bad(format!(
            "truncated data: the header promises {promised} samples, the file holds {}",
            samples.len()
        )));
    }
    Ok(Clip {
        samples,
        sample_rate: spec.sample_rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, channels: u16, rate: u32, samples: &[i16]) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for &s in samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn reads_pcm_and_names_the_file_on_every_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.wav");
        write(&ok, 1, 8000, &[0, 16384, -32768, 32767]);
        let clip = read_wav(&ok).unwrap();
        assert_eq!(clip.sample_rate, 8000);
        assert_eq!(clip.samples, [0.0, 0.5, -1.0, 32767.0 / 32768.0]);

        let err = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let e = read_wav(&p).unwrap_err().to_string();
            assert!(e.starts_with(&p.display().to_string()), "{e}");
            e
        };
        assert!(err("text.wav", b"hello, not audio").contains("not a readable WAV file"));
        assert!(err("empty.wav", b"").contains("not a readable WAV file"));
        let full = std::fs::read(&ok).unwrap();
        assert!(err("header.wav", &full[..30]).contains("not a readable WAV file"));
        let e = err("short.wav", &full[..full.len() - 3]);
        assert!(e.contains("truncated"), "{e}");

        let stereo = dir.path().join("stereo.wav");
        write(&stereo, 2, 8000, &[1, 2, 3, 4]);
        let e = read_wav(&stereo).unwrap_err().to_string();
        assert!(e.contains("2 channels; expected a mono recording"), "{e}");
        let missing = read_wav(&dir.path().join("none.wav")).unwrap_err();
        assert!(missing.to_string().contains("cannot read"));
    }
}
