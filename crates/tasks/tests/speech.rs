//! End to end, the speech task: a tiny spoken-digit run on a few FSDD recordings — train,
//! eval, predict (with its plot), leave-one-speaker-out, a sweep over speakers, and the bad
//! inputs (not WAV, stereo, another rate, too short, badly named) as one error line each.

mod common;

use std::path::Path;

use common::*;

/// A 16-bit PCM WAV file of `n` samples.
fn wav(path: &Path, channels: u16, rate: u32, n: usize) -> String {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..n * channels as usize {
        w.write_sample(((i * 37) % 2000) as i16 - 1000).unwrap();
    }
    w.finalize().unwrap();
    path.display().to_string()
}

#[test]
fn speech_trains_evaluates_predicts_and_rejects_bad_audio() {
    let tmp = tempfile::tempdir().unwrap();
    let data = recordings(&tmp.path().join("rec"));
    let exp = write(
        tmp.path(),
        "s.toml",
        &format!(
            "task = \"speech\"\nname = \"digits\"\n[data]\npath = {data:?}\nvalid_takes = 2\n\
             batch_size = 8\n[model]\nd_hidden = 8\nn_layers = 1\n[train]\nepochs = 2\n"
        ),
    );
    let runs = tmp.path().join("runs").display().to_string();
    let out = ok(&["train", &exp, "--runs", &runs]);
    assert!(
        out.contains("test split: 40 recordings (official split: takes 0-4 tested; 24/16/40")
            && out.contains("logistic regression on feature mean + std")
            && out.contains("confusion"),
        "{out}"
    );
    let d = run_dir(&out);
    assert!(d.join("artefacts.json").is_file());
    let ds = d.display().to_string();
    let eval = ok(&["eval", &ds]);
    let report = std::fs::read_to_string(d.join("report.txt")).unwrap();
    assert_eq!(eval, report, "eval recomputes the saved report");

    // predict: one line per file, flags also after the files.
    let a = format!("{data}/2_theo_0.wav");
    let b = format!("{data}/3_jackson_1.wav");
    let svg = tmp.path().join("spec.svg");
    let predicted = ok(&["predict", &ds, &a, "--plot", &svg.display().to_string()]);
    let line = predicted.lines().next().unwrap();
    let digit: usize = line[..1].parse().unwrap();
    assert!(
        digit < 10 && line.ends_with(&format!(")  {a}")),
        "{predicted}"
    );
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.starts_with("<svg") && drawn.contains("frame-wise probability"));
    assert_eq!(ok(&["predict", &ds, &a, &b]).lines().count(), 2);
    fails(
        &["predict", &ds, &a, &b, "--plot", "x.svg"],
        "--plot draws one recording",
    );
    fails(
        &["predict", &ds, &a, "--explain"],
        "--explain weighs the words",
    );

    // Bad recordings: one error line naming the file, nothing in the run changed.
    let before = listing(&d);
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let text = write(&bad, "text.wav", "not audio\n");
    fails(
        &["predict", &ds, &text],
        &format!("{text}: not a readable WAV file"),
    );
    let stereo = wav(&bad.join("stereo.wav"), 2, 8000, 4000);
    fails(
        &["predict", &ds, &stereo],
        "2 channels; expected a mono recording",
    );
    let fast = wav(&bad.join("fast.wav"), 1, 16000, 8000);
    fails(
        &["predict", &ds, &fast],
        "sample rate 16000 Hz; this run expects 8000 Hz",
    );
    let short = wav(&bad.join("short.wav"), 1, 8000, 50);
    fails(&["predict", &ds, &short], "50 samples (0.006 s): too short");
    let full = std::fs::read(&a).unwrap();
    let cut = bad.join("cut.wav");
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    fails(&["predict", &ds, &cut.display().to_string()], "truncated");
    assert_eq!(listing(&d), before, "the run is untouched");

    // A badly named or stereo file in the data: no run directory is left behind.
    let broken = tmp.path().join("broken");
    recordings(&broken);
    wav(&broken.join("0_theo_40.wav"), 2, 8000, 4000);
    let b_runs = tmp.path().join("b_runs").display().to_string();
    let bd = broken.display().to_string();
    fails(
        &["train", &exp, "--runs", &b_runs, &format!("data.path={bd}")],
        "0_theo_40.wav: 2 channels",
    );
    std::fs::remove_file(broken.join("0_theo_40.wav")).unwrap();
    wav(&broken.join("zero_theo_1.wav"), 1, 8000, 4000);
    fails(
        &["train", &exp, "--runs", &b_runs, &format!("data.path={bd}")],
        "zero_theo_1.wav: expected a name `{digit}_{speaker}_{take}.wav`",
    );
    assert!(
        !Path::new(&b_runs).join("digits").exists(),
        "no run dir left"
    );
    fails(
        &["train", &exp, "--runs", &b_runs, "data.split=speaker:bob"],
        "data.split = \"speaker:bob\": no recordings of \"bob\" (speakers: jackson, theo)",
    );
    fails(
        &["train", &exp, "data.split=speakers"],
        "expected \"official\" or \"speaker:NAME\"",
    );
    fails(
        &["train", &exp, "data.features.n_mfcc=50"],
        "data.features.n_mfcc = 50",
    );

    // Leave one speaker out, and a sweep over both speakers.
    let loso = ok(&[
        "train",
        &exp,
        "--runs",
        &runs,
        "data.split=speaker:theo",
        "train.epochs=1",
    ]);
    // Validation: takes 0-1 of the remaining speaker.
    assert!(loso.contains("(speaker theo left out; 32/8/40"), "{loso}");
    let sweep_runs = tmp.path().join("sweep").display().to_string();
    let sweep = ok(&[
        "sweep",
        &exp,
        "data.split=speaker:jackson,speaker:theo",
        "train.epochs=1",
        "--runs",
        &sweep_runs,
    ]);
    assert_eq!(
        sweep.lines().filter(|l| l.contains("speech  ")).count(),
        2,
        "{sweep}"
    );
    let table = ok(&["compare", &sweep_runs]);
    assert!(
        table.lines().next().unwrap().contains("baseline_accuracy"),
        "{table}"
    );
}

#[test]
fn ctc_trains_on_digit_strings_evaluates_and_transcribes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = recordings(&tmp.path().join("rec"));
    let exp = write(
        tmp.path(),
        "c.toml",
        &format!(
            "task = \"speech\"\nname = \"strings\"\n[data]\ntarget = \"sequence\"\npath = {data:?}\n\
             valid_takes = 2\nbatch_size = 8\n[data.sequences]\ntrain = 24\nvalid = 8\ntest = 8\n\
             max_digits = 4\n[model]\nd_hidden = 8\nn_layers = 1\n[decode]\nbeam = 3\n\
             [train]\nepochs = 1\nkeep_best_by = \"loss\"\n"
        ),
    );
    let runs = tmp.path().join("runs").display().to_string();
    let out = ok(&["train", &exp, "--runs", &runs]);
    assert!(
        out.contains("test split: 8 digit strings")
            && out.contains("model, beam search (width 3)")
            && out.contains("energy segments + logistic regression"),
        "{out}"
    );
    let d = run_dir(&out);
    let ds = d.display().to_string();
    let results = std::fs::read_to_string(d.join("results.json")).unwrap();
    for key in [
        "test_wer",
        "test_cer_greedy",
        "baseline_wer",
        "test_string_accuracy",
    ] {
        assert!(
            results.contains(&format!("\"{key}\"")),
            "{key} in {results}"
        );
    }
    assert_eq!(
        ok(&["eval", &ds]),
        std::fs::read_to_string(d.join("report.txt")).unwrap()
    );
    // Two recordings joined: the transcript is a digit string (or nothing) with a probability.
    let joined = tmp.path().join("two.wav");
    let mut samples: Vec<i16> = Vec::new();
    for name in ["1_theo_0.wav", "3_theo_0.wav"] {
        let mut r = hound::WavReader::open(Path::new(&data).join(name)).unwrap();
        samples.extend(r.samples::<i16>().map(Result::unwrap));
        samples.extend(std::iter::repeat_n(0, 800));
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&joined, spec).unwrap();
    for s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    let j = joined.display().to_string();
    let svg = tmp.path().join("align.svg").display().to_string();
    let said = ok(&["predict", &ds, &j, "--plot", &svg]);
    let (text, rest) = said.trim_end().split_once(' ').unwrap();
    assert!(
        (text == "(nothing)" || text.chars().all(|c| c.is_ascii_digit()))
            && rest.ends_with(&format!(")  {j}")),
        "{said}"
    );
    assert!(
        std::fs::read_to_string(&svg)
            .unwrap()
            .contains("frame-wise probability")
    );
    fails(&["resume", &ds], "all 1 epochs are done");
    fails(
        &["train", &exp, "train.keep_best_by=accuracy"],
        "train.keep_best_by",
    );
}
