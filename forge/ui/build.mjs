#!/usr/bin/env node
// Builds Verdict's Forge Custom UI resources: the admin page into forge/static/admin/ (the
// manifest's `admin-ui`: the shared page code from server/assets/admin/ with the Forge
// transport) and the issue panel into forge/static/issue-panel/ (`issue-panel`), each bundled
// with @forge/bridge by esbuild; styles copied as they are.
import { build } from 'esbuild';
import { cpSync, mkdirSync, rmSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const shared = join(here, '..', '..', 'server', 'assets', 'admin');
const staticDir = join(here, '..', 'static');

// One Custom UI resource: its page, its bundled script, the shared styles and vendor tokens.
async function resource(name, { html, entry, extra = [] }) {
  const out = join(staticDir, name);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(here, entry)],
    bundle: true,
    format: 'esm',
    target: 'es2020',
    minify: true,
    legalComments: 'linked',
    outfile: join(out, entry),
    logLevel: 'warning',
  });
  copyFileSync(join(here, html), join(out, 'index.html'));
  copyFileSync(join(shared, 'admin.css'), join(out, 'admin.css'));
  cpSync(join(shared, 'vendor'), join(out, 'vendor'), { recursive: true });
  for (const f of extra) copyFileSync(join(here, f), join(out, f));
  console.log(`built the Forge ${name} resource into ${out}`);
}

await resource('admin', { html: 'index.html', entry: 'boot-forge.js' });
await resource('issue-panel', { html: 'issue-panel.html', entry: 'boot-issue-panel.js', extra: ['issue-panel.css', 'icon.svg'] });
