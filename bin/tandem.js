#!/usr/bin/env node
// Runs the compiled CLI when present, else the TypeScript sources (a fresh clone before `npm run build`).
const path = require('path');
const fs = require('fs');
const compiled = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (fs.existsSync(compiled) && !process.env.TANDEM_FROM_SOURCE) {
  require(compiled);
} else {
  require('ts-node').register({ transpileOnly: true, project: path.join(__dirname, '..', 'tsconfig.json') });
  require('../src/cli/main.ts');
}
