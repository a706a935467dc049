//! Load, against one real anvil and one embedded store: 1,000 uploads (each followed by a
//! verified search for it) by 32 accounts at once — 32 in flight, one per account since an
//! account's transactions are ordered by its nonce — then every record is searched and
//! fetched back. No errors, no lost and no duplicated record, every plaintext intact.
//!
//! `EHR_LOAD_RECORDS` scales it (default 1000); `EHR_LOAD_WRITERS` sets the concurrency
//! (default 32).

use std::collections::BTreeSet;
use std::time::Instant;

use crate::records_support::*;
use ehr_sdk::fetch::{FetchOutput, fetch};
use ehr_sdk::journal::Journal;
use ehr_sdk::records::{RecordSource, UploadRequest, upload};
use ehr_sdk::search::{SearchRequest, search};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn body(writer: usize, i: usize) -> Vec<u8> {
    format!("load test record {i} of writer {writer}: {}", "x".repeat(i % 97)).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_uploads_and_searches_lose_and_duplicate_nothing() -> eyre::Result<()>
{
    let total = env("EHR_LOAD_RECORDS", 1000);
    let writers = env("EHR_LOAD_WRITERS", 32).min(total).max(1);
    let world = World::start(false).await?;
    let dir = tempfile::tempdir()?;

    // One patient per writer, each writing its own records.
    let mut sessions = Vec::new();
    for _ in 0..writers {
        let s = world.stranger().await?;
        ehr_sdk::roles::register_patient(&s).await?;
        sessions.push(s);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (w, session) in sessions.iter().cloned().enumerate() {
        let count = total / writers + usize::from(w < total % writers);
        let journal = Journal::new(&dir.path().join(format!("journal-{w}")));
        tasks.push(tokio::spawn(async move {
            let patient = session.chain().address()?;
            let mut ids = Vec::new();
            for i in 0..count {
                let request = UploadRequest::new(
                    patient,
                    RecordSource::Bytes {
                        file_name: format!("note-{i}.txt"),
                        content_type: Some("text/plain".into()),
                        bytes: body(w, i),
                    },
                )
                .keywords(["load".to_owned(), format!("r{i}")]);
                let report = upload(&session, &journal, request).await?;
                // Searched right after: exactly the record just written.
                let request =
                    SearchRequest { keywords: vec![format!("r{i}")], ..Default::default() };
                let found = search(&session, patient, &request).await?;
                let hits: Vec<u64> = found.hits.iter().map(|h| h.record_id).collect();
                eyre::ensure!(hits == [report.record_id], "writer {w} record {i}: {hits:?}");
                ids.push(report.record_id);
            }
            eyre::Ok(ids)
        }));
    }
    let mut uploaded = 0;
    for (w, task) in tasks.into_iter().enumerate() {
        let ids = task.await??;
        let expected: Vec<u64> = (1..=ids.len() as u64).collect();
        assert_eq!(ids, expected, "writer {w}: consecutive ids, none lost or repeated");
        uploaded += ids.len();
    }
    let upload_time = started.elapsed();
    assert_eq!(uploaded, total);

    // Afterwards: every record found once and fetched intact, 32 readers at once.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (w, session) in sessions.iter().cloned().enumerate() {
        let out_dir = dir.path().join(format!("out-{w}"));
        tasks.push(tokio::spawn(async move {
            std::fs::create_dir_all(&out_dir)?;
            let patient = session.chain().address()?;
            let found = search(
                &session,
                patient,
                &SearchRequest { keywords: vec!["load".into()], ..Default::default() },
            )
            .await?;
            let ids: Vec<u64> = found.hits.iter().map(|h| h.record_id).collect();
            let unique: BTreeSet<u64> = ids.iter().copied().collect();
            eyre::ensure!(unique.len() == ids.len(), "writer {w}: duplicates in {ids:?}");
            let on_chain = session.index().stateOf(patient).call().await?.records;
            eyre::ensure!(
                ids.len() as u64 == on_chain,
                "writer {w}: {} hits, {on_chain} records",
                ids.len()
            );
            for id in &ids {
                let out = out_dir.join(format!("{id}"));
                fetch(&session, patient, *id, FetchOutput::File(out.clone())).await?;
                let want = body(w, (*id - 1) as usize);
                eyre::ensure!(std::fs::read(&out)? == want, "writer {w} record {id} differs");
            }
            eyre::Ok(ids.len())
        }));
    }
    let mut fetched = 0;
    for task in tasks {
        fetched += task.await??;
    }
    let fetch_time = started.elapsed();
    assert_eq!(fetched, total);
    println!(
        "load: {total} uploads + {total} searches by {writers} concurrent writers in {:.1} s \
         ({:.1} uploads/s); {total} verified fetches in {:.1} s",
        upload_time.as_secs_f64(),
        total as f64 / upload_time.as_secs_f64(),
        fetch_time.as_secs_f64()
    );
    Ok(())
}
