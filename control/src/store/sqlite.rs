//! The embedded default backend: SQLite as a revision log, the way k3s's
//! kine keeps Kubernetes in SQLite.
//!
//! Table `kv` has one row per write; its `id` is the revision. A key's
//! current value is its newest row, unless that row marks a delete. History
//! for watches is the rows after a revision; compaction drops rows no read
//! at or after the compaction point can need. WAL with `synchronous=FULL`
//! makes every commit durable before the write is acknowledged.
//!
//! Writes go through one connection under a lock (SQLite has one writer
//! anyway) and are broadcast to watches in revision order. Reads use a
//! second connection, so they never wait for an fsync.
//!
//! Several processes may open the same file (two `strait control` replicas
//! on one data dir): SQLite serializes their writes, and a follower thread
//! per process polls the log for revisions written elsewhere and broadcasts
//! them, so a watch on any replica sees every write, in revision order.

use std::{
    path::Path,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use tokio::sync::broadcast;

use super::{
    Event, EventKind, ListOptions, ListPage, Record, Revision, Store, StoreError, Watch,
    prefix_end,
    watch::{self, History},
};

/// Tuning of a [`SqliteStore`].
#[derive(Clone, Copy, Debug)]
pub struct SqliteOptions {
    /// Live events buffered per watcher before it must catch up from disk.
    pub live_buffer: usize,
    /// How often idle watches report progress (for BOOKMARK events).
    pub progress_every: Duration,
    /// How often the log is polled for writes made by other processes.
    pub follow_every: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            live_buffer: 4096,
            progress_every: Duration::from_secs(1),
            follow_every: Duration::from_millis(20),
        }
    }
}

/// A [`Store`] in one SQLite database file.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    live: broadcast::Sender<Arc<Event>>,
    /// The newest revision broadcast; held while broadcasting, so events go
    /// out in revision order whichever process wrote them.
    published: Mutex<Revision>,
    options: SqliteOptions,
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS kv (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name BLOB NOT NULL,
        created INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        create_revision INTEGER NOT NULL,
        prev_revision INTEGER NOT NULL,
        value BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` with default options.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, SqliteOptions::default())
    }

    /// Opens (creating if needed) the database at `path`.
    pub fn open_with(path: &Path, options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        let connect = || -> Result<Connection, StoreError> {
            let conn = Connection::open(path)
                .map_err(|e| StoreError::Backend(format!("opening {}: {e}", path.display())))?;
            conn.busy_timeout(Duration::from_secs(10))
                .map_err(backend)?;
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(backend)?;
            // FULL: the WAL is fsynced at every commit, so an acknowledged
            // write survives a crash or power loss.
            conn.pragma_update(None, "synchronous", "FULL")
                .map_err(backend)?;
            Ok(conn)
        };
        let writer = connect()?;
        writer.execute_batch(SCHEMA).map_err(backend)?;
        let reader = connect()?;
        let follower = connect()?;
        let published = current_revision(&reader)?;
        let (live, _) = broadcast::channel(options.live_buffer.max(1));
        let inner = Arc::new(Inner {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            live,
            published: Mutex::new(published),
            options,
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("store-follower".into())
            .spawn(move || follow(weak, follower, options.follow_every))
            .map_err(|e| StoreError::Backend(format!("starting the store follower: {e}")))?;
        Ok(SqliteStore { inner })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| StoreError::Backend(format!("store task: {e}")))?
    }
}

fn lock(conn: &Mutex<Connection>) -> Result<MutexGuard<'_, Connection>, StoreError> {
    conn.lock()
        .map_err(|_| StoreError::Backend("a store operation panicked earlier".into()))
}

/// The newest revision ever assigned; it survives compaction, so revisions
/// never go backwards.
fn current_revision(conn: &Connection) -> Result<Revision, StoreError> {
    conn.query_row(
        "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'kv'), 0)",
        [],
        |row| row.get(0),
    )
    .map_err(backend)
}

fn compacted_revision(conn: &Connection) -> Result<Revision, StoreError> {
    conn.query_row(
        "SELECT COALESCE((SELECT value FROM meta WHERE key = 'compact_revision'), 0)",
        [],
        |row| row.get(0),
    )
    .map_err(backend)
}

/// One row of `kv`.
struct Row {
    id: Revision,
    key: Vec<u8>,
    created: bool,
    deleted: bool,
    create_revision: Revision,
    prev_revision: Revision,
    value: Vec<u8>,
}

const ROW_COLUMNS: &str = "id, name, created, deleted, create_revision, prev_revision, value";

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: row.get(0)?,
        key: row.get(1)?,
        created: row.get(2)?,
        deleted: row.get(3)?,
        create_revision: row.get(4)?,
        prev_revision: row.get(5)?,
        value: row.get(6)?,
    })
}

impl Row {
    fn into_record(self) -> Result<Record, StoreError> {
        Ok(Record {
            key: String::from_utf8(self.key)
                .map_err(|_| StoreError::Backend("a stored key is not UTF-8".into()))?,
            value: self.value,
            create_revision: self.create_revision,
            mod_revision: self.id,
        })
    }
}

fn latest_row(conn: &Connection, key: &str) -> Result<Option<Row>, StoreError> {
    conn.query_row(
        &format!("SELECT {ROW_COLUMNS} FROM kv WHERE name = ?1 ORDER BY id DESC LIMIT 1"),
        [key.as_bytes()],
        read_row,
    )
    .optional()
    .map_err(backend)
}

fn row_by_revision(conn: &Connection, id: Revision) -> Result<Option<Row>, StoreError> {
    conn.query_row(
        &format!("SELECT {ROW_COLUMNS} FROM kv WHERE id = ?1"),
        [id],
        read_row,
    )
    .optional()
    .map_err(backend)
}

/// The kind of write, with what it needs.
enum Write {
    Create(Vec<u8>),
    Update(Vec<u8>, Option<Revision>),
    Delete(Option<Revision>),
}

impl Inner {
    /// Applies one write in an immediate transaction, commits (fsync), then
    /// broadcasts the event while still holding the writer lock, so watches
    /// see events in revision order.
    fn write(&self, key: &str, write: Write) -> Result<Record, StoreError> {
        let mut conn = lock(&self.writer)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let latest = latest_row(&tx, key)?.filter(|row| !row.deleted);
        let revision = current_revision(&tx)? + 1;
        let check = |expected: Option<Revision>, row: &Row| match expected {
            Some(expected) if expected != row.id => Err(StoreError::Conflict {
                key: key.to_owned(),
                expected,
                actual: row.id,
            }),
            _ => Ok(()),
        };
        let not_found = || StoreError::NotFound {
            key: key.to_owned(),
        };
        let (kind, create_revision, prev, value, deleted) = match write {
            Write::Create(value) => {
                if latest.is_some() {
                    return Err(StoreError::AlreadyExists {
                        key: key.to_owned(),
                    });
                }
                (EventKind::Created, revision, None, value, false)
            }
            Write::Update(value, expected) => {
                let row = latest.ok_or_else(not_found)?;
                check(expected, &row)?;
                (
                    EventKind::Updated,
                    row.create_revision,
                    Some(row),
                    value,
                    false,
                )
            }
            Write::Delete(expected) => {
                let row = latest.ok_or_else(not_found)?;
                check(expected, &row)?;
                let value = row.value.clone();
                (
                    EventKind::Deleted,
                    row.create_revision,
                    Some(row),
                    value,
                    true,
                )
            }
        };
        tx.execute(
            "INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                revision,
                key.as_bytes(),
                kind == EventKind::Created,
                deleted,
                create_revision,
                prev.as_ref().map_or(0, |row| row.id),
                value,
            ],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;

        let record = Record {
            key: key.to_owned(),
            value,
            create_revision,
            mod_revision: revision,
        };
        let prev = prev.map(Row::into_record).transpose()?;
        let event = Event {
            kind,
            record: record.clone(),
            prev,
        };
        self.publish(&conn, revision, Some(event))?;
        Ok(record)
    }

    /// Broadcasts every committed event through `through` not yet broadcast,
    /// in revision order: `own` (the event at `through`, when this process
    /// wrote it) from memory, anything before it from the log (written by
    /// another process).
    fn publish(
        &self,
        conn: &Connection,
        through: Revision,
        own: Option<Event>,
    ) -> Result<(), StoreError> {
        let mut published = self
            .published
            .lock()
            .map_err(|_| StoreError::Backend("a store operation panicked earlier".into()))?;
        let known = if own.is_some() { through - 1 } else { through };
        while *published < known {
            let (events, _) = events_after(conn, "", *published, 1000)?;
            let Some(last) = events.last().map(Event::revision) else {
                // Rows in the gap were compacted away; nothing to replay.
                *published = known;
                break;
            };
            for event in events.into_iter().filter(|e| e.revision() <= known) {
                // No receivers is fine: nobody is watching.
                let _ = self.live.send(Arc::new(event));
            }
            *published = last.min(known);
        }
        if let Some(event) = own
            && *published < through
        {
            let _ = self.live.send(Arc::new(event));
            *published = through;
        }
        Ok(())
    }

    fn list(&self, prefix: &str, options: &ListOptions) -> Result<ListPage, StoreError> {
        let mut conn = lock(&self.reader)?;
        // One read transaction: the revision and the rows are one snapshot.
        let tx = conn.transaction().map_err(backend)?;
        let current = current_revision(&tx)?;
        let at = match options.at {
            None => current,
            Some(at) if at > current => {
                return Err(StoreError::FutureRevision {
                    requested: at,
                    current,
                });
            }
            Some(at) => {
                let compacted = compacted_revision(&tx)?;
                if at < compacted {
                    return Err(StoreError::Compacted {
                        requested: at,
                        compacted,
                    });
                }
                at
            }
        };
        let after = options.start_after.as_deref().unwrap_or("").as_bytes();
        // LIMIT -1 is SQLite's "no limit"; one extra row tells whether more remain.
        let limit = options
            .limit
            .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX - 1) + 1);
        let mut statement = tx
            .prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM kv JOIN (
                     SELECT MAX(id) AS latest FROM kv
                     WHERE name >= ?1 AND (?2 IS NULL OR name < ?2) AND name > ?3 AND id <= ?4
                     GROUP BY name
                 ) ON id = latest
                 WHERE deleted = 0 ORDER BY name LIMIT ?5"
            ))
            .map_err(backend)?;
        let rows = statement
            .query_map(
                params![prefix.as_bytes(), prefix_end(prefix), after, at, limit],
                read_row,
            )
            .map_err(backend)?;
        let mut records = Vec::new();
        for row in rows {
            records.push(row.map_err(backend)?.into_record()?);
        }
        let more = options.limit.is_some_and(|n| records.len() > n);
        if let Some(n) = options.limit {
            records.truncate(n);
        }
        Ok(ListPage {
            records,
            revision: at,
            more,
        })
    }

    fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        let mut conn = lock(&self.writer)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let current = current_revision(&tx)?;
        if revision > current {
            return Err(StoreError::FutureRevision {
                requested: revision,
                current,
            });
        }
        if revision <= compacted_revision(&tx)? {
            return Ok(());
        }
        // A row at or before the point goes if a newer row of its key is also
        // at or before it (no read at or after the point can see it), or if
        // it marks a delete. The newest row per key at the point stays, so
        // every later row's predecessor is still there.
        tx.execute(
            "DELETE FROM kv WHERE id <= ?1 AND (
                 deleted = 1
                 OR id < (SELECT MAX(newer.id) FROM kv AS newer
                          WHERE newer.name = kv.name AND newer.id <= ?1))",
            [revision],
        )
        .map_err(backend)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('compact_revision', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [revision],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)
    }
}

impl History for Inner {
    fn events_after(
        &self,
        prefix: &str,
        after: Revision,
        limit: usize,
    ) -> Result<(Vec<Event>, Revision), StoreError> {
        let mut conn = lock(&self.reader)?;
        let tx = conn.transaction().map_err(backend)?;
        let compacted = compacted_revision(&tx)?;
        if after < compacted {
            return Err(StoreError::Compacted {
                requested: after,
                compacted,
            });
        }
        events_after(&tx, prefix, after, limit)
    }
}

/// Up to `limit` events under `prefix` after revision `after`, and the
/// current revision, read in one snapshot when `conn` is in a transaction.
fn events_after(
    conn: &Connection,
    prefix: &str,
    after: Revision,
    limit: usize,
) -> Result<(Vec<Event>, Revision), StoreError> {
    let current = current_revision(conn)?;
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM kv
             WHERE id > ?1 AND name >= ?2 AND (?3 IS NULL OR name < ?3)
             ORDER BY id LIMIT ?4"
        ))
        .map_err(backend)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = statement
        .query_map(
            params![after, prefix.as_bytes(), prefix_end(prefix), limit],
            read_row,
        )
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        let kind = match (row.created, row.deleted) {
            (_, true) => EventKind::Deleted,
            (true, false) => EventKind::Created,
            (false, false) => EventKind::Updated,
        };
        let prev = match row.prev_revision {
            0 => None,
            id => row_by_revision(conn, id)?
                .map(Row::into_record)
                .transpose()?,
        };
        events.push(Event {
            kind,
            record: row.into_record()?,
            prev,
        });
    }
    Ok((events, current))
}

/// The follower: until the store is dropped, polls the log for revisions
/// another process committed and broadcasts them.
fn follow(inner: std::sync::Weak<Inner>, conn: Connection, every: Duration) {
    loop {
        std::thread::sleep(every);
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let behind = match (current_revision(&conn), inner.published.lock()) {
            (Ok(current), Ok(published)) => current > *published,
            _ => false,
        };
        if behind {
            let result = conn
                .unchecked_transaction()
                .map_err(backend)
                .and_then(|tx| {
                    let current = current_revision(&tx)?;
                    inner.publish(&tx, current, None)
                });
            if let Err(e) = result {
                tracing::warn!(error = %e, "following the store log");
            }
        }
    }
}

impl Store for SqliteStore {
    async fn revision(&self) -> Result<Revision, StoreError> {
        self.blocking(|inner| current_revision(&*lock(&inner.reader)?))
            .await
    }

    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        let key = key.to_owned();
        self.blocking(move |inner| {
            latest_row(&*lock(&inner.reader)?, &key)?
                .filter(|row| !row.deleted)
                .map(Row::into_record)
                .transpose()
        })
        .await
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListPage, StoreError> {
        let prefix = prefix.to_owned();
        self.blocking(move |inner| inner.list(&prefix, &options))
            .await
    }

    async fn create(&self, key: &str, value: Vec<u8>) -> Result<Record, StoreError> {
        let key = key.to_owned();
        self.blocking(move |inner| inner.write(&key, Write::Create(value)))
            .await
    }

    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: Option<Revision>,
    ) -> Result<Record, StoreError> {
        let key = key.to_owned();
        self.blocking(move |inner| inner.write(&key, Write::Update(value, expected)))
            .await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Record, StoreError> {
        let key = key.to_owned();
        self.blocking(move |inner| inner.write(&key, Write::Delete(expected)))
            .await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<Watch, StoreError> {
        // Subscribe before checking, so nothing committed in between is lost.
        let live = self.inner.live.subscribe();
        let compacted = self
            .blocking(|inner| compacted_revision(&*lock(&inner.reader)?))
            .await?;
        if after < compacted {
            return Err(StoreError::Compacted {
                requested: after,
                compacted,
            });
        }
        Ok(watch::spawn(
            self.inner.clone(),
            live,
            prefix.to_owned(),
            after,
            self.inner.options.progress_every,
        ))
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.blocking(move |inner| inner.compact(revision)).await
    }
}

#[cfg(test)]
mod tests;
