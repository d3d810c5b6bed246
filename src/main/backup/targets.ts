/**
 * Where cloud-synced folders usually are, per platform. Only folders that exist are listed; any other folder can be
 * chosen by hand (an rclone or insync mount on Linux, a NAS share…). Everything the detection touches is a
 * parameter, so tests can play Windows and macOS on any machine.
 */
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDirectory } from './paths';
import type { CloudFolder, CloudProvider } from '../../shared/backup-protocol';
export type { CloudFolder, CloudProvider };

export interface DetectOptions {
  platform?: NodeJS.Platform;
  env?: Record<string, string | undefined>;
  homedir?: string;
  /** Whether a folder exists. */
  exists?: (dir: string) => boolean;
  /** The names in a folder ([] when it cannot be read); for account-named folders like GoogleDrive-<account>. */
  list?: (dir: string) => string[];
}

const listDir = (dir: string): string[] => {
  try {
    return existsSync(dir) ? readdirSync(dir) : [];
  } catch {
    return [];
  }
};

/** Google Drive's own folder names that are not the person's drive. */
const GOOGLE_OTHER = new Set(['shared drives', 'other computers', '.shortcut-targets-by-id', '.tmp', '.file-revisions-by-id']);

export function detectCloudFolders(options: DetectOptions = {}): CloudFolder[] {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  const home = options.homedir ?? os.homedir();
  const exists = options.exists ?? isDirectory;
  const list = options.list ?? listDir;
  const p = platform === 'win32' ? path.win32 : path.posix;

  const candidates: CloudFolder[] = [];
  const add = (provider: CloudProvider, label: string, dir: string | undefined) => {
    if (dir) candidates.push({ provider, label, path: dir });
  };

  if (platform === 'win32') {
    const profile = env.USERPROFILE || home;
    // Google Drive for desktop mounts a virtual drive, G: unless taken; "My Drive" may also be mirrored in the profile.
    for (const letter of 'GDEFHIJKLMNOPQRSTUVWXYZ') add('google-drive', `Google Drive (${letter}:)`, `${letter}:\\My Drive`);
    add('google-drive', 'Google Drive (mirrored)', p.join(profile, 'My Drive'));
    add('google-drive', 'Google Drive (Backup and Sync)', p.join(profile, 'Google Drive'));
    add('onedrive', 'OneDrive', env.OneDrive);
    add('onedrive', 'OneDrive (personal)', env.OneDriveConsumer);
    add('onedrive', 'OneDrive (work or school)', env.OneDriveCommercial);
    add('onedrive', 'OneDrive', p.join(profile, 'OneDrive'));
    add('dropbox', 'Dropbox', p.join(profile, 'Dropbox'));
    add('icloud', 'iCloud Drive', p.join(profile, 'iCloudDrive'));
  } else if (platform === 'darwin') {
    const cloudStorage = p.join(home, 'Library', 'CloudStorage');
    for (const name of list(cloudStorage).sort()) {
      const dir = p.join(cloudStorage, name);
      if (name.startsWith('GoogleDrive-')) {
        const account = name.slice('GoogleDrive-'.length);
        const myDrive = p.join(dir, 'My Drive');
        if (exists(myDrive)) add('google-drive', `Google Drive (${account})`, myDrive);
        else {
          // "My Drive" is localised (Mon Drive, Meine Ablage…): take the one folder that is not a known other one.
          for (const child of list(dir)) {
            if (!GOOGLE_OTHER.has(child.toLowerCase()) && !child.startsWith('.')) add('google-drive', `Google Drive (${account})`, p.join(dir, child));
          }
        }
      } else if (name.startsWith('OneDrive')) {
        add('onedrive', name.replace(/^OneDrive-?/, 'OneDrive ').trim(), dir);
      } else if (name.startsWith('Dropbox')) {
        add('dropbox', name, dir);
      }
    }
    add('google-drive', 'Google Drive (File Stream)', '/Volumes/GoogleDrive/My Drive');
    add('google-drive', 'Google Drive (Backup and Sync)', p.join(home, 'Google Drive'));
    add('dropbox', 'Dropbox', p.join(home, 'Dropbox'));
    add('onedrive', 'OneDrive', p.join(home, 'OneDrive'));
    add('icloud', 'iCloud Drive', p.join(home, 'Library', 'Mobile Documents', 'com~apple~CloudDocs'));
  } else {
    // Linux and the BSDs: no official Google Drive client; insync, rclone and GNOME Online Accounts are the usual ways.
    add('google-drive', 'Google Drive', p.join(home, 'Google Drive'));
    add('google-drive', 'Google Drive', p.join(home, 'GoogleDrive'));
    add('google-drive', 'Google Drive', p.join(home, 'gdrive'));
    add('google-drive', 'Google Drive (rclone)', p.join(home, 'mnt', 'gdrive'));
    const insync = p.join(home, 'Insync');
    for (const account of list(insync).sort()) add('google-drive', `Google Drive (insync, ${account})`, p.join(insync, account, 'Google Drive'));
    add('dropbox', 'Dropbox', p.join(home, 'Dropbox'));
    add('onedrive', 'OneDrive', p.join(home, 'OneDrive'));
  }

  const seen = new Set<string>();
  return candidates.filter((candidate) => {
    const key = platform === 'win32' || platform === 'darwin' ? candidate.path.toLowerCase() : candidate.path;
    if (seen.has(key) || !exists(candidate.path)) return false;
    seen.add(key);
    return true;
  });
}
