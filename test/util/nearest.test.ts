// "Did you mean …?": the edit distance and the nearest names it picks.
import t from 'tap'
import { editDistance, nearest } from '../../src/util/nearest.js'

t.test('editDistance: insertions, deletions and substitutions, one each', async (t) => {
  t.equal(editDistance('users_email_key', 'users_email_key'), 0)
  t.equal(editDistance('users_emial_key', 'users_email_key'), 2, 'two letters swapped: two substitutions')
  t.equal(editDistance('users_email_key ', 'users_email_key'), 1, 'a trailing space')
  t.equal(editDistance('', 'abc'), 3)
  t.equal(editDistance('abc', ''), 3)
  t.equal(editDistance('kitten', 'sitting'), 3)
})

t.test('nearest: within a third of the length (at least 1, at most 5), nearest first then alphabetical, at most three', async (t) => {
  const names = ['users_email_key', 'users_pkey', 'teams_org_id_name_key', 'users_emails_key', 'users_email_kez', 'users_email_ke', 'users_emails_kez']
  t.same(nearest('users_email_key ', names), ['users_email_key', 'users_email_ke', 'users_email_kez'], 'three at most')
  t.same(nearest('users_email_key ', names, 5), ['users_email_key', 'users_email_ke', 'users_email_kez', 'users_emails_key'], 'the nearest (1) and the next nearest (2), not farther (3)')
  t.same(nearest('users_nik_key', ['users_nick_key', 'users_email_key', 'users_pkey']), ['users_nick_key'], 'names alike in their common parts are not all suggested')
  t.same(nearest('invoices_number_key', names), [], 'nothing near')
  t.same(nearest('orders_pkey', names), ['users_pkey'], 'three edits in 11 characters')
  t.same(nearest('ab', ['ba', 'xy', 'abc', 'b']), ['abc', 'b'], 'a short name: within 1')
  t.same(nearest('teams_organisation_id_name_key', ['teams_org_id_name_key', 'teams_organization_id_name_key']), ['teams_organization_id_name_key'], 'never more than 5 edits')
  t.same(nearest('users_pkey', ['users_pkey', 'users_pkey', 'user_pkey']), ['user_pkey'], 'the name itself and repeats left out')
})
