//! Crash safety of the embedded store: a writer process is killed with
//! SIGKILL mid-stream, again and again; after each restart every write it
//! had been told was committed is there, and revisions never go backwards.
//!
//! The writer is this same test binary re-executed in "child mode".

use std::{
    collections::BTreeMap,
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use strait_control::store::{ListOptions, SqliteStore, Store};

const CHILD_ENV: &str = "STRAIT_STORE_CRASH_DB";

/// Child mode: four concurrent writers create and update keys forever,
/// printing `ack <key> <revision> <value>` after each acknowledged write.
#[test]
fn crash_writer_child() {
    let Some(db) = std::env::var_os(CHILD_ENV) else {
        return; // a normal test run: nothing to do
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let store = SqliteStore::open(Path::new(&db)).expect("store opens");
        let mut writers = Vec::new();
        for w in 0..4 {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                let pid = std::process::id();
                for i in 0u64.. {
                    let key = format!("/crash/{pid}-{w}-{}", i / 2);
                    let value = format!("{i}").into_bytes();
                    let record = if i % 2 == 0 {
                        store.create(&key, value.clone()).await
                    } else {
                        store.update(&key, value.clone(), None).await
                    }
                    .expect("write");
                    println!("ack {key} {} {i}", record.mod_revision);
                }
            }));
        }
        for writer in writers {
            let _ = writer.await;
        }
    });
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::TempDir::new().expect("tempdir");
    let db = dir.path().join("store.db");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut acked: BTreeMap<String, (i64, String)> = BTreeMap::new();
    let mut last_revision = 0;

    for round in 0..6u64 {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "crash_writer_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &db)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("writer starts");
        let stdout = child.stdout.take().expect("stdout");
        let (lines_tx, lines_rx) = mpsc::channel();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Let it write for a while (varying per round), then kill it hard.
        let run_for = Duration::from_millis(150 + 70 * round);
        let start = Instant::now();
        let mut round_acks = 0;
        while start.elapsed() < run_for || round_acks == 0 {
            if let Ok(line) = lines_rx.recv_timeout(Duration::from_millis(10))
                && let Some(ack) = parse_ack(&line)
            {
                round_acks += 1;
                acked.insert(ack.0, ack.1);
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "writer made no progress"
            );
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        // Lines already written before the kill were acknowledged too.
        let _ = reader.join();
        for line in lines_rx.try_iter() {
            if let Some(ack) = parse_ack(&line) {
                acked.insert(ack.0, ack.1);
            }
        }

        runtime.block_on(async {
            let store = SqliteStore::open(&db).expect("store reopens after SIGKILL");
            let revision = store.revision().await.expect("revision");
            assert!(revision >= last_revision, "revision went backwards");
            last_revision = revision;
            let page = store
                .list("/crash/", ListOptions::default())
                .await
                .expect("list");
            let stored: BTreeMap<&str, (i64, &[u8])> = page
                .records
                .iter()
                .map(|r| (r.key.as_str(), (r.mod_revision, r.value.as_slice())))
                .collect();
            for (key, (ack_revision, value)) in &acked {
                let (revision, stored_value) = stored
                    .get(key.as_str())
                    .unwrap_or_else(|| panic!("acknowledged {key} lost after round {round}"));
                // A later, unacknowledged write may have landed too; never an older one.
                assert!(
                    revision >= ack_revision,
                    "{key} went back to revision {revision}"
                );
                if revision == ack_revision {
                    assert_eq!(*stored_value, value.as_bytes(), "{key}");
                }
            }
        });
        assert!(round_acks > 0);
    }
    assert!(
        acked.len() > 100,
        "the writers made real progress ({} keys)",
        acked.len()
    );
}

fn parse_ack(line: &str) -> Option<(String, (i64, String))> {
    let mut parts = line.strip_prefix("ack ")?.split(' ');
    let key = parts.next()?.to_owned();
    let revision = parts.next()?.parse().ok()?;
    let value = parts.next()?.to_owned();
    Some((key, (revision, value)))
}
