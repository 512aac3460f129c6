// What the browser tests (e2e, two_users, candidates, pacs, run_warnings) share: Chromium's headless flags and the
// ways they read the viewer's page — elements by data-testid, a text, the current frame of a view, waiting for a new
// frame — and a one-page run that prints its report.

import { chromium } from 'playwright-core';

// Flags for Debian's chromium, headless, with nothing reaching out to the network.
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export const byTestId = (id) => `[data-testid="${id}"]`;

// The trimmed text of the first element with data-testid `id` ('' when there is none within `timeout` ms).
export async function text(page, id, timeout = 2000) {
  return (await page.locator(byTestId(id)).first().textContent({ timeout }).catch(() => '')).trim();
}

// The image (data URL) the remote-rendered view `view` (axial, coronal, sagittal, 3d) shows now.
export async function viewImage(page, view) {
  return page.locator(byTestId(`view-${view}`)).locator('xpath=..').locator('img.image-display-area').getAttribute('src');
}

// Resolves once the view shows a frame other than `previous` (a new image came over the websocket), with the
// milliseconds it took; `timeout` only guards against a hung page.
export async function waitForNewFrame(page, view, previous, timeout = 60000, pollMs = 20) {
  const start = Date.now();
  for (;;) {
    const src = await viewImage(page, view).catch(() => null);
    if (src && src !== previous) return Date.now() - start;
    if (Date.now() - start > timeout) throw new Error(`view ${view}: no new frame within ${timeout} ms`);
    await page.waitForTimeout(pollMs);
  }
}

// Runs `body(page, out)` on a fresh page of headless Chromium (1600 × 1000, more context options in
// `contextOptions`), collecting the page's console errors (other than those naming one of `ignoredErrors`) in
// `out.console_errors`, then prints `out` as the script's one JSON report: `ok` true, or `ok` false with the error.
// For scripts whose user needs one page.
export async function runOnePage(config, body, { out = {}, contextOptions = {}, ignoredErrors = ['404', '405'] } = {}) {
  out.console_errors = out.console_errors || [];
  const browser = await chromium.launch({ executablePath: config.chromium || '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, ...contextOptions });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' && !ignoredErrors.some((code) => m.text().includes(code))) {
        out.console_errors.push(m.text().slice(0, 300));
      }
    });
    await body(page, out);
    out.ok = true;
  } catch (error) {
    out.ok = false;
    out.error = String(error && error.stack ? error.stack : error);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
}
