import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { messages, send, signInAdmin, signUp, uniqueName } from "./helpers";

/** The example bot of docs/protocol.md §8, exactly as written there. */
function exampleBot(): string {
  const doc = readFileSync(join(__dirname, "..", "..", "docs", "protocol.md"), "utf8");
  const block = doc.match(/<!-- echo-bot\.mjs[^>]*-->\n```js\n([\s\S]*?)```\n<!-- end of echo-bot\.mjs -->/);
  if (!block) throw new Error("docs/protocol.md has no echo-bot.mjs block");
  return block[1];
}

/** Resolves with the bot's output once `text` appears in it; rejects if the bot exits first. */
function output(bot: ChildProcess, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const look = (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) resolve(seen);
    };
    bot.stdout?.on("data", look);
    bot.stderr?.on("data", look);
    bot.on("exit", (code) => reject(new Error(`the bot exited (${code}) before "${text}": ${seen}`)));
  });
}

test("the administrator makes a bot, the documented example bot answers in the lobby, and revoking its token stops it", async ({
  browser,
}, testInfo) => {
  const admin = await signInAdmin(browser);
  const name = uniqueName("echo-bot");
  await admin.page.goto("/admin");
  await admin.page.getByRole("textbox", { name: "Bot name" }).fill(name);
  await admin.page.getByRole("button", { name: "Create bot" }).click();
  await expect(admin.page.getByRole("status")).toHaveText(`${name} was created.`);
  const token = (await admin.page.getByLabel("API token").textContent()) ?? "";
  expect(token).toMatch(/^[0-9a-f]{64}$/);
  // Shown once: the accounts page lists the bot but not its token.
  await admin.page.getByRole("link", { name: "Back to accounts" }).click();
  const row = admin.page.getByRole("table", { name: "Bots" }).getByRole("row").filter({ hasText: name });
  await expect(row).toContainText("made");
  await expect(admin.page.getByText(token)).toHaveCount(0);

  const script = testInfo.outputPath("echo-bot.mjs");
  writeFileSync(script, exampleBot());
  const port = Number(process.env.HEARTH_E2E_PORT ?? 3100);
  const bot = spawn(process.execPath, [script], {
    env: { ...process.env, HEARTH_URL: `ws://127.0.0.1:${port}/ws`, HEARTH_TOKEN: token },
  });
  const exited = new Promise<number | null>((resolve) => bot.on("exit", resolve));
  try {
    await output(bot, `connected as ${name}`);

    const person = await signUp(browser, uniqueName("dana"));
    const words = uniqueName("hello from the lobby ");
    await send(person.page, `!echo ${words}`);
    const answer = messages(person.page).filter({ hasText: name }).filter({ hasText: words });
    await expect(answer).toHaveCount(1);
    await expect(answer).not.toContainText("!echo");

    const stopped = output(bot, "the token was revoked");
    await row.getByRole("button", { name: `Revoke token for ${name}`, exact: true }).click();
    await expect(admin.page.getByRole("status")).toHaveText(`${name} has no token now; its connections closed.`);
    await stopped;
    expect(await exited).toBe(1);
    await expect(
      admin.page.getByRole("table", { name: "Bots" }).getByRole("row").filter({ hasText: name }),
    ).toContainText("revoked");
    await person.context.close();
  } finally {
    bot.kill();
    await admin.context.close();
  }
});
