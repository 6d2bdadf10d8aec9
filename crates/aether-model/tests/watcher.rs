//! The node's model watcher on a real nats-server, against pointers the
//! publish rules would never write (a hand-edited bucket, a writer with the
//! bucket's permissions but not the CLI): a version it cannot load (not in
//! the registry, not matching the pointer's hash, not a model) leaves the
//! previous version running and is reported; a pointer moved back to an
//! older version is not followed; a deleted pointer changes nothing; a
//! later good publish loads and clears the failure.

#[path = "support/models.rs"]
mod models;

use std::time::Duration;

use aether_cluster::runtime::{ActorConfig, ActorSystem};
use aether_model::deploy::{
    ModelRegistry, ModelWatcher, Pointer, PublishOptions, RegistryConfig, version_key,
};
use aether_model::{ModelBehavior, ModelCommand, ModelQuery};
use aether_store_memory::InMemoryEventStore;
use aether_testkit::{NatsServer, eventually};
use serde_json::json;

/// Puts `value` under `key` in the registry's bucket, bypassing the rules.
async fn put(kv: &async_nats::jetstream::kv::Store, key: &str, value: Vec<u8>) {
    kv.put(key, value.into()).await.unwrap();
}

async fn failed_at(watcher: &ModelWatcher, version: u32) -> String {
    eventually(
        format!("a load failure of v{version} is reported"),
        Duration::from_secs(10),
        async || match watcher.failures().first() {
            Some(f) if f.version == version => Ok(f.message.clone()),
            other => Err(format!("{other:?}")),
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_a_node_cannot_load_leaves_the_previous_one_running_and_pointers_never_go_back() {
    let server = NatsServer::start().await;
    let client = server.connect().await;
    let registry = ModelRegistry::open(client.clone(), RegistryConfig::default())
        .await
        .unwrap();
    registry
        .publish(&models::v3(), PublishOptions::default())
        .await
        .unwrap();
    let system = ActorSystem::builder()
        .events(InMemoryEventStore::new())
        .start()
        .await
        .unwrap();
    let watcher = ModelWatcher::start(
        ModelRegistry::open_existing(client.clone(), RegistryConfig::default())
            .await
            .unwrap(),
        system.clone(),
        ActorConfig::default(),
    )
    .await
    .unwrap();
    assert_eq!(watcher.version_of("account"), Some(3), "loaded at start");
    let ann = system.actor_of::<ModelBehavior>("account", "ann").unwrap();
    ann.ask(ModelCommand::new("Open", json!({"owner": "ann"})))
        .await
        .unwrap();

    let kv = async_nats::jetstream::new(client)
        .get_key_value("aether-models")
        .await
        .unwrap();
    let v3_pointer = registry.pointer("account").await.unwrap().unwrap().0;
    let pointer = |version: u32, sha256: &str| Pointer {
        version,
        sha256: sha256.to_owned(),
        ..v3_pointer.clone()
    };

    // A pointer to a version that is not there.
    put(&kv, "account", pointer(4, &v3_pointer.sha256).encode()).await;
    let message = failed_at(&watcher, 4).await;
    assert!(message.contains("not in the registry"), "{message}");
    assert_eq!(watcher.version_of("account"), Some(3));

    // A version whose document does not hash to the pointer's sha256.
    put(
        &kv,
        &version_key("account", 5),
        models::at(models::v4(), 5).to_json().into_bytes(),
    )
    .await;
    put(&kv, "account", pointer(5, &"0".repeat(64)).encode()).await;
    let message = failed_at(&watcher, 5).await;
    assert!(message.contains("not to the pointer's"), "{message}");

    // A version that is not a model.
    put(
        &kv,
        &version_key("account", 6),
        b"{\"model\": \"account\"".to_vec(),
    )
    .await;
    put(&kv, "account", pointer(6, &v3_pointer.sha256).encode()).await;
    failed_at(&watcher, 6).await;
    // A pointer that is not a pointer.
    put(&kv, "account", b"not json".to_vec()).await;
    // The node still runs v3, and its actor still answers.
    assert_eq!(watcher.version_of("account"), Some(3));
    ann.ask(ModelCommand::new("Deposit", json!({"amount": 5})))
        .await
        .unwrap();

    // A good v7 (v4's rules) loads; the failure is cleared.
    let v7 = models::at(models::v4(), 7);
    let v7_json = v7.to_json();
    put(
        &kv,
        &version_key("account", 7),
        v7_json.clone().into_bytes(),
    )
    .await;
    let sha = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(v7_json.as_bytes());
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    put(&kv, "account", pointer(7, &sha).encode()).await;
    eventually("v7 runs", Duration::from_secs(10), async || {
        match watcher.version_of("account") {
            Some(7) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(watcher.failures().is_empty(), "{:?}", watcher.failures());
    assert_eq!(
        ann.query(ModelQuery("Status".into())).await.unwrap(),
        json!("open"),
        "v7's query answers"
    );

    // Back to v3 (a valid document): not followed. Deleted: nothing changes.
    put(&kv, "account", v3_pointer.encode()).await;
    kv.delete("account").await.unwrap();
    // A marker after both, to know the watcher has seen them.
    registry
        .publish(&models::v3().tap_name("marker"), PublishOptions::default())
        .await
        .unwrap();
    eventually("the marker loads", Duration::from_secs(10), async || {
        watcher.version_of("marker")
    })
    .await;
    assert_eq!(watcher.version_of("account"), Some(7), "never back to v3");
    ann.ask(ModelCommand::new("Note", json!({"text": "still v7"})))
        .await
        .unwrap();

    watcher.stop().await;
    system.shutdown().await.unwrap();
}

trait TapName {
    fn tap_name(self, name: &str) -> Self;
}

impl TapName for aether_model::Model {
    fn tap_name(mut self, name: &str) -> Self {
        self.model = name.to_owned();
        self
    }
}
