#!/usr/bin/env node
// Re-vendors Atlassian's design tokens and CSS reset into server/assets/admin/vendor/, so the
// admin app looks like Jira without fetching anything from a CDN. Run after bumping the pinned
// versions below:
//
//   npm install --prefix target/vendor-tokens @atlaskit/tokens@20.7.0 @atlaskit/css-reset@8.4.6
//   node scripts/vendor-design-tokens.mjs target/vendor-tokens/node_modules
//
// Both packages are Apache-2.0; their licence travels with the files.
import { readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const modules = process.argv[2];
if (!modules) {
  console.error('usage: node scripts/vendor-design-tokens.mjs <node_modules dir>');
  process.exit(2);
}
const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'server', 'assets', 'admin', 'vendor');
const tokens = join(modules, '@atlaskit', 'tokens');
const version = JSON.parse(readFileSync(join(tokens, 'package.json'), 'utf8')).version;
const resetVersion = JSON.parse(readFileSync(join(modules, '@atlaskit', 'css-reset', 'package.json'), 'utf8')).version;
const header = (pkg, v) => `/* ${pkg}@${v} (Apache-2.0, see LICENSE-atlaskit), vendored by scripts/vendor-design-tokens.mjs */\n`;

async function theme(name) {
  const mod = await import(pathToFileURL(join(tokens, 'dist', 'esm', 'artifacts', 'themes', `${name}.js`)).href);
  return mod.default;
}

const light = (await theme('atlassian-light')) + (await theme('atlassian-spacing')) + (await theme('atlassian-typography'));
writeFileSync(join(out, 'tokens-light.css'), header('@atlaskit/tokens', version) + light);
writeFileSync(join(out, 'tokens-dark.css'), header('@atlaskit/tokens', version) + (await theme('atlassian-dark')));
writeFileSync(join(out, 'css-reset.css'), header('@atlaskit/css-reset', resetVersion) + readFileSync(join(modules, '@atlaskit', 'css-reset', 'dist', 'bundle.css'), 'utf8'));
copyFileSync(join(tokens, 'LICENSE'), join(out, 'LICENSE-atlaskit'));
console.log(`vendored @atlaskit/tokens@${version} and @atlaskit/css-reset@${resetVersion} into ${out}`);
