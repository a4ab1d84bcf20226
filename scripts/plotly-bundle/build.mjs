// Build ../../assets/vendor/plotly/plotly-township.min.js: plotly.js core + the trace types of entry.js,
// with the options of plotly.js's own dist build (its esbuild-config.js), minified, licence comments kept.
// `make plotly-bundle` runs `npm ci` (package-lock.json) and then this; see README.md here.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

// plotly.js's build inlines CSS (MapLibre's) as a <style> added at load, as esbuild-plugin-inline-css does;
// this one names the <style> by the file's path inside node_modules, not its absolute path on the build
// machine, so that every checkout builds the same bytes. (plotly.js's two other build plugins, for GLSL
// and process.env, have nothing to do for these trace types: a .glsl import would fail the build.)
const inlineCSS = {
    name: 'inline-css',
    setup(build) {
        build.onLoad({ filter: /\.css$/ }, (args) => {
            const id = sha256(relative(here, args.path).split('\\').join('/'));
            const css = JSON.stringify(readFileSync(args.path, 'utf8'));
            return {
                loader: 'js',
                contents: `if (!document.getElementById('${id}')) { var e = document.createElement('style');` +
                          ` e.id = '${id}'; e.textContent = ${css}; document.head.appendChild(e); }`
            };
        });
    }
};
const outfile = join(here, '..', '..', 'assets', 'vendor', 'plotly', 'plotly-township.min.js');
const version = JSON.parse(readFileSync(join(here, 'node_modules', 'plotly.js', 'package.json'), 'utf8')).version;

const result = await esbuild.build({
    entryPoints: [join(here, 'entry.js')],
    outfile,
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    sourcemap: false,
    legalComments: 'eof',
    banner: {
        js: `/**\n* plotly.js v${version} partial bundle: core (scatter) + choroplethmap, scattermap, bar\n` +
            '* Copyright 2012-2026, Plotly, Inc. All rights reserved. Licensed under the MIT license.\n' +
            '* Built by scripts/plotly-bundle (make plotly-bundle); do not edit.\n*/'
    },
    plugins: [inlineCSS],
    alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false' },
    target: 'es2016',
    logLevel: 'warning',
    metafile: true
});
const bytes = readFileSync(outfile);
console.log(`${relative(process.cwd(), outfile)}: ${bytes.length.toLocaleString('en')} bytes, sha256 ${sha256(bytes)}` +
            ` (plotly.js v${version})`);
const inputs = Object.entries(result.metafile.outputs[relative(process.cwd(), outfile)]?.inputs ?? {})
    .sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput).slice(0, 5);
for (const [file, { bytesInOutput }] of inputs) {
    console.log(`  ${(bytesInOutput / 1000).toFixed(0).padStart(5)} kB  ${file}`);
}

// Babel's regenerator runtime, alone: Dash's scripts call the global `regeneratorRuntime` when they load a
// lazy chunk, and Dash serves it inside @babel/polyfill (core-js 2 as well, 99 kB that a current browser
// does not need). app.py serves this instead (`replace_polyfill`).
const runtimeFile = join(here, 'node_modules', 'regenerator-runtime', 'runtime.js');
const runtimeVersion = JSON.parse(readFileSync(join(here, 'node_modules', 'regenerator-runtime', 'package.json'),
                                               'utf8')).version;
const runtimeOut = join(here, '..', '..', 'assets', 'vendor', 'regenerator', 'regenerator-runtime.min.js');
const runtime = await esbuild.transform(readFileSync(runtimeFile, 'utf8'), {
    minify: true,
    legalComments: 'eof',
    banner: `/* regenerator-runtime v${runtimeVersion} (MIT, Facebook, Inc.); built by scripts/plotly-bundle, do not edit */`
});
mkdirSync(dirname(runtimeOut), { recursive: true });
writeFileSync(runtimeOut, runtime.code);
console.log(`${relative(process.cwd(), runtimeOut)}: ${runtime.code.length.toLocaleString('en')} bytes, sha256 ` +
            `${sha256(runtime.code)} (regenerator-runtime v${runtimeVersion})`);
