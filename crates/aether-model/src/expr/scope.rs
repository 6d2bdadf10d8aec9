//! The variables an expression sees.

use cel_core::Value;

/// The bindings of one evaluation: each variable, if bound. Values are
/// borrowed; the engine receives cheap clones (reference-counted).
#[derive(Default, Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub(crate) state: Option<&'a Value>,
    pub(crate) command: Option<&'a Value>,
    pub(crate) event: Option<&'a Value>,
    pub(crate) actor: Option<&'a Value>,
    pub(crate) meta: Option<&'a Value>,
    pub(crate) model: Option<&'a Value>,
}

impl cel_core::Activation for Scope<'_> {
    fn resolve(&self, name: &str) -> Option<Value> {
        let v = match name {
            "state" => self.state,
            "command" => self.command,
            "event" => self.event,
            "actor" => self.actor,
            "meta" => self.meta,
            "model" => self.model,
            _ => None,
        };
        v.cloned()
    }
}
