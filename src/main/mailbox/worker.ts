/**
 * Runs an async job one at a time: kicking it while it runs makes it run once more afterwards, so no kick is lost
 * and the job never overlaps itself.
 */
export class SerialWorker {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly job: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  get busy(): boolean {
    return this.running !== undefined;
  }

  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop();
  }

  /** Resolves once the job is not running (including runs kicked meanwhile). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.job();
      } while (this.again);
    } catch (error) {
      this.onError(error);
    } finally {
      this.running = undefined;
    }
  }
}
