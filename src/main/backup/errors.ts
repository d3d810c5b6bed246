/**
 * Backup failures a person can act on. Each is a HubError (so the HTTP layer answers with its status and code), and
 * each message says what happened, what to do, and — when it matters — that earlier backups are untouched.
 */
import { HubError } from '../errors';
import { errorCode } from '../../shared/node/fs-errors';

export type BackupErrorCode =
  | 'no_target'
  | 'target_missing'
  | 'target_full'
  | 'target_read_only'
  | 'target_timeout'
  | 'target_offline'
  | 'target_failed'
  | 'source_missing'
  | 'busy'
  | 'cancelled'
  | 'snapshot_not_found'
  | 'snapshot_damaged'
  | 'unsafe_path'
  | 'restore_failed'
  | 'destination_not_empty';

const STATUS: Record<BackupErrorCode, number> = {
  no_target: 400,
  target_missing: 503,
  target_full: 507,
  target_read_only: 403,
  target_timeout: 504,
  target_offline: 503,
  target_failed: 500,
  source_missing: 400,
  busy: 409,
  cancelled: 409,
  snapshot_not_found: 404,
  snapshot_damaged: 422,
  unsafe_path: 422,
  restore_failed: 500,
  destination_not_empty: 409,
};

export class BackupError extends HubError {
  override name = 'BackupError';
  constructor(
    override readonly code: BackupErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, STATUS[code]);
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

export const UNTOUCHED = 'Earlier backups are untouched.';

/**
 * Turns a failure of a file operation on the backup folder into a BackupError. `targetExists` tells a drive that
 * went away (unmounted, signed out) from a file that is merely missing.
 */
export function classifyTargetError(error: unknown, target: string, what: string, targetExists: boolean): BackupError {
  if (error instanceof BackupError) return error;
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  if ((code === 'ENOENT' || code === 'ENOTDIR') && !targetExists) return targetMissing(target, error);
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new BackupError(
        'target_full',
        `The backup folder ${target} is full: there is no space left on its drive (or in its cloud storage quota) ` +
          `while ${what}. Free some space there or choose another folder, then run the backup again. ${UNTOUCHED}`,
        { cause: error },
      );
    case 'EROFS':
    case 'EACCES':
    case 'EPERM':
      return targetReadOnly(target, what, code, error);
    case 'ETIMEDOUT':
      return targetTimeout(target, what, undefined, error);
    case 'EIO':
    case 'ENOTCONN':
    case 'EHOSTDOWN':
    case 'EHOSTUNREACH':
    case 'ENETDOWN':
    case 'ENETUNREACH':
    case 'ESTALE':
    case 'ECONNRESET':
      return new BackupError(
        'target_offline',
        `The backup folder ${target} stopped answering (${code}) while ${what}: a cloud or network drive may have gone ` +
          `offline. Check the drive's connection; the backup will be tried again later. ${UNTOUCHED}`,
        { cause: error },
      );
    default:
      return new BackupError('target_failed', `Writing the backup into ${target} failed while ${what}: ${detail}. ${UNTOUCHED}`, {
        cause: error,
      });
  }
}

/** Codes that, for a folder that is there, mean it cannot be written (ENOENT: some read-only mounts answer mkdir so). */
export const READ_ONLY_CODES: ReadonlySet<string> = new Set(['EROFS', 'EACCES', 'EPERM', 'ENOENT']);

export function targetReadOnly(target: string, what: string, code: string, cause?: unknown): BackupError {
  const why = code === 'EROFS' ? 'the drive is read-only' : code === 'ENOENT' ? 'it refuses new files, as a read-only drive does' : 'permission denied';
  return new BackupError(
    'target_read_only',
    `The hub may not write into the backup folder ${target} (${code}: ${why}) while ${what}. ` +
      `Make the folder writable for your user, or choose another folder, then run the backup again. ${UNTOUCHED}`,
    cause === undefined ? undefined : { cause },
  );
}

export function targetMissing(target: string, cause?: unknown): BackupError {
  return new BackupError(
    'target_missing',
    `The backup folder ${target} is not there. If it is on a cloud drive (Google Drive, OneDrive, Dropbox, iCloud) or an ` +
      `external disk, make sure the drive is connected and its app is running and signed in, then run the backup again. ${UNTOUCHED}`,
    cause === undefined ? undefined : { cause },
  );
}

export function targetTimeout(target: string, what: string, ms: number | undefined, cause?: unknown): BackupError {
  const within = ms === undefined ? '' : ` within ${Math.round(ms / 100) / 10} s`;
  return new BackupError(
    'target_timeout',
    `The backup folder ${target} did not answer${within} while ${what}: its drive may be offline or very slow ` +
      `(a cloud drive still syncing, a sleeping network share). The backup will be tried again later. ${UNTOUCHED}`,
    cause === undefined ? undefined : { cause },
  );
}

export function cancelled(): BackupError {
  return new BackupError('cancelled', `The backup was stopped before it finished. ${UNTOUCHED}`);
}
