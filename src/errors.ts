// Error classes with stable codes. Callers branch on `code`, people read `message`.
// Imports nothing, so every layer can use it.

export const ErrorCode = {
  /** The configuration file is missing, unreadable or invalid. */
  Config: "ERR_CONFIG",
  /** A peer sent bytes that break the link protocol; the link is closed. */
  Protocol: "ERR_PROTOCOL",
  /** A peer failed authentication or sent something that fails a security check. */
  Security: "ERR_SECURITY",
  /** A stream was reset by the other end or by a router limit. */
  StreamReset: "ERR_STREAM_RESET",
  /** The object was used after close()/destroy(). */
  Closed: "ERR_CLOSED",
  /** A TCP or WebSocket connection could not be made. */
  Connect: "ERR_CONNECT",
  /** The site's admin endpoint cannot be reached or refused the caller. */
  Admin: "ERR_ADMIN",
  /** An access token could not be issued or redeemed. */
  Token: "ERR_TOKEN",
  /** Command-line usage error. */
  Usage: "ERR_USAGE",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class SkiffError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "SkiffError";
  }
}

/** One problem found in a configuration file, with where it is. */
export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  /** `Kind/name` of the resource, or undefined for problems outside any resource. */
  resource?: string;
  /** Dotted path of the field inside the resource, e.g. `spec.port`. */
  field?: string;
  message: string;
}

export function formatConfigIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.column}`;
  const what = [issue.resource, issue.field].filter(Boolean).join(" ");
  return what ? `${where}: ${what}: ${issue.message}` : `${where}: ${issue.message}`;
}

/** Every problem in a configuration file, reported at once. */
export class ConfigError extends SkiffError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    const count = issues.length === 1 ? "1 problem" : `${issues.length} problems`;
    super(
      ErrorCode.Config,
      `Configuration has ${count}:\n` + issues.map((i) => "  " + formatConfigIssue(i)).join("\n"),
    );
    this.issues = issues;
    this.name = "ConfigError";
  }
}

/**
 * A violation of the link protocol by the peer. `reason` is sent to the peer
 * in the close frame and logged on both sides.
 */
export class ProtocolError extends SkiffError {
  constructor(message: string) {
    super(ErrorCode.Protocol, message);
    this.name = "ProtocolError";
  }
}

export class SecurityError extends SkiffError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Security, message, options);
    this.name = "SecurityError";
  }
}

export class ClosedError extends SkiffError {
  constructor(what: string) {
    super(ErrorCode.Closed, `${what} is closed`);
    this.name = "ClosedError";
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
