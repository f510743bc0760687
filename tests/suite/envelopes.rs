//! An enrolled station prints nothing whose envelope fails (DESIGN §9):
//! forged, altered, foreign-region, out-of-window and replayed jobs are
//! refused, reported to the district (a `refused` result in the outbox, for
//! an officer: the job is given back, not finished, so a reissue can come
//! back) and never reach the printer, judged from the emulator's physical
//! log. A record's own findings (an approval missing) are `rejected`.

use cetak::journal::district::Enrolment;
use cetak::journal::{JobState, Journal};
use cetak::messages::Lang;
use cetak::station::{Station, StationOptions};
use cetak_drivers::emulator::{Destination, Device, DeviceOptions, EmulatedPrinter};
use cetak_model::envelope::Envelope;
use cetak_model::wire::{Assignment, PublicKey};
use ed25519_dalek::SigningKey;

use crate::support::{sample_lines, PRINTER};

const REGION: &str = "17.71.01.1001";

struct Enrolled {
    _dir: tempfile::TempDir,
    device: Device,
    station: Station<EmulatedPrinter>,
    key: SigningKey,
}

fn now() -> i64 {
    cetak::clock::now()
}

fn enrolled() -> Enrolled {
    let dir = tempfile::tempdir().expect("tempdir");
    let device = Device::open(&dir.path().join("emulator"), &DeviceOptions { time_scale: 0.0, ..Default::default() }).expect("emulator");
    let mut journal = Journal::open(&dir.path().join("state")).expect("journal");
    let key = SigningKey::from_bytes(&[7u8; 32]);
    journal
        .enroll(&Enrolment {
            district: "http://district.invalid".into(),
            station: "kel-a".into(),
            token: "t".into(),
            regions: vec![REGION.into()],
            keys: vec![PublicKey { key_id: "k1".into(), public_key: hex::encode(key.verifying_key().to_bytes()), revoked: false }],
            ca_pem: None,
        })
        .expect("enroll");
    let opts = StationOptions { name: PRINTER.into(), spoil_retries: 2, local_mode: false, lang: Lang::En, district: None };
    Enrolled { station: Station::new(journal, device.printer(), opts), device, _dir: dir, key }
}

/// Synthetic PRRs of one region, as JSON lines.
pub fn region_lines(region: &str) -> Vec<String> {
    static ALL: std::sync::OnceLock<Vec<serde_json::Value>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| cetak_model::generator::generate(11, 200, cetak::clock::today()))
        .iter()
        .filter(|v| v["kode_wilayah"] == region)
        .map(|v| v.to_string())
        .collect()
}

/// A job of the enrolled region, and a signed assignment of it.
fn job(e: &Enrolled, index: usize, issued_at: i64) -> Assignment {
    let line = region_lines(REGION).into_iter().nth(index).expect("a job of the region");
    let id = cetak_model::RawPrr::parse(&line).expect("prr").job_id().expect("id").to_string();
    let envelope = Envelope::sign("k1", &e.key, &id, REGION, &line, false, issued_at);
    Assignment { job_id: id, epoch: 1, urgent: false, prr: line, envelope }
}

fn run(e: &mut Enrolled, jobs: &[Assignment]) {
    e.station.journal().import_assignments(jobs).expect("import");
    for _ in 0..20 {
        if e.station.step().expect("step") == cetak::station::Step::Idle {
            break;
        }
    }
}

fn rejected_code(e: &mut Enrolled, job: &str) -> Option<String> {
    let row = e.station.journal().job(job).expect("job").expect("known");
    let envelope = row.reject_code.as_deref().is_some_and(|c| c.starts_with("envelope."));
    let (state, result) = if envelope { (JobState::Released, "\"refused\"") } else { (JobState::Rejected, "\"rejected\"") };
    assert_eq!(row.state, state, "{job}");
    let reported =
        e.station.journal().pending_outbox().expect("outbox").iter().any(|m| {
            m.job_id.as_deref() == Some(job) && m.body.contains(result) && m.body.contains(row.reject_code.as_deref().unwrap_or("?"))
        });
    assert!(reported, "{job}: refusal not queued for the district");
    row.reject_code
}

fn cards_out(e: &Enrolled) -> usize {
    e.device.physical_log().expect("log").iter().filter(|r| r.destination == Destination::Output).count()
}

#[test]
fn a_good_envelope_prints_and_every_bad_one_is_refused_and_reported() {
    let mut e = enrolled();
    let good = job(&e, 0, now());

    let mut forged = job(&e, 1, now());
    let other = SigningKey::from_bytes(&[9u8; 32]);
    forged.envelope = Envelope::sign("k1", &other, &forged.job_id, REGION, &forged.prr, false, now());

    let mut unknown_key = job(&e, 2, now());
    unknown_key.envelope = Envelope::sign("k9", &other, &unknown_key.job_id, REGION, &unknown_key.prr, false, now());

    let mut altered = job(&e, 3, now());
    altered.prr = altered.prr.replacen("\"nama\":\"", "\"nama\":\"X", 1);
    assert_ne!(altered.prr, job(&e, 3, now()).prr, "the test altered nothing");

    let mut foreign = job(&e, 4, now());
    foreign.envelope = Envelope::sign("k1", &e.key, &foreign.job_id, "17.71.02.1002", &foreign.prr, false, now());

    let future = job(&e, 5, now() + 3600);
    let expired = job(&e, 6, now() - 8 * 86_400);

    run(&mut e, &[good.clone(), forged.clone(), unknown_key.clone(), altered.clone(), foreign.clone(), future.clone(), expired.clone()]);

    assert_eq!(e.station.journal().job(&good.job_id).expect("job").map(|j| j.state), Some(JobState::Printed));
    assert_eq!(rejected_code(&mut e, &forged.job_id).as_deref(), Some("envelope.bad_signature"));
    assert_eq!(rejected_code(&mut e, &unknown_key.job_id).as_deref(), Some("envelope.unknown_key"));
    assert_eq!(rejected_code(&mut e, &altered.job_id).as_deref(), Some("envelope.altered"));
    assert_eq!(rejected_code(&mut e, &foreign.job_id).as_deref(), Some("envelope.foreign_region"));
    assert_eq!(rejected_code(&mut e, &future.job_id).as_deref(), Some("envelope.from_the_future"));
    assert_eq!(rejected_code(&mut e, &expired.job_id).as_deref(), Some("envelope.expired"));
    assert_eq!(cards_out(&e), 1, "only the good job reached the printer");
}

#[test]
fn a_replayed_job_id_is_refused_and_never_printed_again() {
    let mut e = enrolled();
    let first = job(&e, 0, now());
    run(&mut e, std::slice::from_ref(&first));
    // The district acknowledges: reported, purged, a tombstone.
    let ids: Vec<i64> = e.station.journal().pending_outbox().expect("outbox").iter().map(|m| m.id).collect();
    e.station.journal().ack_outbox(&ids).expect("ack");
    assert_eq!(e.station.journal().job(&first.job_id).expect("job").map(|j| j.state), Some(JobState::Purged));

    // The same job, freshly signed under a new epoch: a replay.
    let mut again = job(&e, 0, now());
    again.epoch = 2;
    run(&mut e, std::slice::from_ref(&again));
    assert_eq!(cards_out(&e), 1, "the replay reached the printer");
    let refusal = e.station.journal().pending_outbox().expect("outbox");
    assert!(
        refusal.iter().any(|m| m.job_id.as_deref() == Some(first.job_id.as_str())
            && m.body.contains("job_id.replayed")
            && m.body.contains("\"epoch\":2")),
        "{refusal:?}"
    );
    // The very same assignment sent twice (a lost answer) is just a repeat.
    run(&mut e, &[again]);
    assert_eq!(cards_out(&e), 1);
}

#[test]
fn a_job_needing_approval_prints_only_when_the_envelope_says_approved() {
    let mut e = enrolled();
    // The invalid samples' held record needs an officer's approval.
    let line = sample_lines("prr-invalid.jsonl").into_iter().find(|l| l.contains("prr-1771-000001-bad")).expect("held sample");
    let region = cetak_model::RawPrr::parse(&line).expect("prr").top_str("kode_wilayah").expect("kode").to_string();
    let before = e.station.journal().enrolment().expect("enrolment").expect("enrolled");
    e.station.journal().enroll(&Enrolment { regions: vec![REGION.into(), region.clone()], ..before }).expect("enroll");
    let unapproved = Envelope::sign("k1", &e.key, "prr-1771-000001-bad", &region, &line, false, now());
    run(&mut e, &[Assignment { job_id: "prr-1771-000001-bad".into(), epoch: 1, urgent: false, prr: line.clone(), envelope: unapproved }]);
    let code = rejected_code(&mut e, "prr-1771-000001-bad").expect("code");
    assert!(!code.starts_with("envelope."), "refused for the approval, not the envelope: {code}");
    assert_eq!(cards_out(&e), 0);
}
