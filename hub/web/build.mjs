// Bundles the UI with esbuild into $TETHER_HUB_WEB_OUT (default ./dist).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.env.TETHER_HUB_WEB_OUT || join(here, 'dist');
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(here, 'src/app.js')],
  bundle: true,
  format: 'esm',
  target: ['es2020'],
  minify: true,
  sourcemap: true,
  outfile: join(out, 'app.js'),
  logLevel: 'warning',
});
copyFileSync(join(here, 'src/index.html'), join(out, 'index.html'));
copyFileSync(join(here, 'src/style.css'), join(out, 'style.css'));
copyFileSync(join(here, 'node_modules/@xterm/xterm/css/xterm.css'), join(out, 'xterm.css'));
copyFileSync(join(here, 'node_modules/uplot/dist/uPlot.min.css'), join(out, 'uplot.css'));
