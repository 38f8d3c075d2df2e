import { test, expect, Browser, Page } from "@playwright/test";
import { PASSWORD, composer, hydrated, messages, uniqueName } from "./helpers";

/** Signs up on a 360-pixel-wide touch screen; the Members drawer shows them online. */
async function signUpOnPhone(browser: Browser, name: string) {
  const context = await browser.newContext({
    viewport: { width: 360, height: 740 },
    isMobile: true,
    hasTouch: true,
  });
  const page = await context.newPage();
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).tap();
  await page.waitForURL("**/rooms/1");
  await hydrated(page);
  await expect(page.getByRole("heading", { level: 1 })).not.toHaveText("…");
  return { context, page };
}

async function fitsTheScreen(page: Page) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(360);
}

test("on a phone, the room list and the members are drawers, and people talk", async ({ browser }) => {
  const alice = uniqueName("alice");
  const bob = uniqueName("bob");
  const a = await signUpOnPhone(browser, alice);
  const b = await signUpOnPhone(browser, bob);
  await fitsTheScreen(a.page);

  // Neither panel takes room until opened.
  await expect(a.page.getByRole("navigation", { name: "Rooms" })).toBeHidden();
  await expect(a.page.getByRole("complementary", { name: "Members" })).toBeHidden();

  // Alice creates a room from the Rooms drawer; choosing it closes the drawer.
  const room = uniqueName("Pocket ");
  await a.page.getByRole("button", { name: "Rooms", exact: true }).tap();
  await expect(a.page.getByRole("button", { name: "Rooms", exact: true })).toHaveAttribute("aria-expanded", "true");
  await a.page.getByRole("button", { name: "New room" }).tap();
  await a.page.getByRole("textbox", { name: "Room name" }).fill(room);
  await a.page.getByRole("button", { name: "Create", exact: true }).tap();
  await expect(a.page.getByRole("heading", { level: 1 })).toHaveText(room);
  await expect(a.page.getByRole("navigation", { name: "Rooms" })).toBeHidden();

  // Bob finds it in his Rooms drawer, opens and joins it.
  await b.page.getByRole("button", { name: "Rooms", exact: true }).tap();
  await b.page.getByRole("button", { name: "Browse rooms" }).tap();
  await b.page.getByRole("link", { name: new RegExp(room) }).tap();
  await expect(b.page.getByRole("heading", { level: 1 })).toHaveText(room);
  await b.page.getByRole("button", { name: "Join room" }).tap();
  await expect(b.page.getByRole("button", { name: "Leave room" })).toBeVisible();

  // The Members drawer lists both, online.
  await a.page.getByRole("button", { name: "Members", exact: true }).tap();
  const members = a.page.getByRole("complementary", { name: "Members" });
  await expect(members.getByRole("listitem").filter({ hasText: bob })).toContainText("online");
  await a.page.keyboard.press("Escape");
  await expect(members).toBeHidden();

  await composer(b.page).fill("hello from a phone");
  await b.page.getByRole("button", { name: "Send" }).tap();
  await expect(messages(a.page).filter({ hasText: "hello from a phone" })).toBeVisible();
  await composer(a.page).fill("and back");
  await a.page.getByRole("button", { name: "Send" }).tap();
  await expect(messages(b.page).filter({ hasText: "and back" })).toBeVisible();
  await fitsTheScreen(b.page);

  await a.context.close();
  await b.context.close();
});
