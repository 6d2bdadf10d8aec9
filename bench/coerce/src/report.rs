//! One table per scenario (a row per side, medians of the rounds with their
//! range, the profile figures, the ratios of the rounds), and the summary
//! in the shape of issue #23's tables.

use aether_testkit::bench::median;

use crate::probe::Profile;

pub const AETHER: &str = "Aether";
pub const COERCE: &str = "coerce";

/// One side's figures: per column, one value per round.
type Row = (String, Vec<(String, Vec<f64>)>);

/// A scenario's figures: per side (row), per column, one value per round.
pub struct Table {
    title: String,
    notes: Vec<String>,
    /// The columns that get a range and ratios (the scenario's figures).
    main: Vec<&'static str>,
    cols: Vec<String>,
    rows: Vec<Row>,
}

fn range(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

/// `v` for a column: rates as k/s or M/s, times with the precision they need.
pub fn human(v: f64, col: &str) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    if col.ends_with("/s") {
        return if v >= 1e6 {
            format!("{:.2} M/s", v / 1e6)
        } else if v >= 1e3 {
            format!("{:.1} k/s", v / 1e3)
        } else {
            format!("{v:.0}/s")
        };
    }
    let unit = col.rsplit(' ').next().unwrap_or("");
    let num = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if ["µs", "ms", "MiB", "B"].contains(&unit) {
        format!("{num} {unit}")
    } else {
        num
    }
}

/// [`human`] without a unit of time or size (for ranges after a median).
fn bare(v: f64, col: &str) -> String {
    let h = human(v, col);
    if col.ends_with("/s") {
        return h;
    }
    h.split(' ').next().unwrap_or_default().to_string()
}

/// A ratio with the range of the rounds, or a dash when there is none.
fn ratio_cell(r: Option<(f64, f64, f64)>) -> String {
    match r {
        Some((m, lo, hi)) if m.is_finite() && lo.is_finite() && hi.is_finite() => {
            format!("{m:.2}× ({lo:.2}–{hi:.2})")
        }
        _ => "—".into(),
    }
}

impl Table {
    pub fn new(title: impl Into<String>, main: &[&'static str]) -> Self {
        Self {
            title: title.into(),
            notes: Vec::new(),
            main: main.to_vec(),
            cols: main.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Records one round's `v` for `side` in `col`.
    pub fn add(&mut self, side: &str, col: &str, v: f64) {
        if !self.cols.iter().any(|c| c == col) {
            self.cols.push(col.to_string());
        }
        let row = match self.rows.iter().position(|(s, _)| s == side) {
            Some(i) => &mut self.rows[i].1,
            None => {
                self.rows.push((side.to_string(), Vec::new()));
                &mut self.rows.last_mut().expect("just pushed").1
            }
        };
        match row.iter_mut().find(|(c, _)| c == col) {
            Some((_, vals)) => vals.push(v),
            None => row.push((col.to_string(), vec![v])),
        }
    }

    /// Records one round's profile for `side`.
    pub fn profile(&mut self, side: &str, p: &Profile) {
        self.add(side, "CPU µs/cmd", p.cpu_us);
        self.add(side, "ctx sw/cmd", p.switches);
        self.add(side, "allocs/cmd", p.allocs);
        for (name, us) in &p.servers {
            self.add(side, &format!("{name} CPU µs/cmd"), *us);
        }
    }

    pub fn values(&self, side: &str, col: &str) -> Option<&[f64]> {
        self.rows
            .iter()
            .find(|(s, _)| s == side)?
            .1
            .iter()
            .find(|(c, _)| c == col)
            .map(|(_, v)| v.as_slice())
    }

    /// The per-round ratios `a / b` in `col`: (median, low, high).
    pub fn ratio(&self, col: &str, a: &str, b: &str) -> Option<(f64, f64, f64)> {
        self.ratio_of((a, col), (b, col))
    }

    pub fn median(&self, side: &str, col: &str) -> Option<f64> {
        self.values(side, col).map(|v| median(v.to_vec()))
    }

    fn cell(&self, side: &str, col: &str) -> String {
        let Some(v) = self.values(side, col) else {
            return "—".into();
        };
        let m = median(v.to_vec());
        if self.main.contains(&col) && v.len() > 1 {
            let (lo, hi) = range(v);
            format!("{} ({}–{})", human(m, col), bare(lo, col), bare(hi, col))
        } else {
            human(m, col)
        }
    }

    pub fn print(&self) {
        println!("\n## {}\n", self.title);
        println!("| side | {} |", self.cols.join(" | "));
        println!("|---|{}", "---|".repeat(self.cols.len()));
        for (side, _) in &self.rows {
            let cells: Vec<String> = self.cols.iter().map(|c| self.cell(side, c)).collect();
            println!("| {side} | {} |", cells.join(" | "));
        }
        println!();
        for col in &self.main {
            let mut parts = Vec::new();
            for (other, _) in self.rows.iter().filter(|(s, _)| s != AETHER) {
                if self.values(other, col).is_some() {
                    parts.push(format!(
                        "Aether/{other} {}",
                        ratio_cell(self.ratio(col, AETHER, other))
                    ));
                }
            }
            if !parts.is_empty() {
                println!("- {col}: {}", parts.join("; "));
            }
        }
        for n in &self.notes {
            println!("- {n}");
        }
    }

    /// The per-round ratios of `a`'s `col_a` to `b`'s `col_b`.
    fn ratio_of(
        &self,
        (a, col_a): (&str, &str),
        (b, col_b): (&str, &str),
    ) -> Option<(f64, f64, f64)> {
        let (x, y) = (self.values(a, col_a)?, self.values(b, col_b)?);
        let r: Vec<f64> = x.iter().zip(y).map(|(x, y)| x / y).collect();
        if r.is_empty() {
            return None;
        }
        let (lo, hi) = range(&r);
        Some((median(r), lo, hi))
    }

    /// A row of the summary: `col`'s medians for Aether, coerce and the
    /// floors `raw` (other rows of this table; the first one's ratio is
    /// given), with the ratios of the rounds.
    pub fn summary(&self, scenario: &str, col: &str, raw: &[&str]) -> SummaryRow {
        let raw: Vec<(&str, &str)> = raw.iter().map(|r| (*r, col)).collect();
        self.summary_of(scenario, col, col, &raw)
    }

    /// A summary row comparing Aether's `col_a` with coerce's `col_c` and
    /// with each floor's own column (for figures that live in different
    /// columns per side, like each store's server CPU).
    pub fn summary_of(
        &self,
        scenario: &str,
        col_a: &str,
        col_c: &str,
        raw: &[(&str, &str)],
    ) -> SummaryRow {
        let med = |side: &str, col: &str| {
            self.median(side, col)
                .map_or("—".to_string(), |m| human(m, col))
        };
        let raw_cell = raw
            .iter()
            .map(|(r, col)| {
                if raw.len() > 1 {
                    format!("{r}: {}", med(r, col))
                } else {
                    med(r, col)
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        SummaryRow {
            scenario: scenario.to_string(),
            aether: med(AETHER, col_a),
            coerce: med(COERCE, col_c),
            aether_coerce: ratio_cell(self.ratio_of((AETHER, col_a), (COERCE, col_c))),
            raw: if raw.is_empty() {
                "—".into()
            } else {
                raw_cell
            },
            aether_raw: raw.first().map_or("—".into(), |r| {
                ratio_cell(self.ratio_of((AETHER, col_a), *r))
            }),
        }
    }
}

/// One line of the summary.
pub struct SummaryRow {
    pub scenario: String,
    pub aether: String,
    pub coerce: String,
    pub aether_coerce: String,
    pub raw: String,
    pub aether_raw: String,
}

pub fn print_summary(title: &str, rows: &[SummaryRow]) {
    if rows.is_empty() {
        return;
    }
    println!("\n## {title}\n");
    println!("| scenario | Aether | coerce | Aether / coerce | raw | Aether / raw |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.scenario, r.aether, r.coerce, r.aether_coerce, r.raw, r.aether_raw
        );
    }
}
