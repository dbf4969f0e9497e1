// The tags of a constraint's comment, as a DBA writes them and as they go wrong: what is read,
// what is left alone, and that nothing in a comment can do more than be ignored with a reason.
import t from 'tap'
import { MAX_COMMENT_LENGTH, MAX_MESSAGE_LENGTH, parseComment } from '../../src/core/comments.js'

t.test('@message and @fields, among free text and other tools\' tags', async (t) => {
  t.same(parseComment('@message An account with this email exists already.\n@fields email'),
    { message: 'An account with this email exists already.', fields: ['email'], problems: [] })
  t.same(parseComment('Who may sign up twice: nobody.\r\n  @fields  orgId , teamName \r\n@omit create\n@name team\nSee the wiki.'),
    { message: undefined, fields: ['orgId', 'teamName'], problems: [] }, 'CRLF, blanks, free text and PostGraphile\'s tags around them')
  t.same(parseComment('@field email')?.fields, ['email'], '@field is @fields')
  t.same(parseComment('@error The user has to be at least 18 years of age.')?.message, 'The user has to be at least 18 years of age.',
    '@error, the tag of PostGraphile\'s constraint-error-tags, is @message')
  t.same(parseComment('@message Bonjour, « déjà pris » 👋')?.message, 'Bonjour, « déjà pris » 👋', 'any language')
  t.same(parseComment('@fields prénom, $ref, a.b, x-y')?.fields, ['prénom', '$ref', 'a.b', 'x-y'])
})

t.test('comments with nothing of ours are nothing', async (t) => {
  for (const text of [null, undefined, '', 'Free text only', 'mail dba@example.com', '@omit\n@name person', '@messages plural', '@message: with a colon']) {
    t.equal(parseComment(text), undefined, JSON.stringify(text))
  }
})

t.test('what a tag of ours gets wrong is ignored, with the reason, never thrown', async (t) => {
  const long = 'x'.repeat(MAX_MESSAGE_LENGTH + 1)
  t.same(parseComment(`@message ${long}`), { message: undefined, fields: undefined, problems: [`@message is longer than ${MAX_MESSAGE_LENGTH} characters: ignored`] })
  t.same(parseComment(`@message ${'x'.repeat(MAX_MESSAGE_LENGTH)}`)?.message?.length, MAX_MESSAGE_LENGTH, 'the cap itself is allowed')
  t.same(parseComment('@message')?.problems, ['@message has no text: ignored'])
  t.same(parseComment('@message first\n@error second'), { message: 'first', fields: undefined, problems: ['@error is given more than once: only the first counts'] })
  t.same(parseComment('@fields email, <script>')?.problems, ['@fields has "<script>", which is not a field name (a letter, _ or $, then letters, digits, _, $, - or .; at most 63): ignored'])
  t.same(parseComment('@fields email,')?.problems, ['@fields has an empty field name: ignored'], 'a trailing comma')
  t.same(parseComment('@fields')?.problems, ['@fields has an empty field name: ignored'])
  t.same(parseComment('@fields 1st')?.fields, undefined, 'not starting with a digit')
  t.same(parseComment(`@fields ${'a'.repeat(64)}`)?.fields, undefined, 'at most 63 characters')
  t.same(parseComment(`@fields ${Array.from({ length: 33 }, (_, i) => `f${i}`).join(',')}`)?.problems, ['@fields names more than 32 fields: ignored'])
  t.same(parseComment('@fields a b')?.fields, undefined, 'a blank inside a name')
  const settings = parseComment('@message ok\n@fields a')
  t.ok(Object.isFrozen(settings) && Object.isFrozen(settings?.fields), 'shared by every answer, so frozen')
})

t.test('a huge comment: only its whole lines within the limit are read', async (t) => {
  const head = '@message Taken.\n' + 'free text '.repeat(100) + '\n'
  const huge = head + 'y'.repeat(MAX_COMMENT_LENGTH) + '\n@fields late'
  const settings = parseComment(huge.slice(0, MAX_COMMENT_LENGTH + 1)) // as the catalog query cuts it
  t.same(settings, { message: 'Taken.', fields: undefined, problems: [`the comment is longer than ${MAX_COMMENT_LENGTH} characters: only the lines within them are read`] })
  const cutTag = 'z'.repeat(MAX_COMMENT_LENGTH - 20) + '\n@message a sentence cut in the middle by the limit'
  t.equal(parseComment(cutTag.slice(0, MAX_COMMENT_LENGTH + 1))?.message, undefined, 'a tag line the limit cuts is not read half')
  t.equal(parseComment('@message ' + 'w'.repeat(MAX_COMMENT_LENGTH * 4))?.message, undefined, 'one endless line: nothing')
  const start = performance.now()
  t.equal(parseComment(`@message a${' '.repeat(MAX_COMMENT_LENGTH - 20)}b`)?.problems[0], `@message is longer than ${MAX_MESSAGE_LENGTH} characters: ignored`)
  t.equal(parseComment('@message a' + ' \t'.repeat(3000) + '\r')?.message, 'a', 'trailing blanks and a CR trimmed')
  t.ok(performance.now() - start < 50, 'in linear time: a line of blanks does not make the pattern backtrack')
})
