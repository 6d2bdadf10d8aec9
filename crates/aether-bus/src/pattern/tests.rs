use proptest::prelude::*;

use super::*;

/// Reference matcher: a direct recursive reading of the NATS rules over
/// token slices.
fn reference(pattern: &[&str], subject: &[&str]) -> bool {
    match (pattern.first(), subject.first()) {
        (None, None) => true,
        (Some(&">"), Some(_)) => pattern.len() == 1,
        (Some(_), None) | (None, Some(_)) => false,
        (Some(&p), Some(&s)) => (p == "*" || p == s) && reference(&pattern[1..], &subject[1..]),
    }
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "c", "tenant-a"]).prop_map(String::from),
        2 => Just("*".to_string()),
        1 => Just(">".to_string()),
    ]
}

fn pattern_tokens() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(token(), 1..5).prop_map(|mut toks| {
        // `>` only as the last token.
        let n = toks.len();
        for t in toks.iter_mut().take(n - 1) {
            if t == ">" {
                *t = "*".into();
            }
        }
        toks
    })
}

fn subject_tokens() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "c", "tenant-a"]).prop_map(String::from),
        1..6,
    )
}

proptest! {
    #[test]
    fn matcher_agrees_with_reference(p in pattern_tokens(), s in subject_tokens()) {
        let pattern = p.join(".");
        let subject = s.join(".");
        let pr: Vec<&str> = p.iter().map(String::as_str).collect();
        let sr: Vec<&str> = s.iter().map(String::as_str).collect();
        let expected = reference(&pr, &sr);
        prop_assert_eq!(Pattern::namespace(&pattern).unwrap().matches(&subject), expected);
        prop_assert_eq!(matches_pattern(&pattern, &subject), expected);
    }

    #[test]
    fn sublist_agrees_with_reference(
        patterns in prop::collection::vec(pattern_tokens(), 0..40),
        s in subject_tokens(),
    ) {
        let mut list = crate::sublist::Sublist::default();
        for (i, p) in patterns.iter().enumerate() {
            list.insert(&Pattern::namespace(&p.join(".")).unwrap(), i as u64, i);
        }
        let sr: Vec<&str> = s.iter().map(String::as_str).collect();
        let mut got = Vec::new();
        list.for_each_match(&s.join("."), |i| got.push(*i));
        got.sort_unstable();
        let expected: Vec<usize> = patterns
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                let pr: Vec<&str> = p.iter().map(String::as_str).collect();
                reference(&pr, &sr)
            })
            .map(|(i, _)| i)
            .collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn actor_matcher_agrees_with_reference(p in pattern_tokens(), s in subject_tokens(), dash in any::<bool>()) {
        // Actor ids may use `-` or `.` between tokens; "tenant-a" then is two tokens.
        let sep = if dash { "-" } else { "." };
        let pattern = p.join(sep);
        let subject = s.join(sep);
        let split = |x: &str| x.split(['-', '.']).map(String::from).collect::<Vec<_>>();
        let pr = split(&pattern);
        let sr = split(&subject);
        let pr: Vec<&str> = pr.iter().map(String::as_str).collect();
        let sr: Vec<&str> = sr.iter().map(String::as_str).collect();
        if let Ok(parsed) = Pattern::actor(&pattern) {
            prop_assert_eq!(parsed.matches(&subject), reference(&pr, &sr));
        } else {
            // Only a `>` that is not last after splitting may be refused.
            prop_assert!(pr[..pr.len() - 1].contains(&">"));
        }
    }

    /// Fuzz: parsing and matching arbitrary strings never panics.
    #[test]
    fn parsing_arbitrary_strings_never_panics(p in any::<String>(), s in any::<String>()) {
        let _ = Pattern::namespace(&p).map(|x| x.matches(&s));
        let _ = Pattern::actor(&p).map(|x| x.matches(&s));
        let _ = validate_namespace(&p);
        let _ = matches_pattern(&p, &s);
        let _ = is_wildcard(&p);
    }

    /// Fuzz with NATS-ish alphabet: valid patterns match only valid namespaces.
    #[test]
    fn parsing_subject_like_strings_never_panics(p in "[a-c.*> $\\-]{0,12}", s in "[a-c.*> \\-]{0,12}") {
        if let Ok(x) = Pattern::namespace(&p)
            && x.matches(&s)
        {
            prop_assert!(validate_namespace(&s).is_ok(), "{:?} matched invalid {:?}", p, s);
        }
        let _ = Pattern::actor(&p).map(|x| x.matches(&s));
    }
}

#[test]
fn namespace_validation() {
    for ok in ["a", "tenant-a.orders", "a.b.c", "ünï", "x_y-z:1"] {
        assert!(validate_namespace(ok).is_ok(), "{ok}");
    }
    for bad in [
        "", ".", "a.", ".a", "a..b", "a.*", ">", "a b", "a\tb", "$SYS", "a.b*", "a\0",
    ] {
        assert!(validate_namespace(bad).is_err(), "{bad:?}");
    }
    assert!(validate_namespace(&"a".repeat(MAX_NAMESPACE_LEN + 1)).is_err());
}

#[test]
fn pattern_validation() {
    for ok in ["a", "*", ">", "a.*.c", "a.>", "*.*"] {
        assert!(Pattern::namespace(ok).is_ok(), "{ok}");
    }
    for bad in ["", "a.>.b", "a*", "a.b>", "a..b", "$JS.>", "a b"] {
        let err = Pattern::namespace(bad).unwrap_err();
        assert_eq!(err.kind(), crate::BusErrorKind::InvalidPattern, "{bad:?}");
    }
}

#[test]
fn wildcard_helpers() {
    assert!(is_wildcard("a.*"));
    assert!(is_wildcard(">"));
    assert!(!is_wildcard("a.b*"));
    assert!(Pattern::namespace("a.*").unwrap().is_wildcard());
    assert!(!Pattern::namespace("a.b").unwrap().is_wildcard());
}

#[test]
fn wildcard_tokens_in_subjects_never_match() {
    let p = Pattern::namespace(">").unwrap();
    assert!(!p.matches("a.*"));
    assert!(!p.matches("a.>"));
    assert!(!p.matches("a..b"));
    assert!(p.matches("a.b"));
}

#[test]
fn actor_patterns() {
    let p = Pattern::actor("order-*").unwrap();
    assert!(p.matches("order-42"));
    assert!(p.matches("order.42"));
    assert!(!p.matches("order-42-x"));
    assert!(!p.matches("order"));
    let t = Pattern::actor("order->").unwrap();
    assert!(t.matches("order-42-x"));
    assert!(!t.matches("order"));
    assert!(Pattern::actor(">").unwrap().matches("anything at all"));
    // Partial wildcards are literal in actor patterns.
    assert!(Pattern::actor("a*b").unwrap().matches("a*b"));
    assert!(!Pattern::actor("a*b").unwrap().matches("axb"));
    assert!(Pattern::actor("a->-b").is_err());
}
