// Builds the pages into dist/: the HTML at the top (index.html for `/`, admin.html for
// `/admin`), the bundled scripts and the style sheet under assets/, and config.json for the
// same-origin case (`make deploy` uploads its own). Prints each script's gzipped weight and
// fails over 100 KB.
import { build } from 'esbuild';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const LIMIT = 100 * 1024;
const out = 'dist';
rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}/assets`, { recursive: true });

await build({
  entryPoints: { buyer: 'src/buyer.ts', admin: 'src/admin.ts' },
  outdir: `${out}/assets`,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2021'],
  legalComments: 'none',
  logLevel: 'warning',
});
cpSync('public/index.html', `${out}/index.html`);
cpSync('public/admin.html', `${out}/admin.html`);
cpSync('public/style.css', `${out}/assets/style.css`);
writeFileSync(`${out}/config.json`, JSON.stringify({ apiBase: '', maxSeatsPerUser: 1 }) + '\n');

let over = false;
const weights = {};
for (const file of ['buyer.js', 'admin.js', 'style.css']) {
  const raw = readFileSync(`${out}/assets/${file}`);
  const gz = gzipSync(raw, { level: 9 }).length;
  weights[file] = { bytes: raw.length, gzip: gz };
  console.log(`web: ${file.padEnd(10)} ${(raw.length / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped`);
  if (file.endsWith('.js') && gz > LIMIT) over = true;
}
writeFileSync(`${out}/weights.json`, JSON.stringify(weights, null, 2) + '\n');
if (over) {
  console.error('web: a page script is over 100 KB gzipped');
  process.exit(1);
}
