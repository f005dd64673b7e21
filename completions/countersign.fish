# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_countersign_global_optspecs
    string join \n name= policy= audit-dir= audit-retention-days= headless approval-timeout= v/verbose h/help V/version
end

function __fish_countersign_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_countersign_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_countersign_using_subcommand
    set -l cmd (__fish_countersign_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c countersign -n "__fish_countersign_needs_command" -l name -d 'Server label in prompts, audit and policy [default: the package, module, image or file the command runs]' -r
complete -c countersign -n "__fish_countersign_needs_command" -l policy -d 'Policy file [default: $XDG_CONFIG_HOME/countersign/policy.toml when it exists, else built-in defaults]' -r -F
complete -c countersign -n "__fish_countersign_needs_command" -l audit-dir -d 'Audit directory [default: ~/.local/state/countersign/audit, or $COUNTERSIGN_HOME/audit]' -r -F
complete -c countersign -n "__fish_countersign_needs_command" -l audit-retention-days -d 'Delete audit day files older than this many days (default: keep everything)' -r
complete -c countersign -n "__fish_countersign_needs_command" -l approval-timeout -d 'How long a held call waits for the operator' -r
complete -c countersign -n "__fish_countersign_needs_command" -l headless -d 'Never ask a human: calls that need approval are denied'
complete -c countersign -n "__fish_countersign_needs_command" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_needs_command" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_needs_command" -s V -l version -d 'Print version'
complete -c countersign -n "__fish_countersign_needs_command" -a "audit" -d 'Read and check the audit log'
complete -c countersign -n "__fish_countersign_needs_command" -a "digest" -d 'Print the digest of a tool call: a {"name","arguments"} object, tools/call params, or a whole request'
complete -c countersign -n "__fish_countersign_needs_command" -a "policy" -d 'Check a policy file'
complete -c countersign -n "__fish_countersign_needs_command" -a "approver" -d 'Full-screen console that approves held calls from every countersign of this user'
complete -c countersign -n "__fish_countersign_needs_command" -a "pending" -d 'List the pending approvals (calls nobody could answer) and the approved ones not yet used'
complete -c countersign -n "__fish_countersign_needs_command" -a "approve" -d 'Show a pending approval as the prompt does and answer it on this terminal (or, with --web, on the approval page in a browser): approving lets the next identical call run, once'
complete -c countersign -n "__fish_countersign_needs_command" -a "deny" -d 'Deny a pending approval (or withdraw an approved one that is not used yet)'
complete -c countersign -n "__fish_countersign_needs_command" -a "leases" -d 'List the leases (a tool allowed on a server for 15 minutes); `leases revoke <ID>` or `leases revoke --all` ends them'
complete -c countersign -n "__fish_countersign_needs_command" -a "demo" -d 'A built-in demo server behind countersign with a scripted client'
complete -c countersign -n "__fish_countersign_needs_command" -a "install" -d 'Put countersign in front of the stdio MCP servers in your clients\' config files'
complete -c countersign -n "__fish_countersign_needs_command" -a "uninstall" -d 'Take countersign out of your clients\' config files again'
complete -c countersign -n "__fish_countersign_needs_command" -a "pins" -d 'List the pinned tool definitions per server label, marking the changed ones; accept or forget them'
complete -c countersign -n "__fish_countersign_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and not __fish_seen_subcommand_from verify keygen seal tail help" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and not __fish_seen_subcommand_from verify keygen seal tail help" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and not __fish_seen_subcommand_from verify keygen seal tail help" -f -a "verify" -d 'Check the whole chain: exit 0 when intact, 1 with the first file:line that breaks'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and not __fish_seen_subcommand_from verify keygen seal tail help" -f -a "keygen" -d 'Make the Ed25519 key that seals finished day files, and print its public key'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and not __fish_seen_subcommand_from verify keygen seal tail help" -f -a "seal" -d 'Seal today\'s file so far (and any finished day still unsealed)'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and not __fish_seen_subcommand_from verify keygen seal tail help" -f -a "tail" -d 'Show recent records, readable'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and not __fish_seen_subcommand_from verify keygen seal tail help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from verify" -l dir -d 'Audit directory [default: as for the wrapper]' -r -F
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from verify" -l key -d 'Also check the day seals with this public key (minisign base64, or a .pub file)' -r
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from verify" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from keygen" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from keygen" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from seal" -l dir -d 'Audit directory [default: as for the wrapper]' -r -F
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from seal" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from seal" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from tail" -l dir -d 'Audit directory [default: as for the wrapper]' -r -F
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from tail" -l tool -d 'Only records about tools matching this glob' -r
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from tail" -l server -d 'Only records of servers whose label matches this glob' -r
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from tail" -l decision -d 'Only decisions with this outcome' -r -f -a "allow\t''
deny\t''"
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from tail" -s n -l lines -d 'How many recent records to show before following' -r
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from tail" -s f -l follow -d 'Keep following new records'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from tail" -l json -d 'Print the records as JSON lines'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from tail" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from tail" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check the whole chain: exit 0 when intact, 1 with the first file:line that breaks'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "keygen" -d 'Make the Ed25519 key that seals finished day files, and print its public key'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "seal" -d 'Seal today\'s file so far (and any finished day still unsealed)'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "tail" -d 'Show recent records, readable'
complete -c countersign -n "__fish_countersign_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c countersign -n "__fish_countersign_using_subcommand digest" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand digest" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand policy; and not __fish_seen_subcommand_from check help" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand policy; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand policy; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Validate a policy and print the effective rules'
complete -c countersign -n "__fish_countersign_using_subcommand policy; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c countersign -n "__fish_countersign_using_subcommand policy; and __fish_seen_subcommand_from check" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand policy; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "check" -d 'Validate a policy and print the effective rules'
complete -c countersign -n "__fish_countersign_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c countersign -n "__fish_countersign_using_subcommand approver" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand approver" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand pending" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand pending" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand approve" -l web -d 'Answer on the approval page in a browser instead: served on 127.0.0.1 until it is answered or the approval lapses; its link is printed, and opened with the desktop\'s opener'
complete -c countersign -n "__fish_countersign_using_subcommand approve" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand approve" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand deny" -l reason -d 'Why, for the audit log' -r
complete -c countersign -n "__fish_countersign_using_subcommand deny" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand deny" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand leases; and not __fish_seen_subcommand_from revoke help" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand leases; and not __fish_seen_subcommand_from revoke help" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand leases; and not __fish_seen_subcommand_from revoke help" -f -a "revoke" -d 'End one lease, or every lease with --all'
complete -c countersign -n "__fish_countersign_using_subcommand leases; and not __fish_seen_subcommand_from revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c countersign -n "__fish_countersign_using_subcommand leases; and __fish_seen_subcommand_from revoke" -l all -d 'End every lease'
complete -c countersign -n "__fish_countersign_using_subcommand leases; and __fish_seen_subcommand_from revoke" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand leases; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand leases; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'End one lease, or every lease with --all'
complete -c countersign -n "__fish_countersign_using_subcommand leases; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c countersign -n "__fish_countersign_using_subcommand demo" -l audit-dir -d 'Audit directory for the demo [default: a new temporary directory]' -r -F
complete -c countersign -n "__fish_countersign_using_subcommand demo" -l headless -d 'Show the path where nobody can approve'
complete -c countersign -n "__fish_countersign_using_subcommand demo" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand demo" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand install" -l client -d 'Only this client\'s files (repeatable) [default: every client whose file exists]' -r -f -a "claude-desktop\t'claude_desktop_config.json'
claude-code\t'~/.claude.json (user and per-project servers) and ./.mcp.json'
cursor\t'~/.cursor/mcp.json and ./.cursor/mcp.json'
vscode\t'the user profile\'s mcp.json and ./.vscode/mcp.json'
windsurf\t'~/.codeium/windsurf/mcp_config.json'
gemini\t'~/.gemini/settings.json and ./.gemini/settings.json'
codex\t'~/.codex/config.toml ($CODEX_HOME when set)'"
complete -c countersign -n "__fish_countersign_using_subcommand install" -l config -d 'Edit this file instead (JSON, JSONC or TOML, told by its name and content)' -r -F
complete -c countersign -n "__fish_countersign_using_subcommand install" -l server -d 'Only the server with this key (repeatable) [default: every server]' -r
complete -c countersign -n "__fish_countersign_using_subcommand install" -l dry-run -d 'Print what would change; write nothing'
complete -c countersign -n "__fish_countersign_using_subcommand install" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand install" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c countersign -n "__fish_countersign_using_subcommand uninstall" -l client -d 'Only this client\'s files (repeatable) [default: every client whose file exists]' -r -f -a "claude-desktop\t'claude_desktop_config.json'
claude-code\t'~/.claude.json (user and per-project servers) and ./.mcp.json'
cursor\t'~/.cursor/mcp.json and ./.cursor/mcp.json'
vscode\t'the user profile\'s mcp.json and ./.vscode/mcp.json'
windsurf\t'~/.codeium/windsurf/mcp_config.json'
gemini\t'~/.gemini/settings.json and ./.gemini/settings.json'
codex\t'~/.codex/config.toml ($CODEX_HOME when set)'"
complete -c countersign -n "__fish_countersign_using_subcommand uninstall" -l config -d 'Edit this file instead (JSON, JSONC or TOML, told by its name and content)' -r -F
complete -c countersign -n "__fish_countersign_using_subcommand uninstall" -l server -d 'Only the server with this key (repeatable) [default: every server]' -r
complete -c countersign -n "__fish_countersign_using_subcommand uninstall" -l dry-run -d 'Print what would change; write nothing'
complete -c countersign -n "__fish_countersign_using_subcommand uninstall" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand uninstall" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c countersign -n "__fish_countersign_using_subcommand pins; and not __fish_seen_subcommand_from accept forget help" -l server -d 'Only this server label' -r
complete -c countersign -n "__fish_countersign_using_subcommand pins; and not __fish_seen_subcommand_from accept forget help" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand pins; and not __fish_seen_subcommand_from accept forget help" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand pins; and not __fish_seen_subcommand_from accept forget help" -f -a "accept" -d 'Take the changed tools\' new definitions as their pins (every changed tool when none is named)'
complete -c countersign -n "__fish_countersign_using_subcommand pins; and not __fish_seen_subcommand_from accept forget help" -f -a "forget" -d 'Drop every pin of a server label: its tools are pinned again as new'
complete -c countersign -n "__fish_countersign_using_subcommand pins; and not __fish_seen_subcommand_from accept forget help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c countersign -n "__fish_countersign_using_subcommand pins; and __fish_seen_subcommand_from accept" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand pins; and __fish_seen_subcommand_from accept" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand pins; and __fish_seen_subcommand_from forget" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides'
complete -c countersign -n "__fish_countersign_using_subcommand pins; and __fish_seen_subcommand_from forget" -s h -l help -d 'Print help'
complete -c countersign -n "__fish_countersign_using_subcommand pins; and __fish_seen_subcommand_from help" -f -a "accept" -d 'Take the changed tools\' new definitions as their pins (every changed tool when none is named)'
complete -c countersign -n "__fish_countersign_using_subcommand pins; and __fish_seen_subcommand_from help" -f -a "forget" -d 'Drop every pin of a server label: its tools are pinned again as new'
complete -c countersign -n "__fish_countersign_using_subcommand pins; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c countersign -n "__fish_countersign_using_subcommand help; and not __fish_seen_subcommand_from audit digest policy approver pending approve deny leases demo install uninstall pins help" -f -a "audit" -d 'Read and check the audit log'
complete -c countersign -n "__fish_countersign_using_subcommand help; and not __fish_seen_subcommand_from audit digest policy approver pending approve deny leases demo install uninstall pins help" -f -a "digest" -d 'Print the digest of a tool call: a {"name","arguments"} object, tools/call params, or a whole request'
complete -c countersign -n "__fish_countersign_using_subcommand help; and not __fish_seen_subcommand_from audit digest policy approver pending approve deny leases demo install uninstall pins help" -f -a "policy" -d 'Check a policy file'
complete -c countersign -n "__fish_countersign_using_subcommand help; and not __fish_seen_subcommand_from audit digest policy approver pending approve deny leases demo install uninstall pins help" -f -a "approver" -d 'Full-screen console that approves held calls from every countersign of this user'
complete -c countersign -n "__fish_countersign_using_subcommand help; and not __fish_seen_subcommand_from audit digest policy approver pending approve deny leases demo install uninstall pins help" -f -a "pending" -d 'List the pending approvals (calls nobody could answer) and the approved ones not yet used'
complete -c countersign -n "__fish_countersign_using_subcommand help; and not __fish_seen_subcommand_from audit digest policy approver pending approve deny leases demo install uninstall pins help" -f -a "approve" -d 'Show a pending approval as the prompt does and answer it on this terminal (or, with --web, on the approval page in a browser): approving lets the next identical call run, once'
complete -c countersign -n "__fish_countersign_using_subcommand help; and not __fish_seen_subcommand_from audit digest policy approver pending approve deny leases demo install uninstall pins help" -f -a "deny" -d 'Deny a pending approval (or withdraw an approved one that is not used yet)'
complete -c countersign -n "__fish_countersign_using_subcommand help; and not __fish_seen_subcommand_from audit digest policy approver pending approve deny leases demo install uninstall pins help" -f -a "leases" -d 'List the leases (a tool allowed on a server for 15 minutes); `leases revoke <ID>` or `leases revoke --all` ends them'
complete -c countersign -n "__fish_countersign_using_subcommand help; and not __fish_seen_subcommand_from audit digest policy approver pending approve deny leases demo install uninstall pins help" -f -a "demo" -d 'A built-in demo server behind countersign with a scripted client'
complete -c countersign -n "__fish_countersign_using_subcommand help; and not __fish_seen_subcommand_from audit digest policy approver pending approve deny leases demo install uninstall pins help" -f -a "install" -d 'Put countersign in front of the stdio MCP servers in your clients\' config files'
complete -c countersign -n "__fish_countersign_using_subcommand help; and not __fish_seen_subcommand_from audit digest policy approver pending approve deny leases demo install uninstall pins help" -f -a "uninstall" -d 'Take countersign out of your clients\' config files again'
complete -c countersign -n "__fish_countersign_using_subcommand help; and not __fish_seen_subcommand_from audit digest policy approver pending approve deny leases demo install uninstall pins help" -f -a "pins" -d 'List the pinned tool definitions per server label, marking the changed ones; accept or forget them'
complete -c countersign -n "__fish_countersign_using_subcommand help; and not __fish_seen_subcommand_from audit digest policy approver pending approve deny leases demo install uninstall pins help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c countersign -n "__fish_countersign_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "verify" -d 'Check the whole chain: exit 0 when intact, 1 with the first file:line that breaks'
complete -c countersign -n "__fish_countersign_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "keygen" -d 'Make the Ed25519 key that seals finished day files, and print its public key'
complete -c countersign -n "__fish_countersign_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "seal" -d 'Seal today\'s file so far (and any finished day still unsealed)'
complete -c countersign -n "__fish_countersign_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "tail" -d 'Show recent records, readable'
complete -c countersign -n "__fish_countersign_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "check" -d 'Validate a policy and print the effective rules'
complete -c countersign -n "__fish_countersign_using_subcommand help; and __fish_seen_subcommand_from leases" -f -a "revoke" -d 'End one lease, or every lease with --all'
complete -c countersign -n "__fish_countersign_using_subcommand help; and __fish_seen_subcommand_from pins" -f -a "accept" -d 'Take the changed tools\' new definitions as their pins (every changed tool when none is named)'
complete -c countersign -n "__fish_countersign_using_subcommand help; and __fish_seen_subcommand_from pins" -f -a "forget" -d 'Drop every pin of a server label: its tools are pinned again as new'
