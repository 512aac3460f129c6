// The run's warnings on the LiverLesionAI web viewer's status line, in real headless Chromium (playwright-core):
// for each CT path in turn, load it by path → Segment & Classify → read the status line and the lesion rows.
//
// Usage: node run_warnings.mjs '<json config>'   config: {url, chromium, paths: [..]}
// Prints one JSON object (last stdout line): {ok, runs: [{path, loaded, status, lesion_rows, error}], console_errors}.

import { byTestId, runOnePage, text } from './page_helpers.mjs';

const config = JSON.parse(process.argv[2]);

await runOnePage(config, async (page, out) => {
  out.runs = [];
  await page.goto(config.url);
  await page.waitForFunction(
    () => document.querySelector('[data-testid="view-axial"]')?.parentElement
      ?.querySelector('img.image-display-area')?.src?.startsWith('blob:'),
    null, { timeout: 240000 },
  );
  for (const ctPath of config.paths) {
    const run = { path: ctPath };
    await page.fill(`${byTestId('path-input')} input`, ctPath);
    await page.click(byTestId('load-path-button'));
    await page.waitForFunction(
      (name) => {
        const status = document.querySelector('[data-testid="info-message"]')?.textContent || '';
        return (status.startsWith('Loaded ') && status.includes(name)) || document.querySelector('[data-testid="error-text"]');
      },
      ctPath.split('/').pop(), { timeout: 120000 },
    );
    run.loaded = await text(page, 'info-message');
    await page.click(byTestId('segment-button'));
    await page.waitForFunction(
      () => /\d+ lesions?\b.*liver \d+ mL/.test(document.querySelector('[data-testid="info-message"]')?.textContent || '')
        || document.querySelector('[data-testid="error-text"]'),
      null, { timeout: 300000 },
    );
    run.status = await text(page, 'info-message');
    run.lesion_rows = await page.locator(byTestId('lesion-row')).count();
    run.error = await text(page, 'error-text');
    out.runs.push(run);
  }
});
