import { test, expect } from "@playwright/test";
import { PASSWORD, signUp, uniqueName } from "./helpers";

test("signing up and in works with JavaScript turned off", async ({ browser }) => {
  const name = uniqueName("nojs");
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/rooms\/1$/);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);

  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/rooms\/1$/);
  await context.close();
});

test("a wrong password and an unknown name get the same clear message", async ({ browser }) => {
  const name = uniqueName("carol");
  const { context } = await signUp(browser, name);
  await context.close();

  const page = await (await browser.newContext()).newPage();
  for (const [user, password] of [
    [name, "wrong password"],
    [uniqueName("nobody"), PASSWORD],
  ]) {
    await page.goto("/login");
    await page.getByLabel("Username").fill(user);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");
  }
});

test("a chat page sends a signed-out visitor to sign in and back", async ({ browser }) => {
  const name = uniqueName("dave");
  const { context } = await signUp(browser, name);
  await context.close();

  const page = await (await browser.newContext()).newPage();
  await page.goto("/rooms/1");
  await expect(page).toHaveURL(/\/login\?next=\/rooms\/1$/);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/rooms\/1$/);
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
});
