//! Times `validate_fhir_json` (parse + validate + category) on FHIR files, in the build it is
//! run in: `cargo run --release -p ehr-record --example validate_timing -- FILE...`.
//! Prints, per file, its size, the median and slowest of 21 runs, and the outcome.

use std::time::{Duration, Instant};

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: validate_timing FILE...");
        std::process::exit(2);
    }
    // The definitions load once per process; time that apart.
    let started = Instant::now();
    let _ = ehr_record::validate_fhir_json(br#"{"resourceType":"Basic","code":{"text":"x"}}"#);
    println!("definitions loaded in {:.1} ms", ms(started.elapsed()));
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut times = Vec::new();
        let mut report = None;
        for _ in 0..21 {
            let started = Instant::now();
            report = Some(ehr_record::validate_fhir_json(&bytes));
            times.push(started.elapsed());
        }
        times.sort();
        let report = report.expect("ran");
        let resources: usize = report.resource_counts.iter().map(|(_, n)| n).sum();
        println!(
            "{file}: {:.1} MB, {resources} resources, median {:.1} ms, max {:.1} ms, {} errors, category {}",
            bytes.len() as f64 / 1e6,
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1]),
            report.errors.len(),
            report.category.map_or("-".to_owned(), |c| c.as_str().to_owned()),
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
