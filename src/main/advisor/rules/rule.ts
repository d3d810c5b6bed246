/** What a rule sees (the running hub, the settings, the advisor's measurements) and what it finds. */
import type { Advice, FixFigure } from '../../../shared/advice-protocol';
import type { AgentRegistry } from '../../agents/registry';
import type { Checkpointer } from '../../db/checkpointer';
import type { SqliteDatabase } from '../../db/database';
import type { MemoryEngine } from '../../memory/engine';
import type { Measurements } from '../measurements';
import type { AdvisorSettings } from '../settings';

/** The services the rules read (the running hub has them; named here so the hub's type need not be imported). */
export interface AdvisedHub {
  db: SqliteDatabase;
  /** The hub database's checkpoint worker (its lag). */
  checkpointer: Checkpointer;
  registry: AgentRegistry;
  memory: MemoryEngine;
}

export interface RuleContext {
  hub: AdvisedHub;
  settings: AdvisorSettings;
  measurements: Measurements;
  dataDir: string;
  /** The backup folder, when one is set. */
  backupTarget: string | null;
}

/** A bottleneck a rule found: the advice, and the fix itself when the hub can apply one (returns before/after). */
export interface Finding {
  advice: Omit<Advice, 'since' | 'lastFix'>;
  apply?: () => Promise<FixFigure[]>;
}

export type Rule = (context: RuleContext) => Finding[] | Promise<Finding[]>;
