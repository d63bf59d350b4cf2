/**
 * @module
 * `npm run web:build`: generates the API types, bundles `src/main.tsx` and `src/app.css` with esbuild
 * into `dist/assets/` under content-hashed names, copies `public/` (with `_headers`) and writes
 * `index.html` pointing at the hashed files. Prints the gzipped size of the initial JavaScript and
 * fails above the 100 KB budget, so the budget cannot be broken silently.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { generateApiTypes } from "./api-types.ts";

const BUDGET_BYTES = 100 * 1024;
const here = import.meta.dirname;
const dist = path.join(here, "dist");

await generateApiTypes();
rmSync(dist, { recursive: true, force: true });
cpSync(path.join(here, "public"), dist, { recursive: true });

const result = await build({
  entryPoints: { app: path.join(here, "src", "main.tsx") },
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: "linked",
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: path.join(dist, "assets"),
  entryNames: "[name]-[hash]",
  metafile: true,
  logLevel: "warning",
});

const outputs = Object.keys(result.metafile.outputs).map((file) => path.relative(dist, file));
const asset = (ext: string) => {
  const found = outputs.find((file) => file.endsWith(ext));
  if (!found) throw new Error(`web build produced no ${ext}`);
  return `/${found}`;
};
const html = readFileSync(path.join(here, "public", "index.html"), "utf8")
  .replace("/assets/app.css", asset(".css"))
  .replace("/assets/app.js", asset(".js"));
writeFileSync(path.join(dist, "index.html"), html);

const js = readFileSync(path.join(dist, asset(".js")));
const gzipped = gzipSync(js, { level: 9 }).length;
const css = gzipSync(readFileSync(path.join(dist, asset(".css"))), { level: 9 }).length;
console.log(
  `web: initial JavaScript ${(js.length / 1024).toFixed(1)} KB, ${(gzipped / 1024).toFixed(1)} KB gzipped ` +
    `(budget ${BUDGET_BYTES / 1024} KB); CSS ${(css / 1024).toFixed(1)} KB gzipped → web/dist`,
);
if (gzipped > BUDGET_BYTES) {
  console.error("web: the initial JavaScript is over its 100 KB gzipped budget");
  process.exit(1);
}
