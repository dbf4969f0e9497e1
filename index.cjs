'use strict'
// CommonJS entry: require('fastify-pg-conflict') is the plugin itself, carrying every named export
// (and `default`), as Fastify's own plugins are. The code is in dist/cjs, built from src/.
const lib = require('./dist/cjs/index.js')

module.exports = Object.assign(lib.default, lib)
