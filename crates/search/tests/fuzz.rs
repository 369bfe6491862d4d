//! Property tests over every parser of untrusted input (`search::fuzz`): arbitrary bytes,
//! arbitrary Unicode from the characters that matter, and mutations of valid inputs. Each case
//! must keep its target's property (no panic, valid and masked records, idempotent masking,
//! bounded output, no graph change, bounds enforced). `gridkb fuzz` runs the same targets for
//! hours.

use proptest::prelude::*;
use search::fuzz::{Rng, Target, check, mutate};

/// Text from the characters our parsers care about, in any order.
fn tricky_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        "[\\PC\\n\\r\\t\"'{}\\[\\]()<>:,;|#\\\\\u{200b}\u{a0}\u{3000}０-９0-9a-zA-Z户号联系人电话幺三八@＠.\\- ]{0,300}",
    )
    .expect("regex")
}

/// An input for `target`: raw bytes, tricky text, or a seed mutated with a drawn seed.
fn input_for(target: Target) -> impl Strategy<Value = Vec<u8>> {
    let seeds = target.seeds();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        tricky_text().prop_map(String::into_bytes),
        (any::<u64>(), 0..seeds.len()).prop_map(move |(seed, i)| {
            let mut rng = Rng::new(seed);
            mutate(&mut rng, &seeds[i], 4096)
        }),
    ]
}

fn holds(target: Target, input: &[u8]) -> Result<(), TestCaseError> {
    check(target, input).map_err(|v| TestCaseError::fail(format!("{}: {}", target.name(), v.0)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn jsonl_reader(input in input_for(Target::Jsonl)) { holds(Target::Jsonl, &input)?; }

    #[test]
    fn csv_reader(input in input_for(Target::Csv)) { holds(Target::Csv, &input)?; }

    #[test]
    fn markdown_reader(input in input_for(Target::Markdown)) { holds(Target::Markdown, &input)?; }

    #[test]
    fn xlsx_reader(input in input_for(Target::Xlsx)) { holds(Target::Xlsx, &input)?; }

    #[test]
    fn analyzer_and_masker(input in input_for(Target::Analyzer)) { holds(Target::Analyzer, &input)?; }

    #[test]
    fn dify_condition_parser(input in input_for(Target::DifyCondition)) { holds(Target::DifyCondition, &input)?; }

    #[test]
    fn sparql_guard(input in input_for(Target::SparqlGuard)) { holds(Target::SparqlGuard, &input)?; }

    #[test]
    fn search_request(input in input_for(Target::SearchRequest)) { holds(Target::SearchRequest, &input)?; }
}

/// The seeds themselves pass, and each target finds what it should find: the properties are not
/// vacuous (a reader that read nothing would pass them all).
#[test]
fn the_seeds_pass_and_the_properties_are_not_vacuous() {
    for target in Target::ALL {
        for seed in target.seeds() {
            assert_eq!(check(target, &seed), Ok(()), "{} seed {}", target.name(), String::from_utf8_lossy(&seed));
        }
    }
    let jsonl = &Target::Jsonl.seeds()[0];
    let batch = ingest::read_bytes("seed.jsonl", ingest::Format::Jsonl, jsonl, &ingest::ReadLimits::default());
    assert_eq!(batch.records.len(), 1, "the JSONL seed is a record");
    let masked = analysis::mask(&String::from_utf8_lossy(&Target::Analyzer.seeds()[0])).text;
    // Masks keep at most the last four digits: the rest of the phone and account numbers is gone.
    assert!(!masked.contains("1234") && !masked.contains("012345"), "{masked}");
    let mut rng = Rng::new(7);
    let mutated: Vec<Vec<u8>> = (0..32).map(|_| mutate(&mut rng, jsonl, 4096)).collect();
    assert!(mutated.iter().any(|m| m != jsonl), "mutation changes inputs");
    assert!(mutated.iter().all(|m| m.len() <= 4096));
}
