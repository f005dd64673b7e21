"""Drives an MCP server over stdio with the official Python SDK client.

usage: client.py MODE -- COMMAND [ARGS...]   (MODE: legacy | 2026-07-28 | auto)
Reads a JSON list of steps on stdin and prints one JSON object per step:
  {"list": true}                      -> {"tools": {name: annotations}}
  {"call": NAME, "args": {...}}       -> {"is_error": bool, "text": "...", "result_type": ...}
  {"wait_for": PATH}                  -> {"waited": PATH}, once the file exists (60 s at most)
With ELICIT set (a JSON ElicitResult, e.g. {"action": "accept", "content": {...}}) the client
declares elicitation and answers every dialog so; a call's output then lists the messages
of the dialogs it was shown ("elicited"). Without it, the client declares none.
"""

import asyncio
import json
import os
import sys

from mcp import Client, StdioServerParameters, types

ELICITED = []


async def elicit(context, params):
    ELICITED.append({"message": params.message, "schema": getattr(params, "requested_schema", None)})
    return types.ElicitResult.model_validate(json.loads(os.environ["ELICIT"]))


def main() -> None:
    mode = sys.argv[1]
    command = sys.argv[sys.argv.index("--") + 1 :]
    steps = json.load(sys.stdin)
    params = StdioServerParameters(command=command[0], args=command[1:])
    asyncio.run(drive(params, mode, steps))


async def drive(params, mode, steps) -> None:
    callback = elicit if os.environ.get("ELICIT") else None
    async with Client(params, mode=mode, elicitation_callback=callback) as client:
        print(json.dumps({"protocol_version": client.protocol_version}), flush=True)
        for step in steps:
            if step.get("wait_for"):
                for _ in range(600):
                    if os.path.exists(step["wait_for"]):
                        break
                    await asyncio.sleep(0.1)
                out = {"waited": step["wait_for"]}
            elif step.get("list"):
                tools = (await client.list_tools()).tools
                out = {
                    "tools": {
                        t.name: (t.annotations.model_dump(exclude_none=True, by_alias=True) if t.annotations else {})
                        for t in tools
                    }
                }
            else:
                result = await client.call_tool(step["call"], step.get("args", {}))
                texts = [c.text for c in result.content if getattr(c, "type", "") == "text"]
                out = {"is_error": bool(result.is_error), "text": "\n".join(texts)}
                if callback:
                    out["elicited"] = ELICITED[:]
                    ELICITED.clear()
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
