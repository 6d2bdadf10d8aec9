//! Test support for Aether: real `nats-server` guards and the store conformance suite.
