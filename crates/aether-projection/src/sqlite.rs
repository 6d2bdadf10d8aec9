//! Positions kept in SQLite with the read model, for exactly-once effects
//! (feature `sqlite`).
//!
//! Write the read model's rows and [`save_position`] in **one transaction**
//! in [`crate::Projection::handle`], report [`load_position`] from
//! [`crate::Projection::position`], and run the projection with
//! [`crate::Checkpointing::InProjection`]: a crash either loses both the
//! effect and the position (the event comes again) or keeps both (it does
//! not), so each event's effect is committed exactly once.
//!
//! ```
//! use aether_core::LogPosition;
//! use aether_projection::sqlite;
//! let mut db = rusqlite::Connection::open_in_memory().unwrap();
//! sqlite::create_table(&db).unwrap();
//! let tx = db.transaction().unwrap();
//! // ... the read model's writes for this event, then:
//! sqlite::save_position(&tx, "balances", LogPosition::new(7, 0)).unwrap();
//! tx.commit().unwrap();
//! assert_eq!(sqlite::load_position(&db, "balances").unwrap(), Some(LogPosition::new(7, 0)));
//! ```

use aether_core::{Error, LogPosition, Result};
use rusqlite::{Connection, OptionalExtension, params};

/// The table: one row per projection.
pub const TABLE: &str = "aether_projection_positions";

fn storage(what: &str, e: rusqlite::Error) -> Error {
    Error::storage_with(format!("sqlite: {what}"), e)
}

/// Creates the positions table if it does not exist.
pub fn create_table(db: &Connection) -> Result<()> {
    db.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (
             projection TEXT PRIMARY KEY,
             sequence INTEGER NOT NULL,
             idx INTEGER NOT NULL
         )"
    ))
    .map_err(|e| storage("creating the positions table", e))
}

/// The committed position of projection `name`.
pub fn load_position(db: &Connection, name: &str) -> Result<Option<LogPosition>> {
    let row: Option<(i64, i64)> = db
        .query_row(
            &format!("SELECT sequence, idx FROM {TABLE} WHERE projection = ?1"),
            params![name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(|e| storage("loading the position", e))?;
    row.map(|(seq, idx)| {
        Ok(LogPosition::new(
            u64::try_from(seq).map_err(|_| Error::serialization("a negative stored sequence"))?,
            u32::try_from(idx).map_err(|_| Error::serialization("a stored index out of range"))?,
        ))
    })
    .transpose()
}

/// Sets projection `name`'s position; call inside the transaction that
/// writes the event's effect (a `rusqlite::Transaction` derefs to a
/// `Connection`).
pub fn save_position(db: &Connection, name: &str, position: LogPosition) -> Result<()> {
    let seq = i64::try_from(position.sequence)
        .map_err(|_| Error::invalid_input("a sequence beyond i64::MAX"))?;
    db.execute(
        &format!(
            "INSERT INTO {TABLE} (projection, sequence, idx) VALUES (?1, ?2, ?3)
             ON CONFLICT(projection) DO UPDATE SET sequence = excluded.sequence, idx = excluded.idx"
        ),
        params![name, seq, i64::from(position.index)],
    )
    .map_err(|e| storage("saving the position", e))?;
    Ok(())
}

/// Forgets projection `name`'s position (for [`crate::Projection::reset`]).
pub fn delete_position(db: &Connection, name: &str) -> Result<()> {
    db.execute(
        &format!("DELETE FROM {TABLE} WHERE projection = ?1"),
        params![name],
    )
    .map_err(|e| storage("deleting the position", e))?;
    Ok(())
}
