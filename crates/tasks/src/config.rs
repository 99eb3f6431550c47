//! Layered experiment configuration: code defaults < experiment file < `key=value` overrides.
//!
//! Works for any config type that is `Serialize + DeserializeOwned + Default`: the defaults are
//! serialised to a TOML table, the file and then each override are merged into it key by key,
//! and the result is deserialised. Every key must already exist in the defaults (a typo is an
//! error naming the key and, for the file, its line), and every value must have the default's
//! type (an integer is accepted where a float is expected). Config types should not use
//! `Option` fields: `None` has no TOML form, so such a key could never be set.

use std::path::{Path, PathBuf};

use rnnlab_models::{CellType, DropoutKind, RecurrentConfig, RecurrentNorm};
use serde::Serialize;
use serde::de::DeserializeOwned;
use toml::{Table, Value};

/// How a word tokenizer splits text (`[data.words]`), shared by the tasks that read words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WordSplitting {
    /// Lower-case the text first.
    pub lowercase: bool,
    /// Split punctuation off words (`great!` → `great` `!`; `don't` stays one word); `false`
    /// splits on whitespace only (pre-tokenised data).
    pub punctuation: bool,
    /// Normalise Unicode to NFKC first (full-width forms, ligatures, composed accents).
    pub nfkc: bool,
}

impl Default for WordSplitting {
    fn default() -> Self {
        Self {
            lowercase: true,
            punctuation: true,
            nfkc: true,
        }
    }
}

impl WordSplitting {
    /// The word tokenizer's config with this splitting and a minimum word count.
    pub fn word_config(self, min_freq: usize) -> rnnlab_data::tokenizer::WordConfig {
        rnnlab_data::tokenizer::WordConfig {
            lowercase: self.lowercase,
            min_freq,
            max_size: None,
            punctuation: self.punctuation,
            nfkc: self.nfkc,
        }
    }
}

/// The options of a task's recurrent stack beyond its size, the same in every task: its
/// normalisation and its regularisers, keys of its `[model]` (flattened into it, so
/// `model.norm`, `model.weight_drop`, …).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct StackOptions {
    /// How the stack's dropouts draw their masks: `standard` (per element and step) or
    /// `variational` (one mask per sequence, the same at every step; Gal & Ghahramani 2016).
    /// (A string checked by [`validate`](Self::validate): through serde's `flatten` an enum's
    /// error would not name its key.)
    pub dropout_kind: String,
    /// Dropout on the stack's input.
    pub input_dropout: f64,
    /// Dropout on the stack's output.
    pub output_dropout: f64,
    /// Weight drop (DropConnect on every `W_hh`, AWD-LSTM), one mask per batch; rnn, lstm, gru,
    /// slstm.
    pub weight_drop: f64,
    /// Zoneout on `h` and `c` (Krueger et al. 2016); rnn, lstm, gru. The stack then runs the
    /// tensor-op time loop, not the fused op (3.7× slower training on the default char LM).
    pub zoneout: f64,
    /// `none`, or `layer`: layer-normalised LSTM and GRU cells (Ba et al. 2016, as Haste's).
    /// The stack then runs the tensor-op time loop, not the fused op. (A string, as
    /// `dropout_kind`.)
    pub norm: String,
    /// sLSTM only: heads of its block-diagonal recurrent matrix, as in xLSTM (`d_hidden` a
    /// multiple of it); 1 = dense.
    pub heads: usize,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            dropout_kind: "standard".into(),
            input_dropout: 0.0,
            output_dropout: 0.0,
            weight_drop: 0.0,
            zoneout: 0.0,
            norm: "none".into(),
            heads: 1,
        }
    }
}

impl StackOptions {
    /// `dropout_kind`, or one line naming the key and what it takes.
    fn kind(&self) -> anyhow::Result<DropoutKind> {
        match self.dropout_kind.as_str() {
            "standard" => Ok(DropoutKind::Standard),
            "variational" => Ok(DropoutKind::Variational),
            other => anyhow::bail!(
                "model.dropout_kind = \"{other}\": expected \"standard\" or \"variational\""
            ),
        }
    }

    /// `norm`, or one line naming the key and what it takes.
    fn norm(&self) -> anyhow::Result<RecurrentNorm> {
        match self.norm.as_str() {
            "none" => Ok(RecurrentNorm::None),
            "layer" => Ok(RecurrentNorm::Layer),
            other => anyhow::bail!("model.norm = \"{other}\": expected \"none\" or \"layer\""),
        }
    }

    /// Fails with one line naming the first bad key for a stack of `cell`: the strings and
    /// probabilities here, what fits which cell by the stack's own rules
    /// ([`RecurrentConfig::validate`]).
    pub fn validate(&self, cell: CellType) -> anyhow::Result<()> {
        self.kind()?;
        self.norm()?;
        require_probabilities(&[
            ("model.input_dropout", self.input_dropout),
            ("model.output_dropout", self.output_dropout),
            ("model.weight_drop", self.weight_drop),
            ("model.zoneout", self.zoneout),
        ])?;
        // (`d_hidden` is checked against `heads` when the model is built.)
        self.apply(RecurrentConfig::new(cell, 1, self.heads.max(1)))
            .validate()
            .map_err(|e| anyhow::anyhow!("model.{e}"))
    }

    /// `rnn` with these options (checked by [`validate`](Self::validate) first; an unknown
    /// `dropout_kind` or `norm` falls back to the default).
    pub fn apply(&self, rnn: RecurrentConfig) -> RecurrentConfig {
        rnn.with_norm(self.norm().unwrap_or_default())
            .with_dropout_kind(self.kind().unwrap_or_default())
            .with_input_dropout(self.input_dropout)
            .with_output_dropout(self.output_dropout)
            .with_weight_drop(self.weight_drop)
            .with_zoneout(self.zoneout)
            .with_heads(self.heads)
    }
}

/// Fails on the first `(key, value)` that is not a probability in `[0, 1)`.
pub fn require_probabilities(pairs: &[(&str, f64)]) -> anyhow::Result<()> {
    match pairs.iter().find(|(_, p)| !(0.0..1.0).contains(p)) {
        Some((key, p)) => anyhow::bail!("{key} = {p}: must be in [0, 1)"),
        None => Ok(()),
    }
}

/// The largest layer width a config accepts: a 2²⁰-wide LSTM layer already holds 16 TiB of
/// weights, so anything above is a typo, and burn would panic allocating it.
pub const MAX_WIDTH: usize = 1 << 20;

/// Fails on the first `(key, value)` of a layer width that is 0 or above [`MAX_WIDTH`].
pub fn require_width(pairs: &[(&str, usize)]) -> anyhow::Result<()> {
    require_nonzero(pairs)?;
    match pairs.iter().find(|(_, value)| *value > MAX_WIDTH) {
        Some((key, value)) => anyhow::bail!("{key} = {value}: at most {MAX_WIDTH}"),
        None => Ok(()),
    }
}

/// Fails on the first `(key, value)` that is 0, naming it: sizes, counts and strides.
pub fn require_nonzero(pairs: &[(&str, usize)]) -> anyhow::Result<()> {
    match pairs.iter().find(|(_, value)| *value == 0) {
        Some((key, _)) => anyhow::bail!("{key} = 0: must be at least 1"),
        None => Ok(()),
    }
}

/// A configuration problem; the message names the file, line or key and what was expected.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Where a value came from, for messages.
#[derive(Clone, Debug)]
enum Source<'a> {
    File { path: &'a Path, text: &'a str },
    Override(&'a str),
}

/// An experiment file (or a run's `config.toml`), read and parsed once.
#[derive(Clone, Debug)]
pub struct ExperimentFile {
    path: PathBuf,
    text: String,
    table: Table,
}

impl ExperimentFile {
    /// Reads and parses `path`; an unreadable file or bad TOML is an error naming it.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
        let table: Table = toml::from_str(&text).map_err(|e| {
            ConfigError(format!("{}: {}", path.display(), e.to_string().trim_end()))
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            text,
            table,
        })
    }

    /// Where it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its `task` key, if it has one.
    pub fn task(&self) -> Option<&str> {
        self.table.get("task").and_then(|v| v.as_str())
    }
}

/// Resolves `T` from its defaults, an optional TOML file and `key=value` overrides (dotted keys,
/// TOML values; a bare word is taken as a string, so `model.cell=gru` works). Returns the typed
/// config and the resolved table (to print or save in the run directory).
pub fn resolve<T>(file: Option<&Path>, overrides: &[String]) -> Result<(T, Table), ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    let file = file.map(ExperimentFile::read).transpose()?;
    resolve_file(file.as_ref(), overrides)
}

/// [`resolve`] of a file already read.
pub fn resolve_file<T>(
    file: Option<&ExperimentFile>,
    overrides: &[String],
) -> Result<(T, Table), ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    let mut table = Table::try_from(T::default()).map_err(|e| {
        ConfigError(format!(
            "internal: the defaults do not serialise to TOML: {e}"
        ))
    })?;
    if let Some(file) = file {
        let source = Source::File {
            path: &file.path,
            text: &file.text,
        };
        merge(&mut table, file.table.clone(), "", &source)?;
    }
    for item in overrides {
        let (key, raw) = item.split_once('=').ok_or_else(|| {
            ConfigError(format!(
                "override `{item}`: expected `key=value`, e.g. `model.d_hidden=512`"
            ))
        })?;
        let (key, raw) = (key.trim(), raw.trim());
        let value = parse_value(raw);
        let mut parts: Vec<&str> = key.split('.').collect();
        let leaf = parts.pop().expect("split yields at least one part");
        let mut node = Table::new();
        node.insert(leaf.to_string(), value);
        for part in parts.into_iter().rev() {
            let mut outer = Table::new();
            outer.insert(part.to_string(), Value::Table(node));
            node = outer;
        }
        merge(&mut table, node, "", &Source::Override(item))?;
    }
    let typed = table.clone().try_into().map_err(|e: toml::de::Error| {
        ConfigError(format!("invalid config: {}", e.to_string().trim_end()))
    })?;
    Ok((typed, table))
}

/// A TOML value, or the raw text as a string when it is not one (`gru`, `runs/x`).
fn parse_value(raw: &str) -> Value {
    toml::from_str::<Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_string()))
}

fn merge(
    base: &mut Table,
    new: Table,
    prefix: &str,
    source: &Source<'_>,
) -> Result<(), ConfigError> {
    for (key, value) in new {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let Some(current) = base.get_mut(&key) else {
            let known: Vec<&str> = base.keys().map(String::as_str).collect();
            return Err(located(
                source,
                &full,
                &format!("unknown key `{full}`; known here: {}", known.join(", ")),
            ));
        };
        match (current, value) {
            (Value::Table(current), Value::Table(value)) => merge(current, value, &full, source)?,
            (Value::Float(current), Value::Integer(value)) => *current = value as f64,
            (current, value)
                if std::mem::discriminant(current) == std::mem::discriminant(&value) =>
            {
                *current = value
            }
            (current, value) => {
                return Err(located(
                    source,
                    &full,
                    &format!(
                        "`{full}` must be {}, got {} `{value}`",
                        kind(current),
                        kind(&value)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "true or false",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
    }
}

/// Prefixes `message` with the file and line of `key` (its last component, searched inside its
/// section), or with the override that set it.
fn located(source: &Source<'_>, key: &str, message: &str) -> ConfigError {
    match source {
        Source::Override(item) => ConfigError(format!("override `{item}`: {message}")),
        Source::File { path, text } => {
            let (section, leaf) = key.rsplit_once('.').unwrap_or(("", key));
            let mut in_section = section.is_empty();
            let line = text.lines().position(|line| {
                let line = line.trim();
                if line.starts_with('[') {
                    in_section = line.trim_matches(|c| c == '[' || c == ']').trim() == section;
                    return section.is_empty()
                        && line.trim_matches(|c| c == '[' || c == ']').trim() == leaf;
                }
                let assigned = line.split('=').next().map(str::trim);
                in_section && (assigned == Some(leaf) || assigned == Some(key))
            });
            let place: PathBuf = path.to_path_buf();
            match line {
                Some(l) => ConfigError(format!("{}:{}: {message}", place.display(), l + 1)),
                None => ConfigError(format!("{}: {message}", place.display())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Model {
        cell: String,
        d_hidden: i64,
        dropout: f64,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Train {
        lr: f64,
        seed: i64,
        tbptt: bool,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Experiment {
        name: String,
        model: Model,
        train: Train,
    }

    impl Default for Experiment {
        fn default() -> Self {
            Self {
                name: "default".into(),
                model: Model {
                    cell: "lstm".into(),
                    d_hidden: 256,
                    dropout: 0.0,
                },
                train: Train {
                    lr: 0.002,
                    seed: 0,
                    tbptt: false,
                },
            }
        }
    }

    fn file(body: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.toml");
        std::fs::write(&path, body).unwrap();
        (dir, path)
    }

    #[test]
    fn defaults_then_file_then_overrides() {
        let (_dir, path) =
            file("name = \"charlm\"\n[model]\n# why: more capacity\nd_hidden = 512\ndropout = 0\n");
        let overrides = [
            "model.cell=gru".to_string(),
            "train.seed=7".into(),
            "train.lr = 1e-3".into(),
        ];
        let (config, table): (Experiment, Table) = resolve(Some(&path), &overrides).unwrap();
        assert_eq!(config.name, "charlm");
        assert_eq!(
            config.model,
            Model {
                cell: "gru".into(),
                d_hidden: 512,
                dropout: 0.0
            }
        );
        assert_eq!(
            config.train,
            Train {
                lr: 1e-3,
                seed: 7,
                tbptt: false
            }
        );
        assert_eq!(table["model"]["d_hidden"].as_integer(), Some(512));
        let (plain, _): (Experiment, _) = resolve(None, &[]).unwrap();
        assert_eq!(plain, Experiment::default());
    }

    #[test]
    fn typos_and_wrong_types_name_the_key_and_line() {
        let (_dir, path) = file("[model]\nd_hiden = 512\n");
        let err = resolve::<Experiment>(Some(&path), &[]).unwrap_err().0;
        assert_eq!(
            err,
            format!(
                "{}:2: unknown key `model.d_hiden`; known here: cell, d_hidden, dropout",
                path.display()
            )
        );
        let (_dir, path) = file("name = \"x\"\n\n[train]\nseed = \"seven\"\n");
        let err = resolve::<Experiment>(Some(&path), &[]).unwrap_err().0;
        assert_eq!(
            err,
            format!(
                "{}:4: `train.seed` must be an integer, got a string `\"seven\"`",
                path.display()
            )
        );
        let err = resolve::<Experiment>(None, &["train.tbptt=yes".into()])
            .unwrap_err()
            .0;
        assert_eq!(
            err,
            "override `train.tbptt=yes`: `train.tbptt` must be true or false, got a string `\"yes\"`"
        );
        let err = resolve::<Experiment>(None, &["trian.lr=1".into()])
            .unwrap_err()
            .0;
        assert!(
            err.starts_with("override `trian.lr=1`: unknown key `trian`"),
            "{err}"
        );
        let err = resolve::<Experiment>(None, &["model.d_hidden".into()])
            .unwrap_err()
            .0;
        assert!(err.contains("expected `key=value`"), "{err}");
        let (_dir, path) = file("[model\nd_hidden = 1\n");
        let err = resolve::<Experiment>(Some(&path), &[]).unwrap_err().0;
        assert!(
            err.starts_with(&format!("{}: TOML parse error at line 1", path.display())),
            "{err}"
        );
    }
}
