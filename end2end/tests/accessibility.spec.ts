import { test, expect, Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { ADMIN, PASSWORD, chatReady, hydrated, send, signUp, uniqueName } from "./helpers";

/** What axe-core finds serious or critical on the page as it is now. */
async function seriousProblems(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

for (const scheme of ["light", "dark"] as const) {
  test(`the sign-in page, the chat, /admin and /review have no serious accessibility problem (${scheme})`, async ({
    browser,
  }) => {
    const context = await browser.newContext({ colorScheme: scheme });
    const page = await context.newPage();
    await page.goto("/login");
    await hydrated(page);
    expect(await seriousProblems(page)).toEqual([]);

    await page.getByLabel("Username").fill(ADMIN);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL("**/rooms/1");
    await chatReady(page, ADMIN);
    await send(page, `**Welcome** _all_: see \`notes\` at https://example.com ${scheme}`);
    if (scheme === "dark") {
      await expect(page.locator("strong").filter({ hasText: "Welcome" }).last()).toBeVisible();
      await page.screenshot({ path: "../docs/dark-mode.png" });
    }
    await page.getByRole("searchbox", { name: "Search messages" }).fill("Welcome");
    await page.getByRole("searchbox", { name: "Search messages" }).press("Enter");
    await expect(page.getByRole("region", { name: "Search results" }).locator("mark").first()).toBeVisible();
    expect(await seriousProblems(page)).toEqual([]);

    for (const path of ["/admin", "/review?room=1"]) {
      await page.goto(path);
      await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
      expect(await seriousProblems(page), path).toEqual([]);
    }
    await context.close();
  });
}

test("the Dark mode switch changes the theme at once and every page remembers it", async ({ browser }) => {
  const { context, page } = await signUp(browser, uniqueName("dana"));
  const html = page.locator("html");
  const darkMode = page.getByRole("switch", { name: "Dark mode" });
  await expect(darkMode).toHaveAttribute("aria-checked", "false");
  const lightBackground = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);

  await darkMode.click();
  await expect(darkMode).toHaveAttribute("aria-checked", "true");
  await expect(html).toHaveAttribute("data-theme", "dark");
  expect(await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)).not.toBe(lightBackground);

  // Rendered by the server in the chosen theme: no flash of the other one.
  await page.reload();
  await expect(html).toHaveAttribute("data-theme", "dark");
  await expect(page.getByRole("switch", { name: "Dark mode" })).toHaveAttribute("aria-checked", "true");
  await page.goto("/account");
  await expect(html).toHaveAttribute("data-theme", "dark");

  await page.goto("/rooms/1");
  await page.getByRole("switch", { name: "Dark mode" }).click();
  await expect(html).toHaveAttribute("data-theme", "light");
  await context.close();
});
