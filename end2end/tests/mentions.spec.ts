import { test, expect } from "@playwright/test";
import { type BrowserContext } from "@playwright/test";
import { composer, createRoom, messages, send, signIn, signUp, uniqueName } from "./helpers";

test("typing @ offers the room's members, and the person mentioned sees it marked", async ({ browser }) => {
  const alice = uniqueName("alice");
  const bob = uniqueName("bob");
  const a = await signUp(browser, alice);
  const b = await signUp(browser, bob);
  const roomId = await createRoom(a.page, uniqueName("Mentions "));
  await b.page.goto(`/rooms/${roomId}`);
  await b.page.getByRole("button", { name: "Join room" }).click();
  await expect(b.page.getByRole("button", { name: "Leave room" })).toBeVisible();
  await expect(
    a.page.getByRole("complementary", { name: "Members" }).getByRole("listitem").filter({ hasText: bob }),
  ).toHaveCount(1);

  await composer(a.page).pressSequentially(`look @${bob.slice(0, 2)}`, { delay: 20 });
  const offered = a.page.getByRole("listbox", { name: "Mention suggestions" });
  await expect(offered.getByRole("option", { name: `@${bob}` })).toBeVisible();
  await composer(a.page).press("Enter");
  await expect(offered).toHaveCount(0);
  await expect(composer(a.page)).toHaveValue(`look @${bob} `);
  await composer(a.page).pressSequentially("here", { delay: 20 });
  await composer(a.page).press("Enter");

  const row = messages(b.page).filter({ hasText: "here" });
  await expect(row.locator(".mention.me")).toHaveText(`@${bob}`);
  // For everyone else the name stands out, but not as their own.
  const own = messages(a.page).filter({ hasText: "here" });
  await expect(own.locator(".mention")).toHaveText(`@${bob}`);
  await expect(own.locator(".mention.me")).toHaveCount(0);

  await a.context.close();
  await b.context.close();
});

test("mentions are counted apart in the sidebar, and still after coming back", async ({ browser }) => {
  const alice = uniqueName("alice");
  const bob = uniqueName("bob");
  const a = await signUp(browser, alice);
  const b = await signUp(browser, bob);
  const name = uniqueName("Calls ");
  const roomId = await createRoom(a.page, name);
  await b.page.goto(`/rooms/${roomId}`);
  await b.page.getByRole("button", { name: "Join room" }).click();
  await expect(b.page.getByRole("button", { name: "Leave room" })).toBeVisible();
  await b.page.getByRole("navigation", { name: "Rooms" }).getByRole("link", { name: "lobby" }).click();

  await send(a.page, `@${bob} are you there?`);
  await send(a.page, "just chatting");
  await send(a.page, `ask @${bob.toUpperCase()} too`);
  const link = () => b.page.getByRole("navigation", { name: "Rooms" }).getByRole("link", { name });
  await expect(link()).toContainText("2 mentions");
  await expect(link().locator(".unread")).toHaveText("3");

  // Back later (a new tab): the server counted them.
  await b.context.close();
  const back = await signIn(browser, bob);
  const again = back.page.getByRole("navigation", { name: "Rooms" }).getByRole("link", { name });
  await expect(again).toContainText("2 mentions");
  await again.click();
  await expect(messages(back.page).filter({ hasText: "just chatting" })).toBeVisible();
  await expect(again).not.toContainText("mention");

  await a.context.close();
  await back.context.close();
});

/** Records the notifications the page makes, and its permission requests. */
async function watchNotifications(context: BrowserContext) {
  await context.addInitScript(() => {
    const Real = window.Notification;
    const seen = { shown: [] as { title: string; body?: string }[], asked: 0 };
    (window as unknown as { notifications: typeof seen }).notifications = seen;
    class Watched extends Real {
      constructor(title: string, options?: NotificationOptions) {
        seen.shown.push({ title, body: options?.body });
        super(title, options);
      }
      static get permission() {
        return Real.permission;
      }
      static requestPermission(callback?: NotificationPermissionCallback) {
        seen.asked += 1;
        return Real.requestPermission(callback);
      }
    }
    window.Notification = Watched;
  });
}

test("a mention or a direct message notifies while the tab is hidden, once notifications are turned on", async ({
  browser,
}) => {
  const alice = uniqueName("alice");
  const bob = uniqueName("bob");
  const b = await signUp(browser, bob, watchNotifications);
  const a = await signUp(browser, alice);
  type Seen = { shown: { title: string; body?: string }[]; asked: number };
  const seen = () => b.page.evaluate(() => (window as unknown as { notifications: Seen }).notifications);

  // Never asked on load: only the person's click asks.
  const turnOn = b.page.getByRole("button", { name: "Turn on notifications" });
  await expect(turnOn).toBeVisible();
  expect((await seen()).asked).toBe(0);
  await b.context.grantPermissions(["notifications"]);
  await turnOn.click();
  await expect(turnOn).toHaveCount(0);
  expect((await seen()).asked).toBe(1);

  // The tab goes to the background.
  await b.page.evaluate(() => Object.defineProperty(document, "hidden", { configurable: true, get: () => true }));
  await send(a.page, "nothing for anyone");
  await send(a.page, `@${bob} the lobby needs you`);
  await expect.poll(async () => (await seen()).shown).toEqual([
    { title: `${alice} in lobby`, body: `@${bob} the lobby needs you` },
  ]);

  await a.page.getByRole("button", { name: "New conversation" }).click();
  await a.page.getByRole("button", { name: bob, exact: true }).click();
  await send(a.page, "a word in private");
  await expect.poll(async () => (await seen()).shown.at(-1)).toEqual({ title: alice, body: "a word in private" });

  // With the tab in front, nothing pops up.
  await b.page.evaluate(() => Object.defineProperty(document, "hidden", { configurable: true, get: () => false }));
  await send(a.page, `@${bob} are you back?`);
  await expect(
    b.page.getByRole("navigation", { name: "Direct messages" }).getByRole("link", { name: alice }),
  ).toContainText("1 mention");
  expect((await seen()).shown).toHaveLength(2);

  await a.context.close();
  await b.context.close();
});
