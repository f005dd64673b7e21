//! The command line: parsed here, turned into plain values, never seen past this module.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Put countersign in front of a stdio MCP server in your client's config:
  countersign -- npx -y @modelcontextprotocol/server-filesystem ~/work

Exit status: the server's own status (128+N when it died of signal N);
125 when countersign itself cannot run (bad flags, bad policy); 126 when the
server command cannot be executed; 127 when it is not found.";

#[derive(Debug, Parser)]
#[command(
    name = "countersign",
    version,
    about = "Gate an MCP server: destructive tool calls wait for a human, every decision is audited",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub wrap: WrapArgs,

    /// More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct WrapArgs {
    /// Server label in prompts, audit and policy [default: the package, module, image or file the command runs]
    #[arg(long, env = "COUNTERSIGN_NAME", value_name = "LABEL")]
    pub name: Option<String>,

    /// Policy file [default: $XDG_CONFIG_HOME/countersign/policy.toml when it exists, else built-in defaults]
    #[arg(long, env = "COUNTERSIGN_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Audit directory [default: ~/.local/state/countersign/audit, or $COUNTERSIGN_HOME/audit]
    #[arg(long, env = "COUNTERSIGN_AUDIT_DIR", value_name = "DIR")]
    pub audit_dir: Option<PathBuf>,

    /// Delete audit day files older than this many days (default: keep everything)
    #[arg(long, env = "COUNTERSIGN_AUDIT_RETENTION_DAYS", value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub audit_retention_days: Option<u32>,

    /// Never ask a human: calls that need approval are denied
    #[arg(long, env = "COUNTERSIGN_HEADLESS", value_parser = clap::builder::BoolishValueParser::new(), action = ArgAction::SetTrue)]
    pub headless: bool,

    /// How long a held call waits for the operator
    #[arg(long, value_name = "SECONDS", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub approval_timeout: u64,

    /// The MCP server command and its arguments, after `--`
    #[arg(last = true, value_name = "SERVER_COMMAND")]
    pub server: Vec<OsString>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read and check the audit log
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print the digest of a tool call: a {"name","arguments"} object, tools/call params, or a whole request
    Digest {
        /// JSON file to read [default: stdin]
        file: Option<PathBuf>,
    },
    /// Check a policy file
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Full-screen console that approves held calls from every countersign of this user
    #[command(
        after_help = "Keys: up/down pick a held call (or a pending approval or lease below them); y approves the call once; n denies it and asks for an optional reason for the model (Enter sends it, Esc sends none); a allows the tool on that server for 15 minutes (a lease; not offered under confirm = \"digest\" or for a changed tool); under confirm = \"digest\", the digest's first 4 hex digits approve instead of y; p accepts a changed tool's new definition; v shows the whole payload; PgUp/PgDn scroll it; r revokes the selected lease; q quits (asked once more while calls are held). Keys in the first 300 ms after a call is shown are ignored. A call arriving rings the bell and the window title counts the held calls. Run it in any terminal of the same user: wrappers find it from a client's stripped environment."
    )]
    Approver,
    /// List the pending approvals (calls nobody could answer) and the approved ones not yet used
    Pending,
    /// Show a pending approval as the prompt does and answer it on this terminal (or, with --web, on the approval page in a browser): approving lets the next identical call run, once
    #[command(
        after_help = "Exit status: 0 when it approved; 1 when it did not (denied, cancelled with Ctrl-C or Esc, lapsed, unknown or already decided id); 125 when there is no terminal to ask on (without --web), the page cannot be served, or the approval book cannot be used."
    )]
    Approve {
        /// The id `countersign pending` shows
        #[arg(value_name = "ID")]
        id: String,
        /// Answer on the approval page in a browser instead: served on 127.0.0.1 until it is answered or the approval lapses; its link is printed, and opened with the desktop's opener
        #[arg(long)]
        web: bool,
    },
    /// Deny a pending approval (or withdraw an approved one that is not used yet)
    Deny {
        /// The id `countersign pending` shows
        #[arg(value_name = "ID")]
        id: String,
        /// Why, for the audit log
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// List the leases (a tool allowed on a server for 15 minutes); `leases revoke <ID>` or `leases revoke --all` ends them
    Leases {
        #[command(subcommand)]
        command: Option<LeasesCommand>,
    },
    /// A built-in demo server behind countersign with a scripted client
    Demo {
        /// Show the path where nobody can approve
        #[arg(long)]
        headless: bool,
        /// Audit directory for the demo [default: a new temporary directory]
        #[arg(long, value_name = "DIR")]
        audit_dir: Option<PathBuf>,
    },
    /// Put countersign in front of the stdio MCP servers in your clients' config files
    Install(InstallArgs),
    /// Take countersign out of your clients' config files again
    Uninstall(InstallArgs),
    /// List the pinned tool definitions per server label, marking the changed ones; accept or forget them
    #[command(args_conflicts_with_subcommands = true)]
    Pins {
        /// Only this server label
        #[arg(long, value_name = "LABEL")]
        server: Option<String>,
        #[command(subcommand)]
        command: Option<PinsCommand>,
    },
    /// Print shell completions or the man page (used to generate completions/ and man/)
    #[command(hide = true)]
    Generate {
        #[arg(value_enum)]
        what: Generated,
        /// With `man`: write every page (countersign.1 and one per subcommand) into DIR
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Run the built-in demo MCP server on stdio (used by `countersign demo` and the tests)
    #[command(hide = true)]
    DemoServer {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        flags: Vec<String>,
    },
}

// `install` and `uninstall` (docs/install.md).
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when every file was handled; 1 when a file could not be read, parsed or written, or a --server name was found in no file (the other files are still done); 125 when no config file was found or the flags are wrong."
)]
pub struct InstallArgs {
    /// Only this client's files (repeatable) [default: every client whose file exists]
    #[arg(long, value_enum, value_name = "NAME")]
    pub client: Vec<ClientName>,
    /// Edit this file instead (JSON, JSONC or TOML, told by its name and content)
    #[arg(long, value_name = "FILE", conflicts_with = "client")]
    pub config: Option<PathBuf>,
    /// Only the server with this key (repeatable) [default: every server]
    #[arg(long, value_name = "KEY")]
    pub server: Vec<String>,
    /// Print what would change; write nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// The clients `install` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum ClientName {
    /// claude_desktop_config.json
    ClaudeDesktop,
    /// ~/.claude.json (user and per-project servers) and ./.mcp.json
    ClaudeCode,
    /// ~/.cursor/mcp.json and ./.cursor/mcp.json
    Cursor,
    /// the user profile's mcp.json and ./.vscode/mcp.json
    Vscode,
    /// ~/.codeium/windsurf/mcp_config.json
    Windsurf,
    /// ~/.gemini/settings.json and ./.gemini/settings.json
    Gemini,
    /// ~/.codex/config.toml ($CODEX_HOME when set)
    Codex,
}

#[derive(Debug, Subcommand)]
pub enum LeasesCommand {
    /// End one lease, or every lease with --all
    #[command(override_usage = "countersign leases revoke <ID>\n       countersign leases revoke --all")]
    Revoke {
        /// The lease's id (`countersign leases` shows it)
        #[arg(value_name = "ID", required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// End every lease
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PinsCommand {
    /// Take the changed tools' new definitions as their pins (every changed tool when none is named)
    Accept {
        /// The server label (`--name`, or the default label)
        label: String,
        /// Tool names
        #[arg(value_name = "TOOL")]
        tools: Vec<String>,
    },
    /// Drop every pin of a server label: its tools are pinned again as new
    Forget {
        /// The server label
        label: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole chain: exit 0 when intact, 1 with the first file:line that breaks
    Verify {
        /// Audit directory [default: as for the wrapper]
        #[arg(long, env = "COUNTERSIGN_AUDIT_DIR", value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Also check the day seals with this public key (minisign base64, or a .pub file)
        #[arg(long, value_name = "PUBKEY")]
        key: Option<String>,
    },
    /// Make the Ed25519 key that seals finished day files, and print its public key
    Keygen,
    /// Seal today's file so far (and any finished day still unsealed)
    Seal {
        /// Audit directory [default: as for the wrapper]
        #[arg(long, env = "COUNTERSIGN_AUDIT_DIR", value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Show recent records, readable
    Tail {
        /// Audit directory [default: as for the wrapper]
        #[arg(long, env = "COUNTERSIGN_AUDIT_DIR", value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Keep following new records
        #[arg(short, long)]
        follow: bool,
        /// Only records about tools matching this glob
        #[arg(long, value_name = "GLOB")]
        tool: Option<String>,
        /// Only records of servers whose label matches this glob
        #[arg(long, value_name = "GLOB")]
        server: Option<String>,
        /// Only decisions with this outcome
        #[arg(long, value_enum)]
        decision: Option<DecisionFilter>,
        /// Print the records as JSON lines
        #[arg(long)]
        json: bool,
        /// How many recent records to show before following
        #[arg(short = 'n', long, default_value_t = 20, value_name = "N")]
        lines: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DecisionFilter {
    Allow,
    Deny,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy and print the effective rules
    Check {
        /// Policy file [default: as for the wrapper]
        #[arg(env = "COUNTERSIGN_POLICY", value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generated {
    Bash,
    Zsh,
    Fish,
    Man,
}

/// For a command line clap refused that most likely meant another: what was wrong, and
/// the command line to use instead. Offered only when clap accepts that line, so a hint
/// never stands in for clap's own error about something else.
pub fn hint(argv: &[OsString]) -> Option<(&'static str, String)> {
    let args: Vec<String> = argv.iter().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    let cli = command();
    let fixes = [
        ("put `--` before the server command", missing_separator(&cli, &args)),
        ("give the audit directory with `--dir`", missing_dir_flag(&cli, &args)),
        ("`--all` goes after `revoke`", misplaced_all(&cli, &args)),
    ];
    fixes.into_iter().find_map(|(what, fixed)| {
        let fixed = fixed?;
        let line = std::iter::once("countersign".to_owned()).chain(fixed.iter().cloned());
        Cli::try_parse_from(line).ok()?;
        let words: Vec<String> = fixed.iter().map(|a| shell_quote(a)).collect();
        Some((what, format!("countersign {}", words.join(" "))))
    })
}

/// `countersign npx -y some-server`: the server command without `--` before it.
fn missing_separator(cli: &clap::Command, args: &[String]) -> Option<Vec<String>> {
    if args.iter().any(|a| a == "--") {
        return None;
    }
    let i = first_word(args, &value_flags(cli))?;
    if cli.find_subcommand(&args[i]).is_some() || args[i] == "help" {
        return None;
    }
    Some(args[..i].iter().cloned().chain(["--".to_owned()]).chain(args[i..].iter().cloned()).collect())
}

/// `countersign audit verify DIR` (also `seal`, `tail`): the directory without `--dir`.
fn missing_dir_flag(cli: &clap::Command, args: &[String]) -> Option<Vec<String>> {
    let audit = subcommand_at(cli, args, "audit")?;
    let command = cli.find_subcommand("audit")?.find_subcommand(args.get(audit + 1)?)?;
    command.get_arguments().find(|a| a.get_long() == Some("dir"))?;
    let rest = &args[audit + 2..];
    if rest.iter().any(|a| a == "--dir" || a.starts_with("--dir=")) {
        return None;
    }
    let i = first_word(rest, &value_flags(command))?;
    let mut fixed = args[..audit + 2].to_vec();
    fixed.extend(["--dir".to_owned(), rest[i].clone()]);
    fixed.extend(rest.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, a)| a.clone()));
    Some(fixed)
}

/// `countersign leases --all` (PRODUCT.md writes `leases [revoke <ID>|--all]`).
fn misplaced_all(cli: &clap::Command, args: &[String]) -> Option<Vec<String>> {
    let leases = subcommand_at(cli, args, "leases")?;
    let rest = &args[leases + 1..];
    (rest.iter().any(|a| a == "--all") && !rest.iter().any(|a| a == "revoke"))
        .then(|| ["leases", "revoke", "--all"].map(str::to_owned).to_vec())
}

/// Where `args` name the subcommand `name` (past the options before it and their values).
fn subcommand_at(cli: &clap::Command, args: &[String], name: &str) -> Option<usize> {
    first_word(args, &value_flags(cli)).filter(|&i| args[i] == name)
}

/// The options of `cmd` that take a value, as typed: `--dir`, `-n`.
fn value_flags(cmd: &clap::Command) -> Vec<String> {
    let takes_value = cmd.get_arguments().filter(|a| !a.is_positional() && a.get_action().takes_values());
    takes_value
        .flat_map(|a| a.get_long().map(|l| format!("--{l}")).into_iter().chain(a.get_short().map(|s| format!("-{s}"))))
        .collect()
}

/// The position of the first argument that is neither an option nor the value of one of
/// `value_flags`.
fn first_word(args: &[String], value_flags: &[String]) -> Option<usize> {
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        if !arg.starts_with('-') {
            return Some(i);
        }
        i += if value_flags.contains(arg) { 2 } else { 1 };
    }
    None
}

/// `arg` as a shell word: as it is when plain, else single-quoted.
pub(crate) fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@=+,%~".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// The clap command, for generating completions and the man page.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
