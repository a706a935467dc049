//! `results.json` and `RESULTS.md`.

use std::fmt::Write as _;
use std::path::Path;

use crate::{Results, Sizes};
use ehr_contracts::EvmBuild;

fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".into());
    let flags = cpuinfo.lines().find_map(|l| l.strip_prefix("flags")).unwrap_or("");
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let cpus = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    serde_json::json!({
        "cpu": model,
        "logical_cpus": cpus,
        "aes_ni": has("aes"),
        "pclmulqdq": has("pclmulqdq"),
        "vaes": has("vaes"),
        "memory_gib": (mem_kb / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "kernel": kernel.trim(),
        "loadavg_at_end": load.trim(),
    })
}

pub(crate) fn date() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// (label, key, target, lower is better)
const TARGETS: [(&str, &str, f64, bool); 9] = [
    (
        "doctor addRecord, 10 keywords, consent check included ≤ 50k gas",
        "gas.add_record.k10",
        50_000.0,
        true,
    ),
    ("… and ≥ 5× below the SSTORE baseline", "gas.add_record.k10.baseline_ratio", 5.0, false),
    ("verified search, 1 keyword, 10k records ≤ 20 ms p50", "search.k1.n10000.p50_ms", 20.0, true),
    (
        "… by a new process (cache file), 10k records ≤ 50 ms p50",
        "search.k1.n10000.process_p50_ms",
        50.0,
        true,
    ),
    ("single 1 KB record upload end to end ≤ 30 ms p50", "upload.single.local.p50_ms", 30.0, true),
    (
        "batched upload throughput ≥ 300 records/s",
        "upload.batched.local.records_per_s",
        300.0,
        false,
    ),
    ("1 GB file to the embedded store ≥ 400 MB/s", "largefile.local.write_mb_per_s", 400.0, false),
    ("… peak RSS ≤ 64 MB", "largefile.local.peak_rss_mb", 64.0, true),
    ("Synthea patient bundle validated ≤ 50 ms", "fhir.synthea.max_validate_ms", 50.0, true),
];

pub(crate) fn write(
    out: &Path,
    sizes: &Sizes,
    results: &Results,
    elapsed: f64,
) -> eyre::Result<()> {
    let machine = machine();
    let date = date();
    // envelope.ratio_to_openssl and the other ratios are put by the benchmarks themselves.
    let figures = &results.figures;
    let json = serde_json::json!({
        "machine": machine,
        "date": date,
        "mode": if sizes.smoke { "smoke" } else { "full" },
        "seconds": elapsed.round(),
        "figures": figures,
        "methods": results.methods,
        "notes": results.notes,
        "seed_s0": {
            "time_ms": 9.7, "memory_kb": 9.5, "indexing_time_ms": 63.0,
            "source": "../shared/seeds/000_*.txt (Shinde & Gumaste 2023; Python/Flask/MongoDB; method not stated)"
        },
    });
    std::fs::write(out.join("results.json"), serde_json::to_string_pretty(&json)? + "\n")?;

    let mut md = String::new();
    let m = &json["machine"];
    writeln!(md, "# ehrkit benchmark results\n")?;
    writeln!(
        md,
        "Produced by `bench/run{}` on {date} in {:.0} s ({} mode). Machine: {} ({} logical CPUs, \
         AES-NI {}, PCLMULQDQ {}, VAES {}), {} GiB RAM, Linux {}; load average at the end: {}.\n",
        if sizes.smoke { " --smoke" } else { "" },
        elapsed,
        if sizes.smoke { "smoke: tiny sizes, figures are not meaningful" } else { "full" },
        m["cpu"].as_str().unwrap_or(""),
        m["logical_cpus"],
        m["aes_ni"],
        m["pclmulqdq"],
        m["vaes"],
        m["memory_gib"],
        m["kernel"].as_str().unwrap_or(""),
        m["loadavg_at_end"].as_str().unwrap_or(""),
    )?;
    writeln!(md, "## Targets (issue 7)\n")?;
    writeln!(md, "| target | figure | measured | status |\n| --- | --- | --- | --- |")?;
    for (label, key, target, lower) in TARGETS {
        let (value, status) = match figures.get(key) {
            Some(v) => {
                let pass = if lower { *v <= target } else { *v >= target };
                (format!("{v:.1}"), if pass { "pass" } else { "**miss**" })
            }
            None => ("—".into(), "not measured"),
        };
        writeln!(md, "| {label} | `{key}` | {value} | {status} |")?;
    }
    if let Some(r) = figures.get("envelope.ratio_to_openssl") {
        writeln!(
            md,
            "| envelope throughput ≥ 50 % of openssl's AES-256-GCM | `envelope.ratio_to_openssl` | {:.0} % | {} |",
            r * 100.0,
            if *r >= 0.5 { "pass" } else { "**miss**" }
        )?;
    }
    if let Some(ratio) = figures.get("largefile.local.write_ratio_to_disk") {
        let rate = |k: &str| figures.get(k).map_or("—".to_owned(), |v| format!("{v:.0}"));
        writeln!(
            md,
            "\nThe disk without ehrkit, written the same way just before: {} MB/s through the page \
             cache + fsync (`largefile.disk.buffered_fsync_mb_per_s`), {} MB/s with O_DIRECT + \
             fsync (`largefile.disk.direct_fsync_mb_per_s`). The store's encrypted, hashed, durable \
             write reaches {:.0} % of the faster.",
            rate("largefile.disk.buffered_fsync_mb_per_s"),
            rate("largefile.disk.direct_fsync_mb_per_s"),
            ratio * 100.0
        )?;
    }
    if figures.contains_key(&crate::gas_builds::key(EvmBuild::Shanghai, "grant")) {
        writeln!(
            md,
            "\n## Gas per EVM build\n\nEach build of the contracts deployed to its own fresh \
             anvil; `ehr deploy` picks the newest the node runs.\n"
        )?;
        writeln!(
            md,
            "Gas of the whole transaction, and in brackets its execution gas (less the base and \
             calldata, which vary with the random digests and keys).\n"
        )?;
        writeln!(md, "| operation | shanghai | cancun | prague |\n| --- | --- | --- | --- |")?;
        for operation in crate::gas_builds::operations() {
            let cell = |build| {
                let key = crate::gas_builds::key(build, operation);
                let figure =
                    |k: &str| figures.get(k).map_or("—".to_owned(), |v| format!("{v:.0}"));
                format!("{} ({})", figure(&key), figure(&format!("{key}.execution")))
            };
            writeln!(
                md,
                "| `{operation}` | {} | {} | {} |",
                cell(EvmBuild::Shanghai),
                cell(EvmBuild::Cancun),
                cell(EvmBuild::Prague)
            )?;
        }
    }
    writeln!(md, "\n## Every figure\n")?;
    writeln!(md, "| figure | value | method |\n| --- | --- | --- |")?;
    for (key, value) in figures {
        let method = results.methods.get(key).map(String::as_str).unwrap_or("derived");
        writeln!(md, "| `{key}` | {value:.2} | {} |", method.replace('|', "\\|"))?;
    }
    if !results.notes.is_empty() {
        writeln!(md, "\n## Notes\n")?;
        for note in &results.notes {
            writeln!(md, "- {note}")?;
        }
    }
    let fig = |k: &str| figures.get(k).map_or("—".to_owned(), |v| format!("{v:.1}"));
    writeln!(md, "\n## Beside the seed paper S0\n")?;
    writeln!(
        md,
        "S0 (Shinde & Gumaste, 2023: Python, Flask, TF Encrypted, MongoDB) reports \"time 9.7 ms, \
         memory 9.5 KB, indexing time 63 ms\" without saying what each covers, on what hardware or \
         data size. The closest figures of ours, and what they measure:\n"
    )?;
    writeln!(
        md,
        "| S0 | S0 value | ours | our value | what ours measures |\n| --- | --- | --- | --- | --- |"
    )?;
    writeln!(
        md,
        "| time | 9.7 ms | `search.k1.n10000.p50_ms` | {} ms | one verified keyword search over 10,000 records on a real chain by a client that searched before (one new record since): the on-chain accumulator read at the search's block, only the new logs fetched, the cached verification extended and checked equal to it, every record's tags matched locally; a first search (whole history fetched and verified) takes {} ms (`search.k1.n10000.cold_p50_ms`) |",
        fig("search.k1.n10000.p50_ms"),
        fig("search.k1.n10000.cold_p50_ms")
    )?;
    writeln!(
        md,
        "| indexing time | 63 ms | `upload.single.local.p50_ms` | {} ms | one 1 KB FHIR record validated, encrypted, stored and indexed on chain with the transaction mined (end to end, not just the index write) |",
        fig("upload.single.local.p50_ms")
    )?;
    writeln!(
        md,
        "| memory | 9.5 KB | `largefile.local.peak_rss_mb` | {} MiB | peak resident memory of a whole process (runtime included) streaming a {} MiB file through encryption into the store and back; S0's 9.5 KB cannot be a process's memory — probably one record's or one structure's size, so the two are not comparable |",
        fig("largefile.local.peak_rss_mb"),
        sizes.large_mib
    )?;
    writeln!(
        md,
        "\nTimings were taken on a shared machine unless the load average above is near 0; re-run `bench/run` on a quiet machine for figures to quote."
    )?;
    std::fs::write(out.join("RESULTS.md"), md)?;
    Ok(())
}
