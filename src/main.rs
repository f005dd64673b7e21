use clap::Parser;

fn main() {
    let cli = match countersign::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let argv: Vec<_> = std::env::args_os().collect();
            if let Some(fix) = countersign::cli::missing_separator(&argv) {
                eprintln!("error: put `--` before the server command:\n  {fix}");
            } else if let Some(fix) = countersign::cli::missing_dir_flag(&argv) {
                eprintln!("error: give the audit directory with `--dir`:\n  {fix}");
            } else {
                let _ = e.print();
            }
            std::process::exit(countersign::EXIT_FAILURE);
        }
        Err(e) => {
            let _ = e.print();
            std::process::exit(0);
        }
    };
    countersign::edge::logging::init(cli.verbose);
    let code = countersign::run(cli).unwrap_or_else(|e| {
        if !e.is_closed_pipe() {
            tracing::error!("{e}");
        }
        e.exit_code()
    });
    std::process::exit(code);
}
