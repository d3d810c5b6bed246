// Starts a program's TypeScript source when running from sources (vitest, tsx, bench): registers tsx (a
// devDependency), then imports the program. Started by src/main/programs.ts as `program-loader.mjs <program url>`; the built
// app starts the bundled .js instead and never loads this file.
import { register } from 'tsx/esm/api';

register();
await import(process.argv.at(-1));
