//! Every scenario of the table through both adapters: one `#[test]` per pair, named
//! `ureq::<scenario>` and `reqwest::<scenario>`, so `cargo nextest` and libtest filters see
//! them one by one. A failure names the adapter, the scenario, the step and what went wrong.

use std::collections::{BTreeMap, BTreeSet};

use conformance::{Adapter, Category, Reqwest, Scenario, Ureq, run, table};

fn check(scenario: fn() -> Scenario, name: &'static str, adapter: &'static dyn Adapter) {
    match run(scenario().named(name), adapter) {
        Ok(summary) => println!("[{}] {name}: ok, {summary:?}", adapter.name()),
        Err(report) => panic!("\n{report}\n"),
    }
}

macro_rules! adapter_tests {
    ($($name:ident,)*) => {
        mod ureq {
            $(#[test] fn $name() { super::check(conformance::table::$name, stringify!($name), &conformance::Ureq) })*
        }
        mod reqwest {
            $(#[test] fn $name() { super::check(conformance::table::$name, stringify!($name), &conformance::Reqwest) })*
        }
    };
}

conformance::for_each_scenario!(adapter_tests);

/// The table is well formed: at least 60 scenarios, unique names, every category used, and
/// every scenario declares a budget unless it sends nothing.
#[test]
fn table_is_well_formed() {
    let table = table();
    assert!(table.len() >= 60, "only {} scenarios", table.len());
    let names: BTreeSet<&str> = table.iter().map(|s| s.name).collect();
    assert_eq!(names.len(), table.len(), "duplicate scenario names");
    let mut per_category: BTreeMap<Category, usize> = BTreeMap::new();
    for scenario in &table {
        *per_category.entry(scenario.category).or_default() += 1;
    }
    for category in Category::ALL {
        assert!(per_category.contains_key(&category), "no scenario for {category:?}");
    }
    let summary: Vec<String> = per_category.iter().map(|(c, n)| format!("{c:?}: {n}")).collect();
    println!("{} scenarios x 2 adapters — {}", table.len(), summary.join(", "));
    let _ = (Ureq, Reqwest);
}
