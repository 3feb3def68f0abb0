//! The SQLite backend against the [`Store`] contract.

use std::time::Duration;

use tempfile::TempDir;

use super::*;
use crate::store::WatchItem;

fn open(dir: &TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("store.db")).expect("store opens")
}

fn keys(page: &ListPage) -> Vec<&str> {
    page.records.iter().map(|r| r.key.as_str()).collect()
}

/// Next event of a watch, skipping progress reports, with a deadline.
async fn next_event(watch: &mut Watch) -> Event {
    loop {
        let item = tokio::time::timeout(Duration::from_secs(5), watch.next())
            .await
            .expect("an item within 5 s")
            .expect("watch still open")
            .expect("no watch error");
        if let WatchItem::Event(event) = item {
            return event;
        }
    }
}

#[tokio::test]
async fn writes_get_consecutive_revisions_and_keep_create_revision() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    assert_eq!(store.revision().await.expect("revision"), 0);

    let a = store.create("/r/a", b"1".to_vec()).await.expect("create");
    assert_eq!((a.create_revision, a.mod_revision), (1, 1));
    let a2 = store
        .update("/r/a", b"2".to_vec(), Some(1))
        .await
        .expect("update");
    assert_eq!((a2.create_revision, a2.mod_revision), (1, 2));
    let b = store.create("/r/b", b"x".to_vec()).await.expect("create");
    assert_eq!(b.mod_revision, 3);
    let gone = store.delete("/r/a", None).await.expect("delete");
    assert_eq!((gone.value.as_slice(), gone.mod_revision), (&b"2"[..], 4));

    assert_eq!(store.get("/r/a").await.expect("get"), None);
    assert_eq!(store.get("/r/b").await.expect("get"), Some(b));
    assert_eq!(store.revision().await.expect("revision"), 4);

    // Re-creating a deleted key starts a new life.
    let again = store
        .create("/r/a", b"3".to_vec())
        .await
        .expect("re-create");
    assert_eq!((again.create_revision, again.mod_revision), (5, 5));
}

#[tokio::test]
async fn rejected_writes_change_nothing() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    store.create("/r/a", b"1".to_vec()).await.expect("create");

    let exists = store.create("/r/a", b"2".to_vec()).await;
    assert!(
        matches!(exists, Err(StoreError::AlreadyExists { .. })),
        "{exists:?}"
    );
    let stale = store.update("/r/a", b"2".to_vec(), Some(7)).await;
    assert!(
        matches!(
            stale,
            Err(StoreError::Conflict {
                expected: 7,
                actual: 1,
                ..
            })
        ),
        "{stale:?}"
    );
    let stale_delete = store.delete("/r/a", Some(0)).await;
    assert!(
        matches!(stale_delete, Err(StoreError::Conflict { .. })),
        "{stale_delete:?}"
    );
    let missing = store.update("/r/zz", b"2".to_vec(), None).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
    let missing = store.delete("/r/zz", None).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );

    assert_eq!(store.revision().await.expect("revision"), 1);
    let a = store.get("/r/a").await.expect("get").expect("present");
    assert_eq!((a.value.as_slice(), a.mod_revision), (&b"1"[..], 1));
}

#[tokio::test]
async fn lists_a_prefix_in_key_order_with_consistent_pages() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    for key in [
        "/r/pods/b",
        "/r/pods/a",
        "/r/pods/c",
        "/r/podsx/z",
        "/r/pod",
        "/r/svc/a",
    ] {
        store
            .create(key, key.as_bytes().to_vec())
            .await
            .expect("create");
    }
    store.delete("/r/pods/c", None).await.expect("delete");

    let all = store
        .list("/r/pods/", ListOptions::default())
        .await
        .expect("list");
    assert_eq!(keys(&all), ["/r/pods/a", "/r/pods/b"]);
    assert_eq!(all.revision, 7);
    assert!(!all.more);

    // Page 1, then writes, then page 2 at page 1's revision: one snapshot.
    let first = store
        .list(
            "/r/",
            ListOptions {
                limit: Some(2),
                ..ListOptions::default()
            },
        )
        .await
        .expect("page 1");
    assert_eq!(keys(&first), ["/r/pod", "/r/pods/a"]);
    assert!(first.more);
    store
        .create("/r/pods/aa", b"new".to_vec())
        .await
        .expect("create");
    store.delete("/r/svc/a", None).await.expect("delete");
    let second = store
        .list(
            "/r/",
            ListOptions {
                start_after: first.records.last().map(|r| r.key.clone()),
                limit: Some(10),
                at: Some(first.revision),
            },
        )
        .await
        .expect("page 2");
    assert_eq!(keys(&second), ["/r/pods/b", "/r/podsx/z", "/r/svc/a"]);
    assert!(!second.more);
    assert_eq!(second.revision, first.revision);

    let future = store
        .list(
            "/r/",
            ListOptions {
                at: Some(99),
                ..ListOptions::default()
            },
        )
        .await;
    assert!(
        matches!(future, Err(StoreError::FutureRevision { .. })),
        "{future:?}"
    );
}

#[tokio::test]
async fn data_and_revisions_survive_a_reopen() {
    let dir = TempDir::new().expect("tempdir");
    {
        let store = open(&dir);
        store.create("/r/a", b"1".to_vec()).await.expect("create");
        store.create("/r/b", b"2".to_vec()).await.expect("create");
        store.delete("/r/b", None).await.expect("delete");
        // Compaction drops the delete row, the newest row of all.
        store.compact(3).await.expect("compact");
    }
    let store = open(&dir);
    assert_eq!(
        store.revision().await.expect("revision"),
        3,
        "never goes backwards"
    );
    let a = store.get("/r/a").await.expect("get").expect("present");
    assert_eq!(a.value, b"1");
    let next = store.create("/r/c", b"3".to_vec()).await.expect("create");
    assert_eq!(next.mod_revision, 4);
}

#[tokio::test]
async fn compaction_drops_old_history_but_not_live_data() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    store.create("/r/a", b"1".to_vec()).await.expect("create"); // 1
    store
        .update("/r/a", b"2".to_vec(), None)
        .await
        .expect("update"); // 2
    store.create("/r/b", b"x".to_vec()).await.expect("create"); // 3
    store.delete("/r/b", None).await.expect("delete"); // 4
    store
        .update("/r/a", b"3".to_vec(), None)
        .await
        .expect("update"); // 5
    store.compact(4).await.expect("compact");

    let old = store
        .list(
            "/r/",
            ListOptions {
                at: Some(3),
                ..ListOptions::default()
            },
        )
        .await;
    assert!(
        matches!(
            old,
            Err(StoreError::Compacted {
                requested: 3,
                compacted: 4
            })
        ),
        "{old:?}"
    );
    let at_point = store
        .list(
            "/r/",
            ListOptions {
                at: Some(4),
                ..ListOptions::default()
            },
        )
        .await
        .expect("a read at the compaction point works");
    assert_eq!(keys(&at_point), ["/r/a"]);
    assert_eq!(at_point.records[0].value, b"2");
    let now = store
        .list("/r/", ListOptions::default())
        .await
        .expect("list");
    assert_eq!(keys(&now), ["/r/a"]);
    assert_eq!(now.records[0].value, b"3");

    let watch = store.watch("/r/", 2).await;
    assert!(
        matches!(watch, Err(StoreError::Compacted { .. })),
        "{watch:?}"
    );
    // History after the point is whole, predecessors included.
    let mut watch = store.watch("/r/", 4).await.expect("watch at the point");
    let event = next_event(&mut watch).await;
    assert_eq!(event.kind, EventKind::Updated);
    assert_eq!(event.record.value, b"3");
    assert_eq!(event.prev.map(|p| p.value), Some(b"2".to_vec()));

    store
        .compact(2)
        .await
        .expect("compacting backwards is a no-op");
    assert!(
        store.compact(99).await.is_err(),
        "cannot compact the future"
    );
}

#[tokio::test]
async fn watch_replays_then_follows_live_writes_without_gaps_or_duplicates() {
    let dir = TempDir::new().expect("tempdir");
    let store = open(&dir);
    store
        .create("/r/pods/a", b"1".to_vec())
        .await
        .expect("create"); // 1
    store
        .create("/r/svc/a", b"s".to_vec())
        .await
        .expect("create"); // 2
    store
        .update("/r/pods/a", b"2".to_vec(), None)
        .await
        .expect("update"); // 3

    let mut watch = store.watch("/r/pods/", 0).await.expect("watch");
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                let key = format!("/r/{}/{}", if i % 2 == 0 { "pods" } else { "svc" }, i);
                store.create(&key, vec![1]).await.expect("create");
            }
            store.delete("/r/pods/a", None).await.expect("delete");
        })
    };

    let mut revisions = Vec::new();
    let mut kinds = Vec::new();
    while revisions.len() < 2 + 100 + 1 {
        let event = next_event(&mut watch).await;
        assert!(event.record.key.starts_with("/r/pods/"), "{event:?}");
        revisions.push(event.revision());
        kinds.push(event.kind);
    }
    writer.await.expect("writer");
    assert!(
        revisions.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing: {revisions:?}"
    );
    assert_eq!(&revisions[..2], &[1, 3]);
    assert_eq!(kinds[1], EventKind::Updated);
    assert_eq!(kinds.last(), Some(&EventKind::Deleted));
    // Pod keys were written at every other revision from 4 on.
    let expected: Vec<Revision> = (0..100).map(|i| 4 + 2 * i).collect();
    assert_eq!(&revisions[2..102], expected.as_slice());
}

#[tokio::test]
async fn a_watcher_that_lags_catches_up_from_disk() {
    let dir = TempDir::new().expect("tempdir");
    let store = SqliteStore::open_with(
        &dir.path().join("store.db"),
        SqliteOptions {
            live_buffer: 4,
            progress_every: Duration::from_secs(3600),
            ..SqliteOptions::default()
        },
    )
    .expect("store opens");
    let mut watch = store.watch("/r/", 0).await.expect("watch");
    // Far more writes than the live buffer holds, before the watcher reads.
    for i in 0..100 {
        store
            .create(&format!("/r/{i:03}"), vec![])
            .await
            .expect("create");
    }
    for expected in 1..=100 {
        assert_eq!(next_event(&mut watch).await.revision(), expected);
    }
}

#[tokio::test]
async fn idle_watches_report_progress_through_other_keys_writes() {
    let dir = TempDir::new().expect("tempdir");
    let store = SqliteStore::open_with(
        &dir.path().join("store.db"),
        SqliteOptions {
            live_buffer: 64,
            progress_every: Duration::from_millis(20),
            ..SqliteOptions::default()
        },
    )
    .expect("store opens");
    store.create("/r/other/1", vec![]).await.expect("create");
    let mut watch = store.watch("/r/quiet/", 0).await.expect("watch");
    store.create("/r/other/2", vec![]).await.expect("create");
    let progress = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match watch.next().await {
                Some(Ok(WatchItem::Progress(2))) => return,
                Some(Ok(WatchItem::Progress(_))) => continue,
                other => panic!("expected progress only, got {other:?}"),
            }
        }
    })
    .await;
    assert!(progress.is_ok(), "progress reached revision 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_file_see_each_others_writes_in_order() {
    // Two opens of one file behave as two processes (two replicas): each has
    // its own broadcast, fed by its follower for the other's writes.
    let dir = TempDir::new().expect("tempdir");
    let a = open(&dir);
    let b = open(&dir);
    let mut on_a = a.watch("/r/", 0).await.expect("watch a");
    let mut on_b = b.watch("/r/", 0).await.expect("watch b");
    let writers: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(n, store)| {
            tokio::spawn(async move {
                for i in 0..50 {
                    store
                        .create(&format!("/r/{n}/{i}"), vec![1])
                        .await
                        .expect("create");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    for watch in [&mut on_a, &mut on_b] {
        let mut revisions = Vec::new();
        while revisions.len() < 100 {
            revisions.push(next_event(watch).await.revision());
        }
        let expected: Vec<Revision> = (1..=100).collect();
        assert_eq!(revisions, expected, "every write once, in order");
    }
    assert_eq!(a.revision().await.expect("rev"), 100);
    assert_eq!(
        b.get("/r/0/49").await.expect("get").map(|r| r.value),
        Some(vec![1])
    );
}
