/**
 * SRS config syntax → Directive tree (SRS trunk/src/app/srs_app_config.cpp: SrsConfDirective, SrsConfigBuffer;
 * the syntax is nginx's).
 *
 *   name arg1 arg2;                 a leaf directive
 *   name args { children }          a block
 *   "double" or 'single' quoted     one argument; may hold spaces, ';', '{', '#', newlines;
 *                                   backslash escapes \" \' \\ \n \t \r (any other \x is kept as written)
 *   # comment                       to end of line (a '#' inside a bare word is part of the word, as in nginx)
 *   include a.conf [b.conf ...];    (parseConfigFile / resolveIncludes) replaced in place by the directives of
 *                                   each file, paths relative to the including file; nesting bounded
 *
 * Every error is a GatewayError (ConfSyntax, or ConfInclude for include and read failures) whose message is
 * exactly `file:line:col: message`, line and column 1-based (a tab counts as one column).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ErrorCode, GatewayError } from '../errors.ts';

/** One directive: `name args;` (children empty) or `name args { children }`; located where its name starts. */
export interface Directive {
  readonly name: string;
  readonly args: readonly string[];
  readonly children: readonly Directive[];
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** Max depth of nested includes (a.conf includes b.conf includes ...), counting the top file. */
export const MAX_INCLUDE_DEPTH = 8;
/** Max block nesting; real confs use 4 (vhost { transcode { engine { vfilter { } } } }). */
export const MAX_BLOCK_DEPTH = 32;
/** Max size of one config file; SRS's full.conf is about 100 KiB. */
export const MAX_CONFIG_FILE_SIZE = 4 * 1024 * 1024;

type TokenKind = 'word' | ';' | '{' | '}';
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly line: number;
  readonly col: number;
}

const ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" };

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f' || ch === '\v';
}

function syntaxError(file: string, line: number, col: number, message: string): GatewayError {
  return new GatewayError(ErrorCode.ConfSyntax, `${file}:${line}:${col}: ${message}`);
}

/** Splits config text into words (bare or quoted) and the punctuation `;`, `{`, `}`. */
function tokenize(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // UTF-8 BOM
  let line = 1;
  let col = 1;
  const advance = (): void => {
    if (text[i] === '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
    i++;
  };
  while (i < n) {
    const ch = text[i] as string;
    if (isSpace(ch)) {
      advance();
      continue;
    }
    if (ch === '#') {
      while (i < n && text[i] !== '\n') advance();
      continue;
    }
    const startLine = line;
    const startCol = col;
    if (ch === ';' || ch === '{' || ch === '}') {
      advance();
      tokens.push({ kind: ch, text: ch, line: startLine, col: startCol });
      continue;
    }
    if (ch === '"' || ch === "'") {
      advance();
      let out = '';
      let closed = false;
      while (i < n) {
        const c = text[i] as string;
        if (c === '\\' && i + 1 < n) {
          const e = text[i + 1] as string;
          out += ESCAPES[e] ?? `\\${e}`;
          advance();
          advance();
          continue;
        }
        advance();
        if (c === ch) {
          closed = true;
          break;
        }
        out += c;
      }
      if (!closed) throw syntaxError(file, startLine, startCol, 'unterminated string');
      const next = text[i];
      if (next !== undefined && !isSpace(next) && next !== ';' && next !== '{' && next !== '}' && next !== '#') {
        throw syntaxError(file, line, col, `unexpected '${next}' after quoted string`);
      }
      tokens.push({ kind: 'word', text: out, line: startLine, col: startCol });
      continue;
    }
    const start = i;
    while (i < n) {
      const c = text[i] as string;
      if (isSpace(c) || c === ';' || c === '{' || c === '}') break;
      advance();
    }
    tokens.push({ kind: 'word', text: text.slice(start, i), line: startLine, col: startCol });
  }
  return tokens;
}

interface OpenBlock {
  readonly children: Directive[];
  readonly brace: Token;
  readonly name: string;
}

/**
 * Parses one file's text into its top-level directives. `include` directives are returned as written (see
 * parseConfigFile / resolveIncludes). Pure: reads no file.
 * @throws GatewayError(ConfSyntax) `file:line:col: message` for: unterminated string, unexpected '}',
 *   missing ';' before '}', missing ';' or unclosed '{' at end of file, empty directive, unexpected '{'.
 */
export function parseConfigText(text: string, file: string): Directive[] {
  const root: Directive[] = [];
  const stack: OpenBlock[] = [];
  let pending: Token[] = [];
  const current = (): Directive[] => (stack.length > 0 ? (stack[stack.length - 1] as OpenBlock).children : root);
  const make = (words: readonly Token[], children: Directive[]): Directive => {
    const head = words[0] as Token;
    return { name: head.text, args: words.slice(1).map((w) => w.text), children, file, line: head.line, col: head.col };
  };
  for (const tok of tokenize(text, file)) {
    switch (tok.kind) {
      case 'word':
        if (pending.length === 0 && tok.text === '') throw syntaxError(file, tok.line, tok.col, 'empty directive name');
        pending.push(tok);
        break;
      case ';':
        if (pending.length === 0) throw syntaxError(file, tok.line, tok.col, 'empty directive');
        current().push(make(pending, []));
        pending = [];
        break;
      case '{': {
        if (pending.length === 0) throw syntaxError(file, tok.line, tok.col, "unexpected '{'");
        if (stack.length >= MAX_BLOCK_DEPTH) {
          throw syntaxError(file, tok.line, tok.col, `blocks nested deeper than ${MAX_BLOCK_DEPTH}`);
        }
        const children: Directive[] = [];
        const d = make(pending, children);
        current().push(d);
        stack.push({ children, brace: tok, name: d.name });
        pending = [];
        break;
      }
      case '}':
        if (pending.length > 0) throw syntaxError(file, tok.line, tok.col, "missing ';' before '}'");
        if (stack.length === 0) throw syntaxError(file, tok.line, tok.col, "unexpected '}'");
        stack.pop();
        break;
    }
  }
  if (pending.length > 0) {
    const head = pending[0] as Token;
    throw syntaxError(file, head.line, head.col, `missing ';' at end of file (directive '${head.text}')`);
  }
  const open = stack[stack.length - 1];
  if (open !== undefined) {
    throw syntaxError(file, open.brace.line, open.brace.col, `unclosed '{' at end of file (directive '${open.name}')`);
  }
  return root;
}

function includeError(d: Directive, message: string, cause?: unknown): GatewayError {
  return new GatewayError(ErrorCode.ConfInclude, `${d.file}:${d.line}:${d.col}: ${message}`, { cause });
}

function readConfigText(file: string): string {
  const bytes = readFileSync(file);
  if (bytes.length > MAX_CONFIG_FILE_SIZE) throw new Error(`file larger than ${MAX_CONFIG_FILE_SIZE} bytes`);
  return bytes.toString('utf8');
}

function expand(directives: readonly Directive[], baseDir: string, chain: readonly string[]): Directive[] {
  const out: Directive[] = [];
  for (const d of directives) {
    if (d.name !== 'include') {
      out.push(d.children.length === 0 ? d : { ...d, children: expand(d.children, baseDir, chain) });
      continue;
    }
    if (d.children.length > 0) throw includeError(d, "'include' cannot have a block");
    if (d.args.length === 0) throw includeError(d, "'include' needs at least one file");
    for (const arg of d.args) {
      const path = isAbsolute(arg) ? arg : join(baseDir, arg);
      const abs = resolve(path);
      if (chain.includes(abs)) throw includeError(d, `include cycle: '${arg}' is already being included`);
      if (chain.length >= MAX_INCLUDE_DEPTH) {
        throw includeError(d, `cannot include '${arg}': includes nested deeper than ${MAX_INCLUDE_DEPTH}`);
      }
      let text: string;
      try {
        text = readConfigText(path);
      } catch (err) {
        throw includeError(d, `cannot include '${arg}': ${(err as Error).message}`, err);
      }
      out.push(...expand(parseConfigText(text, path), dirname(path), [...chain, abs]));
    }
  }
  return out;
}

/**
 * Replaces every `include` (at any depth) by the directives of the named files, recursively. Relative include
 * paths resolve against `baseDir` for `directives` and against the including file's folder below that.
 * `topFile` (the file `directives` came from) takes part in cycle detection.
 * @throws GatewayError(ConfInclude) `file:line:col: message` (unreadable file, cycle, depth > MAX_INCLUDE_DEPTH,
 *   include without a file); GatewayError(ConfSyntax) for syntax errors inside an included file (its own location).
 */
export function resolveIncludes(directives: readonly Directive[], baseDir: string, topFile?: string): Directive[] {
  return expand(directives, baseDir, topFile === undefined ? [] : [resolve(topFile)]);
}

/**
 * Reads, parses and expands the includes of a config file.
 * @throws GatewayError(ConfInclude) `file: cannot read: ...` when the file itself cannot be read; otherwise as
 *   parseConfigText and resolveIncludes.
 */
export function parseConfigFile(file: string): Directive[] {
  let text: string;
  try {
    text = readConfigText(file);
  } catch (err) {
    throw new GatewayError(ErrorCode.ConfInclude, `${file}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  return resolveIncludes(parseConfigText(text, file), dirname(file), file);
}
