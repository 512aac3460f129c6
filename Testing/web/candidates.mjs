// Low-confidence candidates in the LiverLesionAI web viewer, in real headless Chromium (playwright-core):
// load a CT by path → Segment & Classify → the table holds lesions only and the toggle is off → switch on "Show
// low-confidence candidates" → marked candidate rows appear → click one (the views centre on it) → axial view with
// the toggle on and off → downloads (CSV, JSON) with the toggle on → switch off: the candidate rows go.
//
// Usage: node candidates.mjs '<json config>'   config: {url, chromium, path, download_dir, screenshot_dir}
// Prints one JSON object (last stdout line).

import fs from 'node:fs';
import path from 'node:path';
import { byTestId, runOnePage, text, viewImage, waitForNewFrame } from './page_helpers.mjs';

const config = JSON.parse(process.argv[2]);
const out = { timings_ms: {}, console_errors: [] };
async function tableRows(page, id) {
  return page.locator(byTestId(id)).evaluateAll((rows) => rows.map((r) => ({
    id: Number(r.dataset.lesionId || r.dataset.candidateId),
    lesion_probability: r.dataset.lesionProbability === undefined ? null : Number(r.dataset.lesionProbability),
    volume_ml: Number(r.dataset.volumeMl),
    cells: [...r.querySelectorAll('td')].map((td) => td.textContent.trim()),
  })));
}

// The axial view's current frame as a PNG file (the element's screenshot).
async function axialShot(page, name) {
  const file = path.join(config.screenshot_dir, `${name}.png`);
  await page.locator(byTestId('view-axial')).locator('xpath=..').locator('img.image-display-area').screenshot({ path: file });
  return file;
}

async function toggle(page) {
  const frame = await viewImage(page, 'axial');
  await page.click(`${byTestId('show-candidates')} input`);
  await waitForNewFrame(page, 'axial', frame).catch(() => {}); // no candidate in this slice: no new frame
  await page.waitForTimeout(1500);
}

async function download(page, id) {
  const [file] = await Promise.all([page.waitForEvent('download', { timeout: 60000 }), page.click(byTestId(id))]);
  const target = path.join(config.download_dir, file.suggestedFilename());
  await file.saveAs(target);
  return target;
}

fs.mkdirSync(config.screenshot_dir, { recursive: true });
fs.mkdirSync(config.download_dir, { recursive: true });
await runOnePage(config, async (page) => {
  let t0 = Date.now();
  await page.goto(config.url);
  await page.waitForFunction(
    () => document.querySelector('[data-testid="view-axial"]')?.parentElement
      ?.querySelector('img.image-display-area')?.src?.startsWith('blob:'),
    null, { timeout: 240000 },
  );
  await page.fill(`${byTestId('path-input')} input`, config.path);
  await page.click(byTestId('load-path-button'));
  await page.waitForFunction(
    () => /^Loaded /.test(document.querySelector('[data-testid="info-message"]')?.textContent || '')
      || document.querySelector('[data-testid="error-text"]'),
    null, { timeout: 120000 },
  );
  out.timings_ms.open_and_load = Date.now() - t0;
  out.error_after_load = await text(page, 'error-text');

  t0 = Date.now();
  await page.click(byTestId('segment-button'));
  await page.locator(`${byTestId('lesion-row')}, ${byTestId('no-lesions')}, ${byTestId('error-message')}`)
    .first().waitFor({ timeout: 300000 });
  await page.waitForFunction(() => !document.querySelector('[data-testid="cancel-button"]'), null, { timeout: 60000 });
  out.timings_ms.segment = Date.now() - t0;
  out.error_after_run = await text(page, 'error-text');

  // Default: lesions only, the toggle off.
  out.default = {
    lesions: await tableRows(page, 'lesion-row'),
    candidates: await tableRows(page, 'candidate-row'),
    toggle_label: await text(page, 'show-candidates'),
    toggle_on: await page.locator(`${byTestId('show-candidates')} input`).isChecked(),
  };

  // On: candidate rows, marked.
  await toggle(page);
  out.shown = {
    lesions: await tableRows(page, 'lesion-row'),
    candidates: await tableRows(page, 'candidate-row'),
    toggle_on: await page.locator(`${byTestId('show-candidates')} input`).isChecked(),
  };
  if (out.shown.candidates.length === 0) throw new Error('no candidate row after switching the toggle on');

  // A candidate's row centres the views on it; its outline is drawn while the toggle is on.
  const candidate = out.shown.candidates[0];
  let frame = await viewImage(page, 'axial');
  await page.click(`${byTestId('candidate-row')}[data-candidate-id="${candidate.id}"]`);
  await waitForNewFrame(page, 'axial', frame);
  await page.waitForTimeout(1500);
  out.axial_with_candidates = await axialShot(page, 'candidates_on');
  out.page_with_candidates = path.join(config.screenshot_dir, 'candidates_page.png');
  await page.screenshot({ path: out.page_with_candidates });

  // Downloads with the toggle on hold the lesions only.
  out.downloads = { csv: await download(page, 'download-csv'), json: await download(page, 'download-json') };

  // Off again: rows go, the outline goes (same slice).
  frame = await viewImage(page, 'axial');
  await page.click(`${byTestId('show-candidates')} input`);
  await waitForNewFrame(page, 'axial', frame);
  await page.waitForTimeout(1500);
  out.axial_without_candidates = await axialShot(page, 'candidates_off');
  out.hidden_again = {
    candidates: await tableRows(page, 'candidate-row'),
    toggle_on: await page.locator(`${byTestId('show-candidates')} input`).isChecked(),
  };
}, { out, contextOptions: { acceptDownloads: true } });
