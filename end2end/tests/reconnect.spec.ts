import { test, expect } from "@playwright/test";
import { ChildProcess, spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { messages, postMany, send, signUp, uniqueName } from "./helpers";

// This test restarts the server, so it runs its own on a separate port and database.
const port = Number(process.env.HEARTH_E2E_PORT ?? 3100) + 1;
const origin = `http://127.0.0.1:${port}`;
const dir = "../target/e2e-reconnect";

function startServer(): ChildProcess {
  return spawn(
    "../target/release/hearth",
    ["--addr", `127.0.0.1:${port}`, "--database-url", `sqlite://${dir}/hearth.db`, "--site-root", "../target/site"],
    { stdio: "ignore" },
  );
}

async function waitUntilUp() {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${origin}/login`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("server did not start");
}

async function stop(server: ChildProcess) {
  const exited = new Promise((r) => server.once("exit", r));
  server.kill("SIGTERM");
  await exited;
}

test.use({ baseURL: origin });

test("after a server restart the chat reconnects by itself and fills in, without duplicates", async ({ browser }) => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let server = startServer();
  try {
    await waitUntilUp();
    const alice = uniqueName("alice");
    const bob = uniqueName("bob");
    const a = await signUp(browser, alice);
    const b = await signUp(browser, bob);
    await send(a.page, "before the restart");
    await expect(messages(b.page).filter({ hasText: "before the restart" })).toHaveCount(1);

    await stop(server);
    await expect(a.page.getByRole("status")).toHaveText("Reconnecting…");
    await expect(b.page.getByRole("status")).toHaveText("Reconnecting…");

    server = startServer();
    await waitUntilUp();
    // Bob posts at once, possibly before Alice's client is back: she must get these either
    // live or as catch-up, exactly once each.
    await postMany(b.page, 1, ["while you were away 1", "while you were away 2"]);

    await expect(a.page.getByRole("status")).toHaveText("", { timeout: 20_000 });
    for (const text of ["before the restart", "while you were away 1", "while you were away 2"]) {
      await expect(messages(a.page).filter({ hasText: text })).toHaveCount(1);
    }
    await send(a.page, "after the restart");
    await expect(messages(b.page).filter({ hasText: "after the restart" })).toHaveCount(1, { timeout: 20_000 });
    await a.context.close();
    await b.context.close();
  } finally {
    await stop(server);
  }
});
