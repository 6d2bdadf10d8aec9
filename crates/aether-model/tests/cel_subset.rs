//! Aether's CEL subset (docs/models.md), case by case, on the engine behind
//! the seam: every case gives its expected value or an error. Upgrading the
//! engine is gated on this suite (ENGINES.md).

use serde_json::Value as Json;

#[test]
fn every_case_of_the_subset_gives_its_expected_value_or_error() {
    let cases: Vec<Json> =
        serde_json::from_str(include_str!("data/cel_subset.json")).expect("the suite is JSON");
    assert!(cases.len() >= 100, "the suite has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let expr = case["expr"].as_str().unwrap();
        let vars = case
            .get("bindings")
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default();
        let got = aether_model::eval_expression(expr, &vars);
        let ok = match (&got, case.get("error").is_some()) {
            (Err(_), true) => true,
            (Ok(v), false) => v == &case["expect"],
            _ => false,
        };
        if !ok {
            failures.push(format!("{name}: `{expr}` gave {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
