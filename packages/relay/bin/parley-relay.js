#!/usr/bin/env node
// The package bin. It is a checked-in file (not dist/cli.js itself) so that `npm ci` on a
// clean checkout links it before anything is built; it runs the built CLI.
import '../dist/cli.js';
