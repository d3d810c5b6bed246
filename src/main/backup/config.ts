/** The backup settings live in src/shared so the cockpit validates with the same schema; re-exported here. */
export * from '../../shared/backup-protocol';
