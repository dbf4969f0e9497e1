// The tests on a real Citus cluster (docs/citus.md), in one file so that `npm test` without a
// cluster skips them with one line saying how to run them. CITUS_URL is the coordinator's URL;
// .ci/run starts a cluster and runs this file with CITUS_REQUIRED=1, which makes a skip a failure.
// Each suite works in a schema of its own (cluster.ts).
import t from 'tap'
import { catalog } from './catalog.js'
import { citusUrl, HOW_TO_RUN } from './cluster.js'
import { paths } from './paths.js'
import { races } from './races.js'
import { shapes } from './shapes.js'

const url = citusUrl()
if (url === undefined) {
  t.plan(0, HOW_TO_RUN)
} else {
  t.test('the errors the unit tests read are the cluster\'s', async (t) => { await shapes(t, url) })
  t.test('every path of an integrity error to the application, answered', async (t) => { await paths(t, url) })
  t.test('races and transactions', async (t) => { await races(t, url) })
  t.test('the catalog on the coordinator, and sequences', async (t) => { await catalog(t, url) })
}
