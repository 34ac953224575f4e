#!/usr/bin/env node
// castgate CLI entry: runs the compiled composition root (npm run build makes dist/).
import '../dist/core/main.js';
