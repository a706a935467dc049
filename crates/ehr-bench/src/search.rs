//! Verified search latency for patients with 1k / 10k / 100k records.
//!
//! The histories are built index-only: tags generated with ehr-index for random digests (no
//! envelopes are stored: search never reads them), written by the patient with `addRecords`,
//! 256 records per transaction.
//!
//! Each size is measured cold (a fresh client: the whole history fetched and verified), warm
//! (the same client again: the state read at the new block, only the new blocks' logs
//! fetched, the cached verification extended; [`ehr_index::IndexCache`]) and as a new
//! process (a fresh client starting from the cache file a previous one left).

use std::time::Instant;

use alloy::signers::local::PrivateKeySigner;
use ehr_contracts::bindings::{IRecordIndex, RecordIndex, RoleRegistry};
use ehr_contracts::tx;
use ehr_index::{IndexClient, Keyword, Query, SearchKeys, TagList, derive_master_secret};

use crate::gas::random_digest;
use crate::{Env, Results, Sizes, percentile, public_key};

/// Keywords of record `i`: `k{i%100}` (1 % of records each), `a{i%7}`, `b{i%11}`, plus 7
/// fillers: 10 keywords, 16 tags.
fn words(i: usize) -> Vec<Keyword> {
    let mut w = vec![format!("k{}", i % 100), format!("a{}", i % 7), format!("b{}", i % 11)];
    w.extend((0..7).map(|j| format!("f{}", (i * 7 + j) % 1000)));
    w.iter().map(|s| Keyword::new(s).expect("valid")).collect()
}

/// Adds records `from..to` (keywords [`words`]) to the patient's index in `addRecords`
/// transactions of up to 256.
async fn add_records(
    env: &Env,
    patient: &PrivateKeySigner,
    keys: &SearchKeys,
    from: usize,
    to: usize,
) -> eyre::Result<()> {
    let d = &env.deployment;
    let lab = keys.category_id("lab")?;
    let ck = keys.category_keys(0, &lab).expect("patient keys");
    let index = RecordIndex::new(d.record_index, env.provider(patient));
    let mut i = from;
    while i < to {
        let end = (i + 256).min(to);
        let records: Vec<IRecordIndex::RecordInput> = (i..end)
            .map(|j| {
                let digest = random_digest();
                let tags = TagList::build(ck.index_key(), &digest, &words(j)).expect("tags");
                IRecordIndex::RecordInput {
                    digest,
                    category: *lab.as_bytes32(),
                    tags: tags.to_bytes(),
                }
            })
            .collect();
        tx::send("add records", index.addRecords(patient.address(), 0, records)).await?;
        i = end;
    }
    Ok(())
}

async fn build(env: &Env, patient: &PrivateKeySigner, n: usize) -> eyre::Result<SearchKeys> {
    let d = &env.deployment;
    tx::send(
        "register",
        RoleRegistry::new(d.role_registry, env.provider(patient))
            .registerPatient(public_key(patient)),
    )
    .await?;
    let master = derive_master_secret(patient, d.chain_id, d.record_index).await?;
    let keys = SearchKeys::patient(master);
    let started = Instant::now();
    add_records(env, patient, &keys, 0, n).await?;
    eprintln!("  built {n} records in {:.1} s", started.elapsed().as_secs_f64());
    Ok(keys)
}

pub(crate) async fn run(env: &Env, sizes: &Sizes, results: &mut Results) -> eyre::Result<()> {
    let labels = ["n1000", "n10000", "n100000"];
    let warm_reps = if sizes.smoke { 3 } else { 30 };
    for (slot, &n) in sizes.search_records.iter().enumerate() {
        let patient = env.account().await?;
        let keys = build(env, &patient, n).await?;
        let mut total = n;
        let label = if sizes.smoke { format!("n{n}") } else { labels[slot].to_owned() };
        for (name, query) in
            [("k1", Query::new(["k7"])?), ("and3", Query::new(["k7", "a3", "b5"])?)]
        {
            let words = query.keywords().iter().map(Keyword::as_str).collect::<Vec<_>>();
            // Cold: a fresh client each time, so every search fetches and verifies the whole
            // history.
            let mut cold = Vec::new();
            let mut hits = 0;
            for _ in 0..sizes.search_reps[slot] {
                let client = IndexClient::from_deployment(env.reader(), &env.deployment);
                let start = Instant::now();
                let found = client.search(patient.address(), &keys, &query, None).await?;
                cold.push(start.elapsed().as_secs_f64() * 1e3);
                hits = found.hits.len();
                eyre::ensure!(
                    found.records_scanned == total,
                    "scanned {} of {total}",
                    found.records_scanned
                );
            }
            // Warm: one client; after an untimed first (full) search, before each timed
            // search one new record is added (untimed), so each search reads the state at
            // the new block, fetches the new block's log, extends the cached verification
            // and matches every record.
            let client = IndexClient::from_deployment(env.reader(), &env.deployment);
            client.search(patient.address(), &keys, &query, None).await?;
            let mut warm = Vec::new();
            for _ in 0..warm_reps {
                add_records(env, &patient, &keys, total, total + 1).await?;
                total += 1;
                let start = Instant::now();
                let found = client.search(patient.address(), &keys, &query, None).await?;
                warm.push(start.elapsed().as_secs_f64() * 1e3);
                eyre::ensure!(
                    found.records_scanned == total,
                    "scanned {} of {total}",
                    found.records_scanned
                );
            }
            // A new process: a fresh client whose verified index comes from the file a previous
            // process left (as every `ehr` command keeps it), one record later each time.
            let cache_dir = tempfile::tempdir()?;
            let on_disk = || {
                IndexClient::from_deployment(env.reader(), &env.deployment)
                    .with_cache_dir(cache_dir.path())
            };
            on_disk().search(patient.address(), &keys, &query, None).await?;
            let mut process = Vec::new();
            for _ in 0..warm_reps {
                add_records(env, &patient, &keys, total, total + 1).await?;
                total += 1;
                let client = on_disk();
                let start = Instant::now();
                let found = client.search(patient.address(), &keys, &query, None).await?;
                process.push(start.elapsed().as_secs_f64() * 1e3);
                eyre::ensure!(
                    found.records_scanned == total,
                    "scanned {} of {total}",
                    found.records_scanned
                );
            }
            // The warm answers are the cold one.
            let fresh = IndexClient::from_deployment(env.reader(), &env.deployment).without_cache();
            let at = Some(client.latest_block().await?);
            let full = fresh.search(patient.address(), &keys, &query, at).await?;
            eyre::ensure!(
                client.search(patient.address(), &keys, &query, at).await? == full
                    && on_disk().search(patient.address(), &keys, &query, at).await? == full,
                "a cached search differs from a full one"
            );
            let cold_method = format!(
                "IndexClient::search by the patient (master-secret keys) over {n} records \
                 (10 keywords each, built index-only with addRecords × 256), query {words:?} \
                 ({hits} hits), cold: first search of a fresh client (no cache): latest block \
                 header + stateOf at it + eth_getLogs of the whole history paged with the \
                 default FetchOptions + decode + accumulator verification of every entry + \
                 local tag matching + hit timestamps; {} repetitions; wall-clock ms",
                sizes.search_reps[slot]
            );
            let warm_method = format!(
                "IndexClient::search by the patient over about {n} records (as the cold \
                 figure), query {words:?}, warm: the same client searching again after one \
                 new record was added (untimed) since its previous search: latest block header \
                 B' + stateOf at B' + hash of the cached block B re-read (reorg check) + \
                 eth_getLogs of blocks (B, B'] only + decode + the cached accumulator extended \
                 by the new entry and checked equal to stateOf(B') (entry count, record count, \
                 accumulator) + local tag matching over every record + hit timestamps; \
                 {warm_reps} repetitions; the answer equals an uncached search's; wall-clock ms"
            );
            let process_method = format!(
                "IndexClient::search by the patient over about {n} records, query {words:?}, \
                 as a new process (a one-shot `ehr search`) finds it: a fresh client \
                 (IndexClient::with_cache_dir) whose cache file a previous client wrote, one \
                 new record (untimed) later: the file read and its {n} entries folded through \
                 the accumulator again and checked against the stored state, then as warm \
                 (latest block, stateOf, reorg check, logs of the new block only, extension \
                 checked against stateOf, matching, timestamps); excludes process start-up \
                 and opening the session; {warm_reps} repetitions; wall-clock ms"
            );
            let mut put = |key: &str, samples: &[f64], q: f64, method: &str| {
                results.put(&format!("search.{name}.{label}.{key}"), percentile(samples, q), method)
            };
            put("p50_ms", &warm, 50.0, &warm_method);
            put("p95_ms", &warm, 95.0, &warm_method);
            put("process_p50_ms", &process, 50.0, &process_method);
            put("process_p95_ms", &process, 95.0, &process_method);
            put("cold_p50_ms", &cold, 50.0, &cold_method);
            put("cold_p95_ms", &cold, 95.0, &cold_method);
        }
    }
    Ok(())
}
