//! Byte offsets in an expression's source to line:col.

use crate::error::Position;

/// The 1-based line and column (in characters) of byte `offset` in `source`.
pub(crate) fn position_of(source: &str, offset: usize) -> Position {
    let mut line = 1u32;
    let mut column = 1u32;
    for (i, c) in source.char_indices() {
        if i >= offset {
            break;
        }
        if c == '\n' {
            line = line.saturating_add(1);
            column = 1;
        } else {
            column = column.saturating_add(1);
        }
    }
    Position { line, column }
}
