/**
 * A warning about the application's own configuration (a constraint that matches nothing, routes
 * the plugin cannot see), which must be heard even where no logger is on: Fastify's logger is off
 * by default, and the Express middleware logs nowhere without its `logger` option. It goes to the
 * logger, and also as a process warning (printed on stderr by Node.js, as Fastify's own warnings
 * are) unless the logger says it shows warnings.
 */

/** The logger's methods this needs (pino's, Fastify's, the middleware's `logger`). */
export interface WarningLog {
  isLevelEnabled?: (level: string) => boolean
  warn: (obj: object | string, msg?: string) => void
}

export const WARNING_TYPE = 'FastifyPgConflictWarning'

export function warnLoudly (log: WarningLog, message: string, code: string): void {
  log.warn(message)
  if (log.isLevelEnabled?.('warn') !== true) process.emitWarning(message, { type: WARNING_TYPE, code })
}
