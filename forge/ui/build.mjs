#!/usr/bin/env node
// Builds Verdict's Forge admin page into forge/static/admin/ (the manifest's `admin-ui`
// resource): the shared page code from server/assets/admin/ with the Forge transport, bundled
// with @forge/bridge by esbuild; styles copied as they are.
import { build } from 'esbuild';
import { cpSync, mkdirSync, rmSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const shared = join(here, '..', '..', 'server', 'assets', 'admin');
const out = join(here, '..', 'static', 'admin');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'boot-forge.js')],
  bundle: true,
  format: 'esm',
  target: 'es2020',
  minify: true,
  legalComments: 'linked',
  outfile: join(out, 'boot-forge.js'),
  logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
copyFileSync(join(shared, 'admin.css'), join(out, 'admin.css'));
cpSync(join(shared, 'vendor'), join(out, 'vendor'), { recursive: true });
console.log(`built the Forge admin page into ${out}`);
