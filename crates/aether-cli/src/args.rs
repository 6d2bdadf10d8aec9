//! The command line.

use clap::{Args, Parser, Subcommand};

/// Inspect and operate a running Aether system on NATS.
#[derive(Debug, Parser)]
#[command(name = "aether", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options of every command.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// NATS server URL(s), comma separated.
    #[arg(
        short,
        long,
        global = true,
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub(crate) server: String,
    /// User credentials file (JWT and NKey seed).
    #[arg(long, global = true, env = "NATS_CREDS")]
    pub(crate) creds: Option<String>,
    /// User name (with --password).
    #[arg(long, global = true, env = "NATS_USER")]
    pub(crate) user: Option<String>,
    /// Password (with --user).
    #[arg(long, global = true, env = "NATS_PASSWORD", hide_env_values = true)]
    pub(crate) password: Option<String>,
    /// Authentication token.
    #[arg(long, global = true, env = "NATS_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// File holding an NKey seed.
    #[arg(long, global = true, env = "NATS_NKEY")]
    pub(crate) nkey: Option<String>,
    /// CA certificate(s) to trust (PEM).
    #[arg(long = "tlsca", global = true, env = "NATS_CA")]
    pub(crate) tls_ca: Option<String>,
    /// Client certificate (PEM).
    #[arg(long = "tlscert", global = true, env = "NATS_CERT")]
    pub(crate) tls_cert: Option<String>,
    /// Client certificate's key (PEM).
    #[arg(long = "tlskey", global = true, env = "NATS_KEY")]
    pub(crate) tls_key: Option<String>,
    /// Start TLS before the server's greeting (handshake_first servers).
    #[arg(long = "tlsfirst", global = true)]
    pub(crate) tls_first: bool,
    /// Seconds to wait for the server.
    #[arg(long, global = true, env = "NATS_TIMEOUT", default_value_t = 5.0)]
    pub(crate) timeout: f64,
    /// Print JSON (one document, or one object per line when following).
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// The store's namespace.
    #[arg(short, long, global = true, default_value = "default")]
    pub(crate) namespace: String,
    /// The store's base stream name.
    #[arg(long, global = true, default_value = "AETHER")]
    pub(crate) stream_name: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Aether's event and snapshot streams: events, bytes, replicas, oldest and newest.
    Streams,
    /// The namespace's log partitions: streams, leaders, servers, sizes and write rates;
    /// balance their leaders, move one to other servers.
    Partitions(PartitionsArgs),
    /// An actor's history, decoded (version, type, time, metadata, data).
    Events(EventsArgs),
    /// An actor at a glance: latest version, snapshot, subject, last writers.
    Actor(ActorArgs),
    /// Live bus events whose actor matches a pattern.
    Tail(TailArgs),
    /// The cluster: members, leader, shards per node, the shard map.
    Cluster(ClusterArgs),
    /// The runtime's shard claims: holder, phase, revision.
    Claims(ClaimsArgs),
    /// Projections: position, lag and active instance.
    Projections(ProjectionsArgs),
    /// Rebuilds a projection: its active instance resets and replays the log; shows progress.
    Rebuild(RebuildArgs),
    /// Moves a shard to a node (pins it there in the shard map) and waits until the node serves it.
    Handoff(HandoffArgs),
    /// The actors active on a node of the runtime.
    Actors(ActorsArgs),
    /// Asks the node serving an actor to passivate it (it activates again on its next message).
    Passivate(PassivateArgs),
    /// Executable models: check and test a model file, publish it to the cluster, list, show and diff what is published.
    Model(ModelArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ModelArgs {
    /// What to do.
    #[command(subcommand)]
    pub(crate) what: ModelWhat,
    /// The model registry's KV bucket.
    #[arg(long, global = true, default_value = "aether-models")]
    pub(crate) bucket: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ModelWhat {
    /// Checks a model file (YAML, or JSON for `.json`): every problem with its path; no server needed.
    Check(ModelFileArgs),
    /// Runs a model file's examples: each failure, expected against got; no server needed.
    Test(ModelFileArgs),
    /// Publishes a model file as the version the cluster runs (the publish rules of docs/models.md).
    Publish(PublishArgs),
    /// The published models: each one's current version, hash and state fingerprint.
    List,
    /// A published model's canonical JSON (its current version, or the version given).
    Show(ShowArgs),
    /// What changed between two published versions of a model.
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ModelFileArgs {
    /// The model file.
    pub(crate) file: String,
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// The model file.
    pub(crate) file: String,
    /// Allow breaking changes: removing a command or an event type, tightening a command schema.
    #[arg(long)]
    pub(crate) breaking: bool,
    /// Publish despite a failed replay check; replace what an interrupted publish left under the version's key.
    #[arg(long)]
    pub(crate) force: bool,
    /// First fold the histories of up to N actors of the type (from the event store of --namespace and --stream-name) with the new version.
    #[arg(long, value_name = "N")]
    pub(crate) replay_check: Option<usize>,
    /// Apply the rules against what is published, write nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Replicas of the registry's bucket if this publish creates it.
    #[arg(long, default_value_t = 1)]
    pub(crate) replicas: usize,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The model's name (its actor type).
    pub(crate) name: String,
    /// The version (default: the one the cluster runs).
    #[arg(value_name = "VERSION")]
    pub(crate) at: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The model's name (its actor type).
    pub(crate) name: String,
    /// The older version.
    pub(crate) from: u32,
    /// The newer version.
    pub(crate) to: u32,
}

#[derive(Debug, Args)]
pub(crate) struct PartitionsArgs {
    /// What to do (default: list them).
    #[command(subcommand)]
    pub(crate) what: Option<PartitionsWhat>,
    /// Seconds between the two samples of each stream's last sequence that give its write
    /// rate (0: no rate).
    #[arg(long, global = true, default_value_t = 1.0)]
    pub(crate) sample: f64,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PartitionsWhat {
    /// Each partition: stream, leader, servers, messages, bytes, appends/s, placement tags.
    List,
    /// Spreads the leaders evenly over the servers holding the partitions (preferred
    /// stepdowns, in rounds until every server leads ⌊K/N⌋ or ⌈K/N⌉; the server picks
    /// leaders at random), and shows the moves; fails when they stay uneven.
    Balance,
    /// Moves a partition's stream to the servers with these placement tags, online, and
    /// waits until the move is done.
    Move(MoveArgs),
    /// Moves an unpartitioned namespace (one stream) to K partitions, online: copies it,
    /// seals the old stream (writes wait a moment), copies the tail, switches. Resumes an
    /// interrupted run.
    Repartition(RepartitionArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RepartitionArgs {
    /// The number of partitions (a power of two from 2 to 1024).
    #[arg(long)]
    pub(crate) to: u32,
}

#[derive(Debug, Args)]
pub(crate) struct MoveArgs {
    /// The partition.
    pub(crate) partition: u16,
    /// Placement tags (server_tags) of the servers to move it to, comma separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub(crate) tags: Vec<String>,
    /// Seconds to wait for the move to finish (0: do not wait).
    #[arg(long, default_value_t = 120.0)]
    pub(crate) wait: f64,
}

#[derive(Debug, Args)]
pub(crate) struct RebuildArgs {
    /// The projection's name.
    pub(crate) projection: String,
}

#[derive(Debug, Args)]
pub(crate) struct HandoffArgs {
    /// The shard number.
    pub(crate) shard: u32,
    /// The node to serve it.
    #[arg(long, required_unless_present = "unpin")]
    pub(crate) to: Option<String>,
    /// Remove the shard's pin instead (the leader places it again).
    #[arg(long, conflicts_with = "to")]
    pub(crate) unpin: bool,
    /// Seconds to wait for the node to serve the shard.
    #[arg(long, default_value_t = 30.0)]
    pub(crate) wait: f64,
    /// The cluster's name.
    #[arg(long, default_value = "aether")]
    pub(crate) cluster: String,
}

#[derive(Debug, Args)]
pub(crate) struct ActorsArgs {
    /// The node's id.
    #[arg(long)]
    pub(crate) node: String,
    /// The cluster's name.
    #[arg(long, default_value = "aether")]
    pub(crate) cluster: String,
}

#[derive(Debug, Args)]
pub(crate) struct PassivateArgs {
    /// The actor id.
    pub(crate) actor: String,
    /// The cluster's name.
    #[arg(long, default_value = "aether")]
    pub(crate) cluster: String,
}

#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// The actor id (its type is the part before the first `-`).
    pub(crate) actor: String,
    /// First version to show.
    #[arg(long, default_value_t = 1)]
    pub(crate) from: u64,
    /// Keep printing new events as they are appended (Ctrl-C ends).
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// Also print the stored bytes of malformed entries.
    #[arg(long)]
    pub(crate) raw: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ActorArgs {
    /// The actor id.
    pub(crate) actor: String,
    /// How many of the last events to show the writers of.
    #[arg(long, default_value_t = 5)]
    pub(crate) last: u64,
}

#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    /// Actor-id pattern (`order-*`, `order->`, `>` for all).
    #[arg(default_value = ">")]
    pub(crate) pattern: String,
    /// Bus namespace pattern (`orders`, `tenant-a.*`, `>` for all).
    #[arg(long = "bus-namespace", default_value = ">")]
    pub(crate) bus_namespace: String,
    /// The bus's subject prefix.
    #[arg(long, default_value = "aether.bus")]
    pub(crate) prefix: String,
    /// Stop after this many events.
    #[arg(long)]
    pub(crate) count: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct ClusterArgs {
    /// What to show.
    #[command(subcommand)]
    pub(crate) what: ClusterWhat,
    /// The cluster's name.
    #[arg(long, global = true, default_value = "aether")]
    pub(crate) cluster: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClusterWhat {
    /// Members with their lease state.
    Members,
    /// The leader and its term.
    Leader,
    /// Shards per node (primaries and replicas).
    Shards,
    /// The shard map: epoch, term, and each shard's replicas.
    Map,
}

#[derive(Debug, Args)]
pub(crate) struct ClaimsArgs {
    /// The cluster's name.
    #[arg(long, default_value = "aether")]
    pub(crate) cluster: String,
}

#[derive(Debug, Args)]
pub(crate) struct ProjectionsArgs {
    /// The checkpoint bucket.
    #[arg(long, default_value = "AETHER_projection_checkpoints")]
    pub(crate) checkpoints: String,
    /// The lease bucket.
    #[arg(long, default_value = "AETHER_projection_leases")]
    pub(crate) leases: String,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own consistency checks (unique names, valid defaults) over
    /// every command, which otherwise only run when a command is used.
    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
