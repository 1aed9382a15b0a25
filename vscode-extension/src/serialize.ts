/**
 * Restarts one at a time: a request made while a restart runs is served by one follow-up restart
 * after it (however many requests came), so two quick restarts never start two clients. Pure
 * (no VS Code): the task is what the session does to stop its client and start a new one.
 */
export class Serialized {
  private running: Promise<void> | undefined;
  private followUp: Promise<void> | undefined;

  constructor(private readonly task: () => Promise<void>) {}

  /** Run the task now, or once more after the one in progress; resolves when that run is done. */
  run(): Promise<void> {
    const current = this.running;
    if (!current) return this.start();
    if (!this.followUp) {
      const next = () => {
        this.followUp = undefined;
        return this.start();
      };
      this.followUp = current.then(next, next);
    }
    return this.followUp;
  }

  /** Resolves once nothing runs or waits (for shutdown). */
  async idle(): Promise<void> {
    while (this.running || this.followUp) {
      await (this.followUp ?? this.running)?.catch(() => undefined);
    }
  }

  private start(): Promise<void> {
    const run: Promise<void> = this.task().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}
