/** `devenviro workflow template | check` against a real hub, run as child processes from the source. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HubClient } from '../../src/client';
import { runCli } from '../client/cli-run';
import { startHub } from '../client/hub';
import { tempDir } from '../helpers';

// Each command is a fresh Node process compiling TypeScript: allow for a busy machine.
describe('devenviro workflow', { timeout: 120_000 }, () => {
  it('prints a template, checks it valid for the saved agent\'s project, and lists each problem of a bad one (exit 1)', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    await HubClient.register({ name: 'lead', project: 'shop', tier: 'strategic', url: hub.url, dataDir, persist: true });
    const cli = (args: string[], input?: string) => runCli([...args, '--data-dir', dataDir, '--as', 'lead'], input === undefined ? {} : { input });

    const template = await cli(['workflow', 'template', 'map-reduce', 'a.ts', 'b.ts', '--instructions', 'summarise the file', '--reduce', 'concat']);
    expect(template.stderr).toBe('');
    expect(template.code).toBe(0);
    const definition = JSON.parse(template.stdout);
    expect(definition.input).toEqual({ files: ['a.ts', 'b.ts'] });

    const valid = await cli(['workflow', 'check', '-'], template.stdout);
    expect(valid.code).toBe(0);
    expect(valid.stdout).toContain('map-reduce: valid in project shop, 2 steps in 2 levels');
    expect(valid.stdout).toContain('1. map');

    const file = path.join(tempDir(), 'bad.json');
    definition.steps.map.task.capabilities = ['deploy'];
    definition.steps.reduce.dependsOn = ['reduce'];
    writeFileSync(file, JSON.stringify(definition));
    const invalid = await cli(['workflow', 'check', file]);
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toMatch(/map\s+no_capable_agent\s+step `map`: no agent with capability `deploy` in project shop/);
    expect(invalid.stdout).toMatch(/reduce\s+cycle\s+steps depend on each other in a circle: reduce -> reduce/);
    expect(invalid.stderr).toContain('2 problems; nothing was run');

    const usage = await cli(['workflow', 'template', 'plan-implement']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('plan-implement needs --goal TEXT');
  });
});
