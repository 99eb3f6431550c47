//! [`Series`]: a CSV of dated rows with numeric columns.
//!
//! (Over 400 lines with its tests; the code is under 370.)

use std::path::{Path, PathBuf};

use crate::error::DataError;
use crate::io::read_text;

/// What to do with an empty or non-finite (`NaN`, `inf`) cell of a column the run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Missing {
    /// Refuse the file, naming every such cell (line and column).
    #[default]
    Error,
    /// Linear interpolation between the nearest values above and below in the column; a gap at
    /// the start or end takes the nearest value.
    Interpolate,
    /// The previous value in the column; a gap at the start takes the first value.
    Ffill,
    /// Drop every row with such a cell.
    Drop,
}

/// What [`Series::read`] did about missing cells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MissingCount {
    /// Cells filled (`interpolate`, `ffill`).
    pub filled: usize,
    /// Rows dropped (`drop`).
    pub dropped: usize,
}

/// A table of dated rows: one date column kept as text (only the order matters), every other
/// column parsed as numbers.
#[derive(Clone, Debug)]
pub struct Series {
    path: PathBuf,
    dates: Vec<String>,
    names: Vec<String>,
    /// Row-major `[rows, columns]`.
    values: Vec<f32>,
}

impl Series {
    /// Reads `path`. Handles CRLF or LF line endings, a missing final newline and quoted
    /// headers/fields. Errors name the file, the line and the column: a missing date column, a
    /// row with a missing or non-numeric value, an empty file, invalid UTF-8.
    pub fn from_csv(path: &Path, date_column: &str) -> Result<Self, DataError> {
        Ok(Self::read(path, date_column, None, Missing::Error)?.0)
    }

    /// Reads `path` keeping only the numeric columns `columns` (in that order; `None` = all),
    /// with `missing` deciding about empty and non-finite cells in them (other columns are
    /// not parsed at all). Returns the series and what was filled or dropped.
    pub fn read(
        path: &Path,
        date_column: &str,
        columns: Option<&[String]>,
        missing: Missing,
    ) -> Result<(Self, MissingCount), DataError> {
        let text = read_text(path)?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| DataError::in_file(path, format!("unreadable header: {e}")).at_line(1))?
            .clone();
        let date_index = headers
            .iter()
            .position(|h| h == date_column)
            .ok_or_else(|| {
                DataError::in_file(
                    path,
                    format!(
                        "no date column `{date_column}`; the header has {}",
                        quoted(headers.iter())
                    ),
                )
                .at_line(1)
            })?;
        let all: Vec<usize> = (0..headers.len()).filter(|&i| i != date_index).collect();
        if all.is_empty() {
            return Err(DataError::in_file(path, "no numeric column besides the date").at_line(1));
        }
        let picked: Vec<usize> = match columns {
            None => all,
            Some(wanted) => wanted
                .iter()
                .map(|w| {
                    all.iter()
                        .copied()
                        .find(|&i| &headers[i] == w)
                        .ok_or_else(|| {
                            DataError::in_file(
                                path,
                                format!(
                                    "no column `{w}`; the numeric columns are {}",
                                    quoted(all.iter().map(|&i| &headers[i]))
                                ),
                            )
                            .at_line(1)
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        let names: Vec<String> = picked.iter().map(|&i| headers[i].to_string()).collect();
        let mut dates = Vec::new();
        let mut lines = Vec::new();
        let mut cells: Vec<Option<f32>> = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e
                    .position()
                    .map_or(0, |p| line_of(&text, p.byte() as usize));
                DataError::in_file(path, format!("malformed CSV: {e}")).at_line(line)
            })?;
            // csv's own line counter is off by one on CRLF files.
            let line = record
                .position()
                .map_or(0, |p| line_of(&text, p.byte() as usize));
            if record.len() != headers.len() {
                return Err(DataError::in_file(
                    path,
                    format!(
                        "{} fields, expected {} like the header",
                        record.len(),
                        headers.len()
                    ),
                )
                .at_line(line));
            }
            dates.push(record[date_index].to_string());
            lines.push(line);
            for &i in &picked {
                let field = record[i].trim();
                if field.is_empty() {
                    cells.push(None);
                    continue;
                }
                let value: f32 = field.parse().map_err(|_| {
                    DataError::in_file(path, format!("`{field}` is not a number"))
                        .at_line(line)
                        .at_column(format!("`{}`", &headers[i]))
                })?;
                cells.push(value.is_finite().then_some(value));
            }
        }
        if dates.is_empty() {
            return Err(DataError::in_file(path, "a header but no data rows"));
        }
        let (dates, values, count) = fill(path, &names, dates, &lines, cells, missing)?;
        if dates.is_empty() {
            return Err(DataError::in_file(
                path,
                "data.missing = \"drop\" dropped every row",
            ));
        }
        Ok((
            Self {
                path: path.to_path_buf(),
                dates,
                names,
                values,
            },
            count,
        ))
    }

    /// The same rows and columns with other values (row-major `[rows, columns]`), e.g. after a
    /// log transform; the path is kept for messages.
    pub fn with_values(&self, values: Vec<f32>) -> Result<Self, DataError> {
        if values.len() != self.values.len() {
            return Err(DataError::in_file(
                &self.path,
                format!(
                    "expected {} values, got {}",
                    self.values.len(),
                    values.len()
                ),
            ));
        }
        Ok(Self {
            values,
            ..self.clone()
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.dates.len()
    }

    /// Whether there are no rows (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }

    /// The dates, as written in the file.
    pub fn dates(&self) -> &[String] {
        &self.dates
    }

    /// The numeric column names, in file order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The file the series came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Index of column `name`, or an error listing the columns there are.
    pub fn column_index(&self, name: &str) -> Result<usize, DataError> {
        self.names.iter().position(|n| n == name).ok_or_else(|| {
            DataError::in_file(
                &self.path,
                format!(
                    "no column `{name}`; the numeric columns are {}",
                    quoted(self.names.iter().map(String::as_str))
                ),
            )
        })
    }

    /// The values of column `name`.
    pub fn column(&self, name: &str) -> Result<Vec<f32>, DataError> {
        let c = self.column_index(name)?;
        Ok(self
            .values
            .iter()
            .skip(c)
            .step_by(self.names.len())
            .copied()
            .collect())
    }

    /// Row-major values `[rows, columns]`.
    pub fn values(&self) -> &[f32] {
        &self.values
    }
}

/// Applies `missing` to the row-major `cells` (`None` = empty or non-finite).
fn fill(
    path: &Path,
    names: &[String],
    dates: Vec<String>,
    lines: &[usize],
    mut cells: Vec<Option<f32>>,
    missing: Missing,
) -> Result<(Vec<String>, Vec<f32>, MissingCount), DataError> {
    let c = names.len();
    let gaps: Vec<usize> = (0..cells.len()).filter(|&k| cells[k].is_none()).collect();
    let mut count = MissingCount::default();
    if gaps.is_empty() {
        let values = cells.into_iter().map(|v| v.unwrap_or(0.0)).collect();
        return Ok((dates, values, count));
    }
    match missing {
        Missing::Error => {
            let shown: Vec<String> = gaps
                .iter()
                .take(20)
                .map(|&k| format!("line {} `{}`", lines[k / c], names[k % c]))
                .collect();
            let more = match gaps.len() > 20 {
                true => format!(" and {} more", gaps.len() - 20),
                false => String::new(),
            };
            Err(DataError::in_file(
                path,
                format!(
                    "{} missing or non-finite value(s): {}{more}; set data.missing to \"interpolate\", \"ffill\" or \"drop\"",
                    gaps.len(),
                    shown.join(", ")
                ),
            ))
        }
        Missing::Drop => {
            let rows = dates.len();
            let keep: Vec<bool> = (0..rows)
                .map(|r| cells[r * c..(r + 1) * c].iter().all(Option::is_some))
                .collect();
            count.dropped = keep.iter().filter(|k| !**k).count();
            let dates = dates
                .into_iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(d, _)| d)
                .collect();
            let values = cells
                .chunks(c)
                .zip(&keep)
                .filter(|(_, k)| **k)
                .flat_map(|(row, _)| row.iter().map(|v| v.unwrap_or(0.0)))
                .collect();
            Ok((dates, values, count))
        }
        Missing::Interpolate | Missing::Ffill => {
            let rows = dates.len();
            for col in 0..c {
                let known: Vec<usize> = (0..rows)
                    .filter(|&r| cells[r * c + col].is_some())
                    .collect();
                let Some(&first) = known.first() else {
                    return Err(DataError::in_file(path, "no value at all")
                        .at_column(format!("`{}`", names[col])));
                };
                let value = |r: usize, cells: &[Option<f32>]| cells[r * c + col].unwrap_or(0.0);
                let mut before: Option<usize> = None;
                let mut next = 0; // index into `known` of the first known row after r
                for r in 0..rows {
                    if cells[r * c + col].is_some() {
                        before = Some(r);
                        continue;
                    }
                    while next < known.len() && known[next] < r {
                        next += 1;
                    }
                    let after = known.get(next).copied();
                    let filled = match (missing, before, after) {
                        (Missing::Ffill, Some(b), _) => value(b, &cells),
                        (Missing::Ffill, None, _) => value(first, &cells),
                        (_, Some(b), Some(a)) => {
                            let t = (r - b) as f32 / (a - b) as f32;
                            value(b, &cells) + t * (value(a, &cells) - value(b, &cells))
                        }
                        (_, Some(b), None) => value(b, &cells),
                        (_, None, _) => value(first, &cells),
                    };
                    cells[r * c + col] = Some(filled);
                    count.filled += 1;
                }
            }
            let values = cells.into_iter().map(|v| v.unwrap_or(0.0)).collect();
            Ok((dates, values, count))
        }
    }
}

/// 1-based line of the record that csv says starts at `byte` (with CRLF, csv's record start
/// can point at the `\n` that ends the previous line, so leading line breaks are skipped).
fn line_of(text: &str, byte: usize) -> usize {
    let bytes = text.as_bytes();
    let mut start = byte.min(bytes.len());
    while start < bytes.len() && (bytes[start] == b'\n' || bytes[start] == b'\r') {
        start += 1;
    }
    bytes[..start].iter().filter(|&&b| b == b'\n').count() + 1
}

fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shipped_datasets_dir;

    fn ts(name: &str) -> PathBuf {
        shipped_datasets_dir().join("timeseries").join(name)
    }

    #[test]
    fn shipped_series_and_their_quirks() {
        let etth1 = Series::from_csv(&ts("ETTh1.csv"), "date").unwrap();
        assert_eq!(etth1.len(), 17_420);
        assert_eq!(
            etth1.names(),
            ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
        );
        assert_eq!(etth1.dates()[0], "2016-07-01 00:00:00");
        // CRLF line endings, M/D/YYYY dates, no final newline.
        let temps = Series::from_csv(&ts("melbourne_daily_min_temp.csv"), "Date").unwrap();
        assert_eq!(temps.len(), 3_650);
        assert_eq!(
            (temps.dates()[0].as_str(), temps.dates()[3_649].as_str()),
            ("1/1/1981", "12/31/1990")
        );
        let t = temps.column("Daily minimum temperatures").unwrap();
        assert_eq!((t[0], t[3_649]), (20.7, 13.0));
        // Quoted header and quoted month strings, no final newline.
        let sun = Series::from_csv(&ts("monthly_sunspots.csv"), "Month").unwrap();
        assert_eq!((sun.len(), sun.dates()[0].as_str()), (2_820, "1749-01"));
        assert_eq!(sun.column("Sunspots").unwrap()[0], 58.0);
        let air = Series::from_csv(&ts("airline_passengers.csv"), "Month").unwrap();
        let p = air.column("#Passengers").unwrap();
        assert_eq!((p.len(), p[0], p[143]), (144, 112.0, 432.0));
    }

    #[test]
    fn bad_csv_errors_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, body).unwrap();
            p
        };
        let missing = write("missing.csv", b"date,a,b\n2020,1,2\n2021,,3\n");
        assert_eq!(
            Series::from_csv(&missing, "date").unwrap_err().to_string(),
            format!(
                "{}: 1 missing or non-finite value(s): line 3 `a`; set data.missing to \"interpolate\", \"ffill\" or \"drop\"",
                missing.display()
            )
        );
        let text = write("text.csv", b"date,a,b\r\n2020,1,2\r\n2021,4,x7\r\n");
        assert_eq!(
            Series::from_csv(&text, "date").unwrap_err().to_string(),
            format!("{}:3, column `b`: `x7` is not a number", text.display())
        );
        let err = Series::from_csv(&text, "Date").unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}:1: no date column `Date`; the header has `date`, `a`, `b`",
                text.display()
            )
        );
        let series = Series::from_csv(&write("ok.csv", b"date,a\n1,2\n"), "date").unwrap();
        assert!(
            series
                .column("A")
                .unwrap_err()
                .to_string()
                .ends_with("no column `A`; the numeric columns are `a`")
        );
        let short = write("short.csv", b"date,a,b\n2020,1\n");
        assert!(
            Series::from_csv(&short, "date")
                .unwrap_err()
                .to_string()
                .contains(":2: 2 fields, expected 3")
        );
        let header_only = write("header.csv", b"date,a\n");
        assert!(
            Series::from_csv(&header_only, "date")
                .unwrap_err()
                .to_string()
                .ends_with("a header but no data rows")
        );
        let empty = write("empty.csv", b"");
        assert!(
            Series::from_csv(&empty, "date")
                .unwrap_err()
                .to_string()
                .ends_with("the file is empty")
        );
        let bad = write("bad.csv", b"date,a\n2020,\xff\n");
        assert!(
            Series::from_csv(&bad, "date")
                .unwrap_err()
                .to_string()
                .contains("bad.csv:2: invalid UTF-8")
        );
    }

    #[test]
    fn missing_cells_are_named_filled_or_dropped_and_unused_columns_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gaps.csv");
        std::fs::write(
            &path,
            "date,a,b,junk\n1,1,10,x\n2,,NaN,x\n3,3,,x\n4,inf,40,x\n5,5,50,\n",
        )
        .unwrap();
        let cols = ["a".to_string(), "b".to_string()];
        let err = Series::read(&path, "date", Some(&cols), Missing::Error)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "4 missing or non-finite value(s): line 3 `a`, line 3 `b`, line 4 `b`, line 5 `a`"
            ),
            "{err}"
        );
        let (s, n) = Series::read(&path, "date", Some(&cols), Missing::Interpolate).unwrap();
        assert_eq!(n.filled, 4);
        assert_eq!(s.column("a").unwrap(), [1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(s.column("b").unwrap(), [10.0, 20.0, 30.0, 40.0, 50.0]);
        let (s, _) = Series::read(&path, "date", Some(&cols), Missing::Ffill).unwrap();
        assert_eq!(s.column("a").unwrap(), [1.0, 1.0, 3.0, 3.0, 5.0]);
        let (s, n) = Series::read(&path, "date", Some(&cols[..1]), Missing::Drop).unwrap();
        assert_eq!(
            (n.dropped, s.dates()),
            (2, &["1", "3", "5"].map(String::from)[..])
        );
        // `junk` is never parsed: it is not among the columns.
        assert!(Series::read(&path, "date", None, Missing::Drop).is_err());
    }
}
