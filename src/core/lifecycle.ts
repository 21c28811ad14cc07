/**
 * Graceful shutdown: the first SIGINT/SIGTERM aborts `signal` and runs the
 * registered hooks (last registered first) so work in flight can finish or
 * clean up; a second signal exits at once.
 */
export type ShutdownHook = () => Promise<void> | void;

export class Lifecycle {
  readonly #controller = new AbortController();
  readonly #hooks: { name: string; run: ShutdownHook }[] = [];
  #installed = false;
  #stopping: Promise<void> | null = null;

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  onShutdown(name: string, run: ShutdownHook): void {
    this.#hooks.push({ name, run });
  }

  /** Installs the signal handlers; `onSignal` hears which signal arrived. */
  install(onSignal: (signal: NodeJS.Signals) => void = () => undefined): void {
    if (this.#installed) return;
    this.#installed = true;
    const handler = (signal: NodeJS.Signals): void => {
      if (this.#stopping) {
        process.exit(signal === "SIGINT" ? 130 : 143);
      }
      onSignal(signal);
      void this.shutdown();
    };
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
  }

  shutdown(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#controller.abort();
      for (const hook of [...this.#hooks].reverse()) {
        try {
          await hook.run();
        } catch (err) {
          process.stderr.write(`gamedock: shutdown hook ${hook.name} failed: ${String(err)}\n`);
        }
      }
    })();
    return this.#stopping;
  }
}
