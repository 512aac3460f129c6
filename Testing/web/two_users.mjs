// Two (or more) users of one LiverLesionAI viewer server at the same time, in real headless Chromium: one browser,
// one context per user (separate cookies: separate sessions).
//
// Usage: node two_users.mjs '<json config>'
//   config: {url, chromium, screenshot_dir, users: [{name, path?, upload_dir?, upload_file?}]}
//   path: a study in the server's data root (typed in the path field); upload_dir: a DICOM folder to upload;
//   upload_file: a CT file to upload.
// Every user: open the page → load their CT → (all together) click Segment & Classify → wait for their table.
// While the runs go, each page's header, progress and table are sampled; after a user loaded, the other users'
// headers are checked again. Prints one JSON object (last stdout line): per user what they saw, and timings (ms).

import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, byTestId, text } from './page_helpers.mjs';

const config = JSON.parse(process.argv[2]);
const out = { users: {}, timings_ms: {} };
async function rows(page) {
  return page.locator(byTestId('lesion-row')).evaluateAll((elements) => elements.map((e) => ({
    id: Number(e.dataset.lesionId),
    lesion_class: e.dataset.lesionClass,
    volume_ml: Number(e.dataset.volumeMl),
  })));
}

async function openPage(page) {
  await page.goto(config.url);
  // the gateway may first answer "Starting your session" (it reloads itself) before the viewer's page
  for (const view of ['axial', 'coronal', 'sagittal', '3d']) {
    await page.waitForFunction(
      (id) => document.querySelector(`[data-testid="view-${id}"]`)?.parentElement
        ?.querySelector('img.image-display-area')?.src?.startsWith('blob:'),
      view, { timeout: 240000 },
    );
  }
}

async function load(page, user) {
  if (user.path) {
    await page.fill(`${byTestId('path-input')} input`, user.path);
    await page.click(byTestId('load-path-button'));
  } else if (user.upload_dir) {
    await page.setInputFiles(`${byTestId('upload-folder')} input[type=file]`, user.upload_dir);
  } else {
    await page.setInputFiles(`${byTestId('upload-file')} input[type=file]`, user.upload_file);
  }
  await page.waitForFunction(
    () => /^Loaded /.test(document.querySelector('[data-testid="info-message"]')?.textContent || '')
      || document.querySelector('[data-testid="error-text"]'),
    null, { timeout: 240000 },
  );
}

// Samples (every 50 ms) this page's progress value, header and number of table rows while its run goes.
async function startSampling(page) {
  await page.evaluate(() => {
    window.__samples = [];
    window.__timer = setInterval(() => {
      const bar = document.querySelector('[data-testid="progress-bar"]');
      window.__samples.push({
        progress: bar ? Number(bar.getAttribute('aria-valuenow')) : null,
        running: document.querySelector('[data-testid="cancel-button"]') !== null,
        identity: document.querySelector('[data-testid="patient-identity"]')?.textContent?.trim(),
        rows: document.querySelectorAll('[data-testid="lesion-row"]').length,
      });
    }, 50);
  });
}

async function stopSampling(page) {
  return page.evaluate(() => { clearInterval(window.__timer); return window.__samples; });
}

const browser = await chromium.launch({ executablePath: config.chromium || '/usr/bin/chromium', args: CHROMIUM_ARGS });
try {
  const users = await Promise.all(config.users.map(async (user) => {
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    const page = await context.newPage();
    out.users[user.name] = { console_errors: [] };
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().includes('405')) out.users[user.name].console_errors.push(m.text().slice(0, 200));
    });
    return { ...user, context, page, seen: out.users[user.name] };
  }));

  let t0 = Date.now();
  await Promise.all(users.map((u) => openPage(u.page)));
  out.timings_ms.pages_open = Date.now() - t0;

  // Load one after the other; after each load, every other user's header must be unchanged.
  for (const user of users) {
    t0 = Date.now();
    await load(user.page, user);
    user.seen.load_ms = Date.now() - t0;
    user.seen.info_after_load = await text(user.page, 'info-message', 5000);
    user.seen.error_after_load = await text(user.page, 'error-text', 5000);
    user.seen.identity_after_load = await text(user.page, 'patient-identity', 5000);
    for (const other of users) {
      if (other !== user) {
        other.seen.identities_seen_while_others_loaded = other.seen.identities_seen_while_others_loaded || [];
        other.seen.identities_seen_while_others_loaded.push(await text(other.page, 'patient-identity', 5000));
      }
    }
  }

  // Everyone clicks Segment & Classify at (nearly) the same time.
  await Promise.all(users.map((u) => startSampling(u.page)));
  t0 = Date.now();
  await Promise.all(users.map((u) => u.page.click(byTestId('segment-button'))));
  await Promise.all(users.map(async (u) => {
    await u.page.locator(`${byTestId('lesion-row')}, ${byTestId('no-lesions')}, ${byTestId('error-message')}`)
      .first().waitFor({ timeout: 900000 });
    await u.page.waitForFunction(() => !document.querySelector('[data-testid="cancel-button"]'), null, { timeout: 60000 });
    u.seen.click_to_table_ms = Date.now() - t0;
  }));
  out.timings_ms.all_tables = Date.now() - t0;
  for (const u of users) {
    u.seen.samples = await stopSampling(u.page);
    u.seen.rows = await rows(u.page);
    u.seen.identity_after_run = await text(u.page, 'patient-identity', 5000);
    u.seen.info_after_run = await text(u.page, 'info-message', 5000);
    u.seen.error_after_run = await text(u.page, 'error-text', 5000);
    u.seen.runs_started = Number(await u.page.getAttribute(byTestId('segment-button'), 'data-runs'));
  }
  for (const u of users) {
    await u.page.click(byTestId('fit-views')).catch(() => {});
  }
  await new Promise((resolve) => setTimeout(resolve, 3000));
  for (const u of users) {
    if (config.screenshot_dir) {
      const file = path.join(config.screenshot_dir, `user_${u.name}.png`);
      fs.mkdirSync(config.screenshot_dir, { recursive: true });
      await u.page.screenshot({ path: file });
      u.seen.screenshot = file;
    }
  }
  out.ok = true;
} catch (error) {
  out.ok = false;
  out.error = String(error && error.stack ? error.stack : error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
