// One line per event: readable text for people, or JSON for log shippers.
// The sink is passed in, so the logger knows nothing of the runtime.

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "json";
export type LogFields = Record<string, string | number | boolean | undefined>;

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  format: LogFormat;
  level: LogLevel;
  write(line: string): void;
  now?: () => Date;
}

export class Logger {
  readonly #options: LoggerOptions;
  readonly #context: LogFields;

  constructor(options: LoggerOptions, context: LogFields = {}) {
    this.#options = options;
    this.#context = context;
  }

  /** A logger that adds `fields` to every line (e.g. `{ site: "west" }`). */
  with(fields: LogFields): Logger {
    return new Logger(this.#options, { ...this.#context, ...fields });
  }

  debug(event: string, message: string, fields?: LogFields): void {
    this.#log("debug", event, message, fields);
  }
  info(event: string, message: string, fields?: LogFields): void {
    this.#log("info", event, message, fields);
  }
  warn(event: string, message: string, fields?: LogFields): void {
    this.#log("warn", event, message, fields);
  }
  error(event: string, message: string, fields?: LogFields): void {
    this.#log("error", event, message, fields);
  }

  #log(level: LogLevel, event: string, message: string, fields: LogFields = {}): void {
    if (levelRank[level] < levelRank[this.#options.level]) return;
    const time = (this.#options.now?.() ?? new Date()).toISOString();
    const all = { ...this.#context, ...fields };
    if (this.#options.format === "json") {
      this.#options.write(JSON.stringify({ time, level, event, msg: message, ...all }) + "\n");
      return;
    }
    const site = all.site === undefined ? "" : `[${all.site}] `;
    this.#options.write(`${time} ${level.toUpperCase().padEnd(5)} ${site}${message}\n`);
  }
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return new Logger({ format: "text", level: "error", write: () => {} });
}
