/**
 * The console's vendored browser players (html/console/vendor/, copied by `npm run vendor`) are byte-identical to
 * the packages in node_modules, at the versions package.json pins: an upgrade of hls.js or mpegts.js without
 * `npm run vendor` fails here instead of serving an old player.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const vendorDir = join(root, 'html/console/vendor');

interface VendorManifest {
  readonly files: readonly { readonly package: string; readonly from: string; readonly to: string }[];
  readonly versions: Readonly<Record<string, string>>;
}

const manifest = JSON.parse(readFileSync(join(vendorDir, 'vendor.json'), 'utf8')) as VendorManifest;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };

test('the manifest lists both players and the versions package.json pins', () => {
  const players = manifest.files.filter((f) => f.to.endsWith('.js')).map((f) => `${f.package}/${f.from}`);
  assert.deepEqual(players, ['hls.js/dist/hls.min.js', 'mpegts.js/dist/mpegts.js']);
  for (const name of ['hls.js', 'mpegts.js']) {
    const installed = (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(pkg.devDependencies[name], installed, `${name}: package.json pins what node_modules holds`);
    assert.equal(manifest.versions[name], installed, `${name}: vendored from the installed version (npm run vendor)`);
  }
});

for (const f of manifest.files) {
  test(`html/console/vendor/${f.to} is byte-identical to node_modules/${f.package}/${f.from}`, () => {
    const vendored = readFileSync(join(vendorDir, f.to));
    const original = readFileSync(join(root, 'node_modules', f.package, f.from));
    assert.ok(original.length > 0);
    assert.ok(vendored.equals(original), `html/console/vendor/${f.to} differs (${vendored.length} vs ${original.length} bytes): run npm run vendor`);
  });
}
