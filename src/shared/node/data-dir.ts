/** Where the hub keeps its data on this machine: one rule for the hub, the CLI and the agents' client. */
import os from 'node:os';
import path from 'node:path';

export interface DataDirChoice {
  /** --data-dir on the command line: wins over everything. */
  flag?: string;
  /** Electron's userData folder, when running in the desktop shell. */
  electronUserData?: string;
  env?: NodeJS.ProcessEnv;
}

/** --data-dir, then DEVENVIRO_HOME, then Electron's userData, then ~/.devenviro. */
export function resolveDataDir({ flag, electronUserData, env = process.env }: DataDirChoice): string {
  const chosen = flag ?? env.DEVENVIRO_HOME ?? electronUserData ?? path.join(os.homedir(), '.devenviro');
  return path.resolve(chosen);
}
