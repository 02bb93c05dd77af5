// Runs `npm ci` here unless node_modules already matches package-lock.json, so that
// several build directories sharing this source tree do not reinstall (and delete
// node_modules under each other's feet) on every build. The build runs it under
// flock(1) on .npm-ci.lock.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const want = createHash('sha256').update(readFileSync(join(here, 'package-lock.json'))).digest('hex');
const marker = join(here, 'node_modules', '.tether-deps-sha256');
if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === want) process.exit(0);
execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: here, stdio: 'inherit' });
writeFileSync(marker, `${want}\n`);
