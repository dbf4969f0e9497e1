// What src/core/dialects.ts makes of Citus's errors, on errors captured from a real cluster
// (test/citus/captured.ts: cluster.test.ts checks on the cluster that Citus still sends them so),
// so that it runs without a cluster. How the plugin answers each on the cluster: paths.ts.
import t from 'tap'
import { citusKind, citusShard, isCopiedByCitus, isRelayedByCitus, withoutShardId } from '../../src/core/dialects.js'
import { findPgError, integrityKind, type IntegrityKind, type PgErrorFields } from '../../src/core/recognise.js'
import { nodePgError } from '../fixtures/distributed.js'
import { CAPTURED } from './captured.js'
import type { CaptureName } from './scenario.js'

function fields (name: CaptureName): PgErrorFields {
  return findPgError(CAPTURED[name]()) as PgErrorFields
}

interface Expected {
  kind: IntegrityKind | undefined
  /** relayed (ReportResultError), copied (ReportCopyError), or raised elsewhere. */
  via: 'relayed' | 'copied' | 'other'
  shard: { constraint?: string, table?: string, column?: string } | undefined
}

const ACCOUNTS = { table: 'accounts' }
const EXPECTED: Record<CaptureName, Expected> = {
  relayedUnique: { kind: 'unique', via: 'relayed', shard: { constraint: 'accounts_org_email_key' } },
  relayedForeignKey: { kind: 'foreignKey', via: 'relayed', shard: { ...ACCOUNTS, constraint: 'accounts_org_id_fkey' } },
  relayedReferenced: { kind: 'foreignKey', via: 'relayed', shard: { ...ACCOUNTS, constraint: 'accounts_org_id_fkey' } },
  relayedNotNull: { kind: 'notNull', via: 'relayed', shard: { ...ACCOUNTS, column: 'email' } },
  relayedCheck: { kind: 'check', via: 'relayed', shard: { ...ACCOUNTS, constraint: 'accounts_age_check' } },
  relayedExclusion: { kind: 'exclusion', via: 'relayed', shard: { constraint: 'rooms_no_overlap' } },
  // The name on the shards is Citus's shortened one (a hash of the distributed table's): only the shard id comes off.
  relayedShortened: { kind: 'unique', via: 'relayed', shard: { constraint: 'aliases_org_id_and_alias_with_a_name_long_enoug_eba58027' } },
  copyUnique: { kind: 'unique', via: 'copied', shard: { constraint: 'accounts_org_email_key' } },
  copyForeignKey: { kind: 'foreignKey', via: 'copied', shard: { ...ACCOUNTS, constraint: 'accounts_org_id_fkey' } },
  copyNotNull: { kind: 'notNull', via: 'copied', shard: { ...ACCOUNTS, column: 'email' } },
  copyCheck: { kind: 'check', via: 'copied', shard: { ...ACCOUNTS, constraint: 'accounts_age_check' } },
  copyExclusion: { kind: 'exclusion', via: 'copied', shard: { constraint: 'rooms_no_overlap' } },
  parallelAccess: { kind: undefined, via: 'other', shard: undefined },
  nullDistribution: { kind: 'notNull', via: 'other', shard: undefined },
  nullDistributionCopy: { kind: 'notNull', via: 'other', shard: undefined },
  localUnique: { kind: 'unique', via: 'other', shard: { ...ACCOUNTS, constraint: 'accounts_org_email_key' } },
  localForeignKey: { kind: 'foreignKey', via: 'other', shard: { ...ACCOUNTS, constraint: 'accounts_org_id_fkey' } },
  // Under local execution a not-null or check violation's constraint has no shard id: not told from a plain table's.
  localNotNull: { kind: 'notNull', via: 'other', shard: undefined },
  localCheck: { kind: 'check', via: 'other', shard: undefined }
}

t.test('each captured error: its kind, how Citus raised it, and the distributed table\'s names behind it', async (t) => {
  for (const [name, expected] of Object.entries(EXPECTED) as Array<[CaptureName, Expected]>) {
    const error = fields(name)
    t.equal(integrityKind(error), expected.kind, `${name}: kind`)
    t.equal(isRelayedByCitus(error), expected.via === 'relayed', `${name}: relayed from a worker`)
    t.equal(isCopiedByCitus(error), expected.via === 'copied', `${name}: relayed by COPY`)
    const shard = citusShard(error)
    if (expected.shard === undefined) {
      t.equal(shard, undefined, `${name}: not a shard's`)
    } else {
      t.match(shard, { shardId: /^\d+$/, constraint: expected.shard.constraint, table: expected.shard.table, column: expected.shard.column }, `${name}: the names to look up`)
    }
  }
})

t.test('a shard\'s integrity error relayed by COPY comes as XX000: its kind is read from the message', async (t) => {
  const copy = fields('copyUnique')
  t.match(copy, { code: 'XX000', constraint: undefined, detail: 'Key (org_id, email)=(1, ada@example.com) already exists.' }, 'no constraint field; DETAIL kept')
  t.equal(citusKind(copy), 'unique')
  const other = (message: string, routine: string, code = 'XX000'): PgErrorFields =>
    findPgError(nodePgError(message, { severity: 'ERROR', code, routine })) as PgErrorFields
  t.equal(citusKind(other('canceling statement due to lock timeout', 'ReportCopyError')), undefined, 'another error relayed by COPY: left alone (a 500)')
  t.equal(citusKind(other('doppelter Schlüsselwert verletzt Unique-Constraint »accounts_pkey_102188«', 'ReportCopyError')), undefined,
    'a translated message: unknown, left alone')
  t.equal(citusKind(other(copy.message, 'SomethingElse')), undefined, 'an XX000 from elsewhere, whatever its message')
  t.equal(citusKind(other('null values cannot be matched', 'array_position_common', '22004')), undefined, "PostgreSQL's own 22004")
  t.equal(citusKind(fields('relayedUnique')), undefined, 'a code PostgreSQL uses for integrity errors is not Citus\'s to read')
})

t.test('names in the message: quotes and the words between them', async (t) => {
  const relayed = (message: string, code: string): PgErrorFields =>
    findPgError(nodePgError(message, { severity: 'ERROR', code, routine: 'ReportResultError' })) as PgErrorFields
  t.match(citusShard(relayed('duplicate key value violates unique constraint "odd "name"_102008"', '23505')), { constraint: 'odd "name"', shardId: '102008' },
    'a name holding quotes: everything between the first and the last')
  t.match(citusShard(relayed('new row for relation "a_1_102008" violates check constraint "a_1_check_2"', '23514')), { table: 'a_1', constraint: 'a_1_check_2' },
    'a CHECK keeps its name even when it ends in a number: only the table\'s shard id is taken off')
  t.equal(citusShard(relayed('duplicate key value violates unique constraint "users_email_key"', '23505')), undefined, 'no shard id anywhere: not a shard\'s')
  t.equal(citusShard(relayed('ERROR: something else entirely', '23505')), undefined, 'nothing it can read')
  t.match(citusShard(findPgError(nodePgError('x', { severity: 'ERROR', code: '23505', routine: 'ReportResultError', table: 'users_102008' })) as PgErrorFields),
    { shardId: '102008', table: 'users', constraint: undefined }, 'a relay that kept the table field')
})

t.test('local execution: a shard by its constraint and table ending in the same shard id', async (t) => {
  const local = (constraint: string | undefined, table: string | undefined): PgErrorFields =>
    findPgError(nodePgError('x', { severity: 'ERROR', code: '23505', constraint, table })) as PgErrorFields
  t.equal(citusShard(local('users_email_key', 'users')), undefined, "PostgreSQL's own names")
  t.equal(citusShard(local('users_email_key_2', 'users')), undefined, 'a constraint ending in a number, its table not')
  t.equal(citusShard(local('users_email_key_2', 'users_3')), undefined, 'different numbers')
  t.equal(citusShard(local(undefined, 'users_102008')), undefined, 'no constraint')
})

t.test('withoutShardId', async (t) => {
  t.equal(withoutShardId('users_email_key_102008'), 'users_email_key')
  t.equal(withoutShardId('a_1_2'), 'a_1', 'only the last number')
  t.equal(withoutShardId('line\nbreak_7'), 'line\nbreak', 'any characters before it')
  t.equal(withoutShardId('users_email_key'), undefined, 'no shard id')
  t.equal(withoutShardId('_102008'), undefined, 'nothing before it')
  t.equal(withoutShardId('users_email_key102008'), undefined, 'digits without the separator')
})
