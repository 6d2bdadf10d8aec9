//! Decoding stored messages, inline for short replays and on a second task
//! for long ones (so decoding overlaps with receiving).
//!
//! A message holds one event (its JSON), or several: the events of one
//! atomic append, one JSON event per line (see `docs/architecture.md`, "The
//! stored format").

use aether_core::{ActorId, Error, Event, MalformedEvent, Replay, Result};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The events of one stored message: its lines (a one-event message is one
/// line; no encoded event holds a raw line break).
pub(crate) fn lines(payload: &[u8]) -> std::slice::Split<'_, u8, impl FnMut(&u8) -> bool> {
    payload.split(|b| *b == b'\n')
}

/// Decodes the last event of a stored message (the one its headers describe).
pub(crate) fn decode_last(payload: &[u8], actor: &ActorId) -> std::result::Result<Event, String> {
    let last = lines(payload).next_back().unwrap_or(payload);
    decode(last, actor)
}

/// Decodes one stored event (one line of a message) as an event of `actor`.
pub(crate) fn decode(payload: &[u8], actor: &ActorId) -> std::result::Result<Event, String> {
    let event = decode_any(payload)?;
    if &event.actor_id != actor {
        return Err(mismatch(&event, actor));
    }
    Ok(event)
}

/// Decodes one stored event, of whichever actor it names.
pub(crate) fn decode_any(payload: &[u8]) -> std::result::Result<Event, String> {
    Event::from_json_slice(payload).map_err(|e| {
        let mut text = e.to_string();
        if let Some(src) = std::error::Error::source(&e) {
            text = format!("{text}: {src}");
        }
        text
    })
}

/// Why `event`, stored under `actor`'s subject, is malformed.
pub(crate) fn mismatch(event: &Event, actor: &ActorId) -> String {
    format!(
        "event {} belongs to actor {:?}, not {:?}",
        event.id,
        event.actor_id.as_str(),
        actor.as_str()
    )
}

/// Stored messages: (stream sequence, payload).
type Chunk = Vec<(u64, Bytes)>;

/// Messages per chunk handed to the decoding task.
const CHUNK: usize = 256;

/// Turns stored messages (in stream order) into a [`Replay`]: keeps events
/// with version ≥ `from`, reports undecodable messages and versions that do
/// not increase.
#[derive(Debug)]
pub(crate) struct Decoder {
    actor: ActorId,
    from: u64,
    last_version: u64,
    replay: Replay,
}

impl Decoder {
    pub(crate) fn new(actor: ActorId, from: u64) -> Self {
        Self {
            actor,
            from,
            last_version: 0,
            replay: Replay::default(),
        }
    }

    /// Decodes every event of the message at stream sequence `position`.
    pub(crate) fn push(&mut self, position: u64, raw: Bytes) {
        if !raw.contains(&b'\n') {
            return self.push_event(position, raw);
        }
        let mut start = 0;
        for line in lines(&raw) {
            let end = start + line.len();
            self.push_event(position, raw.slice(start..end));
            start = end + 1;
        }
    }

    fn push_event(&mut self, position: u64, raw: Bytes) {
        match decode(&raw, &self.actor) {
            Ok(e) if e.version <= self.last_version => {
                let error = format!(
                    "version {} does not follow version {}",
                    e.version, self.last_version
                );
                self.replay
                    .malformed
                    .push(MalformedEvent::new(position, raw, error));
            }
            Ok(e) => {
                self.last_version = e.version;
                if e.version >= self.from {
                    self.replay.events.push(e);
                }
            }
            Err(error) => self
                .replay
                .malformed
                .push(MalformedEvent::new(position, raw, error)),
        }
    }

    pub(crate) fn finish(self) -> Replay {
        self.replay
    }
}

/// Feeds a [`Decoder`]: the first chunk is decoded inline; once a replay
/// proves long, chunks go to a spawned task running on another worker.
#[derive(Debug)]
pub(crate) struct Pipeline {
    chunk: Chunk,
    inline: Option<Decoder>,
    task: Option<(mpsc::Sender<Chunk>, JoinHandle<Decoder>)>,
}

impl Pipeline {
    pub(crate) fn new(decoder: Decoder) -> Self {
        Self {
            chunk: Vec::with_capacity(CHUNK),
            inline: Some(decoder),
            task: None,
        }
    }

    pub(crate) async fn push(&mut self, position: u64, raw: Bytes) {
        self.chunk.push((position, raw));
        if self.chunk.len() < CHUNK {
            return;
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        if self.task.is_none()
            && let Some(mut decoder) = self.inline.take()
        {
            let (tx, mut rx) = mpsc::channel::<Chunk>(16);
            let handle = tokio::spawn(async move {
                while let Some(chunk) = rx.recv().await {
                    for (p, raw) in chunk {
                        decoder.push(p, raw);
                    }
                }
                decoder
            });
            self.task = Some((tx, handle));
        }
        if let Some((tx, _)) = &self.task {
            // The task only ends when the sender is dropped, so this cannot fail.
            let _ = tx.send(chunk).await;
        }
    }

    /// The replay; an error only when the decoding task was cancelled
    /// (runtime shutting down).
    pub(crate) async fn finish(mut self) -> Result<Replay> {
        let rest = std::mem::take(&mut self.chunk);
        match (self.task.take(), self.inline.take()) {
            (Some((tx, handle)), _) => {
                let _ = tx.send(rest).await;
                drop(tx);
                match handle.await {
                    Ok(decoder) => Ok(decoder.finish()),
                    // The decoding task panicked: decoding never panics on
                    // input, so this is a bug; surface it.
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Err(e) => Err(Error::unavailable(format!(
                        "replay: the decoding task was cancelled: {e}"
                    ))),
                }
            }
            (None, Some(mut decoder)) => {
                for (p, raw) in rest {
                    decoder.push(p, raw);
                }
                Ok(decoder.finish())
            }
            (None, None) => Ok(Replay::default()),
        }
    }
}
