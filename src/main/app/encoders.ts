/** The hub's sentence encoders: built first if need be, reported as the 'encoder' service, the default one shared. */
import { ensureDefaultEncoder, OnnxSentenceEncoder, type SentenceEncoder, type USE_LITE_VARIANTS } from '../embedding';
import type { ServiceRegistry } from '../monitor/service-registry';

export type BuiltInVariant = keyof typeof USE_LITE_VARIANTS;

export class EncoderLoader {
  /** The default encoder, loaded once for the memory engine and the cockpit alike. */
  private shared: Promise<SentenceEncoder> | undefined;

  constructor(
    private readonly resourcesDir: string,
    private readonly services: ServiceRegistry,
  ) {}

  /**
   * A built-in encoder variant. The default one (no variant named) is loaded once and shared; an earlier one is
   * loaded anew for the memory engine, which closes it once the memories have moved to the default one.
   */
  load(variant?: BuiltInVariant): Promise<SentenceEncoder> {
    if (variant !== undefined) return this.loadVariant(variant);
    this.shared ??= this.loadVariant(undefined);
    return this.shared;
  }

  /** Closes the shared encoder if one was loaded; the next load() loads it anew. */
  async close(): Promise<void> {
    const shared = this.shared;
    this.shared = undefined;
    if (shared) await shared.then((encoder) => encoder.close(), () => undefined);
  }

  private async loadVariant(variant: BuiltInVariant | undefined): Promise<SentenceEncoder> {
    const { services } = this;
    services.set('encoder', 'starting', 'loading the sentence encoder');
    try {
      const dir = await ensureDefaultEncoder(
        this.resourcesDir,
        ({ step, fraction }) => services.set('encoder', 'starting', `building the sentence encoder: ${step}`, fraction),
        variant,
      );
      const encoder = await OnnxSentenceEncoder.load(dir);
      services.set('encoder', 'up', `${encoder.id}, ${encoder.dimension}-d, ONNX Runtime`);
      return encoder;
    } catch (error) {
      services.set('encoder', 'down', `the sentence encoder could not load: ${(error as Error).message}`);
      throw error;
    }
  }
}
