// The official TypeScript SDK client (npm @modelcontextprotocol/sdk), as Node.js MCP
// clients run servers: spawned with socket pairs for stdio (libuv). Usage:
//   node client.mjs -- SERVER_COMMAND [ARGS...]   with JSON steps on stdin, as client.py.
// Prints one JSON line per step: {"tools": {...}} for a listing, {"is_error", "text"} for a call.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const argv = process.argv.slice(process.argv.indexOf("--") + 1);
let input = "";
for await (const chunk of process.stdin) input += chunk;
const steps = JSON.parse(input);

const transport = new StdioClientTransport({ command: argv[0], args: argv.slice(1), stderr: "inherit" });
const client = new Client({ name: "countersign-interop-node", version: "1" });
await client.connect(transport);
console.log(JSON.stringify({ server: client.getServerVersion()?.name ?? null }));
for (const step of steps) {
  if (step.list) {
    const { tools } = await client.listTools();
    console.log(JSON.stringify({ tools: Object.fromEntries(tools.map((t) => [t.name, t.annotations ?? {}])) }));
  } else {
    const r = await client.callTool({ name: step.call, arguments: step.args ?? {} });
    const text = (r.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("");
    console.log(JSON.stringify({ is_error: r.isError ?? false, text }));
  }
}
await client.close();
