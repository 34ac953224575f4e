import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ErrorCode, GatewayError, isGatewayError } from '../../../core/errors.ts';
import {
  MAX_BLOCK_DEPTH,
  MAX_INCLUDE_DEPTH,
  parseConfigFile,
  parseConfigText,
  type Directive,
} from '../../../core/config/directive-parser.ts';

/** name + args + children only, for compact comparisons. */
type Shape = [string, ...string[]] | [[string, ...string[]], Shape[]];
function shape(ds: readonly Directive[]): Shape[] {
  return ds.map((d) =>
    d.children.length === 0 ? [d.name, ...d.args] : [[d.name, ...d.args], shape(d.children)],
  );
}

function throwsAt(text: string, code: string, message: string): void {
  assert.throws(
    () => parseConfigText(text, 'conf/x.conf'),
    (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, code);
      assert.equal(err.message, message);
      return true;
    },
  );
}

test('parses leaves, blocks, nesting and locations', () => {
  const text = 'listen 1935;\nvhost __defaultVhost__ {\n    play { gop_cache on; }\n  hls{enabled off;}\n}\n';
  const ds = parseConfigText(text, 'conf/a.conf');
  assert.deepEqual(shape(ds), [
    ['listen', '1935'],
    [['vhost', '__defaultVhost__'], [[['play'], [['gop_cache', 'on']]], [['hls'], [['enabled', 'off']]]]],
  ]);
  const vhost = ds[1] as Directive;
  assert.deepEqual([vhost.file, vhost.line, vhost.col], ['conf/a.conf', 2, 1]);
  const play = vhost.children[0] as Directive;
  assert.deepEqual([play.line, play.col], [3, 5]);
  assert.deepEqual([(play.children[0] as Directive).line, (play.children[0] as Directive).col], [3, 12]);
  const hls = vhost.children[1] as Directive;
  assert.deepEqual([hls.line, hls.col, (hls.children[0] as Directive).col], [4, 3, 7]);
});

test('comments, quoted strings with escapes, several args, CRLF and BOM', () => {
  const text =
    '\ufeff# header comment\r\n' +
    'a "x y;{}#" \'it\\\'s\' "q\\"\\\\\\n\\t\\z" ""; # trailing\r\n' +
    'url rtmp://h/app#frag;\n' +
    "multi 'line1\nline2' b;\n";
  const ds = parseConfigText(text, 'f.conf');
  assert.deepEqual(shape(ds), [
    ['a', 'x y;{}#', "it's", 'q"\\\n\t\\z', ''],
    ['url', 'rtmp://h/app#frag'],
    ['multi', 'line1\nline2', 'b'],
  ]);
  assert.deepEqual([(ds[0] as Directive).line, (ds[0] as Directive).col], [2, 1]);
  assert.deepEqual([(ds[2] as Directive).line, (ds[2] as Directive).col], [4, 1]);
  assert.deepEqual(parseConfigText('', 'e.conf'), []);
  assert.deepEqual(parseConfigText('  # only a comment', 'e.conf'), []);
  // a block written as a leaf-less block, a word followed directly by '{' or '}'
  assert.deepEqual(shape(parseConfigText('a{b c;}', 'f')), [[['a'], [['b', 'c']]]]);
});

test('syntax errors carry file:line:col and ConfSyntax', () => {
  const S = ErrorCode.ConfSyntax;
  throwsAt('listen 1935;\n  name "abc\n\n', S, 'conf/x.conf:2:8: unterminated string');
  throwsAt("a 'x\\'", S, 'conf/x.conf:1:3: unterminated string');
  throwsAt('a b;\n}\n', S, "conf/x.conf:2:1: unexpected '}'");
  throwsAt('v {\n  a 1;\n}\n    }', S, "conf/x.conf:4:5: unexpected '}'");
  throwsAt('v {\n  a 1\n}\n', S, "conf/x.conf:3:1: missing ';' before '}'");
  throwsAt('a 1;\n  listen 1935', S, "conf/x.conf:2:3: missing ';' at end of file (directive 'listen')");
  throwsAt('vhost v {\n  play {\n    gop_cache on;\n  }\n', S, "conf/x.conf:1:9: unclosed '{' at end of file (directive 'vhost')");
  throwsAt('vhost v {\n  play {\n', S, "conf/x.conf:2:8: unclosed '{' at end of file (directive 'play')");
  throwsAt('a 1;\n ;', S, 'conf/x.conf:2:2: empty directive');
  throwsAt('a 1;;', S, 'conf/x.conf:1:5: empty directive');
  throwsAt('\n\n  { a; }', S, "conf/x.conf:3:3: unexpected '{'");
  throwsAt('"" a;', S, 'conf/x.conf:1:1: empty directive name');
  throwsAt('a "b"c;', S, "conf/x.conf:1:6: unexpected 'c' after quoted string");
  throwsAt('a\t"b"x;', S, "conf/x.conf:1:6: unexpected 'x' after quoted string");
  throwsAt('a {'.repeat(MAX_BLOCK_DEPTH + 1), S, `conf/x.conf:1:${3 * MAX_BLOCK_DEPTH + 3}: blocks nested deeper than ${MAX_BLOCK_DEPTH}`);
});

test('never throws anything but GatewayError and never loses a directive name', () => {
  const alphabet = fc.constantFrom('a', 'b', ' ', '\n', ';', '{', '}', '"', "'", '\\', '#', '1', '\t');
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 80 }), (chars) => {
      try {
        const walk = (ds: readonly Directive[]): void => {
          for (const d of ds) {
            assert.ok(d.name.length > 0);
            assert.ok(d.line >= 1 && d.col >= 1);
            walk(d.children);
          }
        };
        walk(parseConfigText(chars.join(''), 'fuzz.conf'));
      } catch (err) {
        assert.ok(isGatewayError(err, ErrorCode.ConfSyntax), String(err));
        assert.match((err as Error).message, /^fuzz\.conf:\d+:\d+: /);
      }
    }),
    { numRuns: 500 },
  );
});

const tmpDirs: string[] = [];
after(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-conf-'));
  tmpDirs.push(dir);
  return dir;
}

test('include splices files in place, relative to the including file, at any depth', () => {
  const dir = tmp();
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'main.conf'), 'listen 1935;\ninclude sub/a.conf;\nvhost v {\n    include sub/b.conf sub/c.conf;\n}\nend 1;\n');
  writeFileSync(join(dir, 'sub', 'a.conf'), '# a\nmax_connections 10;\ninclude nested.conf;\n');
  writeFileSync(join(dir, 'sub', 'nested.conf'), 'deep on;\n');
  writeFileSync(join(dir, 'sub', 'b.conf'), 'play { gop_cache off; }\n');
  writeFileSync(join(dir, 'sub', 'c.conf'), '\n  enabled on;\n');
  const ds = parseConfigFile(join(dir, 'main.conf'));
  assert.deepEqual(shape(ds), [
    ['listen', '1935'],
    ['max_connections', '10'],
    ['deep', 'on'],
    [['vhost', 'v'], [[['play'], [['gop_cache', 'off']]], ['enabled', 'on']]],
    ['end', '1'],
  ]);
  const deep = ds[2] as Directive;
  assert.deepEqual([deep.file, deep.line, deep.col], [join(dir, 'sub', 'nested.conf'), 1, 1]);
  const enabled = (ds[3] as Directive).children[1] as Directive;
  assert.deepEqual([enabled.file, enabled.line, enabled.col], [join(dir, 'sub', 'c.conf'), 2, 3]);
  // parseConfigText leaves include as written
  assert.deepEqual(shape(parseConfigText('include x.conf;', 'f')), [['include', 'x.conf']]);
});

test('include errors name the including file and location', () => {
  const dir = tmp();
  const main = join(dir, 'main.conf');
  const err = (code: string, re: RegExp) => (e: unknown) => {
    assert.ok(e instanceof GatewayError);
    assert.equal(e.code, code);
    assert.match(e.message, re);
    return true;
  };
  writeFileSync(main, 'a 1;\n  include missing.conf;\n');
  assert.throws(() => parseConfigFile(main), err(ErrorCode.ConfInclude, new RegExp(`^${main}:2:3: cannot include 'missing.conf': ENOENT`)));
  writeFileSync(main, 'include;\n');
  assert.throws(() => parseConfigFile(main), err(ErrorCode.ConfInclude, new RegExp(`^${main}:1:1: 'include' needs at least one file$`)));
  writeFileSync(main, 'include x.conf { a; }\n');
  assert.throws(() => parseConfigFile(main), err(ErrorCode.ConfInclude, /:1:1: 'include' cannot have a block$/));
  // a cycle: main → loop.conf → main
  writeFileSync(main, 'include loop.conf;\n');
  writeFileSync(join(dir, 'loop.conf'), '\n\ninclude main.conf;\n');
  assert.throws(
    () => parseConfigFile(main),
    err(ErrorCode.ConfInclude, new RegExp(`^${join(dir, 'loop.conf')}:3:1: include cycle: 'main.conf' is already being included$`)),
  );
  // a syntax error inside an included file is located in that file
  writeFileSync(main, 'include bad.conf;\n');
  writeFileSync(join(dir, 'bad.conf'), 'a {\n}\n}\n');
  assert.throws(() => parseConfigFile(main), err(ErrorCode.ConfSyntax, new RegExp(`^${join(dir, 'bad.conf')}:3:1: unexpected '}'$`)));
  // unreadable top file
  assert.throws(() => parseConfigFile(join(dir, 'none.conf')), err(ErrorCode.ConfInclude, /none\.conf: cannot read: ENOENT/));
});

test('include depth is bounded', () => {
  const dir = tmp();
  for (let i = 0; i < MAX_INCLUDE_DEPTH + 2; i++) writeFileSync(join(dir, `f${i}.conf`), `include f${i + 1}.conf;\n`);
  writeFileSync(join(dir, `f${MAX_INCLUDE_DEPTH + 2}.conf`), 'a 1;\n');
  assert.throws(
    () => parseConfigFile(join(dir, 'f0.conf')),
    (e: unknown) =>
      isGatewayError(e, ErrorCode.ConfInclude) &&
      e.message ===
        `${join(dir, `f${MAX_INCLUDE_DEPTH - 1}.conf`)}:1:1: cannot include 'f${MAX_INCLUDE_DEPTH}.conf': includes nested deeper than ${MAX_INCLUDE_DEPTH}`,
  );
  // exactly MAX_INCLUDE_DEPTH files deep is fine
  writeFileSync(join(dir, `f${MAX_INCLUDE_DEPTH - 1}.conf`), 'a 1;\n');
  assert.deepEqual(shape(parseConfigFile(join(dir, 'f0.conf'))), [['a', '1']]);
});
