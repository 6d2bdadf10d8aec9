//! Errors about a model document: where (path, line:col) and what.

use std::fmt;

/// A line and column, both counted from 1 (columns in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One problem with a model: the path of the part at fault (such as
/// `commands.Withdraw.guards[1].when`), where in that part's text when known
/// (for a CEL expression: within the expression; for a document: within the
/// document), and what is wrong.
///
/// Displayed as `path: line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError {
    /// The path of the part at fault (`.` when the whole document).
    pub path: String,
    /// Line and column within that part (or the document), when known.
    pub position: Option<Position>,
    /// What is wrong, and a suggestion where there is one.
    pub message: String,
}

impl ModelError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ModelError {
            path: path.into(),
            position: None,
            message: message.into(),
        }
    }

    pub(crate) fn at(mut self, position: Option<Position>) -> Self {
        self.position = position;
        self
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{}: {p}: {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

impl std::error::Error for ModelError {}

/// All the problems `check` found, printed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelErrors(pub Vec<ModelError>);

impl fmt::Display for ModelErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ModelErrors {}
