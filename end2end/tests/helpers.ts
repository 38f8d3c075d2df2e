import { Browser, BrowserContext, Page, expect } from "@playwright/test";

export const PASSWORD = "correct horse battery";

/** The administrator: the first account of the fresh database, signed up by global-setup.ts. */
export const ADMIN = "admin";

/** A unique name per run, so tests never collide in the shared database. */
export function uniqueName(base: string): string {
  return `${base}${Date.now().toString(36).slice(-5)}${Math.floor(Math.random() * 100)}`;
}

export async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
}

/** Waits until the chat is connected: the signed-in user is listed online in Members. */
export async function chatReady(page: Page, name: string) {
  await hydrated(page);
  await expect(page.getByRole("heading", { level: 1 })).not.toHaveText("…");
  await expect(member(page, name)).toContainText("online");
}

export function member(page: Page, name: string) {
  return page
    .getByRole("complementary", { name: "Members" })
    .getByRole("listitem")
    .filter({ has: page.getByText(name, { exact: true }) });
}

export function composer(page: Page) {
  return page.getByRole("textbox", { name: "Message", exact: true });
}

export function messages(page: Page) {
  return page.getByRole("log", { name: "Messages" }).getByRole("listitem");
}

/** Opens a fresh browser context and goes through the sign-in page with `button`. */
async function enter(browser: Browser, name: string, button: "Create account" | "Sign in") {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (process.env.DEBUG_CONSOLE) page.on("console", (m) => console.log(name, m.text()));
  page.on("dialog", async (dialog) => {
    await dialog.dismiss();
    throw new Error(`unexpected dialog: ${dialog.message()}`);
  });
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: button }).click();
  await page.waitForURL("**/rooms/1");
  await chatReady(page, name);
  return { context, page };
}

export async function signUp(browser: Browser, name: string): Promise<{ context: BrowserContext; page: Page }> {
  return enter(browser, name, "Create account");
}

export async function signIn(browser: Browser, name: string): Promise<{ context: BrowserContext; page: Page }> {
  return enter(browser, name, "Sign in");
}

/** Signs in as the administrator, in a fresh browser context. */
export async function signInAdmin(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  return signIn(browser, ADMIN);
}

/** The administrator (on `admin`, signed in) gives `name` a role on the accounts page. */
export async function setRole(admin: Page, name: string, role: "Teacher" | "Member") {
  await admin.goto("/admin");
  await expect(admin.getByRole("heading", { name: "Accounts" })).toBeVisible();
  await admin.getByRole("combobox", { name: `Role for ${name}`, exact: true }).selectOption({ label: role });
  await admin.getByRole("button", { name: `Save role for ${name}`, exact: true }).click();
  await expect(admin.getByRole("status").filter({ hasText: `${name} is now a ${role}.` })).toBeVisible();
}

export async function send(page: Page, text: string) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
  await expect(composer(page)).toHaveValue("");
}

/** Posts many messages quickly from inside the page, over a second socket of the same session. */
export async function postMany(page: Page, room: number, texts: string[]) {
  await page.evaluate(
    async ({ room, texts }) => {
      const ws = new WebSocket(`ws://${location.host}/ws`);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      ws.send(JSON.stringify({ type: "hello", protocol: 5 }));
      let acked = 0;
      const done = new Promise<void>((resolve) => {
        ws.onmessage = (event) => {
          const frame = JSON.parse(event.data);
          if (frame.type === "sent" && ++acked === texts.length) resolve();
        };
      });
      texts.forEach((text, i) => ws.send(JSON.stringify({ type: "send", room, text, nonce: `bulk${i}` })));
      await done;
      ws.close();
    },
    { room, texts },
  );
}

/** Creates a room through the sidebar and waits until it is open; returns its id. */
export async function createRoom(page: Page, name: string, visibility: "Public" | "Private" = "Public"): Promise<number> {
  await page.getByRole("button", { name: "New room" }).click();
  await page.getByRole("textbox", { name: "Room name" }).fill(name);
  await page.getByRole("group", { name: "Visibility" }).getByRole("radio", { name: visibility }).check();
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(name);
  return Number(new URL(page.url()).pathname.split("/").pop());
}
