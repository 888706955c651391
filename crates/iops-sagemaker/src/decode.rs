//! Request decoders: a body in any accepted format → a row-major matrix of finite feature
//! values. Every error names the row (1-based, counting data rows only) and, where there is
//! one, the column (1-based position, or the field name of a metric object).

use iops_core::json_type;
use serde_json::Value;

use crate::error::{bad, Result};
use crate::media::Format;

/// Largest number of values reserved up front for a CSV body.
const MAX_RESERVED_VALUES: usize = 1 << 16;

/// Rows of feature values, row-major, all finite, every row `n_cols` wide.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// The values, row after row.
    pub values: Vec<f64>,
    /// Features per row.
    pub n_cols: usize,
}

impl Rows {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.values.len().checked_div(self.n_cols).unwrap_or(0)
    }
}

/// What the rows must look like: the model's feature names (used to map metric objects and
/// CSV headers to columns) and, when known, the row width.
#[derive(Debug, Clone, Copy)]
pub struct Schema<'a> {
    /// Feature names in column order.
    pub names: &'a [String],
    /// Required row width; `None` takes the first row's width (training data).
    pub n_features: Option<usize>,
}

/// Decodes a body in `format` against `schema`. An empty body, or one without data rows, is
/// an error.
pub fn decode(body: &[u8], format: Format, schema: Schema<'_>) -> Result<Rows> {
    let mut sink = Sink::new(schema.n_features);
    if format == Format::Csv {
        // One allocation for typical requests: at most one value per comma or line end (the
        // reservation is capped, so a body of commas cannot make it large; beyond it the
        // buffer grows as usual).
        let cells = body.iter().filter(|&&b| b == b',' || b == b'\n').count() + 1;
        sink.values.reserve(cells.min(MAX_RESERVED_VALUES));
    }
    match format {
        Format::Csv => decode_csv(body, schema, &mut sink)?,
        Format::Json => decode_json(body, schema, &mut sink)?,
        Format::JsonLines => decode_json_lines(body, schema, &mut sink)?,
    }
    sink.finish()
}

/// Collects rows and checks their width.
#[derive(Debug)]
struct Sink {
    values: Vec<f64>,
    width: Option<usize>,
    rows: usize,
    row_start: usize,
}

impl Sink {
    fn new(width: Option<usize>) -> Self {
        Self {
            values: Vec::new(),
            width,
            rows: 0,
            row_start: 0,
        }
    }

    /// Number (1-based) of the row being filled.
    fn row(&self) -> usize {
        self.rows + 1
    }

    fn push(&mut self, column: impl std::fmt::Display, value: f64) -> Result<()> {
        if !value.is_finite() {
            return Err(bad(format!(
                "row {}, column {column}: {value} is not finite",
                self.row()
            )));
        }
        self.values.push(value);
        Ok(())
    }

    fn end_row(&mut self) -> Result<()> {
        let got = self.values.len() - self.row_start;
        match self.width {
            Some(w) if w != got => {
                return Err(bad(format!(
                    "row {}: expected {w} features, got {got}",
                    self.row()
                )))
            }
            None if got == 0 => return Err(bad(format!("row {}: no values", self.row()))),
            None => self.width = Some(got),
            Some(_) => {}
        }
        self.rows += 1;
        self.row_start = self.values.len();
        Ok(())
    }

    fn finish(self) -> Result<Rows> {
        match self.width {
            Some(n_cols) if self.rows > 0 => Ok(Rows {
                values: self.values,
                n_cols,
            }),
            _ => Err(bad("empty body: no rows to score")),
        }
    }
}

fn utf8(body: &[u8]) -> Result<&str> {
    let text = std::str::from_utf8(body).map_err(|e| {
        bad(format!(
            "body is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// Non-blank lines, without their line ends.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.trim().is_empty())
}

fn unquote(cell: &str) -> &str {
    let cell = cell.trim();
    cell.strip_prefix('"')
        .and_then(|c| c.strip_suffix('"'))
        .unwrap_or(cell)
}

fn parse_cell(sink: &Sink, column: usize, cell: &str) -> Result<f64> {
    let text = unquote(cell);
    text.parse::<f64>().map_err(|_| {
        bad(format!(
            "row {}, column {column}: {text:?} is not a number",
            sink.row()
        ))
    })
}

/// CSV rows; the first line is a header when none of its cells is a number. A header that
/// names every model feature selects those columns by name (other columns are ignored);
/// otherwise columns are taken by position.
fn decode_csv(body: &[u8], schema: Schema<'_>, sink: &mut Sink) -> Result<()> {
    let mut lines = lines(utf8(body)?).peekable();
    let mut by_name: Option<(usize, Vec<usize>)> = None;
    let mut header_line = None;
    if let Some(first) = lines.peek() {
        let is_header = first.split(',').all(|c| unquote(c).parse::<f64>().is_err());
        if is_header {
            let header: Vec<&str> = first.split(',').map(unquote).collect();
            let picks: Option<Vec<usize>> = schema
                .names
                .iter()
                .map(|n| header.iter().position(|h| h == n))
                .collect();
            by_name = picks.filter(|p| !p.is_empty()).map(|p| (header.len(), p));
            header_line = lines.next();
        }
    }
    if let (Some(header), None) = (header_line, lines.peek()) {
        return Err(bad(format!(
            "no data rows: the only line, {header:?}, has no numbers and was read as a header"
        )));
    }
    for line in lines {
        match &by_name {
            None => {
                for (c, cell) in line.split(',').enumerate() {
                    let v = parse_cell(sink, c + 1, cell)?;
                    sink.push(c + 1, v)?;
                }
            }
            Some((width, picks)) => {
                let cells: Vec<&str> = line.split(',').collect();
                if cells.len() != *width {
                    return Err(bad(format!(
                        "row {}: expected {width} columns as in the header, got {}",
                        sink.row(),
                        cells.len()
                    )));
                }
                for &c in picks {
                    let cell = cells.get(c).copied().unwrap_or("");
                    let v = parse_cell(sink, c + 1, cell)?;
                    sink.push(c + 1, v)?;
                }
            }
        }
        sink.end_row()?;
    }
    Ok(())
}

fn number(sink: &Sink, column: impl std::fmt::Display, v: &Value) -> Result<f64> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| {
            bad(format!(
                "row {}, column {column}: {n} is not a finite number",
                sink.row()
            ))
        }),
        Value::String(s) => Err(bad(format!(
            "row {}, column {column}: {s:?} is not a number",
            sink.row()
        ))),
        other => Err(bad(format!(
            "row {}, column {column}: {} is not a number",
            sink.row(),
            json_type(other)
        ))),
    }
}

/// One row from a JSON value: an array of numbers, `{"features":[...]}`,
/// `{"data":{"features":{"values":[...]}}}` (SageMaker's dense JSON), or a metric object
/// whose fields are named like the model's features.
fn json_row(v: &Value, schema: Schema<'_>, sink: &mut Sink) -> Result<()> {
    match v {
        Value::Array(cells) => {
            for (c, cell) in cells.iter().enumerate() {
                let x = number(sink, c + 1, cell)?;
                sink.push(c + 1, x)?;
            }
        }
        Value::Object(map) => {
            let features = map.get("features").or_else(|| {
                map.get("data")
                    .and_then(|d| d.get("features"))
                    .and_then(|f| f.get("values"))
            });
            if let Some(features) = features {
                if !features.is_array() {
                    return Err(bad(format!(
                        "row {}: `features` must be an array of numbers, got {}",
                        sink.row(),
                        json_type(features)
                    )));
                }
                return json_row(features, schema, sink);
            }
            for name in schema.names {
                let Some(cell) = map.get(name) else {
                    return Err(bad(format!(
                        "row {}: missing field {name:?} (the model's features are {}); or send {{\"features\":[...]}}",
                        sink.row(),
                        schema.names.join(", ")
                    )));
                };
                let x = number(sink, format_args!("{name:?}"), cell)?;
                sink.push(format_args!("{name:?}"), x)?;
            }
        }
        other => {
            return Err(bad(format!(
                "row {}: expected an array of numbers, an object with \"features\" or a metric object, got {}",
                sink.row(),
                json_type(other)
            )))
        }
    }
    sink.end_row()
}

/// `{"instances":[row, ...]}`, a bare array of rows, one flat row of numbers, or one object
/// (a metric object or `{"features":[...]}`).
fn decode_json(body: &[u8], schema: Schema<'_>, sink: &mut Sink) -> Result<()> {
    let text = utf8(body)?;
    if text.trim().is_empty() {
        return Ok(()); // finish() reports the empty body
    }
    let doc: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("body is not valid JSON: {e}")))?;
    let rows = match &doc {
        Value::Object(map) => match map.get("instances") {
            Some(Value::Array(rows)) => rows.as_slice(),
            Some(other) => {
                return Err(bad(format!(
                    "`instances` must be an array, got {}",
                    json_type(other)
                )))
            }
            None => std::slice::from_ref(&doc),
        },
        Value::Array(items) if items.first().is_some_and(Value::is_number) => {
            std::slice::from_ref(&doc)
        }
        Value::Array(items) => items.as_slice(),
        other => {
            return Err(bad(format!(
                "expected an object or an array of rows, got {}",
                json_type(other)
            )))
        }
    };
    for row in rows {
        json_row(row, schema, sink)?;
    }
    Ok(())
}

/// One row per non-blank line, each as [`json_row`] takes.
fn decode_json_lines(body: &[u8], schema: Schema<'_>, sink: &mut Sink) -> Result<()> {
    for line in lines(utf8(body)?) {
        let v: Value = serde_json::from_str(line)
            .map_err(|e| bad(format!("row {}: not valid JSON: {e}", sink.row())))?;
        json_row(&v, schema, sink)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["cpuUsage", "memoryUsage", "diskIO", "networkIO"]
            .map(String::from)
            .to_vec()
    }

    fn run(body: &str, format: Format) -> Result<Rows> {
        let names = names();
        decode(
            body.as_bytes(),
            format,
            Schema {
                names: &names,
                n_features: Some(4),
            },
        )
    }

    fn err(body: &str, format: Format) -> String {
        match run(body, format) {
            Ok(rows) => panic!("accepted {body:?} as {rows:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn csv_rows_with_and_without_header() {
        let rows = run("1,2,3,4\r\n5,6,7,8\n\n", Format::Csv).unwrap();
        assert_eq!(rows.n_rows(), 2);
        assert_eq!(rows.values, [1., 2., 3., 4., 5., 6., 7., 8.]);
        let named = "hostname,networkIO,diskIO,memoryUsage,cpuUsage\nweb-1,4,3,2,1\n";
        assert_eq!(run(named, Format::Csv).unwrap().values, [1., 2., 3., 4.]);
        let positional = "a,b,c,d\n1,2,3,4\n";
        assert_eq!(
            run(positional, Format::Csv).unwrap().values,
            [1., 2., 3., 4.]
        );
    }

    #[test]
    fn csv_errors_name_row_and_column() {
        assert_eq!(
            err("1,2,3,4\n1,2,3,4\n1,abc,3,4\n", Format::Csv),
            "row 3, column 2: \"abc\" is not a number"
        );
        assert_eq!(
            err("1,2,3\n", Format::Csv),
            "row 1: expected 4 features, got 3"
        );
        assert_eq!(
            err("1,2,NaN,4\n", Format::Csv),
            "row 1, column 3: NaN is not finite"
        );
        assert_eq!(
            err("1,2,,4\n", Format::Csv),
            "row 1, column 3: \"\" is not a number"
        );
        assert_eq!(err("", Format::Csv), "empty body: no rows to score");
        assert!(err("a,b,c,d\n", Format::Csv)
            .starts_with("no data rows: the only line, \"a,b,c,d\", has no numbers"));
    }

    #[test]
    fn json_shapes() {
        let want = [1., 2., 3., 4.];
        for body in [
            r#"{"instances":[{"features":[1,2,3,4]}]}"#,
            r#"{"instances":[{"data":{"features":{"values":[1,2,3,4]}}}]}"#,
            r#"{"instances":[[1,2,3,4]]}"#,
            "[[1,2,3,4]]",
            "[1,2,3,4]",
            r#"{"timestamp":"2026-11-26T17:00:00Z","hostname":"web-1","cpuUsage":1,"memoryUsage":2,"diskIO":3,"networkIO":4}"#,
            r#"[{"networkIO":4,"diskIO":3,"memoryUsage":2,"cpuUsage":1}]"#,
        ] {
            assert_eq!(run(body, Format::Json).unwrap().values, want, "{body}");
        }
    }

    #[test]
    fn json_errors_name_row_and_column() {
        assert_eq!(
            err(
                r#"{"instances":[{"features":[1,2,3,4]},{"features":[1,"x",3,4]}]}"#,
                Format::Json
            ),
            "row 2, column 2: \"x\" is not a number"
        );
        assert_eq!(
            err(
                r#"[{"cpuUsage":1,"memoryUsage":2,"diskIO":null,"networkIO":4}]"#,
                Format::Json
            ),
            "row 1, column \"diskIO\": null is not a number"
        );
        assert!(err(r#"[{"cpuUsage":1}]"#, Format::Json)
            .starts_with("row 1: missing field \"memoryUsage\""));
        assert_eq!(err("[]", Format::Json), "empty body: no rows to score");
        assert_eq!(
            err(r#"{"instances":[]}"#, Format::Json),
            "empty body: no rows to score"
        );
        assert!(err("[1,2", Format::Json).starts_with("body is not valid JSON"));
        assert!(err("[1e999,2,3,4]", Format::Json).starts_with("body is not valid JSON"));
        assert_eq!(
            err(r#"{"instances":{"features":[1,2,3,4]}}"#, Format::Json),
            "`instances` must be an array, got an object"
        );
    }

    #[test]
    fn json_lines_rows() {
        let body = "[1,2,3,4]\n{\"features\":[1,2,3,4]}\n\n{\"cpuUsage\":1,\"memoryUsage\":2,\"diskIO\":3,\"networkIO\":4}\n";
        assert_eq!(run(body, Format::JsonLines).unwrap().n_rows(), 3);
        assert!(err("[1,2,3,4]\n[1,2,3\n", Format::JsonLines).starts_with("row 2: not valid JSON"));
    }

    #[test]
    fn width_is_taken_from_the_first_row_when_unknown() {
        let names = names();
        let schema = Schema {
            names: &names,
            n_features: None,
        };
        let rows = decode(b"1,2\n3,4\n", Format::Csv, schema).unwrap();
        assert_eq!(rows.n_cols, 2);
        let e = decode(b"1,2\n3,4,5\n", Format::Csv, schema).unwrap_err();
        assert_eq!(e.to_string(), "row 2: expected 2 features, got 3");
    }
}
