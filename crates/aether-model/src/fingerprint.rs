//! The state fingerprint: what a snapshot depends on.

use crate::compiled::CompiledModel;
use serde_json::{Map, Value as Json};

impl CompiledModel {
    /// A fingerprint of everything a state depends on: the state's schema and
    /// initial value, and every event type's schema, fold and upcasters
    /// (names sorted, so reordering the document does not change it). A
    /// snapshot is reusable under another model version only when the two
    /// fingerprints are equal; guards, emits, messages, queries and examples
    /// do not enter it. 16 hex digits (FNV-1a 64 over canonical JSON).
    ///
    /// # Examples
    ///
    /// ```
    /// # let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.yaml")).unwrap();
    /// let mut doc = aether_model::Model::from_yaml(&yaml).unwrap();
    /// let before = aether_model::check(&doc).unwrap().state_fingerprint();
    /// doc.commands.get_mut("Close").unwrap().guards.clear();
    /// assert_eq!(aether_model::check(&doc).unwrap().state_fingerprint(), before);
    /// ```
    pub fn state_fingerprint(&self) -> String {
        let m = self.model();
        let mut events = Map::new();
        for (name, e) in m.events.iter() {
            let evolve: Map<String, Json> = e
                .evolve
                .iter()
                .flat_map(|f| f.iter())
                .map(|(k, v)| (k.to_owned(), Json::from(v.as_str())))
                .collect();
            let upcast: Vec<Json> = e
                .upcast
                .iter()
                .map(|u| serde_json::json!([u.before, u.data]))
                .collect();
            events.insert(
                name.to_owned(),
                serde_json::json!({"schema": e.schema, "evolve": sorted(Json::Object(evolve)), "upcast": upcast}),
            );
        }
        let doc = serde_json::json!({
            "state": {"schema": sorted(m.state.schema.clone()), "initial": sorted(m.state.initial.clone())},
            "events": sorted(Json::Object(events)),
        });
        let text = doc.to_string();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}")
    }
}

/// The value with every object's keys sorted (whatever serde_json's map keeps).
fn sorted(v: Json) -> Json {
    match v {
        Json::Object(o) => {
            let mut entries: Vec<(String, Json)> =
                o.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().collect())
        }
        Json::Array(a) => Json::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}
