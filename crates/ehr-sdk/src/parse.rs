//! Parsing what people type: scopes, durations, purposes, organization kinds, addresses, dates
//! and ether amounts. Every refusal is one sentence that says what is wrong and what to type
//! instead, because these strings reach users as-is (CLI flags, relay files, web forms).

use crate::NamedScope;
use alloy::primitives::Address;
use ehr_contracts::{DecisionCode, OrgKind, Purpose, ReasonCode};
use std::fmt;
use std::time::Duration;

/// Why an input was refused: one sentence, ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(String);

impl ParseError {
    /// An error with its sentence.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// Shorthand for parser results.
pub type ParseResult<T> = std::result::Result<T, ParseError>;

/// Inputs are echoed in errors; a pasted megabyte should not be.
fn shown(input: &str) -> String {
    const MAX: usize = 48;
    if input.chars().count() <= MAX {
        format!("{input:?}")
    } else {
        let head: String = input.chars().take(MAX).collect();
        format!("{head:?}…")
    }
}

/// A grant or request scope: `all`, `category:NAME` or `record:ID` (ID ≥ 1). A category is
/// named here; the chain only ever sees its opaque per-patient id ([`NamedScope::resolve`]).
pub fn scope(input: &str) -> ParseResult<NamedScope> {
    let text = input.trim();
    if text.eq_ignore_ascii_case("all") {
        return Ok(NamedScope::All);
    }
    let usage = "use all, category:NAME (e.g. category:lab) or record:ID (e.g. record:12)";
    let Some((kind, value)) = text.split_once(':') else {
        return Err(ParseError::new(format!("invalid scope {}: {usage}", shown(input))));
    };
    match kind.to_ascii_lowercase().as_str() {
        "category" => match ehr_contracts::category_bytes32(value) {
            Ok(_) => Ok(NamedScope::Category(value.to_owned())),
            Err(_) => Err(ParseError::new(format!(
                "invalid category {} in scope: use 1 to 31 printable ASCII characters without spaces, e.g. category:lab",
                shown(value)
            ))),
        },
        "record" => match value.parse::<u64>() {
            Ok(0) => Err(ParseError::new("record ids start at 1: use record:1 or higher")),
            Ok(id) => Ok(NamedScope::Record(id)),
            Err(_) => Err(ParseError::new(format!(
                "invalid record id {} in scope: use a whole number, e.g. record:12",
                shown(value)
            ))),
        },
        _ => Err(ParseError::new(format!("unknown scope kind {}: {usage}", shown(kind)))),
    }
}

/// The longest duration any input may name (the consent registry's maximum grant: 3650 days).
pub const MAX_DURATION: Duration = Duration::from_secs(3650 * 86_400);

/// A duration: a whole number and one unit, `s`, `m`, `h`, `d` or `w` (`3600s`, `90m`, `12h`,
/// `30d`, `2w`); from 1 second to [`MAX_DURATION`]. Workflows check their own tighter bounds.
pub fn duration(input: &str) -> ParseResult<Duration> {
    let text = input.trim();
    let usage = "use a number and a unit s, m, h, d or w, e.g. 30d, 12h, 90m or 3600s";
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(ParseError::new(format!("invalid duration {}: {usage}", shown(input))));
    }
    let unit_secs: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "" => {
            return Err(ParseError::new(format!("duration {} has no unit: {usage}", shown(input))));
        }
        other => {
            return Err(ParseError::new(format!(
                "unknown unit {} in duration {}: {usage}",
                shown(other),
                shown(input)
            )));
        }
    };
    let too_long = || {
        ParseError::new(format!(
            "duration {} is too long: the maximum is 3650d (10 years)",
            shown(input)
        ))
    };
    let count: u64 = number.parse().map_err(|_| too_long())?;
    let secs = count.checked_mul(unit_secs).ok_or_else(too_long)?;
    if secs == 0 {
        return Err(ParseError::new(format!(
            "duration {} is zero: it must be at least 1s",
            shown(input)
        )));
    }
    if secs > MAX_DURATION.as_secs() {
        return Err(too_long());
    }
    Ok(Duration::from_secs(secs))
}

/// Checks that `value` (from the input named `what`) lies in `min..=max`.
pub fn duration_within(
    what: &str,
    value: Duration,
    min: Duration,
    max: Duration,
) -> ParseResult<Duration> {
    if value < min || value > max {
        return Err(ParseError::new(format!(
            "{what} must be between {} and {}, not {}",
            format_duration(min),
            format_duration(max),
            format_duration(value)
        )));
    }
    Ok(value)
}

/// A duration in the largest unit that divides it (`30d`, `90m`), as [`duration`] reads it.
pub fn format_duration(value: Duration) -> String {
    let secs = value.as_secs();
    for (unit, size) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs >= size && secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// Why access is given: `treatment`, `insurance`, `research` or `emergency`.
pub fn purpose(input: &str) -> ParseResult<Purpose> {
    match input.trim().to_ascii_lowercase().as_str() {
        "treatment" => Ok(Purpose::Treatment),
        "insurance" => Ok(Purpose::Insurance),
        "research" => Ok(Purpose::Research),
        "emergency" => Ok(Purpose::Emergency),
        _ => Err(ParseError::new(format!(
            "unknown purpose {}: use treatment, insurance, research or emergency",
            shown(input)
        ))),
    }
}

/// A reason code by name (`treatment`, `emergency-treatment`, `payment`, …) or number (1 to 9).
pub fn reason_code(input: &str) -> ParseResult<ReasonCode> {
    code_by_name(input, "reason code", ReasonCode::ALL, ReasonCode::name, ReasonCode::as_u16)
}

/// A claim decision code by name (`covered`, `not-covered`, `information-missing`, …) or
/// number (1 to 8).
pub fn decision_code(input: &str) -> ParseResult<DecisionCode> {
    code_by_name(
        input,
        "decision code",
        DecisionCode::ALL,
        DecisionCode::name,
        DecisionCode::as_u16,
    )
}

/// One of `all` by its name or its number, case and surrounding space ignored.
fn code_by_name<T: Copy>(
    input: &str,
    what: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    number: fn(T) -> u16,
) -> ParseResult<T> {
    let text = input.trim().to_ascii_lowercase();
    let by_number =
        text.parse::<u16>().ok().and_then(|n| all.iter().copied().find(|c| number(*c) == n));
    by_number.or_else(|| all.iter().copied().find(|c| name(*c) == text)).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|c| name(*c)).collect();
        let last = all.last().map_or(0, |c| number(*c));
        ParseError::new(format!(
            "unknown {what} {}: use one of {} (or 1 to {last})",
            shown(input),
            names.join(", ")
        ))
    })
}

/// An organization kind: `hospital`, `insurer` or `lab`.
pub fn org_kind(input: &str) -> ParseResult<OrgKind> {
    match input.trim().to_ascii_lowercase().as_str() {
        "hospital" => Ok(OrgKind::Hospital),
        "insurer" => Ok(OrgKind::Insurer),
        "lab" => Ok(OrgKind::Lab),
        _ => Err(ParseError::new(format!(
            "unknown organization kind {}: use hospital, insurer or lab",
            shown(input)
        ))),
    }
}

/// An account address: `0x` and 40 hex digits. Mixed case must be a valid EIP-55 checksum
/// (a typo in one letter is caught); all lower or all upper case is taken as is.
pub fn address(input: &str) -> ParseResult<Address> {
    let text = input.trim();
    let usage = "an address is 0x followed by 40 hex digits";
    let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) else {
        return Err(ParseError::new(format!("invalid address {}: {usage}", shown(input))));
    };
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ParseError::new(format!(
            "invalid address {}: {usage} ({} given)",
            shown(input),
            if hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                format!("{} digits", hex.len())
            } else {
                "non-hex characters".to_owned()
            }
        )));
    }
    let parsed: Address = format!("0x{hex}")
        .parse()
        .map_err(|_| ParseError::new(format!("invalid address {}: {usage}", shown(input))))?;
    let mixed =
        hex.bytes().any(|b| b.is_ascii_lowercase()) && hex.bytes().any(|b| b.is_ascii_uppercase());
    if mixed && parsed.to_checksum(None)[2..] != *hex {
        return Err(ParseError::new(format!(
            "address {} has a wrong EIP-55 checksum (a mistyped character?); check it, or write it in lower case",
            shown(input)
        )));
    }
    Ok(parsed)
}

/// An amount of ether as a decimal (`1`, `0.5`, `100`), in wei; at most 18 decimals and
/// 10^12 ether.
pub fn ether(input: &str) -> ParseResult<u128> {
    let text = input.trim();
    let usage = "use a decimal amount of ether, e.g. 10 or 0.5";
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return Err(ParseError::new(format!("invalid amount {}: {usage}", shown(input))));
    }
    if fraction.len() > 18 {
        return Err(ParseError::new(format!(
            "amount {} has more than 18 decimals (1 wei is 0.000000000000000001)",
            shown(input)
        )));
    }
    let too_much =
        || ParseError::new(format!("amount {} is too large: at most 10^12 ether", shown(input)));
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| too_much())? };
    if whole > 1_000_000_000_000 {
        return Err(too_much());
    }
    let fraction_wei: u128 =
        format!("{fraction:0<18}").parse().expect("18 ASCII digits fit in u128");
    Ok(whole * 10u128.pow(18) + fraction_wei)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err<T: fmt::Debug>(result: ParseResult<T>) -> String {
        let message = result.expect_err("input should be refused").to_string();
        assert!(!message.contains('\n'), "one line: {message}");
        message
    }

    #[test]
    fn reason_codes_parse_by_name_and_number() {
        assert_eq!(reason_code("treatment").unwrap(), ReasonCode::Treatment);
        assert_eq!(reason_code(" Emergency-Treatment ").unwrap(), ReasonCode::EmergencyTreatment);
        assert_eq!(reason_code("9").unwrap(), ReasonCode::Legal);
        assert!(err(reason_code("0")).contains("unknown reason code"));
        assert!(err(reason_code("curiosity")).contains("payment, research"));
        assert_eq!(decision_code("not-covered").unwrap(), DecisionCode::NotCovered);
        assert_eq!(decision_code(" 8 ").unwrap(), DecisionCode::Other);
        assert!(err(decision_code("9")).contains("unknown decision code \"9\""));
        assert!(err(decision_code("fine")).contains("covered, partly-covered"));
        assert!(err(decision_code("fine")).contains("(or 1 to 8)"));
    }

    #[test]
    fn scopes_parse_in_all_three_forms() {
        assert_eq!(scope("all").unwrap(), NamedScope::All);
        assert_eq!(scope("ALL").unwrap(), NamedScope::All);
        assert_eq!(scope("category:lab").unwrap(), NamedScope::Category("lab".into()));
        assert_eq!(scope("record:12").unwrap(), NamedScope::Record(12));
        assert_eq!(scope(" record:1 ").unwrap(), NamedScope::Record(1));
    }

    #[test]
    fn bad_scopes_say_what_to_type() {
        assert!(err(scope("everything")).contains("use all, category:NAME"));
        assert!(err(scope("category:")).contains("1 to 31 printable"));
        assert!(err(scope("category:has space")).contains("invalid category"));
        assert!(err(scope(&format!("category:{}", "x".repeat(32)))).contains("1 to 31"));
        assert!(err(scope("record:0")).contains("start at 1"));
        assert!(err(scope("record:twelve")).contains("whole number"));
        assert!(err(scope("record:-1")).contains("whole number"));
        assert!(err(scope("folder:x")).contains("unknown scope kind"));
        assert!(err(scope("")).contains("invalid scope"));
    }

    #[test]
    fn durations_take_one_unit_and_stay_in_bounds() {
        assert_eq!(duration("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(duration("12h").unwrap(), Duration::from_secs(12 * 3_600));
        assert_eq!(duration("90m").unwrap(), Duration::from_secs(5_400));
        assert_eq!(duration("3600s").unwrap(), Duration::from_secs(3_600));
        assert_eq!(duration("2w").unwrap(), Duration::from_secs(14 * 86_400));
        assert_eq!(duration("3650d").unwrap(), MAX_DURATION);
        assert!(err(duration("30")).contains("no unit"));
        assert!(err(duration("30x")).contains("unknown unit \"x\""));
        assert!(err(duration("d")).contains("invalid duration"));
        assert!(err(duration("0s")).contains("zero"));
        assert!(err(duration("3651d")).contains("too long"));
        assert!(err(duration("99999999999999999999999d")).contains("too long"));
        assert!(err(duration("18446744073709551615w")).contains("too long"));
        assert!(err(duration("1.5h")).contains("unknown unit"));
        assert!(err(duration("-1d")).contains("invalid duration"));
    }

    #[test]
    fn bounded_durations_name_the_bounds() {
        let week = Duration::from_secs(7 * 86_400);
        let message = err(duration_within(
            "--ttl",
            Duration::from_secs(31 * 86_400),
            Duration::from_secs(1),
            Duration::from_secs(30 * 86_400),
        ));
        assert_eq!(message, "--ttl must be between 1s and 30d, not 31d");
        assert_eq!(duration_within("x", week, week, week).unwrap(), week);
    }

    #[test]
    fn durations_format_as_they_parse() {
        for text in ["30d", "12h", "90m", "61s", "2w"] {
            assert_eq!(format_duration(duration(text).unwrap()), text);
        }
    }

    #[test]
    fn purposes_and_kinds_parse_case_insensitively() {
        assert_eq!(purpose("Treatment").unwrap(), Purpose::Treatment);
        assert_eq!(purpose("emergency").unwrap(), Purpose::Emergency);
        assert!(err(purpose("curiosity")).contains("use treatment, insurance"));
        assert_eq!(org_kind("LAB").unwrap(), OrgKind::Lab);
        assert!(err(org_kind("pharmacy")).contains("use hospital, insurer or lab"));
    }

    #[test]
    fn addresses_need_forty_hex_digits_and_a_valid_checksum() {
        let checksummed = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        assert_eq!(address(checksummed).unwrap().to_checksum(None), checksummed);
        assert!(address(&checksummed.to_lowercase()).is_ok());
        let typo = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD";
        assert!(err(address(typo)).contains("checksum"));
        assert!(err(address("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")).contains("0x followed"));
        assert!(err(address("0x1234")).contains("4 digits"));
        assert!(err(address("0xzzzzb6053f3e94c9b9a09f33669435e7ef1beaed")).contains("non-hex"));
    }

    #[test]
    fn ether_amounts_convert_to_wei() {
        assert_eq!(ether("1").unwrap(), 10u128.pow(18));
        assert_eq!(ether("0.5").unwrap(), 5 * 10u128.pow(17));
        assert_eq!(ether(".25").unwrap(), 25 * 10u128.pow(16));
        assert_eq!(ether("0.000000000000000001").unwrap(), 1);
        assert!(err(ether("0.0000000000000000001")).contains("18 decimals"));
        assert!(err(ether("ten")).contains("invalid amount"));
        assert!(err(ether("1e18")).contains("invalid amount"));
        assert!(err(ether("10000000000000")).contains("too large"));
        assert!(err(ether(".")).contains("invalid amount"));
    }
}
