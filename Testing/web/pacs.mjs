// The team-PACS loop of the LiverLesionAI web viewer in real headless Chromium (playwright-core):
// browse the PACS's studies → search by patient ID → Open the study → Segment & Classify → erase one lesion with the
// segment editor's Erase tool → Send to PACS → read what the page says was stored.
//
// Usage: node pacs.mjs '<json config>'
//   config: {url, chromium, screenshot_dir, search, study_uid}
// Prints one JSON object (last stdout line): what the page showed at each step, and timings (ms).

import fs from 'node:fs';
import path from 'node:path';
import { byTestId, runOnePage, text, viewImage, waitForNewFrame } from './page_helpers.mjs';

const config = JSON.parse(process.argv[2]);
const out = { timings_ms: {}, console_errors: [] };
async function studies(page) {
  return page.locator(byTestId('pacs-study-row')).evaluateAll((rows) => rows.map((r) => ({
    study_uid: r.dataset.studyUid, patient_id: r.dataset.patientId,
    cells: [...r.querySelectorAll('td')].map((td) => td.textContent.trim()),
  })));
}

async function rows(page) {
  return page.locator(byTestId('lesion-row')).evaluateAll((elements) => elements.map((e) => ({
    id: Number(e.dataset.lesionId), lesion_class: e.dataset.lesionClass, volume_ml: Number(e.dataset.volumeMl),
  })));
}

async function waitForCounter(page, id, attribute, above, timeout) {
  await page.waitForFunction(
    ([sel, attr, n]) => Number(document.querySelector(sel)?.getAttribute(attr)) > n,
    [byTestId(id), attribute, above], { timeout, polling: 50 },
  );
}

async function shot(page, name) {
  if (!config.screenshot_dir) return null;
  fs.mkdirSync(config.screenshot_dir, { recursive: true });
  const file = path.join(config.screenshot_dir, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

await runOnePage(config, async (page) => {
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));

  // 1. The page opens (the gateway starts this browser's session) and lists the PACS's studies by itself.
  let t0 = Date.now();
  await page.goto(config.url);
  await page.waitForFunction(
    () => document.querySelector('[data-testid="view-axial"]')?.parentElement
      ?.querySelector('img.image-display-area')?.src?.startsWith('blob:'),
    null, { timeout: 240000 },
  );
  await waitForCounter(page, 'pacs-studies', 'data-listings', 0, 60000);
  out.timings_ms.page_and_listing = Date.now() - t0;
  out.studies_listed = await studies(page);
  out.error_after_listing = await text(page, 'error-text');

  // 2. Search by patient ID.
  const listings = Number(await page.getAttribute(byTestId('pacs-studies'), 'data-listings'));
  await page.fill(`${byTestId('pacs-search')} input`, config.search);
  await page.click(byTestId('pacs-search-button'));
  await waitForCounter(page, 'pacs-studies', 'data-listings', listings, 60000);
  out.studies_found = await studies(page);

  // 3. Open the study: its CT series is fetched (WADO-RS) and loaded.
  t0 = Date.now();
  await page.click(`${byTestId('pacs-study-row')}[data-study-uid="${config.study_uid}"] ${byTestId('pacs-open')}`);
  await page.waitForFunction(
    () => /^Loaded /.test(document.querySelector('[data-testid="info-message"]')?.textContent || '')
      || document.querySelector('[data-testid="error-text"]'),
    null, { timeout: 180000 },
  );
  out.timings_ms.open_study = Date.now() - t0;
  out.info_after_open = await text(page, 'info-message');
  out.identity_after_open = await text(page, 'patient-identity');
  out.error_after_open = await text(page, 'error-text');
  out.send_enabled_before_run = await page.locator(byTestId('send-to-pacs')).isEnabled();

  // 4. Segment & Classify.
  t0 = Date.now();
  await page.click(byTestId('segment-button'));
  await page.locator(`${byTestId('lesion-row')}, ${byTestId('no-lesions')}, ${byTestId('error-message')}`)
    .first().waitFor({ timeout: 300000 });
  await page.waitForFunction(() => !document.querySelector('[data-testid="cancel-button"]'), null, { timeout: 60000 });
  out.timings_ms.segment = Date.now() - t0;
  out.rows_after_run = await rows(page);
  out.error_after_run = await text(page, 'error-text');
  if (out.rows_after_run.length === 0) throw new Error('no lesion found: nothing to erase');

  // 5. Erase the largest lesion: its row centres the views on it and selects its segment; Erase with the largest
  //    (sphere) brush, one click at the centre of the axial view.
  const target = [...out.rows_after_run].sort((a, b) => b.volume_ml - a.volume_ml)[0];
  out.erased = target;
  let frame = await viewImage(page, 'axial');
  await page.click(`${byTestId('lesion-row')}[data-lesion-id="${target.id}"]`);
  await waitForNewFrame(page, 'axial', frame);
  await page.click(byTestId('effect-erase'));
  const thumb = page.locator(`${byTestId('editor-panel')} .v-slider-thumb`).first();
  await thumb.waitFor({ timeout: 10000 });
  await thumb.focus();
  await page.keyboard.press('End');
  await page.waitForTimeout(500);
  const box = await page.locator(byTestId('view-axial')).locator('xpath=..').boundingBox();
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  await page.mouse.move(cx, cy);
  await page.waitForTimeout(300);
  frame = await viewImage(page, 'axial');
  await page.mouse.down();
  await page.mouse.move(cx + 2, cy + 1);
  await page.waitForTimeout(50);
  await page.mouse.move(cx, cy);
  await page.mouse.up();
  await waitForNewFrame(page, 'axial', frame);
  await page.click(byTestId('effect-no-tool'));
  await page.waitForTimeout(500);
  out.screenshot_erased = await shot(page, 'pacs_01_erased');

  // 6. Send to PACS: updates the lesions from the correction, stores new SEG and SR series.
  const sends = Number(await page.getAttribute(byTestId('send-to-pacs'), 'data-sends'));
  t0 = Date.now();
  await page.click(byTestId('send-to-pacs'));
  await waitForCounter(page, 'send-to-pacs', 'data-sends', sends, 180000);
  out.timings_ms.send = Date.now() - t0;
  out.rows_after_send = await rows(page);
  out.error_after_send = await text(page, 'error-text');
  out.info_after_send = await text(page, 'info-message');
  const sent = page.locator(byTestId('pacs-sent'));
  out.sent = (await sent.count()) ? {
    seg_series: await sent.getAttribute('data-seg-series'),
    sr_series: await sent.getAttribute('data-sr-series'),
    lesion_count: Number(await sent.getAttribute('data-lesion-count')),
    text: (await sent.textContent()).trim(),
  } : null;
  out.screenshot_sent = await shot(page, 'pacs_02_sent');
  out.page_html = await page.content();
  out.request_urls = [...new Set(requests)];
}, { out, ignoredErrors: ['405'] });
