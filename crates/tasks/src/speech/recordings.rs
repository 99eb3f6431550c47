//! The recordings of a folder, as their `{digit}_{speaker}_{take}.wav` names describe them, and
//! their split: official (takes 0–4 tested) or leave-one-speaker-out.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rnnlab_data::DataError;
use rnnlab_data::classification::Split as Indices;

use super::config::Split;

/// One recording, as its file name describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recording {
    /// The WAV file.
    pub path: PathBuf,
    /// The digit spoken (0–9).
    pub digit: u32,
    /// Who speaks it.
    pub speaker: String,
    /// The take number.
    pub take: usize,
}

/// Parses `{digit}_{speaker}_{take}.wav`.
fn parse(path: &Path) -> Result<Recording, DataError> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let bad = || {
        DataError::in_file(
            path,
            "expected a name `{digit}_{speaker}_{take}.wav` (digit 0-9, take a number), as FSDD's",
        )
    };
    let mut parts = stem.splitn(3, '_');
    let (Some(digit), Some(speaker), Some(take)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let digit: u32 = digit.parse().ok().filter(|d| *d < 10).ok_or_else(bad)?;
    let take: usize = take.parse().map_err(|_| bad())?;
    if speaker.is_empty() {
        return Err(bad());
    }
    Ok(Recording {
        path: path.to_path_buf(),
        digit,
        speaker: speaker.to_string(),
        take,
    })
}

/// Every `.wav` file in `dir`, sorted by speaker, digit and take.
pub fn list(dir: &Path) -> anyhow::Result<Vec<Recording>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot read the recordings folder", dir.display()))?;
    let mut out = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("{}: cannot list", dir.display()))?
            .path();
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
        {
            out.push(parse(&path)?);
        }
    }
    if out.is_empty() {
        bail!("{}: no .wav recordings", dir.display());
    }
    out.sort_by(|a, b| (&a.speaker, a.digit, a.take).cmp(&(&b.speaker, b.digit, b.take)));
    Ok(out)
}

/// Test: takes 0–4 (`official`) or one speaker; validation: the next `valid_takes` takes of
/// the other recordings; training: the rest.
pub fn split(recs: &[Recording], split: &Split, valid_takes: usize) -> anyhow::Result<Indices> {
    let mut speakers: Vec<&str> = recs.iter().map(|r| r.speaker.as_str()).collect();
    speakers.dedup();
    let first_valid = match split {
        Split::Official => 5,
        Split::Speaker(name) => {
            if !speakers.contains(&name.as_str()) {
                bail!(
                    "data.split = \"speaker:{name}\": no recordings of {name:?} (speakers: {})",
                    speakers.join(", ")
                );
            }
            0
        }
    };
    let mut out = Indices {
        train: Vec::new(),
        valid: Vec::new(),
        test: Vec::new(),
    };
    for (i, r) in recs.iter().enumerate() {
        let test = match split {
            Split::Official => r.take < 5,
            Split::Speaker(name) => &r.speaker == name,
        };
        let part = if test {
            &mut out.test
        } else if (first_valid..first_valid + valid_takes).contains(&r.take) {
            &mut out.valid
        } else {
            &mut out.train
        };
        part.push(i);
    }
    for (name, part) in [
        ("training", &out.train),
        ("validation", &out.valid),
        ("test", &out.test),
    ] {
        if part.is_empty() {
            bail!(
                "data.split = \"{split}\", data.valid_takes = {valid_takes}: the {name} set is empty"
            );
        }
    }
    Ok(out)
}

/// `f` over `items` on every core, in order; the first error.
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R, DataError> + Sync,
) -> Result<Vec<R>, DataError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    let f = &f;
    let parts: Vec<Result<Vec<R>, DataError>> = std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("feature threads do not panic"))
            .collect()
    });
    let mut out = Vec::with_capacity(items.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str) -> Recording {
        parse(Path::new(name)).unwrap()
    }

    #[test]
    fn names_parse_and_bad_names_are_errors() {
        let r = rec("dir/7_jackson_32.wav");
        assert_eq!((r.digit, r.speaker.as_str(), r.take), (7, "jackson", 32));
        for bad in [
            "x_a_1.wav",
            "12_a_1.wav",
            "3_a.wav",
            "3__1.wav",
            "3_a_b.wav",
        ] {
            let e = parse(Path::new(bad)).unwrap_err().to_string();
            assert!(e.starts_with(bad) && e.contains("expected a name"), "{e}");
        }
    }

    #[test]
    fn splits_never_share_a_recording_and_leave_the_speaker_out() {
        let recs: Vec<Recording> = ["a", "b"]
            .iter()
            .flat_map(|s| {
                (0..3).flat_map(move |d| (0..12).map(move |t| rec(&format!("{d}_{s}_{t}.wav"))))
            })
            .collect();
        let s = split(&recs, &Split::Official, 5).unwrap();
        assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (12, 30, 30));
        assert!(s.test.iter().all(|&i| recs[i].take < 5));
        let s = split(&recs, &Split::Speaker("b".into()), 2).unwrap();
        assert!(s.test.iter().all(|&i| recs[i].speaker == "b"));
        assert!(
            s.train
                .iter()
                .chain(&s.valid)
                .all(|&i| recs[i].speaker == "a")
        );
        assert_eq!(s.test.len(), 36);
        let e = split(&recs, &Split::Speaker("zed".into()), 2).unwrap_err();
        assert!(
            e.to_string()
                .contains("no recordings of \"zed\" (speakers: a, b)"),
            "{e}"
        );
        let e = split(&recs, &Split::Official, 20).unwrap_err();
        assert!(e.to_string().contains("the training set is empty"), "{e}");
    }
}
