// Loads countersign's approval page in headless Chromium (the system's, through
// playwright-core) as a person would, and answers it, or attacks it from another origin.
//
//   node browser.mjs approve|deny|attack URL SCREENSHOT.png
//
// approve / deny: opens the page (phone-sized), takes a screenshot, clicks the button
// (deny types a reason first) and prints {"title", "text"} of the page that follows.
// attack: serves a page on another origin (localhost, another port) that frames the
// approval page, auto-submits a copy of its form (the real token and digest in it) and
// makes a cross-origin fetch; prints what the browser got for each.
import http from "node:http";
import { chromium } from "playwright-core";

const [mode, url, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
const page = await context.newPage();
const out = {};
try {
  if (mode === "approve" || mode === "deny") {
    await page.goto(url);
    if (shot) await page.screenshot({ path: shot, fullPage: true });
    // A person reads before answering; an answer in the first 300 ms is not taken.
    await page.waitForTimeout(400);
    if (mode === "deny") {
      await page.fill("input[name=reason]", "not this file");
      await page.press("input[name=reason]", "Enter");
    } else {
      await page.click("button[value=approve]");
    }
    await page.waitForSelector("h1");
    out.title = await page.title();
    out.text = await page.innerText("main");
  } else if (mode === "attack") {
    // The real page's fields, as if the attacker had them: only the origin gives it away.
    await page.goto(url);
    const csrf = await page.getAttribute("input[name=csrf]", "value");
    const digest = await page.getAttribute("input[name=digest]", "value");
    const evil = http.createServer((req, res) => {
      res.setHeader("content-type", "text/html");
      if (req.url === "/frame") {
        res.end(`<iframe id="f" src="${url}"></iframe>`);
      } else if (req.url === "/fetch") {
        res.end(`<p id="r">…</p><script>
          fetch(${JSON.stringify(url)}, {method: "POST", mode: "no-cors",
            headers: {"content-type": "application/x-www-form-urlencoded"},
            body: "csrf=${csrf}&digest=${encodeURIComponent(digest)}&choice=approve"})
          .then(r => document.getElementById("r").textContent = "sent " + r.type)
          .catch(e => document.getElementById("r").textContent = "failed " + e);
        </script>`);
      } else {
        res.end(`<form id="f" method="post" action="${url}">
          <input name="csrf" value="${csrf}"><input name="digest" value="${digest}">
          <input name="choice" value="approve"></form>
          <script>document.getElementById("f").submit()</script>`);
      }
    });
    await new Promise((ok) => evil.listen(0, "127.0.0.1", ok));
    const origin = `http://localhost:${evil.address().port}`;
    const posted = page.waitForResponse((r) => r.url() === url && r.request().method() === "POST");
    await page.goto(`${origin}/form`);
    out.form = (await posted).status();
    await page.goto(`${origin}/fetch`);
    await page.waitForFunction(() => document.getElementById("r").textContent !== "…");
    out.fetch = await page.innerText("#r");
    await page.goto(`${origin}/frame`);
    const frame = page.frames().find((f) => f.url() === url);
    out.framed = frame ? (await frame.content()).includes("csrf") : false;
    evil.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
