import { test, expect } from "@playwright/test";
import {
  Cable,
  member,
  messages,
  send,
  setRole,
  signIn,
  signInAdmin,
  signUp,
  uniqueName,
} from "./helpers";

// Hardening, in the browser: the account page, sessions that end everywhere, messages written
// while the connection is down (the outbox), refused messages and Retry, the sign-in page's
// invite and refusal messages.

test("the header's Account link opens the account page", async ({ browser }) => {
  const name = uniqueName("acct");
  const { context, page } = await signUp(browser, name);
  await page.getByRole("link", { name: "Account", exact: true }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByRole("textbox", { name: "Current password" })).toBeVisible();
  await expect(page.getByRole("textbox", { name: "New password" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Change password" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Sign out everywhere" })).toBeVisible();
  await context.close();
});

test("signing out everywhere sends the same person's open chat elsewhere to sign in", async ({ browser }) => {
  const name = uniqueName("both");
  const here = await signUp(browser, name);
  const elsewhere = await signIn(browser, name);
  const roomPath = new URL(elsewhere.page.url()).pathname;

  await here.page.getByRole("link", { name: "Account", exact: true }).click();
  await here.page.getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(here.page).toHaveURL(/\/login/);

  // The other browser's chat tab learns it at once (its socket closes with 4001) and goes to
  // the sign-in page, which brings it back to the room afterwards.
  await expect(elsewhere.page).toHaveURL(new RegExp(`/login\\?next=${encodeURIComponent(roomPath)}$`));
  await expect(elsewhere.page.getByRole("button", { name: "Sign in" })).toBeVisible();
  await here.context.close();
  await elsewhere.context.close();
});

test("a session that ended unseen sends the chat to sign in when its socket comes back", async ({ browser }) => {
  const name = uniqueName("gone");
  const cable = new Cable();
  const { context, page } = await signUp(browser, name, (context) => cable.attach(context));
  const roomPath = new URL(page.url()).pathname;
  // The session cookie is gone (as when it expires): the open socket does not know.
  await context.clearCookies();
  await cable.unplug();
  await expect(page.getByRole("status")).toHaveText("Reconnecting…");
  cable.plug();
  // The socket is refused (a 401 the page cannot see); GET /auth/session says why.
  await expect(page).toHaveURL(new RegExp(`/login\\?next=${encodeURIComponent(roomPath)}$`), { timeout: 30_000 });
  await context.close();
});

test("a tab beyond the account's socket limit says so and connects once one closes", async ({ browser }) => {
  test.setTimeout(90_000);
  const name = uniqueName("tabs");
  const { context, page } = await signUp(browser, name);
  // The chat holds one socket; 19 more reach the server's default limit of 20.
  await page.evaluate(async () => {
    const held: WebSocket[] = [];
    for (let i = 0; i < 19; i++) {
      const ws = new WebSocket(`ws://${location.host}/ws`);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      ws.send(JSON.stringify({ type: "hello", protocol: 6 }));
      await new Promise<void>((resolve) => {
        ws.onmessage = () => resolve();
      });
      held.push(ws);
    }
    (window as unknown as { held: WebSocket[] }).held = held;
  });
  const extra = await context.newPage();
  await extra.goto("/rooms/1");
  await expect(extra.getByRole("status")).toHaveText(
    "Too many tabs or devices are connected to this account. Close one; this tab tries again every 30 seconds.",
  );
  await page.evaluate(() => (window as unknown as { held: WebSocket[] }).held.forEach((ws) => ws.close()));
  await expect(extra.getByRole("status")).toHaveText("", { timeout: 40_000 });
  await expect(member(extra, name)).toContainText("online");
  await context.close();
});

test("a message written while offline shows as Sending… and is delivered once back online", async ({ browser }) => {
  const ann = uniqueName("ann");
  const ben = uniqueName("ben");
  // Chromium's offline mode (context.setOffline) leaves an open WebSocket open, so Ann's
  // socket goes through a cable the test can pull.
  const cable = new Cable();
  const a = await signUp(browser, ann, (context) => cable.attach(context));
  const b = await signUp(browser, ben);
  const text = uniqueName("Written on the train, ");

  await cable.unplug();
  await expect(a.page.getByRole("status")).toHaveText("Reconnecting…");
  await send(a.page, text);
  const mine = messages(a.page).filter({ hasText: text });
  await expect(mine).toHaveCount(1);
  await expect(mine).toContainText("Sending…");
  await expect(mine).toContainText(ann);
  // Still offline after a few reconnect attempts: not out yet, and still waiting.
  await a.page.waitForTimeout(1_500);
  await expect(messages(b.page).filter({ hasText: text })).toHaveCount(0);
  await expect(mine).toContainText("Sending…");

  cable.plug();
  await expect(a.page.getByRole("status")).toHaveText("", { timeout: 30_000 });
  await expect(messages(b.page).filter({ hasText: text })).toHaveCount(1);
  await expect(a.page.getByText("Sending…")).toHaveCount(0);
  // The outbox's copy gave way to the stored message: one, not two.
  await expect(mine).toHaveCount(1);
  await expect(mine).toContainText(ann);
  await expect(messages(b.page).filter({ hasText: text })).toHaveCount(1);

  await a.context.close();
  await b.context.close();
});

test("a muted member's message is Not sent with the reason, and Retry delivers it after the unmute", async ({
  browser,
}) => {
  const teacher = uniqueName("teacher");
  const student = uniqueName("student");
  const t = await signUp(browser, teacher);
  const admin = await signInAdmin(browser);
  await setRole(admin.page, teacher, "Teacher");
  await admin.context.close();
  const s = await signUp(browser, student);

  const row = member(t.page, student);
  await expect(row).toContainText("online");
  await row.getByRole("button", { name: `Mute ${student}`, exact: true }).click();
  await row.getByRole("button", { name: "Until unmuted" }).click();
  await expect(s.page.getByText("You are muted in this room until a moderator unmutes you")).toBeVisible();

  const text = uniqueName("May I answer? ");
  await send(s.page, text);
  const mine = messages(s.page).filter({ hasText: text });
  await expect(mine).toContainText("Not sent");
  await expect(mine.getByRole("alert")).toHaveText("You are muted in this room until a moderator unmutes you");
  await expect(messages(t.page).filter({ hasText: text })).toHaveCount(0);

  await row.getByRole("button", { name: `Unmute ${student}`, exact: true }).click();
  await expect(member(s.page, student)).not.toContainText("muted");
  await mine.getByRole("button", { name: "Retry" }).click();
  await expect(messages(t.page).filter({ hasText: text })).toHaveCount(1);
  await expect(mine).toHaveCount(1);
  await expect(mine).not.toContainText("Not sent");
  await expect(s.page.getByRole("button", { name: "Retry" })).toHaveCount(0);

  await t.context.close();
  await s.context.close();
});

test("the sign-in page carries an invite and explains refused sign-ins", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto("/login?invite=abc123");
  await expect(
    page.getByText("You were invited: choose a username and a password, then Create account."),
  ).toBeVisible();
  await expect(page.locator('input[type="hidden"][name="invite"]')).toHaveValue("abc123");

  for (const [code, text] of [
    ["disabled", "This account is disabled; ask the administrator."],
    ["invite", "Sign-ups need an invite link from a teacher or the administrator."],
    ["closed", "Sign-ups are closed on this server."],
  ]) {
    await page.goto(`/login?error=${code}`);
    await expect(page.getByRole("alert")).toHaveText(text);
  }
  await expect(page.getByText("You were invited")).toHaveCount(0);
  await context.close();
});
