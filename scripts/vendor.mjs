#!/usr/bin/env node
// `npm run vendor`: copy the console's browser players (hls.js, mpegts.js) from node_modules into
// html/console/vendor/, as listed in html/console/vendor/vendor.json, and record each package's version there.
// The copies are committed, so users of the console need no build step; test/console/vendor.test.ts checks that
// they are byte-identical to node_modules (run this after upgrading either package).
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const vendorDir = join(root, 'html/console/vendor');
const manifestPath = join(vendorDir, 'vendor.json');
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
const versions = {};
for (const f of manifest.files) {
  const pkgDir = join(root, 'node_modules', f.package);
  versions[f.package] = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;
  copyFileSync(join(pkgDir, f.from), join(vendorDir, f.to));
  console.log(`${f.package}@${versions[f.package]} ${f.from} -> html/console/vendor/${f.to}`);
}
manifest.versions = versions;
writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
