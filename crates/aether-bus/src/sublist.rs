//! A token trie of subscriptions, after the NATS server's sublist.
//!
//! Each subscription sits at the node its pattern's tokens lead to: literal
//! tokens are hash-map children, `*` is one extra child, `>` a terminal child.
//! Matching a namespace walks at most the literal child, the `*` child and the
//! `>` child at each level, so its cost depends on the namespace's depth and on
//! the subscriptions that actually match, not on how many subscriptions exist.

use crate::hash::FastMap;
use crate::pattern::{Pattern, Token};

/// A subscription index keyed by namespace pattern.
#[derive(Debug)]
pub(crate) struct Sublist<V> {
    root: Node<V>,
    len: usize,
}

#[derive(Debug)]
struct Node<V> {
    literal: FastMap<Box<str>, Node<V>>,
    star: Option<Box<Node<V>>>,
    /// Subscriptions whose pattern ends with `>` at this level.
    tail: Vec<(u64, V)>,
    /// Subscriptions whose pattern ends exactly at this node.
    subs: Vec<(u64, V)>,
}

impl<V> Default for Node<V> {
    fn default() -> Self {
        Self {
            literal: FastMap::default(),
            star: None,
            tail: Vec::new(),
            subs: Vec::new(),
        }
    }
}

impl<V> Node<V> {
    fn is_empty(&self) -> bool {
        self.literal.is_empty()
            && self.star.is_none()
            && self.tail.is_empty()
            && self.subs.is_empty()
    }
}

impl<V> Default for Sublist<V> {
    fn default() -> Self {
        Self {
            root: Node::default(),
            len: 0,
        }
    }
}

impl<V> Sublist<V> {
    /// Adds subscription `id` with `value` under a namespace `pattern`.
    pub(crate) fn insert(&mut self, pattern: &Pattern, id: u64, value: V) {
        let mut node = &mut self.root;
        for tok in pattern.tokens() {
            match tok {
                Token::Literal(lit) => node = node.literal.entry(lit.clone()).or_default(),
                Token::Star => node = node.star.get_or_insert_with(Default::default),
                Token::Tail => {
                    node.tail.push((id, value));
                    self.len += 1;
                    return;
                }
            }
        }
        node.subs.push((id, value));
        self.len += 1;
    }

    /// Removes subscription `id` registered under `pattern`; prunes empty nodes.
    /// Returns the value if it was present.
    pub(crate) fn remove(&mut self, pattern: &Pattern, id: u64) -> Option<V> {
        let removed = remove_at(&mut self.root, pattern.tokens(), id);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// The number of subscriptions.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Calls `f` with every subscription whose pattern matches `namespace`
    /// (a concrete, valid namespace). Each subscription is visited once.
    pub(crate) fn for_each_match(&self, namespace: &str, mut f: impl FnMut(&V)) {
        visit(&self.root, Some(namespace), &mut f);
    }

    /// Removes every subscription, returning the values.
    pub(crate) fn clear(&mut self) -> Vec<V> {
        let mut out = Vec::new();
        drain(std::mem::take(&mut self.root), &mut out);
        self.len = 0;
        out
    }
}

fn drain<V>(node: Node<V>, out: &mut Vec<V>) {
    out.extend(node.subs.into_iter().map(|(_, v)| v));
    out.extend(node.tail.into_iter().map(|(_, v)| v));
    if let Some(star) = node.star {
        drain(*star, out);
    }
    for (_, child) in node.literal {
        drain(child, out);
    }
}

fn take_id<V>(list: &mut Vec<(u64, V)>, id: u64) -> Option<V> {
    let pos = list.iter().position(|(i, _)| *i == id)?;
    Some(list.swap_remove(pos).1)
}

fn remove_at<V>(node: &mut Node<V>, tokens: &[Token], id: u64) -> Option<V> {
    let Some((first, rest)) = tokens.split_first() else {
        return take_id(&mut node.subs, id);
    };
    match first {
        Token::Tail => take_id(&mut node.tail, id),
        Token::Star => {
            let child = node.star.as_deref_mut()?;
            let v = remove_at(child, rest, id);
            if child.is_empty() {
                node.star = None;
            }
            v
        }
        Token::Literal(lit) => {
            let child = node.literal.get_mut(lit)?;
            let v = remove_at(child, rest, id);
            if child.is_empty() {
                node.literal.remove(lit);
            }
            v
        }
    }
}

fn visit<V>(node: &Node<V>, rest: Option<&str>, f: &mut impl FnMut(&V)) {
    let Some(rest) = rest else {
        node.subs.iter().for_each(|(_, v)| f(v));
        return;
    };
    let (tok, tail) = match rest.split_once('.') {
        Some((tok, tail)) => (tok, Some(tail)),
        None => (rest, None),
    };
    // `>` matches this token and everything after it.
    node.tail.iter().for_each(|(_, v)| f(v));
    if let Some(child) = node.literal.get(tok) {
        visit(child, tail, f);
    }
    if let Some(star) = &node.star {
        visit(star, tail, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(list: &Sublist<u64>, ns: &str) -> Vec<u64> {
        let mut out = Vec::new();
        list.for_each_match(ns, |v| out.push(*v));
        out.sort_unstable();
        out
    }

    #[test]
    fn literal_star_and_tail() {
        let mut list = Sublist::default();
        let pats = ["a", "a.b", "a.*", "*.b", "a.>", ">", "*", "b.*.c"];
        for (i, p) in pats.iter().enumerate() {
            list.insert(&Pattern::namespace(p).unwrap(), i as u64, i as u64);
        }
        assert_eq!(list.len(), pats.len());
        assert_eq!(matches(&list, "a"), vec![0, 5, 6]);
        assert_eq!(matches(&list, "a.b"), vec![1, 2, 3, 4, 5]);
        assert_eq!(matches(&list, "a.b.c"), vec![4, 5]);
        assert_eq!(matches(&list, "b.x.c"), vec![5, 7]);
        assert_eq!(matches(&list, "c"), vec![5, 6]);
    }

    #[test]
    fn remove_prunes_and_leaves_others() {
        let mut list = Sublist::default();
        let p = Pattern::namespace("x.*.y").unwrap();
        let q = Pattern::namespace("x.>").unwrap();
        list.insert(&p, 1, 1u64);
        list.insert(&p, 2, 2u64);
        list.insert(&q, 3, 3u64);
        assert_eq!(list.remove(&p, 1), Some(1));
        assert_eq!(list.remove(&p, 1), None);
        assert_eq!(matches(&list, "x.z.y"), vec![2, 3]);
        assert_eq!(list.remove(&p, 2), Some(2));
        assert_eq!(list.remove(&q, 3), Some(3));
        assert_eq!(list.len(), 0);
        assert!(list.root.is_empty(), "all nodes pruned");
    }

    #[test]
    fn clear_returns_everything() {
        let mut list = Sublist::default();
        for (i, p) in ["a", "a.*", ">", "b.c"].iter().enumerate() {
            list.insert(&Pattern::namespace(p).unwrap(), i as u64, i as u64);
        }
        let mut all = list.clear();
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2, 3]);
        assert_eq!(list.len(), 0);
    }
}
