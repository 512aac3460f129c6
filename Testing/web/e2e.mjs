// End-to-end run of the LiverLesionAI web viewer in real headless Chromium (playwright-core).
//
// Usage: node e2e.mjs '<json config>'   config: {url, ct_path, png_path, download_dir, screenshot_dir, chromium}
// Drives the page like a user: load a CT by server path → Segment & Classify (double click: one run) → read the
// lesion table → click the largest lesion → Paint a stroke in the axial view → Update lesions → download
// seg.nrrd / NIfTI / CSV / JSON → upload a PNG (error shown) → the app still works.
// Prints one JSON object (last stdout line) with what it saw and the timings (ms); the pytest driver asserts on
// what it saw (never on the timings: they depend on the machine; benchmarks/bench_web.py reports them).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, byTestId, viewImage, waitForNewFrame } from './page_helpers.mjs';

const config = JSON.parse(process.argv[2]);
const out = { steps: [], timings_ms: {}, console_errors: [] };

// DESIGN.md's Chromium flags (page_helpers.mjs); the fresh --user-data-dir comes from launchPersistentContext.
// Starts recording, in the page, every progress value the bar shows while the Cancel button is there (a run is
// in progress) and whether the lesion table had a row yet; `progressSeen` reads the record.
async function recordProgress(page) {
  await page.evaluate(() => {
    window.__progressSeen = [];
    window.__progressTimer = setInterval(() => {
      const bar = document.querySelector('[data-testid="progress-bar"]');
      if (!bar || !document.querySelector('[data-testid="cancel-button"]')) return;
      const value = Number(bar.getAttribute('aria-valuenow'));
      const seen = window.__progressSeen;
      if (seen.length && seen[seen.length - 1].value === value) return;
      const result = document.querySelector('[data-testid="lesion-row"], [data-testid="no-lesions"]') !== null;
      seen.push({ value, result_shown: result });
    }, 5);
  });
}

async function progressSeen(page) {
  return page.evaluate(() => { clearInterval(window.__progressTimer); return window.__progressSeen; });
}

async function rows(page) {
  return page.locator(byTestId('lesion-row')).evaluateAll((elements) => elements.map((e) => ({
    id: Number(e.dataset.lesionId),
    lesion_class: e.dataset.lesionClass,
    volume_ml: Number(e.dataset.volumeMl),
    centroid_ras: e.dataset.centroidRas.split(',').map(Number),
  })));
}

async function shot(page, name) {
  const file = path.join(config.screenshot_dir, `${name}.png`);
  await page.screenshot({ path: file });
  out.steps.push(`screenshot ${name}`);
  return file;
}

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'liverlesion-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: config.chromium || '/usr/bin/chromium', args: CHROMIUM_ARGS,
  viewport: { width: 1600, height: 1000 }, acceptDownloads: true,
});
try {
  const page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().includes('405')) out.console_errors.push(m.text().slice(0, 300));
  });

  // 1. Page load: navigation → every view has drawn a frame.
  let t0 = Date.now();
  await page.goto(config.url);
  for (const view of ['axial', 'coronal', 'sagittal', '3d']) {
    await page.waitForFunction(
      (id) => document.querySelector(`[data-testid="view-${id}"]`)?.parentElement
        ?.querySelector('img.image-display-area')?.src?.startsWith('blob:'),
      view, { timeout: 60000 },
    );
  }
  out.timings_ms.page_load = Date.now() - t0;
  out.views_rendered = await page.evaluate((views) => views.filter((id) => document
    .querySelector(`[data-testid="view-${id}"]`)?.parentElement?.querySelector('img.image-display-area')
    ?.src?.startsWith('blob:')), ['axial', 'coronal', 'sagittal', '3d']);
  out.steps.push('page loaded');

  // 2. Load the CT by its server path.
  await page.fill(`${byTestId('path-input')} input`, config.ct_path);
  t0 = Date.now();
  await page.click(byTestId('load-path-button'));
  await page.waitForFunction(
    () => document.querySelector('[data-testid="info-message"]')?.textContent.startsWith('Loaded'),
    null, { timeout: 60000 },
  );
  out.timings_ms.load_ct = Date.now() - t0;
  await page.waitForTimeout(2000);
  out.info_after_load = await page.textContent(byTestId('info-message'));
  out.screenshots = { loaded: await shot(page, '01_loaded') };

  // 3. Segment & Classify, clicked twice in a row: one run only; progress shows; the table fills.
  const segment = page.locator(byTestId('segment-button'));
  out.rows_before_segment = (await rows(page)).length;
  await recordProgress(page);
  t0 = Date.now();
  await segment.click();
  await segment.click({ force: true, noWaitAfter: true, timeout: 2000 }).catch(() => {});
  await page.waitForFunction(
    () => {
      const bar = document.querySelector('[data-testid="progress-bar"]');
      return bar && bar.offsetParent !== null && Number(bar.getAttribute('aria-valuenow')) > 0;
    },
    null, { timeout: 30000, polling: 10 },
  );
  out.timings_ms.click_to_progress = Date.now() - t0;
  out.button_disabled_while_running = await segment.isDisabled();
  // The page stays interactive while the model runs: a slice-slider change renders a new axial frame.
  const before = await viewImage(page, 'axial');
  const running = await page.getAttribute(byTestId('segment-button'), 'data-runs');
  await page.click(byTestId('wl-liver'));
  out.timings_ms.click_to_frame_while_running = await waitForNewFrame(page, 'axial', before, 60000, 10);
  out.still_running_when_frame_came = (await page.locator(byTestId('cancel-button')).count()) > 0;
  out.progress_when_frame_came = Number(await page.getAttribute(byTestId('progress-bar'), 'aria-valuenow'));
  await page.locator(`${byTestId('lesion-row')}, ${byTestId('no-lesions')}, ${byTestId('error-message')}`)
    .first().waitFor({ timeout: 300000 });
  out.timings_ms.click_to_result = Date.now() - t0;
  await page.waitForFunction(() => !document.querySelector('[data-testid="cancel-button"]'), null, { timeout: 60000 });
  out.progress_while_running = await progressSeen(page);
  out.runs_started_seen_while_running = Number(running);
  out.runs_started = Number(await page.getAttribute(byTestId('segment-button'), 'data-runs'));
  out.error_after_segment = (await page.locator(byTestId('error-message')).count())
    ? await page.textContent(byTestId('error-message')) : '';
  out.info_after_segment = await page.textContent(byTestId('info-message'));
  out.rows_after_segment = await rows(page);
  await page.click(byTestId('wl-abdomen'));
  await page.waitForTimeout(2500);
  out.screenshots.segmented = await shot(page, '02_segmented');

  if (out.rows_after_segment.length > 0) {
    // 4. Click the largest lesion: the views centre on it (new axial frame).
    const target = [...out.rows_after_segment].sort((a, b) => b.volume_ml - a.volume_ml)[0];
    out.target = target;
    let frame = await viewImage(page, 'axial');
    t0 = Date.now();
    await page.click(`${byTestId('lesion-row')}[data-lesion-id="${target.id}"]`);
    await waitForNewFrame(page, 'axial', frame, 60000, 10);
    out.timings_ms.row_click_to_jump = Date.now() - t0;
    await page.waitForTimeout(1500);
    out.screenshots.jumped = await shot(page, '03_jumped_to_lesion');

    // 5. The segment editor offers the correction tools; paint a stroke across the lesion in the axial view.
    out.editor_tools = {};
    for (const tool of ['paint', 'erase', 'scissors', 'islands', 'no-tool']) {
      out.editor_tools[tool] = await page.locator(byTestId(`effect-${tool}`)).count();
    }
    await page.click(byTestId('effect-paint'));
    await page.waitForTimeout(1000);
    const box = await page.locator(byTestId('view-axial')).locator('xpath=..').boundingBox();
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    await page.mouse.move(cx - 60, cy + 5);
    await page.waitForTimeout(300);
    frame = await viewImage(page, 'axial');
    await page.mouse.down();
    for (let i = 0; i <= 60; i += 1) {
      await page.mouse.move(cx - 60 + 5 * i, cy + 5 + (i % 2) * 4);
      await page.waitForTimeout(25);
    }
    t0 = Date.now();
    await page.mouse.up();
    out.timings_ms.paint_release_to_frame = await waitForNewFrame(page, 'axial', frame, 60000, 10);
    out.frame_after_paint_release = true;
    await page.waitForTimeout(1500);
    out.screenshots.painted = await shot(page, '04_painted');

    // 6. Update lesions: the painted lesion's volume changes in the table.
    await page.click(byTestId('effect-no-tool'));
    const updates = Number(await page.getAttribute(byTestId('update-button'), 'data-updates'));
    t0 = Date.now();
    await page.click(byTestId('update-button'));
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid="update-button"]').dataset.updates) > n,
      updates, { timeout: 120000, polling: 10 },
    );
    out.timings_ms.update_lesions = Date.now() - t0;
    out.rows_after_update = await rows(page);
    out.error_after_update = (await page.locator(byTestId('error-message')).count())
      ? await page.textContent(byTestId('error-message')) : '';
    await page.waitForTimeout(1500);
    out.screenshots.updated = await shot(page, '05_updated');

    // 7. Downloads.
    out.downloads = {};
    for (const [kind, id] of [['seg.nrrd', 'download-seg-nrrd'], ['nifti', 'download-nifti'],
      ['csv', 'download-csv'], ['json', 'download-json']]) {
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60000 }), page.click(byTestId(id))]);
      const file = path.join(config.download_dir, download.suggestedFilename());
      await download.saveAs(file);
      out.downloads[kind] = file;
    }
  }

  // 8. A PNG upload shows the InvalidInputError text; the app keeps working.
  await page.setInputFiles(`${byTestId('upload-file')} input[type=file]`, config.png_path);
  await page.waitForFunction(
    (name) => document.querySelector('[data-testid="error-text"]')?.textContent.includes(name),
    path.basename(config.png_path), { timeout: 60000 },
  );
  out.png_error = await page.textContent(byTestId('error-text'));
  out.screenshots.png_error = await shot(page, '06_png_error');
  out.rows_after_png = await rows(page);
  const frame = await viewImage(page, 'axial');
  await page.click(byTestId('fit-views'));
  out.timings_ms.fit_click_to_frame_after_error = await waitForNewFrame(page, 'axial', frame, 60000, 10);
  out.frame_after_fit_click_after_error = true;
  out.segment_enabled_after_png = await segment.isEnabled();
  out.ok = true;
} catch (error) {
  out.ok = false;
  out.error = String(error && error.stack ? error.stack : error);
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
