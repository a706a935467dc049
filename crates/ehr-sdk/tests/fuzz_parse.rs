//! Fuzzing by property test (cargo-fuzz needs a nightly toolchain; see docs/security.md): the
//! command-line value parsers (scope, duration, purpose, organization kind, address, ether)
//! never panic on arbitrary text, durations stay within bounds, and what parses round-trips
//! through its display form.
//!
//! Cases: `EHR_FUZZ_CASES` (default 2,000; the long run in docs/security.md used 100,000).

use std::time::Duration;

use ehr_sdk::parse;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("EHR_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,60}") {
        let _ = parse::scope(&text);
        let _ = parse::purpose(&text);
        let _ = parse::org_kind(&text);
        let _ = parse::address(&text);
        let _ = parse::ether(&text);
        if let Ok(d) = parse::duration(&text) {
            prop_assert!(d >= Duration::from_secs(1) && d <= parse::MAX_DURATION, "{text:?} → {d:?}");
        }
    }

    #[test]
    fn duration_like_text(n in "[0-9]{0,25}", unit in "(s|m|h|d|w|y|ms|)", space in "( |)") {
        let text = format!("{n}{space}{unit}");
        if let Ok(d) = parse::duration(&text) {
            prop_assert!(d >= Duration::from_secs(1) && d <= parse::MAX_DURATION, "{text:?} → {d:?}");
            let again = parse::duration(&parse::format_duration(d)).expect("its own format parses");
            prop_assert_eq!(again, d);
        }
    }

    #[test]
    fn scope_like_text(kind in "(all|category|record|cat|rec|)", sep in "(:|=|)", value in "[ -~]{0,40}") {
        let text = format!("{kind}{sep}{value}");
        if let Ok(scope) = parse::scope(&text) {
            let again = parse::scope(&scope.to_string()).expect("its own display parses");
            prop_assert_eq!(again, scope);
        }
    }

    #[test]
    fn ether_like_text(int in "[0-9]{0,40}", frac in "[0-9]{0,25}", dot in any::<bool>()) {
        let text = if dot { format!("{int}.{frac}") } else { int };
        let _ = parse::ether(&text);
    }

    #[test]
    fn address_like_text(hex in "(0x|0X|)[0-9a-fA-F]{0,44}") {
        if let Ok(address) = parse::address(&hex) {
            prop_assert_eq!(parse::address(&address.to_string()).unwrap(), address);
        }
    }
}
