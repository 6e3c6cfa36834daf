//! The `stali` binary: parse arguments, run, exit with 0 (ok), 1 (invalid input) or 2 (usage).

use clap::Parser;

fn main() {
    // `stali __child PID ARGV...`: the supervisor that makes a child die with stali.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args
        .get(1)
        .is_some_and(|a| a == stali::pipeline::exec::SUPERVISOR_ARG)
    {
        std::process::exit(stali::pipeline::exec::supervise_main(&args[2..]));
    }
    stali::pipeline::exec::enable_supervisor("/proc/self/exe");
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        eprintln!("stali: internal error: {msg}. This is a bug; please report it.");
    }));
    let cli = match stali::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                stali::cli::EXIT_USAGE
            } else {
                0
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    std::process::exit(stali::cli::run(cli));
}
