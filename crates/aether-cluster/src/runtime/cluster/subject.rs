//! Routing subjects: `aether.rt.<cluster>.s.<shard>.<type>.<id>`, where
//! `<type>` and `<id>` are the actor type and id as subject tokens
//! ([`aether_nats::encode_token`], injective). The node serving shard `n`
//! subscribes to `aether.rt.<cluster>.s.<n>.>`, so NATS routes each call to
//! whoever serves its shard now, and "no responders" means nobody does.

use std::fmt::Write as _;

use aether_core::ActorId;
use aether_nats::{decode_token, encode_token_into};

use crate::id::ShardId;
use crate::shard::shard_for_actor;

/// The routing subjects of one cluster.
#[derive(Debug, Clone)]
pub(crate) struct Subjects {
    /// `aether.rt.<cluster>.s`
    prefix: String,
    shard_count: u32,
}

impl Subjects {
    pub(crate) fn new(cluster: &str, shard_count: u32) -> Self {
        Self {
            prefix: format!("aether.rt.{cluster}.s"),
            shard_count,
        }
    }

    pub(crate) fn shard_count(&self) -> u32 {
        self.shard_count
    }

    /// The shard of `actor`.
    pub(crate) fn shard_of(&self, actor: &ActorId) -> ShardId {
        shard_for_actor(actor, self.shard_count)
    }

    /// The subject calls to `actor` go to, and its shard.
    pub(crate) fn actor(&self, actor: &ActorId) -> (ShardId, String) {
        let shard = self.shard_of(actor);
        let mut s = String::with_capacity(self.prefix.len() + actor.as_str().len() + 24);
        // Writing to a String cannot fail.
        let _ = write!(s, "{}.{}.", self.prefix, shard.0);
        encode_token_into(&mut s, actor.actor_type());
        s.push('.');
        encode_token_into(&mut s, actor.as_str());
        (shard, s)
    }

    /// What the server of `shard` subscribes to.
    pub(crate) fn shard(&self, shard: ShardId) -> String {
        format!("{}.{}.>", self.prefix, shard.0)
    }

    /// The shard and actor a subject names. Fails (never panics) on a subject
    /// that is not a routing subject of this cluster, or whose shard is not
    /// the actor's.
    pub(crate) fn parse(&self, subject: &str) -> Result<(ShardId, ActorId), String> {
        let rest = subject
            .strip_prefix(self.prefix.as_str())
            .and_then(|r| r.strip_prefix('.'))
            .ok_or_else(|| format!("{subject:?} is not a routing subject of this cluster"))?;
        let mut parts = rest.split('.');
        let (Some(shard), Some(ty), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "{subject:?}: expected <prefix>.<shard>.<type>.<id>"
            ));
        };
        let shard: u32 = shard
            .parse()
            .map_err(|_| format!("{subject:?}: shard {shard:?} is not a number"))?;
        let ty = decode_token(ty).map_err(|e| e.to_string())?;
        let id = decode_token(id).map_err(|e| e.to_string())?;
        let actor = ActorId::with_type(&*ty, &*id).map_err(|e| format!("{subject:?}: {e}"))?;
        let want = self.shard_of(&actor);
        if want.0 != shard {
            return Err(format!(
                "{subject:?}: actor {:?} is in shard {}, not {shard}",
                actor.as_str(),
                want.0
            ));
        }
        Ok((want, actor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip_and_foreign_or_wrong_shard_subjects_are_refused() {
        let s = Subjects::new("prod", 1024);
        for actor in [
            ActorId::new("account-42").unwrap(),
            ActorId::with_type("invoice", "2024/0001.a b").unwrap(),
            ActorId::new("solo").unwrap(),
        ] {
            let (shard, subject) = s.actor(&actor);
            assert!(subject.starts_with(&format!("aether.rt.prod.s.{}.", shard.0)));
            assert_eq!(subject.split('.').count(), 7, "{subject}");
            assert_eq!(s.parse(&subject).unwrap(), (shard, actor));
        }
        let (shard, subject) = s.actor(&ActorId::new("account-42").unwrap());
        let wrong = subject.replacen(&format!(".s.{}.", shard.0), ".s.9999.", 1);
        assert!(s.parse(&wrong).unwrap_err().contains("not 9999"));
        for bad in [
            "aether.rt.other.s.1.a.b",
            "aether.rt.prod.s.x.a.b",
            "aether.rt.prod.s.1.a",
            "aether.rt.prod.s.1.a.b.c",
            "aether.rt.prod.s.1.a.b_ZZ",
        ] {
            assert!(s.parse(bad).is_err(), "{bad}");
        }
    }
}
