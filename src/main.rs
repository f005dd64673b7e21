use clap::Parser;

fn main() {
    let cli = match countersign::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let argv: Vec<_> = std::env::args_os().collect();
            match countersign::cli::hint(&argv) {
                Some((what, fix)) => eprintln!("error: {what}:\n  {fix}"),
                None => {
                    let _ = e.print();
                }
            }
            std::process::exit(countersign::EXIT_FAILURE);
        }
        Err(e) => {
            let _ = e.print();
            std::process::exit(0);
        }
    };
    countersign::edge::logging::init(cli.verbose);
    // Only a subcommand's output can have a reader that leaves early; the wrapper's
    // stdout is the client's, and the relay deals with it.
    let subcommand = cli.command.is_some();
    let code = countersign::run(cli).unwrap_or_else(|e| {
        if subcommand && e.is_closed_pipe() {
            // The reader took what it wanted (`… | head`): not a failure of ours.
            return 0;
        }
        tracing::error!("{e}");
        e.exit_code()
    });
    std::process::exit(code);
}
