/** What a rule sees (the running hub, the settings, the advisor's measurements) and what it finds. */
import type { Advice, FixFigure } from '../../../shared/advice-protocol';
import type { Hub } from '../../hub';
import type { Measurements } from '../measurements';
import type { AdvisorSettings } from '../settings';

export interface RuleContext {
  hub: Hub;
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
