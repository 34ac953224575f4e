#!/usr/bin/env node
// castgate CLI entry: runs the compiled composition root (`npm run build` makes dist/).
import { runCli } from '../dist/core/main.js';

const code = await runCli(process.argv.slice(2));
if (code !== undefined) process.exitCode = code;
