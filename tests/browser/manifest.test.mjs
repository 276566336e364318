// forge/manifest.yml passes Atlassian's own validator (@forge/manifest, full validation), with
// the admin page's Custom UI resource built (scripts/build-forge-ui).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessorBuilder, ValidationTypes } from '@forge/manifest';
import { root } from './support.mjs';

it('forge/manifest.yml passes @forge/manifest full validation', async () => {
  assert.ok(existsSync(join(root, 'forge', 'static', 'admin', 'index.html')), 'build the admin page first: scripts/build-forge-ui');
  const result = await ProcessorBuilder.instance()
    .withValidation(ValidationTypes.FULL)
    .build()
    .process(join(root, 'forge', 'manifest.yml'));
  assert.deepEqual(result.errors.map((e) => `${e.message} (line ${e.line})`), []);
  assert.equal(result.success, true);
});
