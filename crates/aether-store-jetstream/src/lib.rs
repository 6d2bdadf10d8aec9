//! NATS JetStream event and snapshot store for Aether.
//!
//! Will hold `JetStreamEventStore`: one subject per actor, optimistic concurrency
//! enforced by the server with `Nats-Expected-Last-Subject-Sequence`, atomic
//! batches, deduplication by event id, replay through ordered consumers, and
//! snapshots.
