//! Local and cross-node event bus for Aether.
//!
//! Will hold the local bus (namespaces, `*`/`>` wildcards, filters by event type
//! and actor pattern, bounded queues with declared overflow policies) and
//! `NatsEventBus`, which carries events between processes over NATS.
