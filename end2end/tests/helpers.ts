import { Browser, BrowserContext, Page, WebSocketRoute, expect } from "@playwright/test";

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

/**
 * Opens a fresh browser context and goes through the sign-in page with `button`. `prepare`
 * runs on the context before any page opens (to route its WebSockets, for example).
 */
async function enter(
  browser: Browser,
  name: string,
  button: "Create account" | "Sign in",
  prepare?: (context: BrowserContext) => Promise<void>,
) {
  const context = await browser.newContext();
  await prepare?.(context);
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

export async function signUp(
  browser: Browser,
  name: string,
  prepare?: (context: BrowserContext) => Promise<void>,
): Promise<{ context: BrowserContext; page: Page }> {
  return enter(browser, name, "Create account", prepare);
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

/**
 * Posts many messages quickly from inside the page, over a second socket of the same session.
 * Fails (rather than waiting forever) if the server refuses one, e.g. as too fast.
 */
export async function postMany(page: Page, room: number, texts: string[]) {
  await page.evaluate(
    async ({ room, texts }) => {
      const ws = new WebSocket(`ws://${location.host}/ws`);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      ws.send(JSON.stringify({ type: "hello", protocol: 6 }));
      let acked = 0;
      const done = new Promise<void>((resolve, reject) => {
        ws.onmessage = (event) => {
          const frame = JSON.parse(event.data);
          if (frame.type === "sent" && ++acked === texts.length) resolve();
          if (frame.type === "error") reject(new Error(`postMany: ${frame.code}: ${frame.message}`));
        };
      });
      // The server stores a nonce once per person: each call has its own.
      const batch = `bulk${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}-`;
      texts.forEach((text, i) => ws.send(JSON.stringify({ type: "send", room, text, nonce: `${batch}${i}` })));
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

/**
 * The chat socket's cable, for a context routed through it (`attach`, before the page opens):
 * every socket goes through Playwright to the real server. `unplug` closes the sockets open now
 * (the page sees its socket close, as when a network drops) and closes every new one at once,
 * until `plug`.
 */
export class Cable {
  private online = true;
  private open: { page: WebSocketRoute; server: WebSocketRoute }[] = [];

  async attach(context: BrowserContext) {
    await context.routeWebSocket(/\/ws$/, (page) => {
      if (!this.online) {
        void page.close({ code: 1001, reason: "offline" });
        return;
      }
      this.open.push({ page, server: page.connectToServer() });
    });
  }

  async unplug() {
    this.online = false;
    for (const { page, server } of this.open.splice(0)) {
      await page.close({ code: 1001, reason: "offline" });
      await server.close();
    }
  }

  plug() {
    this.online = true;
  }
}
