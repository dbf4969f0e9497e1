// Errors of a real Citus cluster (Citus 12.1.9 on PostgreSQL 15: a coordinator and two workers),
// as node-postgres 8 hands them over: copied from the cluster's output for the statements of
// test/citus/scenario.ts (the schema written `app`, the source line left out). The unit tests of
// src/core/dialects.ts use them, so that `npm test` covers the Citus code without a cluster; the
// shapes suite (test/citus/shapes.ts) raises each again on the cluster and checks that Citus
// still sends exactly these fields. Each function returns a new object, to throw from a route.
import { nodePgError, type NodePgError } from '../fixtures/distributed.js'
import type { CaptureName } from './scenario.js'

/** The schema the errors below were captured in, as written here. */
export const CAPTURED_SCHEMA = 'app'

const RELAYED = { severity: 'ERROR', where: 'while executing command on 127.0.0.1:9701', file: 'remote_commands.c', routine: 'ReportResultError' }
const COPIED = { severity: 'ERROR', code: 'XX000', file: 'multi_copy.c', routine: 'ReportCopyError' }

export const CAPTURED: Record<CaptureName, () => NodePgError> = {
  relayedUnique: () => nodePgError('duplicate key value violates unique constraint "accounts_org_email_key_102188"', {
    ...RELAYED, code: '23505', detail: 'Key (org_id, email)=(1, ada@example.com) already exists.'
  }),
  relayedForeignKey: () => nodePgError('insert or update on table "accounts_102188" violates foreign key constraint "accounts_org_id_fkey_102188"', {
    ...RELAYED, code: '23503', detail: 'Key (org_id)=(3) is not present in table "orgs_102186".'
  }),
  relayedReferenced: () => nodePgError('update or delete on table "orgs_102186" violates foreign key constraint "accounts_org_id_fkey_102188" on table "accounts_102188"', {
    ...RELAYED, code: '23503', detail: 'Key (id)=(1) is still referenced from table "accounts_102188".'
  }),
  relayedNotNull: () => nodePgError('null value in column "email" of relation "accounts_102188" violates not-null constraint', {
    ...RELAYED, code: '23502', detail: 'Failing row contains (1, 2, null, 20).'
  }),
  relayedCheck: () => nodePgError('new row for relation "accounts_102188" violates check constraint "accounts_age_check"', {
    ...RELAYED, code: '23514', detail: 'Failing row contains (1, 2, bob@example.com, -1).'
  }),
  relayedExclusion: () => nodePgError('conflicting key value violates exclusion constraint "rooms_no_overlap_102190"', {
    ...RELAYED, code: '23P01', detail: 'Key (org_id, room, seats)=(1, 1, [5,15)) conflicts with existing key (org_id, room, seats)=(1, 1, [1,10)).'
  }),
  relayedShortened: () => nodePgError('duplicate key value violates unique constraint "aliases_org_id_and_alias_with_a_name_long_enoug_eba58027_102192"', {
    ...RELAYED, code: '23505', detail: 'Key (org_id, alias)=(1, x) already exists.'
  }),
  copyUnique: () => nodePgError('duplicate key value violates unique constraint "accounts_org_email_key_102188"', {
    ...COPIED, detail: 'Key (org_id, email)=(1, ada@example.com) already exists.'
  }),
  copyForeignKey: () => nodePgError('insert or update on table "accounts_102188" violates foreign key constraint "accounts_org_id_fkey_102188"', {
    ...COPIED, detail: 'Key (org_id)=(3) is not present in table "orgs_102186".'
  }),
  copyNotNull: () => nodePgError('null value in column "email" of relation "accounts_102188" violates not-null constraint', {
    ...COPIED, detail: 'Failing row contains (1, 2, null, 20).'
  }),
  copyCheck: () => nodePgError('new row for relation "accounts_102188" violates check constraint "accounts_age_check"', {
    ...COPIED, detail: 'Failing row contains (1, 2, bob@example.com, -1).'
  }),
  copyExclusion: () => nodePgError('conflicting key value violates exclusion constraint "rooms_no_overlap_102190"', {
    ...COPIED, detail: 'Key (org_id, room, seats)=(1, 1, [1,10)) conflicts with existing key (org_id, room, seats)=(1, 1, [1,10)).'
  }),
  parallelAccess: () => nodePgError('cannot execute DML on table "orgs" because there was a parallel DML access to distributed table "accounts" in the same transaction', {
    severity: 'ERROR',
    code: 'XX000',
    hint: 'Try re-running the transaction with "SET LOCAL citus.multi_shard_modify_mode TO \'sequential\';"',
    file: 'relation_access_tracking.c',
    routine: 'CheckConflictingRelationAccesses'
  }),
  nullDistribution: () => nodePgError('cannot perform an INSERT with NULL in the partition column', {
    severity: 'ERROR', code: '22004', file: 'multi_router_planner.c', routine: 'BuildRoutesForInsert'
  }),
  nullDistributionCopy: () => nodePgError('the partition column of table app.accounts cannot be NULL', {
    severity: 'ERROR', code: '22004', where: 'COPY accounts, line 1: "\\N\t2\tbob@example.com\t20"', file: 'multi_copy.c', routine: 'ShardIdForTuple'
  }),
  localUnique: () => nodePgError('duplicate key value violates unique constraint "accounts_org_email_key_102188"', {
    severity: 'ERROR',
    code: '23505',
    detail: 'Key (org_id, email)=(1, ada@example.com) already exists.',
    schema: 'app',
    table: 'accounts_102188',
    constraint: 'accounts_org_email_key_102188',
    file: 'nbtinsert.c',
    routine: '_bt_check_unique'
  }),
  localForeignKey: () => nodePgError('insert or update on table "accounts_102188" violates foreign key constraint "accounts_org_id_fkey_102188"', {
    severity: 'ERROR',
    code: '23503',
    detail: 'Key (org_id)=(3) is not present in table "orgs_102186".',
    schema: 'app',
    table: 'accounts_102188',
    constraint: 'accounts_org_id_fkey_102188',
    file: 'ri_triggers.c',
    routine: 'ri_ReportViolation'
  }),
  localNotNull: () => nodePgError('null value in column "email" of relation "accounts_102188" violates not-null constraint', {
    severity: 'ERROR',
    code: '23502',
    detail: 'Failing row contains (1, 2, null, 20).',
    schema: 'app',
    table: 'accounts_102188',
    column: 'email',
    file: 'execMain.c',
    routine: 'ExecConstraints'
  }),
  localCheck: () => nodePgError('new row for relation "accounts_102188" violates check constraint "accounts_age_check"', {
    severity: 'ERROR',
    code: '23514',
    detail: 'Failing row contains (1, 2, bob@example.com, -1).',
    schema: 'app',
    table: 'accounts_102188',
    constraint: 'accounts_age_check',
    file: 'execMain.c',
    routine: 'ExecConstraints'
  })
}
