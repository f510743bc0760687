//! The operator's socket: actions reach the running daemon and record the
//! caller's real uid from the socket's peer credentials.

#[cfg(feature = "failpoints")]
mod with_failpoints {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::time::{Duration, Instant};

    use cetak::journal::JobState;

    use crate::support::{Daemon, ProcessRig, PRINTER};

    fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn a_resolve_through_the_socket_records_the_callers_real_uid() {
        let rig = ProcessRig::new(2);
        // Leave an uncertain card behind: killed right after the eject.
        let out = rig.run(Some("driver.after_eject@1"));
        assert_eq!(out.status.signal(), Some(9));
        let mut cmd = rig.cetak();
        cmd.arg("run");
        let daemon = Daemon::spawn(cmd);
        let socket = rig.state_dir().join("control.sock");
        wait_for("the daemon to settle the card in flight", || {
            socket.exists() && !rig.journal().jobs_in(JobState::Uncertain).expect("jobs").is_empty()
        });
        let job = rig.journal().jobs_in(JobState::Uncertain).expect("jobs").remove(0).job_id;
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&socket).expect("socket").mode() & 0o777, 0o660, "owner and the operators' group only");

        // A second daemon on the same state folder is refused.
        let second = rig.cetak().args(["run", "--until-idle"]).output().expect("second");
        assert!(!second.status.success());
        assert!(String::from_utf8_lossy(&second.stderr).contains("already runs"), "{}", String::from_utf8_lossy(&second.stderr));

        // The caller: another user when we can switch (root), with USER lying.
        let as_root = rustix::process::getuid().is_root();
        let caller_uid = if as_root { 65534 } else { rustix::process::getuid().as_raw() };
        if as_root {
            for p in [rig.dir.path().to_path_buf(), rig.state_dir()] {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            }
            std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).expect("chmod socket");
        }
        let mut resolve = rig.cetak();
        resolve.args(["jobs", "resolve", &job, "--printed"]).env("USER", "someone-else").env("LOGNAME", "someone-else");
        if as_root {
            resolve.uid(caller_uid).gid(65534);
        }
        let out = resolve.output().expect("resolve");
        assert!(out.status.success(), "resolve failed: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("printed"), "{}", String::from_utf8_lossy(&out.stdout));

        let journal = rig.journal();
        assert_eq!(journal.final_result(&job).expect("result"), Some(JobState::Printed));
        let actions = journal.operator_actions().expect("actions");
        let (uid, action, on) = actions.last().expect("an action").clone();
        assert_eq!((action.as_str(), on.as_deref()), ("resolve", Some(job.as_str())));
        assert_eq!(uid, caller_uid, "the daemon must record the caller's uid from the socket");
        if as_root {
            assert_ne!(uid, 0, "not the daemon's own uid");
        }
        // Reported to the district with the user's uid and name.
        let event = journal
            .outbox_history()
            .expect("outbox")
            .into_iter()
            .filter(|m| m.kind == "event")
            .filter_map(|m| serde_json::from_str::<serde_json::Value>(&m.body).ok())
            .rfind(|b| b["event"] == "operator_action")
            .expect("an operator_action event in the outbox");
        assert_eq!((event["action"].as_str(), event["job_id"].as_str()), (Some("resolve"), Some(job.as_str())));
        assert_eq!(event["uid"].as_u64(), Some(u64::from(caller_uid)));
        assert_eq!(event["user"].as_str(), Some(cetak::service::users::user_name(caller_uid).as_str()));

        // A pause through the socket stops the next card.
        let out = rig.cetak().args(["pause", "--printer", PRINTER]).output().expect("pause");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(rig.journal().pause_of(PRINTER).expect("pause").is_some());

        assert!(daemon.terminate().success());
        assert!(!socket.exists(), "the socket is removed on exit");
    }
}
