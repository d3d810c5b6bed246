// Runs after `npm install`: makes every native part usable on this machine, then builds the default sentence
// encoder. Each step explains itself and fails loudly only when the app could not run without it.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (step) => (line) => console.log(`[postinstall:${step}] ${line}`);

const steps = [
  ['faiss', './install/faiss.mjs'],
  ['sqlite-electron', './install/sqlite-electron.mjs'],
  ['encoder', './encoder/build-use-lite.mjs'],
];

for (const [name, modulePath] of steps) {
  const step = await import(modulePath);
  await step.default({ root, log: log(name) });
}
