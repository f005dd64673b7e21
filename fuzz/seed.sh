#!/usr/bin/env bash
# Writes the starting corpus of every target into fuzz/corpus/<target>/ (git-ignored):
# a few realistic MCP messages and policies. Inputs that once found a bug live in
# fuzz/regressions/<target>/ and are copied in too, so every run starts from them.
set -euo pipefail
cd "$(dirname "$0")"

messages=(
  '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"roots":{"listChanged":true}},"clientInfo":{"name":"claude-code","version":"1.0.0"}}}'
  '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'
  '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"delete_file","title":"Delete","description":"Deletes a file","inputSchema":{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]},"annotations":{"readOnlyHint":false,"destructiveHint":true}}],"nextCursor":null}}'
  '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"refund","arguments":{"amount_cents":4999,"currency":"EUR","note":"caf\u00e9 \ud83d\ude00","rate":-1.25e-3}}}'
  '{"jsonrpc":"2.0","id":"a-7","method":"tools/call","params":{"name":"write_file","arguments":{"path":"/home/me/scratch/../notes.txt","content":"line\nline\t2"},"_meta":{"progressToken":3}}}'
  '{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"done"}],"isError":false,"structuredContent":{"ok":true,"n":[1,2.5,1e21]}}}'
  '{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"Unknown tool: x","data":null}}'
  '[{"jsonrpc":"2.0","id":4,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"timeout"}}]'
  ' {"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"a","arguments":{"x":[[[{"":""}]]],"big":9007199254740992,"y":0.1}}} '
)
policy='
[defaults]
read_only = "allow"
write = "allow"
destructive = "ask"
unknown = "deny"

[[rules]]
id = "small-refunds"
tool = "refund"
server = "bank"
action = "allow"
[rules.args]
"/amount_cents" = { lt = 50000, ge = 0 }
"/currency" = { one_of = ["EUR", "USD", 3, {k = [1.5]}] }

[[rules]]
id = "scratch-writes"
tool = "write_*"
action = "allow"
[rules.args]
"/path" = { path = "/home/me/scratch/**" }
"/content" = { regex = "[^\\x00]*", absent = false }
"/mode" = { equals = "w" }
"/nested~1key/0" = { glob = "a*b?[c-d]" }
'

write() { # target name content
  mkdir -p "corpus/$1"
  printf '%s' "$3" > "corpus/$1/$2"
}
for i in "${!messages[@]}"; do
  write json_scan "mcp-$i" "${messages[$i]}"
  write digest "mcp-$i" "${messages[$i]}"
  write sanitize "mcp-$i" "$(printf '\x28')${messages[$i]}"
  write message_kind "mcp-$i" "${messages[$i]}"
done
# Ids as raw text, and messages on the edge of each kind.
ids=('7' '-0' '1.0' '1e2' '"a-7"' '"\u0031"' 'null' '9007199254740992' '[1]')
for i in "${!ids[@]}"; do
  write message_kind "id-$i" "${ids[$i]}"
done
write message_kind error-null-id '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}'
write message_kind result-and-error '{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}'
write message_kind escaped-members '{"\u006asonrpc":"2\u002e0","\u0069d":1.0,"method":"tools\/call","params":[]}'
write message_kind bad-params '{"jsonrpc":"2.0","id":"x","method":"ping","params":null}'
write policy policy-only "$policy"
write policy policy-args "$policy$(printf '\xff'){\"amount_cents\":100,\"currency\":\"EUR\",\"path\":\"/home/me/scratch/./a//b\",\"content\":\"x\",\"mode\":\"w\",\"nested/key\":[\"axbyc\"]}"
write policy empty-args "$(printf '\xff'){}"
write sanitize controls "$(printf '\x05\x1b[2J\xc2\x9b31m\xe2\x80\xaeevil\xe2\x80\x8b\xef\xbb\xbf\xf3\xa0\x81\x81tag')"

for dir in regressions/*/; do
  [ -d "$dir" ] || continue
  target=$(basename "$dir")
  mkdir -p "corpus/$target"
  cp "$dir"* "corpus/$target/" 2>/dev/null || true
done
echo "corpus written under $(pwd)/corpus"
