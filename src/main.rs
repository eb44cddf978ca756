use std::process::ExitCode;

fn main() -> ExitCode {
    cortex::cli::main()
}
