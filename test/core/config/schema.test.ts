import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigFile, type Directive } from '../../../core/config/directive-parser.ts';
import { parseBySpec, SCHEMA, specOf, type DirectiveSpec } from '../../../core/config/schema.ts';

const entries = Object.entries(SCHEMA) as [string, DirectiveSpec][];

test('every default parses with its own value parser', () => {
  for (const [key, spec] of entries) {
    if (spec.default === undefined) continue;
    const r = parseBySpec(spec, [spec.default]);
    assert.ok('value' in r, `${key}: ${JSON.stringify(r)}`);
  }
});

test('the table is consistent: parents are blocks, moved keys point at same-kind leaves, docs are set', () => {
  for (const [key, spec] of entries) {
    assert.ok(spec.doc.length > 0, key);
    const dot = key.lastIndexOf('.');
    if (dot > 0) assert.equal(specOf(key.slice(0, dot))?.kind, 'block', `parent of ${key}`);
    if (spec.movedTo !== undefined) {
      const target = specOf(spec.movedTo);
      assert.ok(target !== undefined && target.movedTo === undefined, key);
      assert.equal(target.kind, spec.kind, key);
      assert.equal(spec.default, undefined, `${key}: a moved key takes its target's default`);
    }
    if (spec.kind === 'enum') assert.ok(spec.movedTo !== undefined || (spec.values ?? []).length > 0, key);
    if (spec.kind === 'block') assert.equal(spec.default, undefined, key);
  }
  assert.equal(specOf('toString'), undefined);
  assert.equal(specOf('vhost.exec'), undefined);
});

test('parseBySpec checks argument counts', () => {
  assert.deepEqual(parseBySpec(SCHEMA.max_connections, []), { error: 'expected 1 argument, got 0' });
  assert.deepEqual(parseBySpec(SCHEMA['stream_caster.listen'], ['1', '2']), { error: 'expected one address' });
  assert.deepEqual(parseBySpec(SCHEMA.listen, []), { error: 'expected one or more addresses' });
  assert.deepEqual(parseBySpec(SCHEMA.vhost, ['x']), { error: 'is a block' });
  assert.deepEqual(parseBySpec(SCHEMA['vhost.play.queue_length'], ['1.5']), { value: 1500 });
});

test('conf/full.conf sets every directive of the table to its default', () => {
  const file = new URL('../../../conf/full.conf', import.meta.url).pathname;
  const found = new Map<string, readonly string[]>();
  const walk = (ds: readonly Directive[], prefix: string): void => {
    for (const d of ds) {
      const key = prefix === '' ? d.name : `${prefix}.${d.name}`;
      if (!found.has(key)) found.set(key, d.args);
      walk(d.children, key);
    }
  };
  walk(parseConfigFile(file), '');
  for (const [key, spec] of entries) {
    if (spec.movedTo !== undefined) {
      assert.ok(!found.has(key), `${key} is deprecated; full.conf should use ${spec.movedTo}`);
      continue;
    }
    assert.ok(found.has(key), `full.conf lacks ${key}`);
    if (spec.default !== undefined) assert.deepEqual(found.get(key), [spec.default], `${key} default`);
  }
  for (const key of found.keys()) assert.ok(specOf(key) !== undefined, `full.conf has ${key}, not in the table`);
});
