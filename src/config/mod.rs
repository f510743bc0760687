//! The agent's configuration: one TOML file, every key known. An unknown
//! key, a syntax error or a bad value stops start-up with the file, the line
//! and the reason; values are checked while they are read, so a meaning
//! error points at its own line too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cetak_drivers::factory::{Family, Link, Registry, Selector};
use serde::Deserialize;

use crate::messages::Lang;

#[derive(Debug, thiserror::Error)]
#[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub reason: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `id` or `en`; otherwise the locale decides.
    pub language: Option<Lang>,
    /// Where the journal, keys and emulator memory live.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    #[serde(default)]
    pub station: StationConfig,
    #[serde(default, rename = "printer")]
    pub printers: Vec<PrinterConfig>,
    /// A local job source: only for a station not enrolled with a district.
    pub local: Option<LocalConfig>,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub render: RenderConfig,
    #[serde(default)]
    pub district: DistrictConfig,
    #[serde(default)]
    pub stock: StockConfig,
    #[serde(default)]
    pub service: ServiceConfig,
    #[serde(default)]
    pub health: HealthConfig,
}

/// The daemon under systemd (DESIGN §7).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// A station loop that shows no progress for this long, outside a
    /// card's own deadline, is hung: the watchdog is no longer fed and
    /// systemd restarts the agent.
    #[serde(default = "default_stall", deserialize_with = "stall")]
    pub stall_s: u64,
    /// The operator's socket; default `<state_dir>/control.sock`. The
    /// package puts it in `/run/cetak`, which the operators' group reaches.
    pub control_socket: Option<PathBuf>,
    /// The group given the operator's socket (its members may act).
    #[serde(default = "default_operator_group")]
    pub operator_group: String,
    /// The user the service runs as (the unit's `User=`), for `cetak
    /// doctor`'s checks of users and device permissions.
    #[serde(default = "default_service_user")]
    pub user: String,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self { stall_s: default_stall(), control_socket: None, operator_group: default_operator_group(), user: default_service_user() }
    }
}

fn default_stall() -> u64 {
    120
}
fn default_service_user() -> String {
    "cetak".into()
}
fn default_operator_group() -> String {
    "cetak-operator".into()
}

fn stall<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = u64::deserialize(d)?;
    if !(1..=3600).contains(&v) {
        return Err(serde::de::Error::custom(format!("stall_s = {v}: must be 1 to 3600 seconds")));
    }
    Ok(v)
}

/// The local health endpoint: `/healthz`, `/readyz`, `/metrics`, `/status`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// `host:port`; loopback by default. Any other address needs `token`.
    /// An empty string turns the endpoint off.
    #[serde(default = "default_health_listen")]
    pub listen: String,
    /// A bearer token every request must carry (required off loopback).
    pub token: Option<String>,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self { listen: default_health_listen(), token: None }
    }
}

fn default_health_listen() -> String {
    "127.0.0.1:8790".into()
}

impl HealthConfig {
    /// The address to serve on, or `None` when turned off.
    pub fn address(&self) -> Option<std::net::SocketAddr> {
        self.listen.parse().ok()
    }

    /// Why this endpoint's settings cannot be used, if they cannot.
    fn problem(&self) -> Option<String> {
        if self.listen.is_empty() {
            return None;
        }
        let Some(addr) = self.address() else {
            return Some(format!("listen = {:?} is not ip:port (\"\" turns the endpoint off)", self.listen));
        };
        match &self.token {
            Some(t) if t.len() < 16 => Some("token: at least 16 characters".into()),
            None if !addr.ip().is_loopback() => Some(format!("listen = {:?} is not loopback: set a token", self.listen)),
            _ => None,
        }
    }
}

/// Consumables (DESIGN §4).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockConfig {
    /// The blank versions (the design printed on the blank's box) this
    /// station's software supports: receiving another is refused.
    #[serde(default = "default_versions")]
    pub blank_versions: Vec<String>,
    /// Warn when a consumable has fewer days left than this.
    #[serde(default = "default_warn_days")]
    pub warn_days: f64,
}

impl Default for StockConfig {
    fn default() -> Self {
        Self { blank_versions: default_versions(), warn_days: default_warn_days() }
    }
}

fn default_versions() -> Vec<String> {
    vec!["2021".into()]
}
fn default_warn_days() -> f64 {
    3.0
}

/// How the station works with its district (DESIGN §5 defaults). The
/// district's address and the station's token come from `cetak enroll`
/// and live in the journal, not here.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictConfig {
    /// Jobs held unprinted: the outage the station rides through (about
    /// one working day).
    #[serde(default = "default_buffer", deserialize_with = "buffer")]
    pub buffer: u32,
    /// Long-poll wait, seconds (under common NAT idle timeouts).
    #[serde(default = "default_wait")]
    pub wait_s: u32,
    #[serde(default = "default_heartbeat")]
    pub heartbeat_s: u64,
    /// Unprinted payloads older than this are released and destroyed.
    #[serde(default = "default_retention")]
    pub retention_s: u64,
    /// An envelope issued further ahead than this is refused.
    #[serde(default = "default_ahead")]
    pub max_ahead_s: u64,
    /// A printer not ready for this long releases the station's jobs.
    #[serde(default = "default_broken")]
    pub printer_broken_release_s: u64,
    /// First retry ceiling, milliseconds (doubling up to `retry_cap_s`).
    #[serde(default = "default_retry_base")]
    pub retry_base_ms: u64,
    #[serde(default = "default_retry_cap")]
    pub retry_cap_s: u64,
    /// How long one call may take beyond the long-poll wait before it
    /// counts as failed (a stalled route).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_s: u64,
    /// Tests and training only: the station's clock runs this many times
    /// faster than real time (retention, envelope ages). 1 in the field.
    #[serde(default = "one", deserialize_with = "clock_scale")]
    pub clock_scale: f64,
}

fn clock_scale<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    if !(1.0..=1_000_000.0).contains(&v) {
        return Err(serde::de::Error::custom(format!("clock_scale = {v}: must be 1 to 1000000 (1 in the field)")));
    }
    Ok(v)
}

impl Default for DistrictConfig {
    fn default() -> Self {
        Self {
            buffer: default_buffer(),
            wait_s: default_wait(),
            heartbeat_s: default_heartbeat(),
            retention_s: default_retention(),
            max_ahead_s: default_ahead(),
            printer_broken_release_s: default_broken(),
            retry_base_ms: default_retry_base(),
            retry_cap_s: default_retry_cap(),
            request_timeout_s: default_request_timeout(),
            clock_scale: 1.0,
        }
    }
}

fn default_buffer() -> u32 {
    200
}
fn default_wait() -> u32 {
    25
}
fn default_heartbeat() -> u64 {
    60
}
fn default_retention() -> u64 {
    7 * 86_400
}
fn default_ahead() -> u64 {
    600
}
fn default_broken() -> u64 {
    30 * 60
}
/// The retry policy's first ceiling (`queue::retry::BASE`, which a test
/// there holds equal): written here so the config does not import the
/// queue that reads it.
fn default_retry_base() -> u64 {
    15_000
}
fn default_retry_cap() -> u64 {
    120
}
fn default_request_timeout() -> u64 {
    30
}
fn buffer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = u32::deserialize(d)?;
    if !(1..=5000).contains(&v) {
        return Err(serde::de::Error::custom(format!("buffer = {v}: must be 1 to 5000 jobs")));
    }
    Ok(v)
}

/// The card's layout template and font, when an office has its own.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderConfig {
    /// A layout template in the format of `config/layout/ektp.toml`.
    pub layout: Option<PathBuf>,
    /// A TrueType/OpenType font file for every text element (for example
    /// an Arial-metric font from Debian's fonts-liberation2).
    pub font: Option<PathBuf>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StationConfig {
    /// Spoiled blanks a job may use before it fails.
    #[serde(default = "default_spoil_retries", deserialize_with = "spoil_retries")]
    pub spoil_retries: u32,
    /// How often an idle station looks for work, in milliseconds.
    #[serde(default = "default_idle_ms", deserialize_with = "idle_ms")]
    pub idle_poll_ms: u64,
}

impl Default for StationConfig {
    fn default() -> Self {
        Self { spoil_retries: default_spoil_retries(), idle_poll_ms: default_idle_ms() }
    }
}

impl StationConfig {
    pub fn idle_poll(&self) -> Duration {
        Duration::from_millis(self.idle_poll_ms)
    }
}

/// The link to a wire printer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Usb,
    Serial,
    Tcp,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterConfig {
    #[serde(deserialize_with = "printer_name")]
    pub name: String,
    /// Which driver speaks to it: a family of the drivers' registry
    /// (`emulator`: in process, for training, demos and tests; `evolis`: an
    /// Evolis printer, or the emulator as its own process, on a wire).
    #[serde(deserialize_with = "family")]
    pub kind: Family,
    /// Emulator: its memory folder; default `<state_dir>/emulator/<name>`.
    pub dir: Option<PathBuf>,
    /// Emulator: mechanical time scale, 1.0 is real time.
    #[serde(default = "one", deserialize_with = "time_scale")]
    pub time_scale: f64,
    /// Emulator: the serial number a new emulated printer gets.
    #[serde(default = "default_serial")]
    pub serial: String,
    /// Evolis: the link (`usb`, `serial` or `tcp`).
    pub transport: Option<TransportKind>,
    /// TCP: `host:port`.
    pub address: Option<String>,
    /// Serial: the device, such as `/dev/ttyUSB0`.
    pub path: Option<String>,
    /// Serial: line speed; 57,600 or faster.
    #[serde(default = "default_baud", deserialize_with = "baud")]
    pub baud: u32,
    /// USB: `vvvv:pppp` ids to look for (product 0000: any), added to the
    /// known card printers.
    #[serde(default)]
    pub usb_ids: Vec<String>,
    /// Send panels compressed when that is shorter.
    #[serde(default = "yes")]
    pub compress: bool,
    /// When the printer's card counter steps: `"pick"` (a blank taken from
    /// the feeder) or `"eject"` (a card leaving the printer). Unset: the
    /// family's own (Evolis: pick, as its guide says; the emulator: as it
    /// was made). docs/hardware.md says how to find out on the bench. An
    /// emulator made anew counts as this says.
    #[serde(default)]
    pub counts_at: Option<cetak_drivers::CountsAt>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalConfig {
    /// JSONL file of PRRs in the samples' format, imported at start.
    pub jobs_file: PathBuf,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default)]
    pub format: LogFormat,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/cetak")
}
fn default_spoil_retries() -> u32 {
    2
}
fn default_idle_ms() -> u64 {
    500
}
fn one() -> f64 {
    1.0
}
fn default_baud() -> u32 {
    115_200
}
fn yes() -> bool {
    true
}
fn baud<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = u32::deserialize(d)?;
    if v < cetak_drivers::transport::MIN_BAUD {
        return Err(serde::de::Error::custom(format!(
            "baud = {v} is too slow for card printing (a colour card at 2,400 baud takes over an hour): use 57600 or faster"
        )));
    }
    Ok(v)
}
fn default_serial() -> String {
    "EMU0000001".into()
}

fn spoil_retries<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = u32::deserialize(d)?;
    if v > 10 {
        return Err(serde::de::Error::custom(format!("spoil_retries = {v} wastes blanks: at most 10")));
    }
    Ok(v)
}

fn idle_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = u64::deserialize(d)?;
    if !(10..=60_000).contains(&v) {
        return Err(serde::de::Error::custom(format!("idle_poll_ms = {v}: must be 10 to 60000")));
    }
    Ok(v)
}

fn time_scale<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    if !(0.0..=10.0).contains(&v) {
        return Err(serde::de::Error::custom(format!("time_scale = {v}: must be 0 to 10 (1 is real time)")));
    }
    Ok(v)
}

fn printer_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = String::deserialize(d)?;
    if v.is_empty() || v.len() > 32 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(serde::de::Error::custom("printer name: 1 to 32 letters, digits, '-' or '_'"));
    }
    Ok(v)
}

fn family<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Family, D::Error> {
    let v = String::deserialize(d)?;
    let registry = Registry::standard();
    registry.family(&v).ok_or_else(|| {
        let known: Vec<String> = registry.families().iter().map(|f| format!("`{f}`")).collect();
        serde::de::Error::custom(format!("unknown variant `{v}`, expected {}", known.join(" or ")))
    })
}

impl PrinterConfig {
    /// The wire the transport keys describe, or what they still lack.
    fn link(&self) -> Result<Option<Link>, &'static str> {
        Ok(match self.transport {
            None => None,
            Some(TransportKind::Tcp) => {
                Some(Link::Tcp { address: self.address.clone().ok_or("transport = \"tcp\" needs address = \"host:port\"")? })
            }
            Some(TransportKind::Serial) => {
                Some(Link::Serial { path: self.path.clone().ok_or("transport = \"serial\" needs path = \"/dev/...\"")?, baud: self.baud })
            }
            Some(TransportKind::Usb) => Some(Link::Usb { ids: self.usb_ids.clone() }),
        })
    }

    /// What the drivers' registry needs to open this printer; an emulator's
    /// memory defaults to `<state_dir>/emulator/<name>`.
    pub fn selector(&self, state_dir: &Path) -> Selector {
        Selector {
            name: self.name.clone(),
            family: self.kind,
            // A config that parsed has a complete link (see `missing_key`).
            link: self.link().ok().flatten(),
            memory: self.dir.clone().unwrap_or_else(|| state_dir.join("emulator").join(&self.name)),
            serial: self.serial.clone(),
            time_scale: self.time_scale,
            counts_at: self.counts_at,
            compress: self.compress,
        }
    }

    /// What a printer of this kind and transport still needs: whether its
    /// family takes a wire at all (the registry knows), then the link.
    fn missing_key(&self) -> Option<String> {
        let kind = self.kind;
        match (Registry::standard().wired(kind), self.transport) {
            (false, Some(_)) => {
                Some(format!("a kind = \"{kind}\" printer takes no transport (use a wire printer's kind, such as \"evolis\")"))
            }
            (true, None) => Some(format!("kind = \"{kind}\" needs transport = \"usb\", \"serial\" or \"tcp\"")),
            _ => self.link().err().map(str::to_string),
        }
    }
}

impl Config {
    /// The embedded default: one emulated printer, state in `state_dir`.
    pub fn emulated(state_dir: &Path) -> Self {
        Self {
            language: None,
            state_dir: state_dir.to_path_buf(),
            station: StationConfig::default(),
            printers: vec![PrinterConfig {
                name: "emulator-1".into(),
                kind: cetak_drivers::emulator::EMULATOR,
                dir: None,
                time_scale: 1.0,
                serial: default_serial(),
                transport: None,
                address: None,
                path: None,
                baud: default_baud(),
                usb_ids: Vec::new(),
                compress: true,
                counts_at: None,
            }],
            local: None,
            log: LogConfig::default(),
            render: RenderConfig::default(),
            district: DistrictConfig::default(),
            stock: StockConfig::default(),
            service: ServiceConfig::default(),
            health: HealthConfig::default(),
        }
    }

    /// Where the operator's socket is.
    pub fn control_socket(&self) -> PathBuf {
        self.service.control_socket.clone().unwrap_or_else(|| self.state_dir.join("control.sock"))
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError { path: path.to_path_buf(), line: None, reason: e.to_string() })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            line: e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
            reason: e.message().trim().to_string(),
        })?;
        let mut names = std::collections::HashSet::new();
        for p in &cfg.printers {
            let line = text.find(&format!("\"{}\"", p.name)).map(|i| text[..i].matches('\n').count() + 1);
            let refuse = |reason: String| ConfigError { path: path.to_path_buf(), line, reason };
            if !names.insert(p.name.as_str()) {
                return Err(refuse(format!("printer name {:?} used twice", p.name)));
            }
            if let Some(missing) = p.missing_key() {
                return Err(refuse(format!("printer {:?}: {missing}", p.name)));
            }
        }
        if let Some(reason) = cfg.health.problem() {
            let line = text.find("[health]").map(|i| text[..i].matches('\n').count() + 1);
            return Err(ConfigError { path: path.to_path_buf(), line, reason: format!("[health] {reason}") });
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ConfigError {
        match Config::parse(Path::new("cetak.toml"), text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e,
        }
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let e = err("language = \"id\"\n\n[station]\nspoil_retry = 2\n");
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.to_string().starts_with("cetak.toml:4: "), "{e}");
        assert!(e.reason.contains("spoil_retry"), "{e}");
    }

    #[test]
    fn bad_value_points_at_its_line() {
        let e = err("[station]\nspoil_retries = 50\n");
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.reason.contains("at most 10"), "{e}");
        let e = err("language = \"fr\"\n");
        assert_eq!(e.line, Some(1), "{e}");
    }

    #[test]
    fn syntax_error_has_a_line() {
        let e = err("state_dir = \"/tmp\"\n[station\n");
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn example_config_loads() -> Result<(), ConfigError> {
        let cfg = Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/cetak.example.toml"))?;
        assert_eq!(cfg.language, Some(Lang::Id));
        assert_eq!(cfg.station.spoil_retries, 2);
        assert_eq!(cfg.printers.len(), 1);
        Ok(())
    }

    #[test]
    fn a_slow_serial_line_is_refused_at_its_line() {
        let e = err("[[printer]]\nname = \"a\"\nkind = \"evolis\"\ntransport = \"serial\"\npath = \"/dev/ttyS0\"\nbaud = 9600\n");
        assert_eq!(e.line, Some(6), "{e}");
        assert!(e.reason.contains("57600"), "{e}");
    }

    #[test]
    fn a_wire_printer_without_its_address_is_refused() {
        let e = err("[[printer]]\nname = \"a\"\nkind = \"evolis\"\ntransport = \"tcp\"\n");
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.reason.contains("address"), "{e}");
    }

    #[test]
    fn a_health_endpoint_off_loopback_needs_a_token() {
        let e = err("language = \"en\"\n[health]\nlisten = \"0.0.0.0:8790\"\n");
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.reason.contains("token"), "{e}");
        let ok = Config::parse(Path::new("c.toml"), "[health]\nlisten = \"0.0.0.0:8790\"\ntoken = \"0123456789abcdef\"\n");
        assert!(ok.is_ok(), "{ok:?}");
        assert!(Config::parse(Path::new("c.toml"), "[health]\nlisten = \"\"\n").is_ok_and(|c| c.health.address().is_none()));
    }

    #[test]
    fn a_kind_no_driver_speaks_is_refused_with_the_kinds_there_are() {
        let e = err("[[printer]]\nname = \"a\"\nkind = \"fargo\"\n");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.reason.contains("`fargo`") && e.reason.contains("`emulator` or `evolis`"), "{e}");
        let e = err("[[printer]]\nname = \"a\"\nkind = \"emulator\"\ntransport = \"tcp\"\n");
        assert!(e.reason.contains("takes no transport"), "{e}");
    }

    #[test]
    fn duplicate_printer_names_are_refused() {
        let e = err("[[printer]]\nname = \"a\"\nkind = \"emulator\"\n[[printer]]\nname = \"a\"\nkind = \"emulator\"\n");
        assert!(e.reason.contains("used twice"), "{e}");
    }
}
