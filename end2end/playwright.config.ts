import { defineConfig } from "@playwright/test";

// Hearth's own server on a fresh database, started for this run.
const port = Number(process.env.HEARTH_E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "./tests",
  // Signs up the administrator first (the first account of the fresh database).
  globalSetup: "./global-setup.ts",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        browserName: "chromium",
        launchOptions: {
          // Debian's Chromium: Playwright cannot download browsers here.
          executablePath: "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        },
      },
    },
  ],
  webServer: {
    // Every test signs up its own people, all from 127.0.0.1: far more than the default of 30
    // new accounts per address per hour, so that limit is off here. The scrolling tests post
    // 120 and 130 messages at once from one person (postMany), past the default burst of 30,
    // so the burst is raised (the limit itself stays on).
    command:
      `rm -rf ../target/e2e && mkdir -p ../target/e2e && ` +
      `../target/release/hearth --addr 127.0.0.1:${port} ` +
      `--database-url sqlite://../target/e2e/hearth.db --site-root ../target/site ` +
      `--sign-ups-per-hour 0 --message-burst 200`,
    url: `${baseURL}/login`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    stderr: "pipe",
  },
});
