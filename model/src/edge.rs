//! What both binaries (`cetak`, `cetak-district`) do at their edge before
//! anything else, so a person sees the same behaviour from either.

/// `cetak jobs | head`: when the reader closes the pipe first, `println!`
/// panics ("failed printing to stdout: Broken pipe"), and a person saw a
/// Rust panic. Such a panic ends the process quietly with status 141, as a
/// process a shell's SIGPIPE ends; any other panic is reported as before.
/// Both binaries install it first thing.
pub fn quiet_on_closed_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload.downcast_ref::<String>().map(String::as_str).or_else(|| payload.downcast_ref::<&str>().copied());
        if message.is_some_and(|m| m.starts_with("failed printing to stdout") && m.contains("Broken pipe")) {
            std::process::exit(141);
        }
        report(info);
    }));
}
