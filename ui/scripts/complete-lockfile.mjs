#!/usr/bin/env node
// Adds lockfile entries for platform-specific optional dependencies that the local npm registry
// mirror does not serve (it 404s e.g. @rollup/rollup-darwin-arm64 and @tauri-apps/cli-win32-*).
// Without them `npm ci` refuses the lock ("Missing: … from lock file"), here and on any CI.
//
// Each added entry gets the version from its parent's optionalDependencies and os/cpu/libc
// derived from the package name, exactly like npm records them, so npm skips it on other
// platforms. There is no `integrity` field (it could not be fetched): on the matching platform npm
// downloads it by name@version from the registry. Run after any `npm install` that rewrites the lock:
//
//   node scripts/complete-lockfile.mjs && npm ci
import { readFileSync, writeFileSync } from "node:fs";

const LOCK = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(LOCK, "utf8"));
const packages = lock.packages;

const OSES = new Set(["android", "darwin", "freebsd", "linux", "openbsd", "openharmony", "win32", "netbsd", "sunos", "aix"]);
const CPUS = new Set(["arm", "arm64", "x64", "ia32", "loong64", "ppc64", "riscv64", "s390x", "mips64el"]);

/** "@rollup/rollup-linux-arm-musleabihf" -> { os: ["linux"], cpu: ["arm"], libc: ["musl"] } */
function platformOf(name) {
  const parts = name.split("/").pop().split("-");
  const osIndex = parts.findIndex((p) => OSES.has(p));
  if (osIndex < 0 || osIndex + 1 >= parts.length) return null;
  const os = parts[osIndex];
  const cpu = parts[osIndex + 1];
  if (!CPUS.has(cpu)) return null;
  const abi = parts.slice(osIndex + 2).join("-");
  const meta = { cpu: [cpu], os: [os] };
  if (os === "linux") {
    if (abi.startsWith("musl")) meta.libc = ["musl"];
    else if (abi.startsWith("gnu")) meta.libc = ["glibc"];
  }
  return meta;
}

let added = 0;
for (const [path, pkg] of Object.entries(packages)) {
  const optional = Object.keys(pkg.optionalDependencies ?? {});
  // A sibling the mirror did serve: copy its license/engines (they are shared by the family).
  const sibling = optional.map((d) => packages[`node_modules/${d}`]).find(Boolean) ?? {};
  for (const [dep, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const base = path === "" ? "" : `${path}/`;
    const target = `${base}node_modules/${dep}`;
    if (packages[target] || packages[`node_modules/${dep}`]) continue;
    const meta = platformOf(dep);
    if (!meta) {
      console.error(`cannot derive a platform for ${dep}; add it by hand`);
      process.exitCode = 1;
      continue;
    }
    const entry = { version, cpu: meta.cpu };
    if (pkg.dev) entry.dev = true;
    if (meta.libc) entry.libc = meta.libc;
    const license = sibling.license ?? pkg.license;
    if (license) entry.license = license;
    entry.optional = true;
    entry.os = meta.os;
    if (sibling.engines) entry.engines = sibling.engines;
    packages[`node_modules/${dep}`] = entry;
    added += 1;
    console.log(`added ${dep}@${version} (${meta.os}/${meta.cpu}${meta.libc ? `/${meta.libc}` : ""})`);
  }
}

// npm keeps the root first and the rest sorted by path.
const sorted = { "": packages[""] };
for (const key of Object.keys(packages).filter((k) => k !== "").sort((a, b) => a.localeCompare(b, "en"))) {
  sorted[key] = packages[key];
}
lock.packages = sorted;
writeFileSync(LOCK, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`${added} entr${added === 1 ? "y" : "ies"} added`);
