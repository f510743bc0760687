//! A throw-away PostgreSQL cluster from the machine's own binaries, in a
//! temporary folder, on a free loopback port, with trust authentication.
//! `cetak-district dev` uses it to try the system on one machine, and the
//! tests use it as their real database.
//!
//! PostgreSQL refuses to run as root, so when we are root the cluster runs
//! as a system user `cetak-pg` (created if missing) through `runuser`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::DistrictError;

pub struct TempCluster {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    as_user: Option<String>,
    pub port: u16,
}

const USER: &str = "cetak-pg";

fn err(what: &str, out: std::io::Result<std::process::Output>) -> Result<(), DistrictError> {
    match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(DistrictError::Postgres(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ))),
        Err(e) => Err(DistrictError::Postgres(format!("{what}: {e}"))),
    }
}

/// The folder holding `initdb` and `pg_ctl`: `pg_config --bindir`, else the
/// newest `/usr/lib/postgresql/*/bin`.
pub fn bindir() -> Result<PathBuf, DistrictError> {
    if let Ok(o) = Command::new("pg_config").arg("--bindir").output() {
        let p = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        if p.join("initdb").exists() {
            return Ok(p);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join("initdb").exists()).collect())
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .ok_or_else(|| DistrictError::Postgres("no PostgreSQL server binaries (initdb): install the Debian package 'postgresql'".into()))
}

impl TempCluster {
    /// Creates and starts a cluster; it is stopped and removed on drop.
    pub fn start() -> Result<Self, DistrictError> {
        let bindir = bindir()?;
        let dir = tempfile::Builder::new().prefix("cetak-pg-").tempdir().map_err(|e| DistrictError::Postgres(e.to_string()))?;
        let as_user = if rustix::process::getuid().is_root() {
            if Command::new("id").arg(USER).output().map(|o| !o.status.success()).unwrap_or(true) {
                err(
                    "useradd",
                    Command::new("useradd").args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER]).output(),
                )?;
            }
            err("chown", Command::new("chown").args(["-R", USER]).arg(dir.path()).output())?;
            Some(USER.to_string())
        } else {
            None
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| DistrictError::Postgres(e.to_string()))?;
        let c = Self { dir, bindir, as_user, port };
        let data = c.dir.path().join("data");
        err("initdb", c.run("initdb", &["-D", &path(&data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]))?;
        let opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", c.port, path(c.dir.path()));
        let log = c.dir.path().join("server.log");
        err("pg_ctl start", c.run("pg_ctl", &["-D", &path(&data), "-o", &opts, "-l", &path(&log), "-w", "start"]))?;
        Ok(c)
    }

    fn run(&self, tool: &str, args: &[&str]) -> std::io::Result<std::process::Output> {
        let exe = self.bindir.join(tool);
        match &self.as_user {
            Some(u) => Command::new("runuser").args(["-u", u, "--"]).arg(exe).args(args).current_dir(self.dir.path()).output(),
            None => Command::new(exe).args(args).current_dir(self.dir.path()).output(),
        }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self.run("pg_ctl", &["-D", &path(&data), "-m", "immediate", "stop"]);
    }
}
