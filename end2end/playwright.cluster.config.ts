import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

// The same browser tests' settings, on two Hearth nodes behind nginx (`make e2e` runs this after
// the single-node suite): deploy/cluster.sh with end2end/cluster/ (nodes on 127.0.0.1:3201 and
// :3202, PostgreSQL database hearth_e2e_cluster made afresh, a redis-server of its own on
// 127.0.0.1:3209) beside, not instead of, `make cluster`. The tests reach Hearth through nginx.
const proxy = "127.0.0.1:3200";
const baseURL = `http://${proxy}`;

export default defineConfig({
  ...base,
  testDir: "./cluster-tests",
  // The same administrator first (global-setup.ts signs up through baseURL).
  globalSetup: "./global-setup.ts",
  use: { ...base.use, baseURL },
  webServer: {
    // Paths are the repository's (cluster.sh runs there).
    command:
      `../deploy/cluster.sh --env-dir end2end/cluster --proxy ${proxy} --state target/e2e-cluster ` +
      `--fresh-database --redis`,
    url: `${baseURL}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    // SIGTERM to the script, which stops nginx and the nodes, then its redis-server (each runs
    // in a session of its own, out of reach of a signal to the script's process group), within
    // 20 s. If a run was killed and left them behind:
    // deploy/cluster.sh --state target/e2e-cluster stop
    gracefulShutdown: { signal: "SIGTERM", timeout: 30_000 },
    stdout: "pipe",
    stderr: "pipe",
  },
});
