/**
 * Headless player checks (LIBRARIES.md "Headless player check"): Debian's Chromium driven by playwright-core with
 * the flags verified on this machine, and a poll of a page's `<video id="v">` until it has played long enough.
 */
import { execFileSync } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { waitFor } from './peers.ts';

/** Launch Debian's `chromium` (absolute path from PATH: playwright-core resolves a relative one against the cwd). */
export function launchChromium(): Promise<Browser> {
  const executablePath = execFileSync('sh', ['-c', 'command -v chromium']).toString().trim();
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
}

export interface PlayerState {
  readonly currentTime: number;
  readonly videoWidth: number;
  /** The page's `window[errorsVar]` array. */
  readonly errors: string[];
}

/**
 * Poll `<video id="v">` on `page` until its currentTime exceeds `minSeconds` (within `timeoutMs`); reject with the
 * last state seen otherwise. `errorsVar` names the page's array of player errors.
 */
export async function waitForPlayback(page: Page, errorsVar: string, minSeconds: number, timeoutMs: number): Promise<PlayerState> {
  // a page expression (this project compiles without the DOM lib)
  const expr = `({ currentTime: document.getElementById("v").currentTime, videoWidth: document.getElementById("v").videoWidth, errors: window.${errorsVar} })`;
  const state = async (): Promise<PlayerState> => (await page.evaluate(expr)) as PlayerState;
  let last = await state();
  await waitFor(async () => {
    last = await state();
    return last.currentTime > minSeconds;
  }, timeoutMs, 250).catch((err: unknown) => {
    throw new Error(`video did not play: ${JSON.stringify(last)}`, { cause: err });
  });
  return last;
}
