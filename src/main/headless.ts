/**
 * The hub under plain Node: the same services as the desktop app, with the cockpit served to a browser.
 * `npm start` runs this where no Electron binary is installed.
 */
import { createApp } from './app';
import { configForRun, HUB_USAGE, parseHubArgs } from './cli-args';
import { resolveDataDir } from '../shared/node/data-dir';

async function main(): Promise<void> {
  const args = parseHubArgs(process.argv.slice(2));
  if (args.help) {
    console.log(HUB_USAGE);
    return;
  }
  const dataDir = resolveDataDir({ flag: args.dataDir });
  const config = configForRun(dataDir, args);

  const app = createApp({ dataDir, config, runtime: 'headless' });
  const { cockpitUrl } = await app.start();
  console.log(`DevEnviro Cockpit hub is running (data: ${dataDir}).`);
  console.log(`Open the cockpit: ${cockpitUrl}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping the hub…`);
    await app.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`The hub could not start: ${message}`);
  process.exit(1);
});
