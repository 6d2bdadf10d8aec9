//! Namespace and actor-id patterns with NATS-style wildcards.
//!
//! A *namespace* is one or more tokens separated by `.` (`orders`,
//! `tenant-a.orders`). A *pattern* is a namespace in which a whole token may be
//! `*` (exactly one token) or, as the last token only, `>` (one or more
//! trailing tokens). These are the rules of NATS subjects, so a namespace
//! pattern maps one-to-one onto a NATS subject pattern.
//!
//! Namespace tokens must be valid NATS tokens: not empty, no whitespace, no
//! `.`, `*`, `>` or NUL inside a token; the first token may not start with `$`
//! (reserved by NATS). A namespace is at most [`MAX_NAMESPACE_LEN`] bytes.
//!
//! *Actor-id patterns* use the same wildcards over actor ids split at `-` and
//! `.` (both are separators): `order-*` matches `order-42` and `order.42` but
//! not `order-42-x`; `order->` and `order.>` match both; `>` matches every id.
//! In actor-id patterns a token that merely contains `*` or `>` (`a*b`) is a
//! literal, because actor ids may contain those characters.

use std::fmt;

use crate::error::BusError;

/// The longest namespace or namespace pattern accepted, in bytes.
pub const MAX_NAMESPACE_LEN: usize = 256;

/// One token of a parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Token {
    /// Matches exactly this token.
    Literal(Box<str>),
    /// `*`: matches any one token.
    Star,
    /// `>`: matches one or more trailing tokens (always last).
    Tail,
}

/// Which string a [`Pattern`] applies to; decides separators and validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Namespace,
    Actor,
}

/// A parsed, validated namespace or actor-id pattern.
///
/// ```
/// use aether_bus::Pattern;
/// let p = Pattern::namespace("tenant-a.*").unwrap();
/// assert!(p.matches("tenant-a.orders"));
/// assert!(!p.matches("tenant-b.orders"));
/// assert!(p.is_wildcard());
///
/// let a = Pattern::actor("order-*").unwrap();
/// assert!(a.matches("order-42"));
/// assert!(!a.matches("invoice-42"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    source: Box<str>,
    tokens: Vec<Token>,
    kind: Kind,
}

impl Pattern {
    /// Parses a namespace pattern (tokens separated by `.`; `*` and a final
    /// `>` are wildcards). Fails with a clear error on anything invalid.
    pub fn namespace(pattern: &str) -> Result<Self, BusError> {
        check_namespace_text(pattern, "namespace pattern")?;
        let mut tokens = Vec::new();
        let count = pattern.split('.').count();
        for (i, tok) in pattern.split('.').enumerate() {
            tokens.push(parse_namespace_token(pattern, tok, i + 1 == count, true)?);
        }
        Ok(Self {
            source: pattern.into(),
            tokens,
            kind: Kind::Namespace,
        })
    }

    /// Parses an actor-id pattern: tokens separated by `-` or `.`, `*` and a
    /// final `>` are wildcards, every other token is literal (may be empty).
    pub fn actor(pattern: &str) -> Result<Self, BusError> {
        if pattern.is_empty() {
            return Err(crate::error::invalid_pattern(pattern, "it is empty"));
        }
        if pattern.len() > aether_core::ActorId::MAX_LEN {
            return Err(crate::error::invalid_pattern(
                pattern,
                format!("it is longer than {} bytes", aether_core::ActorId::MAX_LEN),
            ));
        }
        if pattern.contains('\0') {
            return Err(crate::error::invalid_pattern(pattern, "it contains NUL"));
        }
        let parts: Vec<&str> = pattern.split(is_actor_separator).collect();
        let mut tokens = Vec::with_capacity(parts.len());
        for (i, tok) in parts.iter().enumerate() {
            tokens.push(match *tok {
                "*" => Token::Star,
                ">" if i + 1 == parts.len() => Token::Tail,
                ">" => {
                    return Err(crate::error::invalid_pattern(
                        pattern,
                        "`>` may only be the last token",
                    ));
                }
                lit => Token::Literal(lit.into()),
            });
        }
        Ok(Self {
            source: pattern.into(),
            tokens,
            kind: Kind::Actor,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern contains a wildcard token (`*` or `>`).
    pub fn is_wildcard(&self) -> bool {
        self.tokens
            .iter()
            .any(|t| matches!(t, Token::Star | Token::Tail))
    }

    /// Whether `subject` (a namespace, or an actor id for actor patterns)
    /// matches. Never panics; an invalid subject simply does not match
    /// (namespaces containing wildcards never match anything).
    pub fn matches(&self, subject: &str) -> bool {
        match self.kind {
            Kind::Namespace => {
                if validate_namespace(subject).is_err() {
                    return false;
                }
                match_tokens(&self.tokens, subject.split('.'))
            }
            Kind::Actor => match_tokens(&self.tokens, subject.split(is_actor_separator)),
        }
    }

    /// [`Pattern::matches`] for a subject already known to be valid.
    pub(crate) fn matches_valid(&self, subject: &str) -> bool {
        match self.kind {
            Kind::Namespace => match_tokens(&self.tokens, subject.split('.')),
            Kind::Actor => match_tokens(&self.tokens, subject.split(is_actor_separator)),
        }
    }

    /// Whether the first token is `*` or `>` (the pattern spans namespaces).
    pub(crate) fn first_token_is_wildcard(&self) -> bool {
        matches!(self.tokens.first(), Some(Token::Star | Token::Tail))
    }

    pub(crate) fn tokens(&self) -> &[Token] {
        &self.tokens
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn is_actor_separator(c: char) -> bool {
    c == '-' || c == '.'
}

fn match_tokens<'a>(pattern: &[Token], mut subject: impl Iterator<Item = &'a str>) -> bool {
    for tok in pattern {
        match tok {
            Token::Tail => return subject.next().is_some(),
            Token::Star => {
                if subject.next().is_none() {
                    return false;
                }
            }
            Token::Literal(lit) => {
                if subject.next() != Some(&**lit) {
                    return false;
                }
            }
        }
    }
    subject.next().is_none()
}

fn check_namespace_text(text: &str, what: &'static str) -> Result<(), BusError> {
    let err = |why: String| match what {
        "namespace" => crate::error::invalid_namespace(text, why),
        _ => crate::error::invalid_pattern(text, why),
    };
    if text.is_empty() {
        return Err(err("it is empty".into()));
    }
    if text.len() > MAX_NAMESPACE_LEN {
        return Err(err(format!("it is longer than {MAX_NAMESPACE_LEN} bytes")));
    }
    if text.starts_with('$') {
        return Err(err("a leading `$` is reserved by NATS".into()));
    }
    Ok(())
}

fn parse_namespace_token(
    whole: &str,
    tok: &str,
    last: bool,
    allow_wildcards: bool,
) -> Result<Token, BusError> {
    let err = |why: String| {
        if allow_wildcards {
            crate::error::invalid_pattern(whole, why)
        } else {
            crate::error::invalid_namespace(whole, why)
        }
    };
    match tok {
        "" => Err(err(
            "it has an empty token (`..`, or a leading or trailing `.`)".into(),
        )),
        "*" | ">" if !allow_wildcards => Err(err(format!(
            "wildcard `{tok}` is not allowed here: publish to a concrete namespace"
        ))),
        "*" => Ok(Token::Star),
        ">" if last => Ok(Token::Tail),
        ">" => Err(err("`>` may only be the last token".into())),
        _ => {
            if let Some(c) = tok
                .chars()
                .find(|c| c.is_whitespace() || matches!(c, '*' | '>' | '\0') || c.is_control())
            {
                return Err(err(format!(
                    "token {tok:?} contains {c:?}, which is not allowed in a NATS subject token"
                )));
            }
            Ok(Token::Literal(tok.into()))
        }
    }
}

/// Checks that `namespace` is a concrete namespace one may publish to: valid
/// NATS tokens separated by `.`, no wildcards.
///
/// ```
/// use aether_bus::validate_namespace;
/// assert!(validate_namespace("tenant-a.orders").is_ok());
/// assert!(validate_namespace("tenant-a.*").is_err());
/// assert!(validate_namespace("bad token").is_err());
/// ```
pub fn validate_namespace(namespace: &str) -> Result<(), BusError> {
    check_namespace_text(namespace, "namespace")?;
    for tok in namespace.split('.') {
        parse_namespace_token(namespace, tok, false, false)?;
    }
    Ok(())
}

/// Whether the namespace `pattern` matches `namespace`. Returns `false` for an
/// invalid pattern or namespace instead of failing.
///
/// ```
/// use aether_bus::matches_pattern;
/// assert!(matches_pattern("tenant-a.>", "tenant-a.orders.eu"));
/// assert!(!matches_pattern("tenant-a.>", "tenant-a"));
/// assert!(matches_pattern("*.orders", "tenant-b.orders"));
/// ```
pub fn matches_pattern(pattern: &str, namespace: &str) -> bool {
    match Pattern::namespace(pattern) {
        Ok(p) => validate_namespace(namespace).is_ok() && p.matches(namespace),
        Err(_) => false,
    }
}

/// Whether `pattern` contains a wildcard token (`*` or `>`), i.e. may match
/// more than one namespace. Looks at whole `.`-separated tokens only.
///
/// ```
/// use aether_bus::is_wildcard;
/// assert!(is_wildcard("tenant-a.*"));
/// assert!(is_wildcard(">"));
/// assert!(!is_wildcard("tenant-a.orders"));
/// ```
pub fn is_wildcard(pattern: &str) -> bool {
    pattern.split('.').any(|t| t == "*" || t == ">")
}

#[cfg(test)]
mod tests;
