// bench/schema/gen_cases.mjs - writes the benchmark's schemas and instances
// into cases/ (committed; rerun only to change them). Each case NAME has
// NAME.schema.json, NAME.valid.json and NAME.invalid.json. Every invalid
// instance breaks exactly one rule, placed deep or late so that both
// validators walk most of the document before they find it.
import { writeFileSync } from 'node:fs';

const D = 'https://json-schema.org/draft/2020-12/schema';
const dir = new URL('./cases/', import.meta.url);
// Schemas are pretty-printed; instances compact, as events arrive on the wire.
const put = (name, kind, v) => writeFileSync(new URL(`${name}.${kind}.json`, dir),
  (kind === 'schema' ? JSON.stringify(v, null, 1) : JSON.stringify(v)) + '\n');

// (1) small flat object
put('small', 'schema', {
  $schema: D, type: 'object', additionalProperties: false, required: ['id', 'name'],
  properties: {
    id: { type: 'integer', minimum: 1 }, name: { type: 'string', minLength: 1, maxLength: 64 },
    active: { type: 'boolean' }, score: { type: 'number', minimum: 0, maximum: 100 },
    tag: { enum: ['red', 'green', 'blue'] },
  },
});
const small = { id: 42, name: 'alice', active: true, score: 87.5, tag: 'green' };
put('small', 'valid', small);
put('small', 'invalid', { ...small, tag: 'purple' });

// (2) an `order.updated` event (the seed's example topic) built from $refs into $defs
const money = { type: 'object', additionalProperties: false, required: ['currency', 'amountMinor'],
  properties: { currency: { type: 'string', pattern: '^[A-Z]{3}$' }, amountMinor: { type: 'integer', minimum: 0 } } };
put('order', 'schema', {
  $schema: D, $id: 'https://bench.example/order.updated.json', type: 'object',
  required: ['orderId', 'status', 'customer', 'items', 'total', 'updatedAt'], additionalProperties: false,
  properties: {
    orderId: { $ref: '#/$defs/uuid' }, status: { enum: ['pending', 'paid', 'shipped', 'delivered', 'cancelled'] },
    customer: { $ref: '#/$defs/customer' }, items: { type: 'array', minItems: 1, maxItems: 100, items: { $ref: '#/$defs/lineItem' } },
    total: { $ref: '#/$defs/money' }, shipping: { $ref: '#/$defs/address' }, billing: { $ref: '#/$defs/address' },
    updatedAt: { type: 'string', format: 'date-time' }, note: { type: 'string', maxLength: 500 },
  },
  $defs: {
    uuid: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' },
    money,
    customer: { type: 'object', required: ['id', 'email'], properties: { id: { $ref: '#/$defs/uuid' },
      email: { type: 'string', format: 'email', maxLength: 254 }, name: { type: 'string', maxLength: 100 } } },
    address: { type: 'object', required: ['line1', 'city', 'country'], additionalProperties: false, properties: {
      line1: { type: 'string', minLength: 1 }, line2: { type: 'string' }, city: { type: 'string', minLength: 1 },
      postcode: { type: 'string', maxLength: 16 }, country: { type: 'string', pattern: '^[A-Z]{2}$' } } },
    lineItem: { type: 'object', required: ['sku', 'qty', 'price'], additionalProperties: false, properties: {
      sku: { type: 'string', pattern: '^[A-Z0-9-]{4,32}$' }, qty: { type: 'integer', minimum: 1, maximum: 1000 },
      price: { $ref: '#/$defs/money' } } },
  },
});
const addr = { line1: '12 Rue de Rivoli', city: 'Paris', postcode: '75004', country: 'FR' };
const order = {
  orderId: '0b5f3c8e-2f7a-4a51-9d7e-6c2b1a0f9e33', status: 'paid',
  customer: { id: '7d1e2c3b-4a5f-4e6d-8c7b-9a0f1e2d3c4b', email: 'alice@example.com', name: 'Alice Martin' },
  items: [1, 2, 3].map((i) => ({ sku: `SKU-000${i}`, qty: i, price: { currency: 'EUR', amountMinor: 1999 * i } })),
  total: { currency: 'EUR', amountMinor: 11994 }, shipping: addr, billing: addr, updatedAt: '2026-11-28T06:45:06Z',
};
put('order', 'valid', order);
const badOrder = structuredClone(order);
badOrder.items[2].qty = 0;
put('order', 'invalid', badOrder);

// (3) 50 properties: patterns and formats (format is an annotation here)
const fmts = [['date-time', '2026-11-28T06:45:06.123Z'], ['date', '2026-11-28'], ['email', 'bob.smith@example.org'],
  ['uuid', 'f47ac10b-58cc-4372-a567-0e02b2c3d479'], ['uri', 'https://example.com/a/b?c=d#e'], ['ipv4', '192.168.10.254'],
  ['hostname', 'api.eu-west-1.example.com'], ['time', '06:45:06Z'], ['ipv6', '2001:db8::8a2e:370:7334'], ['duration', 'P1DT2H']];
const pats = [['^[a-z][a-z0-9_]{2,31}$', 'user_name_01'], ['^\\+?[0-9]{7,15}$', '+33612345678'], ['^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$', 'FR7630006000011234567890189'],
  ['^#[0-9a-fA-F]{6}$', '#1a2B3c'], ['^v[0-9]+\\.[0-9]+\\.[0-9]+$', 'v12.4.1']];
const props = {}; const wide = {}; const required = [];
for (let i = 0; i < 50; i++) {
  const k = `f${String(i).padStart(2, '0')}`;
  required.push(k);
  if (i % 5 === 0) { const [f, v] = fmts[(i / 5) % fmts.length]; props[k] = { type: 'string', format: f }; wide[k] = v; }
  else if (i % 5 === 1 || i % 5 === 2) { const [p, v] = pats[i % pats.length]; props[k] = { type: 'string', pattern: p, maxLength: 64 }; wide[k] = v; }
  else if (i % 5 === 3) { props[k] = { type: 'integer', minimum: 0, maximum: 1e6 }; wide[k] = i * 1000; }
  else { const [f, v] = fmts[(i + 3) % fmts.length]; props[k] = { type: 'string', format: f, minLength: 1 }; wide[k] = v; }
}
put('wide50', 'schema', { $schema: D, type: 'object', properties: props, required, additionalProperties: false });
put('wide50', 'valid', wide);
const badWide = { ...wide }; badWide.f46 = 'v12.4'; // a late pattern (phone number) fails
put('wide50', 'invalid', badWide);

// (4) 1,000-item array of small objects
put('array1000', 'schema', { $schema: D, type: 'array', maxItems: 5000, items: { type: 'object', required: ['id', 'name', 'price'],
  additionalProperties: false, properties: { id: { type: 'integer', minimum: 1 }, name: { type: 'string', minLength: 1, maxLength: 40 },
    price: { type: 'number', minimum: 0 }, inStock: { type: 'boolean' }, tags: { type: 'array', maxItems: 5, items: { type: 'string' } } } } });
const arr = Array.from({ length: 1000 }, (_, i) => ({ id: i + 1, name: `item ${i + 1}`, price: (i % 97) + 0.99, inStock: i % 3 !== 0, tags: ['a', 'b'] }));
put('array1000', 'valid', arr);
const badArr = structuredClone(arr); badArr[999].price = -1; // the last item fails
put('array1000', 'invalid', badArr);
