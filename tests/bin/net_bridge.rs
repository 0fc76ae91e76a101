//! The network bridge, as a program of its own for the network scenarios (the
//! `reporunner` binary is the bridge in production: see `reporunner_runtime::network`).

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match reporunner_runtime::network::bridge_main(&args) {
        Some(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => {
            eprintln!("usage: net-bridge __net-bridge [--reach ADDR].. -- PROGRAM ARGS..");
            std::process::ExitCode::from(2)
        }
    }
}
