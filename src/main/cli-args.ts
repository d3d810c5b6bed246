/** The hub's command-line options (--data-dir, --host, --port) and the config they make for one run. */
import { parseArgs } from 'node:util';
import { loadConfig, type AppConfig } from './config/config';

export interface HubArgs {
  dataDir?: string;
  host?: string;
  port?: number;
  help: boolean;
}

export const HUB_USAGE = `Usage: devenviro-hub [--data-dir DIR] [--host HOST] [--port PORT]

  --data-dir DIR  where the hub keeps its data (default: $DEVENVIRO_HOME, else ~/.devenviro)
  --host HOST     address to listen on (default: api.host in config.json, 127.0.0.1)
  --port PORT     port to listen on, 0 for any free one (default: api.port in config.json, 4477)`;

/** The flags both entries (headless and Electron) accept; unknown flags are an error, not ignored. */
export function parseHubArgs(argv: string[]): HubArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0-65535, not ${values.port}`);
  }
  return { dataDir: values['data-dir'], host: values.host, port, help: values.help ?? false };
}

/** config.json with this run's --host and --port applied, in memory only: the file keeps its own values. */
export function configForRun(dataDir: string, args: HubArgs): AppConfig {
  const config = loadConfig(dataDir);
  if (args.host !== undefined) config.api.host = args.host;
  if (args.port !== undefined) config.api.port = args.port;
  return config;
}
