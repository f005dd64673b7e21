//! The subcommands, and the wrapper itself.

mod approvals;
mod approver;
mod audit_keygen;
mod audit_seal;
mod audit_tail;
mod audit_verify;
mod demo;
mod demo_server;
mod digest;
mod generate;
mod install;
mod pins;
mod policy_check;
mod runtime;
mod settings;
mod wrap;

use crate::cli::{AuditCommand, Cli, Command, InstallArgs, LeasesCommand, PinsCommand, PolicyCommand};
use crate::Error;

pub use generate::{man_pages, render as generated};
pub use settings::{default_audit_dir, load_policy};

pub fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        None if cli.wrap.server.is_empty() => Err(Error::Usage(
            "no server command: countersign [OPTIONS] -- <SERVER_COMMAND> [ARGS]... (see --help)".into(),
        )),
        None => wrap::run(cli.wrap),
        Some(Command::Digest { file }) => digest::run(file.as_deref()),
        Some(Command::Policy(PolicyCommand::Check { file })) => policy_check::run(file),
        Some(Command::Audit(AuditCommand::Verify { dir, key })) => audit_verify::run_with(dir, key),
        Some(Command::Audit(AuditCommand::Keygen)) => audit_keygen::run(),
        Some(Command::Audit(AuditCommand::Seal { dir })) => audit_seal::run(dir),
        Some(Command::Audit(AuditCommand::Tail { dir, follow, tool, server, decision, json, lines })) => {
            audit_tail::run(audit_tail::Options { dir, follow, tool, server, decision, json, lines })
        }
        Some(Command::Generate { what, dir }) => generate::run(what, dir),
        Some(Command::DemoServer { flags }) => Ok(demo_server::run(flags)),
        Some(Command::Demo { headless, audit_dir }) => demo::run(headless, audit_dir),
        Some(Command::Approver) => approver::run(),
        Some(Command::Pending) => approvals::run(approvals::Action::Pending),
        Some(Command::Approve { id, web }) => approvals::run(approvals::Action::Approve { id, on_page: web }),
        Some(Command::Deny { id, reason }) => approvals::run(approvals::Action::Deny { id, reason }),
        Some(Command::Leases { command: None }) => approvals::run(approvals::Action::Leases),
        Some(Command::Leases { command: Some(LeasesCommand::Revoke { id, all: _ }) }) => {
            // clap makes `--all` and an id exclusive, and one of them required.
            approvals::run(approvals::Action::Revoke { id })
        }
        Some(Command::Pins { server, command }) => pins::run(match command {
            None => pins::Action::List { server },
            Some(PinsCommand::Accept { label, tools }) => pins::Action::Accept { label, tools },
            Some(PinsCommand::Forget { label }) => pins::Action::Forget { label },
        }),
        Some(Command::Install(args)) => install::run(install_options(install::Mode::Install, args)),
        Some(Command::Uninstall(args)) => install::run(install_options(install::Mode::Uninstall, args)),
    }
}

fn install_options(mode: install::Mode, args: InstallArgs) -> install::Options {
    let InstallArgs { client, config, server, dry_run } = args;
    install::Options { mode, clients: client, config, servers: server, dry_run }
}
