// prismaFieldNames: the 409's fields are the Prisma model's field names (`@map`), on the tables of
// the models (`@@map`), read from the data model of a client generated from a real Prisma 7
// schema, through @prisma/adapter-pg on real PostgreSQL and a real Fastify app. The adapter's
// errors name only the index (or constraint) and, for a unique violation, the table: the catalog
// gives the columns, prismaFieldNames their fields. The same column name (`user_name`) is
// another field in each table.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PrismaPg } from '@prisma/adapter-pg'
import { DriverAdapterError } from '@prisma/driver-adapter-utils'
import fastifyPgConflict, { InvalidOptionError, prismaFieldNames } from '../../src/index.js'
import { buildApp } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'
import { thrownBy } from './helpers.js'
import { generatePrismaClient } from './prisma-generate.js'

const SCHEMA = `
generator client {
  provider = "prisma-client-js"
  output   = "./client"
}

// Prisma 7's default generator, which writes TypeScript (not loaded here: the test runner does not
// compile it under node_modules) and exports no Prisma.dmmf.
generator ts {
  provider = "prisma-client"
  output   = "./ts-client"
}

datasource db {
  provider = "postgresql"
}

model Account {
  id     Int    @id @default(autoincrement())
  handle String @unique(map: "accounts_user_name_key") @map("user_name")
  email  String @unique(map: "accounts_email_key") @map("email_address")
  posts  Post[]
  @@map("accounts")
}

model Post {
  id         Int     @id @default(autoincrement())
  authorId   Int     @map("author_id")
  authorName String  @map("user_name")
  author     Account @relation(fields: [authorId], references: [id], map: "posts_author_id_fkey")
  @@unique([authorId, authorName], map: "posts_author_id_user_name_key")
  @@map("posts")
}

// No @@map: its table is the model's name.
model Tag {
  id    Int    @id
  label String @map("tag_label")
}
`

// What \`prisma migrate\` makes of SCHEMA (its unique constraints are unique indexes).
const TABLES = `
  CREATE TABLE accounts (id serial PRIMARY KEY, user_name text NOT NULL, email_address text NOT NULL);
  CREATE UNIQUE INDEX accounts_user_name_key ON accounts (user_name);
  CREATE UNIQUE INDEX accounts_email_key ON accounts (email_address);
  CREATE TABLE posts (id serial PRIMARY KEY, author_id int NOT NULL, user_name text NOT NULL,
    CONSTRAINT posts_author_id_fkey FOREIGN KEY (author_id) REFERENCES accounts (id));
  CREATE UNIQUE INDEX posts_author_id_user_name_key ON posts (author_id, user_name);
  INSERT INTO accounts (user_name, email_address) VALUES ('ada', 'ada@example.com');
  INSERT INTO posts (author_id, user_name) VALUES (1, 'Ada L.');
`

interface Generated {
  Prisma: { dmmf: object }
  PrismaClient: new (options: { adapter: PrismaPg }) => Client
}
interface Client {
  account: {
    create: (args: { data: { handle: string, email: string } }) => Promise<unknown>
    delete: (args: { where: { id: number } }) => Promise<unknown>
  }
  post: { create: (args: { data: { authorId: number, authorName: string } }) => Promise<unknown> }
  $extends: (extension: object) => object
  $disconnect: () => Promise<void>
}

const db = await testDatabase(t, 'prisma_fields')
await db.exec(TABLES)
const generated = await generatePrismaClient(t, 'fields', SCHEMA)
const { Prisma, PrismaClient } = generated.client as Generated
// Prisma and the plugin share one pg.Pool (the adapter leaves a pool it was given open).
const prisma = new PrismaClient({ adapter: new PrismaPg(db.pool, { schema: db.schema }) })
t.teardown(() => prisma.$disconnect())

t.test("the field names come from the generated client's data model, whichever way it is handed over", async (t) => {
  const cases = [
    ['Prisma.dmmf (prisma-client-js)', Prisma.dmmf],
    ['the PrismaClient (prisma-client exports no dmmf)', prisma],
    ['a PrismaClient extended with $extends', prisma.$extends({ name: 'x' })]
  ] as const
  for (const [what, source] of cases) {
    const fieldName = prismaFieldNames(source)
    t.same([fieldName('user_name', 'accounts'), fieldName('email_address', 'accounts'), fieldName('id', 'accounts')], ['handle', 'email', 'id'], `${what}: accounts`)
    t.same([fieldName('author_id', 'posts'), fieldName('user_name', 'posts')], ['authorId', 'authorName'], `${what}: posts, whose user_name is another field`)
    t.equal(fieldName('tag_label', 'Tag'), 'label', `${what}: a model without @@map is the table of its name`)
    t.equal(fieldName('email_address'), 'email', `${what}: without the table, a column every model names alike`)
    t.equal(fieldName('user_name'), 'user_name', `${what}: but not one the models name differently`)
    t.same([fieldName('author', 'posts'), fieldName('posts', 'accounts')], ['author', 'posts'], `${what}: a relation field is no column`)
    t.same([fieldName('user_name', 'audit_log'), fieldName('nickname', 'accounts')], ['user_name', 'nickname'], `${what}: a table or column Prisma does not know keeps its name`)
  }
})

t.test("the prisma-client generator's client keeps the same data model, where prismaFieldNames reads it", async (t) => {
  // Its client class is getPrismaClient(config) of @prisma/client/runtime/client, as prisma-client-js's
  // is: the instance keeps config.runtimeDataModel as _runtimeDataModel.
  const source = await readFile(join(generated.dir, 'ts-client', 'internal', 'class.ts'), 'utf8')
  t.match(source, /return runtime\.getPrismaClient\(config\)/, 'the class is made by the runtime shared with prisma-client-js')
  const json = /config\.runtimeDataModel = JSON\.parse\(("(?:[^"\\]|\\.)*")\)/.exec(source)?.[1]
  t.ok(json, 'from its runtimeDataModel')
  t.same(JSON.parse(JSON.parse(json ?? '""') as string), (prisma as unknown as { _runtimeDataModel: unknown })._runtimeDataModel,
    "which is the data model the prisma-client-js client keeps")
  t.notMatch(await readFile(join(generated.dir, 'ts-client', 'client.ts'), 'utf8'), /\bdmmf\b/, 'and it exports no dmmf: the client is what to pass')
})

t.test('what is not a Prisma data model is refused at once', async (t) => {
  for (const [what, source] of [
    ['a plain object', {}],
    ['null', null],
    ['a dmmf whose models are not models', { datamodel: { models: [{ name: 'User' }] } }],
    ['a dmmf without models', { datamodel: null }],
    ['a client whose data model has a field without a name', { _runtimeDataModel: { models: { User: { dbName: null, fields: [{ dbName: 'x' }] } } } }],
    ['a model whose dbName is not a string', { models: { User: { dbName: 7, fields: [] } } }],
    ['a model that is not an object', { models: { User: 'users' } }],
    ['a field that is not an object', { models: { User: { fields: ['id'] } } }],
    ['a models array', { models: [] }],
    ['null models', { models: null }],
    ['a null model', { models: { User: null } }],
    ['a null field', { models: { User: { fields: [null] } } }],
    ['a field whose dbName is not a string', { models: { User: { fields: [{ name: 'id', dbName: 1 }] } } }],
    ['a string', 'Prisma.dmmf']
  ] as const) {
    t.throws(() => prismaFieldNames(source as object), InvalidOptionError, what)
  }
  t.throws(() => prismaFieldNames({}), /prismaFieldNames\(\) takes Prisma\.dmmf \(prisma-client-js\) or a PrismaClient/, 'saying what it takes')
  // Two models on one table name in two schemas (multiSchema), mapping a column differently.
  const fieldName = prismaFieldNames({ models: { A: { dbName: 'users', schema: 'a', fields: [{ name: 'login', dbName: 'user_name' }] }, B: { dbName: 'users', schema: 'b', fields: [{ name: 'handle', dbName: 'user_name' }] } } })
  t.equal(fieldName('user_name', 'users'), 'user_name', 'a column two models of one table name map differently keeps its name')
})

t.test("through a Fastify app: the 409's fields are Prisma's field names", async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, fieldName: prismaFieldNames(Prisma.dmmf) })
  app.post<{ Body: { handle: string, email: string } }>('/accounts', async (request, reply) => {
    await prisma.account.create({ data: request.body })
    return reply.code(201).send({ ok: true })
  })
  app.post<{ Body: { authorId: number, authorName: string } }>('/posts', async (request, reply) => {
    await prisma.post.create({ data: request.body })
    return reply.code(201).send({ ok: true })
  })
  app.delete<{ Params: { id: string } }>('/accounts/:id', async (request, reply) => {
    await prisma.account.delete({ where: { id: Number(request.params.id) } })
    return reply.code(204).send()
  })
  await app.ready()

  for (const [url, payload, fields] of [
    ['/accounts', { handle: 'ada', email: 'grace@example.com' }, ['handle']],
    ['/accounts', { handle: 'grace', email: 'ada@example.com' }, ['email']],
    ['/posts', { authorId: 1, authorName: 'Ada L.' }, ['authorId', 'authorName']]
  ] as const) {
    const response = await app.inject({ method: 'POST', url, payload })
    const body = response.json()
    t.equal(response.statusCode, 409, `${url} ${JSON.stringify(payload)}: 409`, { body })
    t.match(body, { code: 'PG_UNIQUE_VIOLATION' }, `${url}: a unique violation`)
    t.same(body.fields, fields, `${url}: fields ${fields.join(', ')}`)
  }

  const missing = await app.inject({ method: 'POST', url: '/posts', payload: { authorId: 999, authorName: 'Nobody' } })
  t.equal(missing.statusCode, 422)
  t.match(missing.json(), { code: 'PG_FOREIGN_KEY_VIOLATION', fields: ['authorId'] }, 'a post of no account: its foreign key, by the constraint name alone, is the field authorId')
  // Prisma drops DETAIL, which tells this from a missing row; its message names the referenced table.
  const referenced = await app.inject({ method: 'DELETE', url: '/accounts/1' })
  t.equal(referenced.statusCode, 409)
  t.match(referenced.json(), { code: 'PG_STILL_REFERENCED', fields: ['id'] }, 'an account still referenced: the referenced key, on accounts, is the field id')
  const created = await app.inject({ method: 'POST', url: '/posts', payload: { authorId: 1, authorName: 'Ada Lovelace' } })
  t.equal(created.statusCode, 201, 'another post is inserted')
})

t.test('without a pool (no catalog) the index name tells no column: no fields, still a 409', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { catalog: false, fieldName: prismaFieldNames(prisma) })
  app.post('/posts', async () => { await prisma.post.create({ data: { authorId: 1, authorName: 'Ada L.' } }) })
  await app.ready()
  const response = await app.inject({ method: 'POST', url: '/posts' })
  t.equal(response.statusCode, 409)
  t.same(response.json().fields, [])
})

// The adapter passes on DETAIL's columns (constraint.fields) only when PostgreSQL named no
// constraint, which no table here can make happen: the summary is built as mapDriverError in
// @prisma/adapter-pg (dist/index.mjs, 7.10.1) builds it.
t.test("Prisma's summary naming the columns: mapped on its table", async (t) => {
  const summary = { originalCode: '23505', originalMessage: 'duplicate key value violates unique constraint', kind: 'UniqueConstraintViolation', constraint: { fields: ['author_id', 'user_name'] }, table: 'posts' }
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { catalog: false, fieldName: prismaFieldNames(Prisma.dmmf) })
  app.post('/posts', async () => {
    throw Object.assign(new Error('Unique constraint failed'), { code: 'P2002', meta: { driverAdapterError: new DriverAdapterError(summary as never), modelName: 'Post' } })
  })
  await app.ready()
  t.same((await app.inject({ method: 'POST', url: '/posts' })).json().fields, ['authorId', 'authorName'])
})

t.test("Prisma's error names the index and the table, and the model, but no column", async (t) => {
  const error = await thrownBy(() => prisma.post.create({ data: { authorId: 1, authorName: 'Ada L.' } }))
  t.match(error, {
    code: 'P2002',
    meta: { modelName: 'Post', driverAdapterError: { cause: { constraint: { index: 'posts_author_id_user_name_key' }, table: 'posts' } } }
  })
})
