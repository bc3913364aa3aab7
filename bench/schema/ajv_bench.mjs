// bench/schema/ajv_bench.mjs - the ajv@8 peer of schema_bench.c: the same
// measurement with the same inputs. The schema is compiled once (Ajv2020, the
// 2020-12 dialect); one iteration is JSON.parse() of the instance text then the
// compiled validate function. ajv's defaults otherwise: allErrors false (stop
// at the first error), formats ignored unless --format-assert 1, which loads
// ajv-formats ("full" mode).
//
// Usage: node ajv_bench.mjs [--seconds S] [--format-assert 0|1] [--parse-only 0|1]
//                            SCHEMA INSTANCE
// Prints "valid|invalid OPS_PER_SEC ITERATIONS" ("parsed" with --parse-only 1,
// which times JSON.parse alone); exits 1 if the verdict changes.
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const WARMUP_SHARE = 0.15; // untimed warm-up (JIT), as a share of the timed part
const MIN_BATCH_NS = 5_000_000n;

const args = process.argv.slice(2);
let seconds = 1.5;
let formatAssert = false;
let parseOnly = false;
while (args.length > 2 && args[0].startsWith('--')) {
  const [k, v] = args.splice(0, 2);
  if (k === '--seconds') seconds = Number(v);
  else if (k === '--format-assert') formatAssert = v === '1';
  else if (k === '--parse-only') parseOnly = v === '1';
  else throw new Error(`unknown option ${k}`);
}
if (args.length !== 2 || !(seconds > 0)) {
  console.error('usage: node ajv_bench.mjs [--seconds S] [--format-assert 0|1] [--parse-only 0|1] SCHEMA INSTANCE');
  process.exit(1);
}

const ajv = new Ajv2020({ validateFormats: formatAssert });
if (formatAssert) addFormats.default ? addFormats.default(ajv) : addFormats(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(args[0], 'utf8')));
// The instance is read as text once: JSON.parse takes a string, so UTF-8
// decoding is left out of ajv's loop (jansson's loop includes it).
const text = readFileSync(args[1], 'utf8');
let sink = 0; // keeps the parse-only loop from being optimised away
const one = parseOnly ? () => (sink += JSON.parse(text) ? 1 : 0, true) : () => validate(JSON.parse(text));
const verdict = one();

function timed(secs) {
  const budget = BigInt(Math.round(secs * 1e9));
  let n = 1;
  let done = 0;
  const t0 = process.hrtime.bigint();
  let now = t0;
  while (now - t0 < budget) {
    const b0 = now;
    for (let i = 0; i < n; i++) {
      if (one() !== verdict) {
        console.error('ajv_bench: the verdict changed between iterations');
        process.exit(1);
      }
    }
    done += n;
    now = process.hrtime.bigint();
    if (now - b0 < MIN_BATCH_NS) n *= 2;
  }
  return [done, Number(now - t0)];
}

timed(seconds * WARMUP_SHARE);
const [iters, ns] = timed(seconds);
const word = parseOnly ? 'parsed' : verdict ? 'valid' : 'invalid';
console.log(`${word} ${(iters * 1e9 / ns).toFixed(1)} ${iters}`, sink < 0 ? sink : '');
