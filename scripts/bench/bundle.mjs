/**
 * Bundle size as Cloudflare would get it: `wrangler deploy --dry-run --minify --outdir` with
 * esbuild's metafile, gzip-sized here, and the bytes in the output attributed to npm packages
 * and to the project's own modules.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { ROOT } from '../sandbox/sandbox.mjs'

export const BUNDLE_COMMAND = 'wrangler deploy --dry-run --minify --outdir <tmp> --metafile <tmp>/meta.json'

function run(args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`wrangler exited with ${code}:\n${out.slice(-2000)}`))
    })
  })
}

/** Groups metafile inputs: `pkg` for node_modules, the path for the project's own files. */
export function owner(inputPath) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(inputPath)
  return m ? m[1] : inputPath.replace(/^(\.\.\/)+/, '')
}

export async function measureBundle({ top = 10 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'igbot-bundle-'))
  try {
    const out = await run(['deploy', '--dry-run', '--minify', '--outdir', dir, '--metafile', join(dir, 'meta.json')], 120_000)
    const code = readFileSync(join(dir, 'index.js'))
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'))
    const output = Object.entries(meta.outputs).find(([k]) => k.endsWith('index.js'))?.[1]
    if (!output) throw new Error('metafile has no index.js output')
    const byOwner = new Map()
    const byFile = []
    for (const [path, info] of Object.entries(output.inputs)) {
      const o = owner(path)
      byOwner.set(o, (byOwner.get(o) ?? 0) + info.bytesInOutput)
      byFile.push({ path: path.replace(/^(\.\.\/)+/, ''), bytes: info.bytesInOutput })
    }
    const packages = [...byOwner.entries()].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes)
    const reported = /Total Upload:\s*([\d.]+) KiB \/ gzip:\s*([\d.]+) KiB/.exec(out)
    return {
      /** wrangler's own "Total Upload" line, KiB. */
      wrangler: reported ? { kib: Number(reported[1]), gzipKib: Number(reported[2]) } : null,
      bytes: code.byteLength,
      gzipBytes: gzipSync(code, { level: 9 }).byteLength,
      packages: packages.slice(0, top),
      files: byFile.sort((a, b) => b.bytes - a.bytes).slice(0, top),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
