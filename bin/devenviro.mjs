#!/usr/bin/env node
// The `devenviro` command: runs the CLI built by `npm run build` (src/client/cli/main.ts → out/main/cli.js).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../out/main/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error(`devenviro: ${fileURLToPath(cli)} is missing; run \`npm run build\` in ${fileURLToPath(new URL('..', import.meta.url))} first.`);
  process.exit(1);
}
const { run } = await import(cli.href);
await run(process.argv.slice(2));
