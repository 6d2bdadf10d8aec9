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
//! The table keeps **one row per partition** of the log (the projection's
//! [`LogCursor`]): saving an event's position writes its partition's row
//! only, so the transaction stays as small as before partitions existed.
//!
//! ```
//! use aether_core::{LogCursor, LogPosition};
//! use aether_projection::sqlite;
//! let mut db = rusqlite::Connection::open_in_memory().unwrap();
//! sqlite::create_table(&db).unwrap();
//! let tx = db.transaction().unwrap();
//! // ... the read model's writes for this event, then:
//! sqlite::save_position(&tx, "balances", LogPosition::new(7, 0)).unwrap();
//! tx.commit().unwrap();
//! // An event of another partition: its own row.
//! sqlite::save_position(&db, "balances", LogPosition::in_partition(3, 2, 0)).unwrap();
//! let cursor = sqlite::load_position(&db, "balances").unwrap();
//! assert_eq!(cursor.to_string(), "7.0,3:2.0");
//! ```

use aether_core::{Error, LogCursor, LogPosition, Result};
use rusqlite::{Connection, params};

/// The table: one row per projection and log partition.
pub const TABLE: &str = "aether_projection_positions";

fn storage(what: &str, e: rusqlite::Error) -> Error {
    Error::storage_with(format!("sqlite: {what}"), e)
}

/// Creates the positions table if it does not exist, and brings a table of
/// an earlier version (one row per projection, no partition) to the current
/// shape: its rows become partition 0's, as they were.
pub fn create_table(db: &Connection) -> Result<()> {
    let columns: Vec<String> = {
        let mut stmt = db
            .prepare(&format!("PRAGMA table_info({TABLE})"))
            .map_err(|e| storage("reading the positions table", e))?;
        stmt.query_map([], |r| r.get::<_, String>(1))
            .and_then(|rows| rows.collect())
            .map_err(|e| storage("reading the positions table", e))?
    };
    let create = format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (
             projection TEXT NOT NULL,
             part INTEGER NOT NULL DEFAULT 0,
             epoch INTEGER NOT NULL DEFAULT 0,
             sequence INTEGER NOT NULL,
             idx INTEGER NOT NULL,
             PRIMARY KEY (projection, part)
         )"
    );
    if !columns.is_empty() && !columns.iter().any(|c| c == "part") {
        // The table before partitions: rebuild it with the new key, in one
        // transaction (SQLite cannot change a primary key in place).
        return db
            .execute_batch(&format!(
                "SAVEPOINT aether_positions;
                 ALTER TABLE {TABLE} RENAME TO {TABLE}_v1;
                 {create};
                 INSERT INTO {TABLE} (projection, part, epoch, sequence, idx)
                     SELECT projection, 0, 0, sequence, idx FROM {TABLE}_v1;
                 DROP TABLE {TABLE}_v1;
                 RELEASE aether_positions;"
            ))
            .map_err(|e| storage("upgrading the positions table", e));
    }
    db.execute_batch(&create)
        .map_err(|e| storage("creating the positions table", e))
}

/// The committed cursor of projection `name`: one position per partition
/// it has handled events of (empty: nothing yet).
///
/// # Errors
///
/// [`Error::Serialization`] for rows no cursor can hold (negative numbers,
/// positions of two layout epochs), [`Error::Storage`] when SQLite fails.
pub fn load_position(db: &Connection, name: &str) -> Result<LogCursor> {
    let mut stmt = db
        .prepare(&format!(
            "SELECT part, epoch, sequence, idx FROM {TABLE} WHERE projection = ?1"
        ))
        .map_err(|e| storage("loading the position", e))?;
    let rows: Vec<(i64, i64, i64, i64)> = stmt
        .query_map(params![name], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| storage("loading the position", e))?;
    let bad =
        |what: &str| Error::serialization(format!("projection {name}'s stored position: {what}"));
    let positions = rows
        .into_iter()
        .map(|(partition, epoch, seq, idx)| {
            Ok(LogPosition::in_partition(
                u16::try_from(partition).map_err(|_| bad("a partition out of range"))?,
                u64::try_from(seq).map_err(|_| bad("a negative sequence"))?,
                u32::try_from(idx).map_err(|_| bad("an index out of range"))?,
            )
            .with_epoch(u16::try_from(epoch).map_err(|_| bad("an epoch out of range"))?))
        })
        .collect::<Result<Vec<_>>>()?;
    LogCursor::from_positions(positions).map_err(|e| bad(&e.to_string()))
}

/// Sets projection `name`'s position in `position`'s partition; call
/// inside the transaction that writes the event's effect (a
/// `rusqlite::Transaction` derefs to a `Connection`).
///
/// # Errors
///
/// [`Error::InvalidInput`] for a sequence beyond `i64::MAX`,
/// [`Error::Storage`] when SQLite fails.
pub fn save_position(db: &Connection, name: &str, position: LogPosition) -> Result<()> {
    let seq = i64::try_from(position.sequence)
        .map_err(|_| Error::invalid_input("a sequence beyond i64::MAX"))?;
    db.execute(
        &format!(
            "INSERT INTO {TABLE} (projection, part, epoch, sequence, idx)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(projection, part) DO UPDATE SET
                 epoch = excluded.epoch, sequence = excluded.sequence, idx = excluded.idx"
        ),
        params![
            name,
            i64::from(position.partition),
            i64::from(position.epoch),
            seq,
            i64::from(position.index)
        ],
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_of_an_earlier_version_is_upgraded_keeping_its_positions() {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(&format!(
            "CREATE TABLE {TABLE} (projection TEXT PRIMARY KEY, sequence INTEGER NOT NULL, idx INTEGER NOT NULL);
             INSERT INTO {TABLE} VALUES ('balances', 42, 1), ('other', 7, 0);"
        ))
        .unwrap();
        create_table(&db).unwrap();
        create_table(&db).unwrap(); // idempotent
        assert_eq!(load_position(&db, "balances").unwrap().to_string(), "42.1");
        assert_eq!(load_position(&db, "other").unwrap().to_string(), "7.0");
        save_position(&db, "balances", LogPosition::new(43, 0)).unwrap();
        save_position(&db, "balances", LogPosition::in_partition(2, 5, 0)).unwrap();
        assert_eq!(
            load_position(&db, "balances").unwrap().to_string(),
            "43.0,2:5.0"
        );
        delete_position(&db, "balances").unwrap();
        assert!(load_position(&db, "balances").unwrap().is_empty());
    }

    #[test]
    fn rows_of_two_epochs_are_refused() {
        let db = Connection::open_in_memory().unwrap();
        create_table(&db).unwrap();
        save_position(&db, "p", LogPosition::new(3, 0)).unwrap();
        save_position(&db, "p", LogPosition::in_partition(1, 3, 0).with_epoch(1)).unwrap();
        let e = load_position(&db, "p").unwrap_err();
        assert!(matches!(e, Error::Serialization { .. }), "{e}");
    }
}
