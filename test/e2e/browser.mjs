/**
 * Headless Chromium through playwright-core, with no browser download at install time:
 * the inbox-page test and the screenshot tool launch it the same way, with a throwaway profile.
 *
 * Which Chromium:
 * - `CHROMIUM_PATH` when set (for example Debian's `/usr/bin/chromium`);
 * - otherwise the one that ships inside the `@sparticuz/chromium` npm package (a brotli-compressed
 *   headless shell plus the NSS libraries it links against), unpacked once per install into
 *   node_modules/.cache, so `npm ci && npm test` needs nothing but Node;
 * - otherwise, where that package's x86-64 binary cannot run, `/usr/bin/chromium` if present.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const SYSTEM_CHROMIUM = '/usr/bin/chromium'

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage',
]

/**
 * Unpacks the npm-shipped Chromium into node_modules/.cache/igbot-chromium/<version> (once; a
 * staging folder renamed into place keeps concurrent runs from seeing a half-written binary).
 * @returns {Promise<{ executablePath: string, env: Record<string, string> }>}
 */
export async function bundledChromium() {
  // The package exports only its entry (build/index.js); package.json and bin/ sit one level up.
  const pkgDir = resolve(dirname(fileURLToPath(import.meta.resolve('@sparticuz/chromium'))), '..')
  const pkgJson = join(pkgDir, 'package.json')
  const { version } = JSON.parse(readFileSync(pkgJson, 'utf8'))
  const bin = join(pkgDir, 'bin')
  const cache = join(ROOT, 'node_modules', '.cache', 'igbot-chromium')
  const dir = join(cache, version)
  if (!existsSync(join(dir, 'chromium'))) {
    mkdirSync(cache, { recursive: true })
    const staging = mkdtempSync(join(cache, 'staging-'))
    // The package's inflate() writes into os.tmpdir(), which reads TMPDIR on every call.
    const { inflate } = await import('@sparticuz/chromium')
    const savedTmp = process.env.TMPDIR
    process.env.TMPDIR = staging
    try {
      await Promise.all(['chromium.br', 'fonts.tar.br', 'swiftshader.tar.br', 'al2023.tar.br'].map((f) => inflate(join(bin, f))))
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR
      else process.env.TMPDIR = savedTmp
    }
    writeFileSync(join(staging, 'fonts', 'fonts.conf'), [
      '<?xml version="1.0"?>', '<!DOCTYPE fontconfig SYSTEM "fonts.dtd">', '<fontconfig>',
      `  <dir>${join(dir, 'fonts')}</dir>`, '  <dir>/usr/share/fonts</dir>',
      `  <cachedir>${join(dir, 'fonts-cache')}</cachedir>`, '</fontconfig>', '',
    ].join('\n'))
    try {
      renameSync(staging, dir)
    } catch {
      rmSync(staging, { recursive: true, force: true }) // another run got there first
    }
  }
  const ld = [join(dir, 'al2023', 'lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':')
  return { executablePath: join(dir, 'chromium'), env: { LD_LIBRARY_PATH: ld, FONTCONFIG_PATH: join(dir, 'fonts') } }
}

/** @param {string} executablePath @param {Record<string, string>} [env] */
async function launchWith(executablePath, env = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'igbot-chromium-'))
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath,
      env: { ...process.env, ...env },
      headless: true,
      viewport: { width: 1100, height: 760 },
      args: ARGS,
    })
    return {
      context,
      executablePath,
      async close() {
        await context.close().catch(() => {})
        rmSync(profile, { recursive: true, force: true })
      },
    }
  } catch (err) {
    rmSync(profile, { recursive: true, force: true })
    throw err
  }
}

export async function launchChromium() {
  const explicit = process.env.CHROMIUM_PATH
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`CHROMIUM_PATH=${explicit} does not exist.`)
    return launchWith(explicit)
  }
  let bundledError
  try {
    const b = await bundledChromium()
    return await launchWith(b.executablePath, b.env)
  } catch (err) {
    bundledError = err
  }
  if (existsSync(SYSTEM_CHROMIUM)) return launchWith(SYSTEM_CHROMIUM)
  throw new Error(
    `The Chromium shipped in @sparticuz/chromium did not start (${bundledError?.message?.split('\n')[0]}) ` +
      `and there is no ${SYSTEM_CHROMIUM}: run npm ci, install Debian's chromium or set CHROMIUM_PATH.`,
  )
}
