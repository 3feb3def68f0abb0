//! Delivering a watch: replay history from the backend, then follow live
//! commits, without gaps or duplicates, in revision order.
//!
//! A backend broadcasts every committed [`Event`] in revision order. A watch
//! subscribes to that broadcast before it replays, so nothing committed
//! during the replay is missed; live events at or below the last replayed
//! revision are dropped as duplicates. A watcher that falls behind the
//! broadcast buffer replays again from where it was. This module holds no
//! storage of its own.

use std::{sync::Arc, time::Duration};

use tokio::sync::{broadcast, mpsc};

use super::{Event, Revision, StoreError};

/// How many undelivered items a watch buffers before the producer waits.
const WATCH_BUFFER: usize = 1024;

/// What a watch yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchItem {
    /// A change under the watched prefix.
    Event(Event),
    /// Every change up to this revision has been delivered (changes to
    /// other keys included, silently). The API layer turns it into a
    /// BOOKMARK.
    Progress(Revision),
}

/// A running watch. Dropping it stops the work behind it.
#[derive(Debug)]
pub struct Watch {
    items: mpsc::Receiver<Result<WatchItem, StoreError>>,
}

impl Watch {
    /// The next item, or `None` once the store shut down. An `Err` (history
    /// compacted while the watcher lagged, backend failure) ends the watch.
    pub async fn next(&mut self) -> Option<Result<WatchItem, StoreError>> {
        self.items.recv().await
    }
}

/// Reads history after a revision: the backend side of a watch.
pub(crate) trait History: Send + Sync + 'static {
    /// Events under `prefix` with revisions after `after`, in order, at most
    /// `limit` of them, and the revision the read was taken at. Fails with
    /// [`StoreError::Compacted`] when that history is gone.
    fn events_after(
        &self,
        prefix: &str,
        after: Revision,
        limit: usize,
    ) -> Result<(Vec<Event>, Revision), StoreError>;
}

/// Starts a watch of `prefix` after `after`, replaying from `history` and
/// then following `live`. `progress_every` paces [`WatchItem::Progress`].
pub(crate) fn spawn<H: History>(
    history: Arc<H>,
    live: broadcast::Receiver<Arc<Event>>,
    prefix: String,
    after: Revision,
    progress_every: Duration,
) -> Watch {
    let (tx, rx) = mpsc::channel(WATCH_BUFFER);
    tokio::spawn(run(history, live, prefix, after, progress_every, tx));
    Watch { items: rx }
}

type Sink = mpsc::Sender<Result<WatchItem, StoreError>>;

async fn run<H: History>(
    history: Arc<H>,
    mut live: broadcast::Receiver<Arc<Event>>,
    prefix: String,
    after: Revision,
    progress_every: Duration,
    tx: Sink,
) {
    let mut delivered = after;
    let Some(mut seen) = replay(&history, &prefix, &mut delivered, &tx).await else {
        return;
    };
    let mut reported = delivered;
    let mut tick = tokio::time::interval(progress_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(event) => {
                    let revision = event.revision();
                    if revision <= delivered {
                        continue; // already replayed
                    }
                    seen = revision;
                    if event.record.key.starts_with(&prefix) {
                        delivered = revision;
                        if tx.send(Ok(WatchItem::Event((*event).clone()))).await.is_err() {
                            return;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Fell behind the live buffer: catch up from history.
                    delivered = delivered.max(seen);
                    match replay(&history, &prefix, &mut delivered, &tx).await {
                        Some(through) => seen = through,
                        None => return,
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                let through = seen.max(delivered);
                if through > reported {
                    reported = through;
                    if tx.send(Ok(WatchItem::Progress(through))).await.is_err() {
                        return;
                    }
                }
            }
            () = tx.closed() => return,
        }
    }
}

/// Sends every stored event after `*delivered`, advancing it, and returns
/// the revision through which history has been read (every change up to it
/// is delivered). `None` when the watch is over (receiver gone, or an error
/// was sent).
async fn replay<H: History>(
    history: &Arc<H>,
    prefix: &str,
    delivered: &mut Revision,
    tx: &Sink,
) -> Option<Revision> {
    const PAGE: usize = 1000;
    loop {
        let (history, owned_prefix, from) = (history.clone(), prefix.to_owned(), *delivered);
        let page =
            tokio::task::spawn_blocking(move || history.events_after(&owned_prefix, from, PAGE))
                .await
                .unwrap_or_else(|e| Err(StoreError::Backend(format!("watch replay task: {e}"))));
        let (events, snapshot) = match page {
            Ok(page) => page,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return None;
            }
        };
        let full = events.len() == PAGE;
        for event in events {
            *delivered = event.revision();
            if tx.send(Ok(WatchItem::Event(event))).await.is_err() {
                return None;
            }
        }
        if !full {
            return Some(snapshot.max(*delivered));
        }
    }
}
