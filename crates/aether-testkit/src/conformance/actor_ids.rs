//! Cases: unusual actor ids never share a history.

use aether_core::{ActorId, Event, EventStore, ExpectedVersion, json};

use super::support::{latest, read_all, unique};

/// Appends `i + 1` events to the i-th actor, then checks every actor reads
/// back exactly its own events.
async fn assert_isolated<S: EventStore>(store: &S, ids: &[ActorId], what: &str) {
    for (i, id) in ids.iter().enumerate() {
        for (j, other) in ids.iter().enumerate() {
            assert!(
                i == j || id != other,
                "{what}: test ids {i} and {j} are equal"
            );
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let mine = |v: u64| {
            Event::new(
                id.clone(),
                v,
                "Mine",
                json!({ "owner": id.as_str(), "i": i }),
            )
        };
        store
            .append(mine(1))
            .await
            .unwrap_or_else(|e| panic!("{what}: append to {id:?} failed: {e}"));
        if i > 0 {
            let rest: Vec<Event> = (2..=i as u64 + 1).map(mine).collect();
            store
                .append_batch(id, ExpectedVersion::Exact(1), rest)
                .await
                .unwrap_or_else(|e| panic!("{what}: batch append to {id:?} failed: {e}"));
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let got = read_all(store, id).await;
        assert_eq!(
            got.len(),
            i + 1,
            "{what}: {id:?} must hold exactly its own {} events",
            i + 1
        );
        for e in &got {
            let data = e.data.value().expect("conformance data is a JSON value");
            assert_eq!(
                &e.actor_id, id,
                "{what}: {id:?} read an event of {:?}",
                e.actor_id
            );
            assert_eq!(
                data["owner"],
                json!(id.as_str()),
                "{what}: foreign event under {id:?}"
            );
            assert_eq!(data["i"], json!(i), "{what}: foreign event under {id:?}");
        }
        assert_eq!(
            latest(store, id).await,
            i as u64 + 1,
            "{what}: latest of {id:?}"
        );
    }
}

/// Ids with subject-significant or escape-like characters (`a.b`, `a_b`,
/// `a b`, `a*`, `a>`, `$x`, unicode, likely escape sequences, prefixes of each
/// other) are distinct actors.
pub async fn odd_actor_ids_are_isolated<S: EventStore>(store: &S) {
    let u = unique();
    let raw = [
        format!("{u}a.b"),
        format!("{u}a_b"),
        format!("{u}a b"),
        format!("{u}a-b"),
        format!("{u}a*"),
        format!("{u}a>"),
        format!("{u}a.*"),
        format!("{u}a.>"),
        format!("{u}a"),
        format!("{u}a."),
        format!("{u}a.b.c"),
        format!("{u}a..b"),
        format!("{u}a\tb"),
        format!("{u}a\nb"),
        format!("{u}a/b"),
        format!("{u}a\\b"),
        format!("{u}a%2Eb"),
        format!("{u}a%2eb"),
        format!("{u}a_2Eb"),
        format!("{u}a_2eb"),
        format!("{u}a~2Eb"),
        format!("{u}a=2Eb"),
        format!("{u}A.B"),
        format!("{u}ünï😀"),
        format!("{u}uni😀"),
        format!("$x{u}"),
        format!("*{u}"),
        format!(">{u}"),
        format!(".{u}"),
        format!(" {u}"),
        u.clone(),
        format!("{u} "),
        format!("{u}."),
        format!("_{u}"),
    ];
    let ids: Vec<ActorId> = raw
        .iter()
        .map(|s| ActorId::new(s).unwrap_or_else(|e| panic!("{s:?} is a valid actor id: {e}")))
        .collect();
    assert_isolated(store, &ids, "odd actor ids").await;
}

/// Ids at and near [`ActorId::MAX_LEN`] bytes, including multi-byte ones and
/// ids that are prefixes of each other, are stored and kept apart.
pub async fn long_actor_ids_are_isolated<S: EventStore>(store: &S) {
    let u = unique();
    let fill = |c: char, total: usize| {
        let mut s = format!("{u}-");
        while s.len() + c.len_utf8() <= total {
            s.push(c);
        }
        s
    };
    let max = ActorId::MAX_LEN;
    let full_x = fill('x', max);
    let mut full_y = full_x.clone();
    full_y.pop();
    full_y.push('y');
    let mut shorter = full_x.clone();
    shorter.pop();
    let emoji = fill('😀', max);
    let mut emoji_dot = fill('😀', max - 1);
    emoji_dot.push('.');
    let raw = [
        full_x,
        full_y,
        shorter,
        emoji,
        emoji_dot,
        fill('.', max),
        fill('.', max - 1),
    ];
    let ids: Vec<ActorId> = raw
        .iter()
        .map(|s| {
            assert!(
                s.len() <= max && s.len() >= max - 4,
                "test id has {} bytes",
                s.len()
            );
            ActorId::new(s).unwrap_or_else(|e| panic!("a {}-byte id is valid: {e}", s.len()))
        })
        .collect();
    assert_isolated(store, &ids, "long actor ids").await;
}

/// Ids with explicit actor types are distinct from the same id with another
/// or the derived type, and read back with their type.
pub async fn typed_actor_ids_are_isolated<S: EventStore>(store: &S) {
    let u = unique();
    let typed = |t: String, id: String| {
        ActorId::with_type(&t, &id).unwrap_or_else(|e| panic!("type {t:?}, id {id:?}: {e}"))
    };
    let ids = vec![
        ActorId::new(&u).expect("plain id"),
        typed("invoice".into(), u.clone()),
        typed("order".into(), u.clone()),
        typed("Order".into(), u.clone()),
        typed(format!("{u}.a"), "b.c".into()),
        typed(format!("{u}.a.b"), "c".into()),
        typed(u.clone(), "a.b.c".into()),
        ActorId::new(format!("{u}.a.b.c")).expect("plain dotted id"),
        typed(format!("{u} ünï"), "😀".into()),
        typed(format!("{u}-x"), "y".into()),
    ];
    assert_isolated(store, &ids, "typed actor ids").await;
    for id in &ids {
        let got = read_all(store, id).await;
        let first = got
            .first()
            .unwrap_or_else(|| panic!("typed actor id {id:?}: no event read back"));
        assert_eq!(
            first.actor_id.actor_type(),
            id.actor_type(),
            "the actor type is kept through the store"
        );
        assert_eq!(first.actor_id.has_explicit_type(), id.has_explicit_type());
    }
}
