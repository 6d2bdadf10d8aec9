//! Human tables (bold headers on a terminal) or JSON.

use std::io::{IsTerminal, Write};

/// Where results go, and how.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    pub(crate) json: bool,
    colour: bool,
}

impl Output {
    pub(crate) fn new(json: bool) -> Self {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Self { json, colour }
    }

    /// Prints `value` as one JSON document (pretty) or line (`line`).
    pub(crate) fn json(&self, value: &serde_json::Value, line: bool) {
        let text = if line {
            value.to_string()
        } else {
            serde_json::to_string_pretty(value).unwrap_or_default()
        };
        println_flush(&text);
    }

    /// Prints a table: a header row and aligned columns.
    pub(crate) fn table(&self, header: &[&str], rows: &[Vec<String>]) {
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let line = |cells: Vec<String>| {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i + 1 == cells.len() {
                        c.clone()
                    } else {
                        format!("{c:<w$}", w = widths[i])
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
        let head = line(header.iter().map(|h| h.to_string()).collect());
        if self.colour {
            println_flush(&format!("\x1b[1m{head}\x1b[0m"));
        } else {
            println_flush(&head);
        }
        for row in rows {
            println_flush(&line(row.clone()));
        }
    }

    /// Prints text without a line break (a progress bar redrawn with `\r`).
    pub(crate) fn partial(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        if write!(out, "{text}").and_then(|()| out.flush()).is_err() {
            std::process::exit(0);
        }
    }

    /// Prints one line of text.
    pub(crate) fn line(&self, text: &str) {
        println_flush(text);
    }
}

/// Prints and flushes (followers print as events arrive); a closed pipe
/// (`| head`) ends quietly.
fn println_flush(text: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// A duration as `1.2s`, `3m04s`.
pub(crate) fn ago(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// A byte count as `1.2 KiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A timestamp as RFC 3339.
pub(crate) fn time(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}
