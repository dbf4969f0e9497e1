/**
 * Whether an error a query failed with can leave its connection usable: node-postgres's
 * `DatabaseError` for the server's ErrorResponse (pg-protocol names that message `error` and
 * copies its fields: `severity` is S, `code` is C), not ending the session, with a SQLSTATE
 * outside the classes that say the connection, the server or its storage is failing.
 *
 * This is only the first half of "sure to be healthy": the session must also be back to idle
 * outside a transaction, which the server says in the ReadyForQuery after the error
 * (`release.ts` waits for it).
 */

/**
 * Severities that end the session (English; S is translated with `lc_messages`). A translated
 * FATAL or PANIC is not missed: the server closes the connection after it, never sending the
 * ReadyForQuery a kept connection needs.
 */
const ENDS_SESSION = new Set(['FATAL', 'PANIC'])

/**
 * SQLSTATE classes after which the connection is not kept, whatever the severity:
 * 08 connection exception, 57P operator intervention (57P01 admin shutdown, 57P02 crash
 * shutdown, 57P03 cannot connect now, 57P04 database dropped, 57P05 idle session timeout),
 * 58 system error (I/O), XX internal error (data or index corrupted).
 */
const FAILING = /^(?:08|57P|58|XX)/

const SQLSTATE = /^[0-9A-Z]{5}$/

export function isRecoverableServerError (error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const { name, severity, code } = error as Error & { severity?: unknown, code?: unknown }
  return name === 'error' &&
    typeof severity === 'string' && !ENDS_SESSION.has(severity) &&
    typeof code === 'string' && SQLSTATE.test(code) && !FAILING.test(code)
}
