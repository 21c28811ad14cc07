/**
 * What every dashboard browser test shares: Debian's Chromium started
 * through playwright-core, pages that record console errors, page errors
 * and every requested URL, a directory for screenshots (kept for a person
 * to look at), and the check that nothing is wider than the screen.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { skipUnlessTool, toolPath } from "../helpers/tools.js";

export const skipWithoutChromium = skipUnlessTool("chromium");

/** Debian's /usr/bin/chromium is a shell wrapper; the binary behind it is started directly when present. */
const CHROMIUM_BINARY = "/usr/lib/chromium/chromium";

export const WIDTHS = [
  { name: "laptop", width: 1280, height: 800 },
  { name: "phone", width: 390, height: 844 },
] as const;

export async function launchBrowser(): Promise<Browser> {
  const executablePath = existsSync(CHROMIUM_BINARY) ? CHROMIUM_BINARY : toolPath("chromium")!;
  return chromium.launch({ executablePath, args: ["--no-sandbox"] });
}

/** A directory for this file's screenshots, printed so a person can find it. */
export async function screenshotDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `gamedock-dashboard-shots-${label}-`));
  process.stderr.write(`dashboard screenshots (${label}): ${dir}\n`);
  return dir;
}

export interface WatchedPage {
  page: Page;
  /** Console errors and page errors, in order. A test ends with this empty. */
  problems: string[];
  /** Every URL the page requested (the token must never be in one). */
  requested: string[];
}

/** A page that records every console error, page error and request URL. */
export async function openPage(browser: Browser, width = 1280, height = 800): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport: { width, height } });
  const problems: string[] = [];
  const requested: string[] = [];
  page.on("pageerror", (err) => problems.push(err.message));
  page.on("console", (message) => {
    // The URL says which request a "Failed to load resource" line is about.
    const { url } = message.location();
    if (message.type() === "error")
      problems.push(url ? `${message.text()} (${url})` : message.text());
  });
  page.on("request", (request) => requested.push(request.url()));
  return { page, problems, requested };
}

/** Fails when the document is wider than the viewport (a phone would scroll sideways). */
export async function assertNoOverflow(page: Page, width: number): Promise<void> {
  const overflow = await page.evaluate<number>(
    "document.documentElement.scrollWidth - document.documentElement.clientWidth",
  );
  assert.ok(overflow <= 0, `nothing wider than the ${width}px screen (overflow ${overflow}px)`);
}

/**
 * Waits until `expression` is truthy in the page. (page.waitForFunction
 * compiles its predicate with `new Function` inside the page, which the
 * dashboard's Content-Security-Policy forbids; evaluate goes through the
 * DevTools protocol, which it does not govern.)
 */
export async function waitInPage(
  page: Page,
  expression: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate<unknown>(expression))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression} in the page`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
