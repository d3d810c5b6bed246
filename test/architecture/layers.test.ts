/**
 * The layer rules (.dependency-cruiser.cjs) hold: `npm run lint:deps`, which `npm test` runs, fails on a tree that
 * breaks each rule, names the rule, and passes on the real source tree.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers';

const ROOT = path.resolve(import.meta.dirname, '../..');
const packageJson = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

/** Runs `npm run lint:deps` in `cwd`, as `npm test` does. */
function lintDeps(cwd: string): { status: number | null; output: string } {
  const run = spawnSync('npm', ['run', '-s', 'lint:deps'], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** The violations in depcruise's `err` report, as "rule: from". */
function violations(output: string): string[] {
  const found = [...output.matchAll(/^\s*error ([\w-]+): (\S+)/gm)].map(([, rule, from]) => `${rule}: ${from}`);
  return [...new Set(found)].sort();
}

/** A small tree with the real layers: a legitimate import of each kind, and one that breaks each rule. */
const FIXTURE: Record<string, string> = {
  // Entry points.
  'src/main/headless.ts': "import './app';\nimport './cockpit/live';\nimport './window';\n",
  'src/main/electron.ts': "import { app } from 'electron';\nimport { createApp } from './app';\nexport const started = [app, createApp];\n",
  'src/client/cli/main.ts': "import '../index';\n",
  'src/preload/index.ts': "import { contextBridge } from 'electron';\nimport { NAME } from '../shared/protocol';\nimport { open } from '../main/db/database';\nexport const bridge = [contextBridge, NAME, open];\n",
  'src/renderer/src/main.tsx':
    "import { readFileSync } from 'node:fs';\nimport { useState } from 'react';\nimport { NAME } from '../../shared/protocol';\nimport { writeDurable } from '../../shared/node/files';\nimport { open } from '../../main/db/database';\nexport const view = [readFileSync, useState, NAME, writeDurable, open];\n",
  'src/main/programs.json': '{ "build": "src/main/vector/build-program.ts" }\n',
  'src/main/programs.ts': "import PROGRAMS from './programs.json';\nexport { PROGRAMS };\n",
  'src/main/vector/build-program.ts': "import { search } from './index';\nexport const program = search;\n",
  // The composition root and what it wires.
  'src/main/app.ts': "import { wire } from './app/wire';\nexport const createApp = wire;\n",
  'src/main/app/wire.ts':
    "import { PROGRAMS } from '../programs';\nimport { store } from '../memory/store';\nimport { text } from '../extract/text';\nimport { nearest } from '../vector/bad';\nimport { a } from '../a';\nimport { tool } from '../tooling';\nimport { z } from 'zod';\nimport { gone } from './nowhere';\nexport const wire = () => [PROGRAMS, store, text, nearest, a, tool, z, gone];\n",
  'src/main/hub.ts': 'export interface Hub {\n  name: string;\n}\n',
  'src/main/memory/store.ts': "import { search } from '../vector/index';\nimport { NAME } from '../../shared/protocol';\nimport { bad } from '../../shared/x';\nexport const store = [search, NAME, bad];\n",
  'src/main/memory/ranking.ts': 'export const rank = 1;\n',
  'src/main/vector/index.ts': 'export const search = 1;\n',
  'src/main/vector/bad.ts': "import { rank } from '../memory/ranking';\nexport const nearest = rank;\n",
  'src/main/extract/text.ts': "import { NAME } from '../../shared/protocol';\nimport { open } from '../db/database';\nexport const text = [NAME, open];\n",
  'src/main/db/database.ts': 'export const open = 1;\n',
  'src/main/cockpit/live.ts': "import type { Hub } from '../hub';\nimport { createApp } from '../app';\nexport const live = (hub: Hub) => [hub, createApp];\n",
  'src/main/a.ts': "import { b } from './b';\nexport const a = () => b;\n",
  'src/main/b.ts': "import { a } from './a';\nexport const b = () => a;\n",
  'src/main/tooling.ts': "import { describe } from 'vitest';\nexport const tool = describe;\n",
  'src/main/window.ts': "import { BrowserWindow } from 'electron';\nexport const window = BrowserWindow;\n",
  'src/main/dead.ts': 'export const dead = 1;\n',
  'src/main/lonely.ts': 'export const lonely = 1;\n',
  'src/shared/protocol.ts': "export const NAME = 'fixture';\n",
  'src/shared/x.ts': "import { open } from '../main/db/database';\nexport const bad = open;\n",
  'src/shared/node/files.ts': 'export const writeDurable = 1;\n',
  'src/client/index.ts': "import { NAME } from '../shared/protocol';\nimport { open } from '../main/db/database';\nexport const client = [NAME, open];\n",
  'test/dead.test.ts': "import { dead } from '../src/main/dead';\nexport const used = dead;\n",
};

describe('layer rules (npm run lint:deps)', () => {
  it('is part of npm test, right after lint', () => {
    expect(packageJson.scripts['lint:deps']).toMatch(/^depcruise /);
    expect(packageJson.scripts.test).toContain('npm run lint && npm run lint:deps &&');
  });

  it('fails on a tree that crosses every layer, naming each rule', () => {
    const dir = tempDir('devenviro-layers-');
    copyFileSync(path.join(ROOT, '.dependency-cruiser.cjs'), path.join(dir, '.dependency-cruiser.cjs'));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({
        name: 'layers-fixture',
        type: 'module',
        scripts: { 'lint:deps': packageJson.scripts['lint:deps'] },
        // The cockpit page's packages are devDependencies (it is bundled at build time), as in the real package.
        devDependencies: { electron: '*', react: '*', vitest: '*' },
      }),
    );
    writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'ESNext', moduleResolution: 'Bundler', jsx: 'react-jsx', strict: true }, include: ['src', 'test'] }),
    );
    for (const [file, source] of Object.entries(FIXTURE)) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), source);
    }

    const { status, output } = lintDeps(dir);
    expect(status, output).not.toBe(0);
    expect(violations(output)).toEqual(
      [
        'shared-imports-no-app-layer: src/shared/x.ts',
        'client-imports-only-shared: src/client/index.ts',
        'renderer-imports-only-shared: src/renderer/src/main.tsx',
        'renderer-no-node: src/renderer/src/main.tsx',
        'renderer-no-node-shared: src/renderer/src/main.tsx',
        'preload-imports-only-shared-and-electron: src/preload/index.ts',
        'vector-imports-no-memory: src/main/vector/bad.ts',
        'extract-imports-only-shared: src/main/extract/text.ts',
        'composition-root-only-from-entries: src/main/cockpit/live.ts',
        // The two-file circle, reported once, from where the cruise entered it.
        'no-circular: src/main/a.ts',
        'no-orphans: src/main/lonely.ts',
        // Imported by a test only, or by nobody.
        'no-unreachable-source: src/main/dead.ts',
        'no-unreachable-source: src/main/lonely.ts',
        'not-to-dev-dep: src/main/tooling.ts',
        'electron-only-in-the-shell: src/main/window.ts',
        'not-to-unresolvable: src/main/app/wire.ts',
        'no-non-package-json: src/main/app/wire.ts',
      ].sort(),
    );
    expect(output).toMatch(/no-circular: src\/main\/a\.ts → \s+src\/main\/b\.ts →\s+src\/main\/a\.ts/);
  });

  it('passes on the source tree as it is', () => {
    const { status, output } = lintDeps(ROOT);
    expect(output).toContain('no dependency violations found');
    expect(status, output).toBe(0);
  });
});
