// The Debian packages, the way the README builds them: a fresh build with
// the prefix /usr, `cpack -G DEB`, then both packages taken apart with dpkg:
// their control fields, their files, the installed mcpd run from the
// extracted tree on the installed config file, and a plugin built against
// the extracted mcpd-dev with pkg-config and with find_package(mcpd).
//
// It builds its own tree, so it runs once, with the plain build: under
// run-all.sh's sanitizer passes (MCPD_BUILD_DIR a sanitizer build) it is
// skipped.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, readdirSync, existsSync, copyFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDir } from './lib/mcpd.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const version = readFileSync(join(repo, 'CMakeLists.txt'), 'utf8').match(/project\(mcpd VERSION (\d+\.\d+\.\d+)/)[1];

// Runs a command; throws with its output when it fails.
function run(cmd, args, { env, cwd, allowFail = false } = {}) {
  const r = spawnSync(cmd, args, { cwd, env: env ?? process.env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0 && !allowFail)
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

// Every file (not directory) under dir, as paths relative to it.
function files(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (!e.isDirectory()) out.push(relative(dir, join(e.parentPath ?? e.path, e.name)));
  return out.sort();
}

function tutorial(name) {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const at = readme.indexOf('<!-- tutorial: weather.c -->');
  const code = readme.slice(at).match(/```c\n([\s\S]*?)```/)[1];
  return code.replaceAll('"weather"', `"${name}"`).replaceAll('weather://', `${name}://`)
    .replaceAll('"forecast"', `"${name}_forecast"`).replaceAll('"outlook"', `"${name}_outlook"`);
}

function exported(so) {
  return run('nm', ['-D', '--defined-only', so]).stdout.split('\n')
    .filter((l) => / [TDBR] /.test(l)).map((l) => l.split(' ').pop());
}

function sanitizerBuild() {
  try {
    const cache = readFileSync(join(buildDir, 'CMakeCache.txt'), 'utf8');
    return /^MCPD_(SANITIZE|TSAN):BOOL=ON$/m.test(cache);
  } catch {
    return false;
  }
}

const skip = sanitizerBuild() ? `packaging is tested with the plain build, not ${buildDir}` : false;

describe('Debian packages (cmake -DCMAKE_INSTALL_PREFIX=/usr, cpack -G DEB)', { skip }, () => {
  let work, build, arch, debs, daemonRoot, devRoot, daemonCtl;
  const deb = (name) => join(build, `${name}_${version}_${arch}.deb`);

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'mcpd-package-'));
    build = join(work, 'build');
    arch = run('dpkg', ['--print-architecture']).stdout.trim();
    run('cmake', ['-S', repo, '-B', build, '-DCMAKE_INSTALL_PREFIX=/usr', '-DMCPD_BUILD_TESTS=OFF']);
    run('cmake', ['--build', build, '-j2']);
    run('cpack', ['-G', 'DEB'], { cwd: build });
    debs = readdirSync(build).filter((f) => f.endsWith('.deb')).sort();
    daemonRoot = join(work, 'root-mcpd');
    devRoot = join(work, 'root-mcpd-dev');
    daemonCtl = join(work, 'control-mcpd');
    if (existsSync(deb('mcpd'))) {
      run('dpkg', ['-x', deb('mcpd'), daemonRoot]);
      run('dpkg-deb', ['-e', deb('mcpd'), daemonCtl]);
    }
    if (existsSync(deb('mcpd-dev'))) run('dpkg', ['-x', deb('mcpd-dev'), devRoot]);
  }, { timeout: 600000 });
  after(() => { if (work) rmSync(work, { recursive: true, force: true }); });

  test('cpack makes mcpd_<version>_<arch>.deb and mcpd-dev_<version>_<arch>.deb', () => {
    assert.deepEqual(debs, [`mcpd-dev_${version}_${arch}.deb`, `mcpd_${version}_${arch}.deb`]);
  });

  test('mcpd-dbgsym holds the debug info of the stripped daemon and plugins, by build id', () => {
    const ddeb = join(build, `mcpd-dbgsym_${version}_${arch}.ddeb`);
    assert.ok(existsSync(ddeb), `${ddeb} exists`);
    assert.equal(run('dpkg-deb', ['-f', ddeb, 'Depends']).stdout.trim(), `mcpd (= ${version})`);
    const listing = run('dpkg-deb', ['-c', ddeb]).stdout;
    for (const bin of ['usr/bin/mcpd', 'usr/lib/mcpd/plugins/hello.so', 'usr/lib/mcpd/plugins/http_backend.so']) {
      const path = join(daemonRoot, bin);
      const info = run('file', ['-b', path]).stdout.trim();
      assert.match(info, /stripped$/, `${bin} is stripped: ${info}`);
      assert.doesNotMatch(info, /not stripped/, `${bin} is stripped: ${info}`);
      const id = /BuildID\[sha1\]=([0-9a-f]+)/.exec(info)?.[1];
      assert.ok(id, `${bin} has a build id: ${info}`);
      assert.ok(listing.includes(`./usr/lib/debug/.build-id/${id.slice(0, 2)}/${id.slice(2)}.debug`),
        `mcpd-dbgsym has the debug file of ${bin}`);
    }
  });

  test('the control fields: names, version, dependencies, maintainer, description, homepage', () => {
    const field = (d, f) => run('dpkg-deb', ['-f', d, f]).stdout.trim();
    const info = run('dpkg-deb', ['-I', deb('mcpd')]).stdout;
    assert.match(info, /^ Depends: .*libuv1 \(>= 1\.40\)/m);
    // 2.14: mcpd calls json_object_getn(), and links jansson's versioned symbols.
    assert.match(info, /^ Depends: .*libjansson4 \(>= 2\.14\)/m);
    assert.equal(field(deb('mcpd'), 'Package'), 'mcpd');
    assert.equal(field(deb('mcpd'), 'Version'), version);
    assert.equal(field(deb('mcpd'), 'Architecture'), arch);
    const devDepends = field(deb('mcpd-dev'), 'Depends').split(/,\s*/).sort();
    assert.deepEqual(devDepends, ['libjansson-dev', `mcpd (= ${version})`, 'pkg-config']);
    assert.equal(field(deb('mcpd-dev'), 'Package'), 'mcpd-dev');
    assert.equal(field(deb('mcpd-dev'), 'Version'), version);
    for (const d of [deb('mcpd'), deb('mcpd-dev')]) {
      assert.match(field(d, 'Maintainer'), /^.+ <[^@\s]+@[^>\s]+>$/);
      assert.match(field(d, 'Homepage'), /^https:\/\//);
      const desc = field(d, 'Description').split('\n');
      assert.ok(desc[0].length > 10 && desc[0].length < 80, `summary line: ${desc[0]}`);
      assert.ok(desc.length > 2, 'an extended description');
    }
  });

  test('mcpd Depends on at least the versions dpkg-shlibdeps finds in its binaries',
    { skip: !have('dpkg-shlibdeps') && 'dpkg-shlibdeps (dpkg-dev) is not installed' }, () => {
      const dir = join(work, 'shlibdeps');
      mkdirSync(join(dir, 'debian'), { recursive: true });
      writeFileSync(join(dir, 'debian/control'), '');
      const out = run('dpkg-shlibdeps', ['-O', join(daemonRoot, 'usr/bin/mcpd'),
        join(daemonRoot, 'usr/lib/mcpd/plugins/hello.so')], { cwd: dir }).stdout;
      const parse = (s) => s.split(/,\s*/).map((d) => d.split('|')[0].trim().match(/^(\S+)(?: \(>= ([^)]+)\))?$/));
      const declared = new Map(parse(run('dpkg-deb', ['-f', deb('mcpd'), 'Depends']).stdout.trim()).map((m) => [m[1], m[2]]));
      for (const [, pkg, min] of parse(out.trim().replace(/^shlibs:Depends=/, ''))) {
        assert.ok(declared.has(pkg), `mcpd Depends on ${pkg} (dpkg-shlibdeps: ${out.trim()})`);
        if (min !== undefined)
          assert.equal(run('dpkg', ['--compare-versions', declared.get(pkg) ?? '0', 'ge', min], { allowFail: true }).status, 0,
            `${pkg} (>= ${declared.get(pkg)}) covers >= ${min}`);
      }
    });

  test('mcpd holds the daemon, the bundled plugin, the config file, the unit and the man page; mcpd-dev the SDK', () => {
    const daemonFiles = files(daemonRoot);
    for (const f of ['usr/bin/mcpd', 'usr/lib/mcpd/plugins/hello.so', 'etc/mcpd/mcpd.json',
      'usr/lib/systemd/system/mcpd.service', 'usr/share/man/man8/mcpd.8.gz',
      'usr/share/doc/mcpd/examples/nginx-mcpd.conf'])
      assert.ok(daemonFiles.includes(f), `${f} in mcpd (has: ${daemonFiles.join(' ')})`);
    assert.deepEqual(daemonFiles.filter((f) => f.startsWith('usr/lib/mcpd/plugins/')).sort(),
      ['usr/lib/mcpd/plugins/hello.so', 'usr/lib/mcpd/plugins/http_backend.so'], 'the bundled plugins, and no test plugin');
    assert.ok(!daemonFiles.some((f) => f.startsWith('usr/include/') || f.endsWith('.pc')), 'no SDK file in mcpd');
    assert.ok(statSync(join(daemonRoot, 'usr/bin/mcpd')).mode & 0o111, 'mcpd is executable');
    assert.doesNotMatch(run('readelf', ['-S', join(daemonRoot, 'usr/bin/mcpd')]).stdout, /\.debug_info/, 'mcpd is stripped');

    const devFiles = files(devRoot);
    for (const re of [/^usr\/include\/mcpd\/plugin\.h$/, /^usr\/lib\/(.+\/)?pkgconfig\/mcpd-plugin\.pc$/,
      /^usr\/lib\/(.+\/)?cmake\/mcpd\/mcpdConfig\.cmake$/, /^usr\/lib\/(.+\/)?cmake\/mcpd\/mcpdConfigVersion\.cmake$/,
      /^usr\/lib\/(.+\/)?cmake\/mcpd\/McpdPlugin\.cmake$/, /^usr\/share\/mcpd\/plugin\.map$/])
      assert.ok(devFiles.some((f) => re.test(f)), `${re} in mcpd-dev (has: ${devFiles.join(' ')})`);
    assert.ok(!devFiles.some((f) => daemonFiles.includes(f)), 'the two packages share no file');
  });

  test('/etc/mcpd/mcpd.json is a conffile; the maintainer scripts are shell scripts', () => {
    assert.equal(readFileSync(join(daemonCtl, 'conffiles'), 'utf8').trim(), '/etc/mcpd/mcpd.json');
    for (const s of ['postinst', 'prerm', 'postrm']) {
      if (!existsSync(join(daemonCtl, s))) continue;
      assert.ok(statSync(join(daemonCtl, s)).mode & 0o100, `${s} is executable`);
      run('sh', ['-n', join(daemonCtl, s)]);
    }
  });

  test('the man page mcpd(8) reads, with its sections and every option of mcpd --help', () => {
    const gz = join(daemonRoot, 'usr/share/man/man8/mcpd.8.gz');
    const roff = run('gunzip', ['-c', gz]).stdout;
    assert.match(roff, /^\.TH MCPD 8 /m);
    let text = roff;
    if (have('man')) {
      const r = run('man', ['-l', gz], { env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100' } });
      text = r.stdout;
    }
    for (const s of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'ENDPOINTS', 'SIGNALS', 'FILES',
      'CONFIGURATION', 'EXIT STATUS', 'SEE ALSO'])
      assert.match(text, new RegExp(`^(\\.SH )?${s}$`, 'm'), `section ${s}`);
    const help = run(join(daemonRoot, 'usr/bin/mcpd'), ['--help']).stdout;
    const options = [...help.matchAll(/^\s+(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]);
    assert.ok(options.length >= 8, `options in --help: ${options}`);
    const plain = text.replace(/\\-/g, '-').replace(/\\f[BIRP]/g, '');
    for (const o of options) assert.ok(plain.includes(o), `the man page documents ${o}`);
    assert.ok(plain.includes('/etc/mcpd/mcpd.json'));
  });

  test('the systemd unit runs /usr/bin/mcpd on /etc/mcpd/mcpd.json as a notify service, and verifies', () => {
    const unit = readFileSync(join(daemonRoot, 'usr/lib/systemd/system/mcpd.service'), 'utf8');
    for (const line of ['Type=notify', 'ExecStart=/usr/bin/mcpd --config /etc/mcpd/mcpd.json',
      'ExecReload=/bin/kill -HUP $MAINPID', 'DynamicUser=yes', 'RuntimeDirectory=mcpd',
      'Restart=on-failure', 'WantedBy=multi-user.target'])
      assert.ok(unit.split('\n').includes(line), `unit has ${line}`);
    if (!have('systemd-analyze')) return;
    // systemd-analyze verify wants the binary and the man page where the unit
    // names them: point it at the extracted ones.
    const dir = join(work, 'unit');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'mcpd.service'), unit.replace('ExecStart=/usr/bin/mcpd', `ExecStart=${daemonRoot}/usr/bin/mcpd`));
    const r = run('systemd-analyze', ['verify', join(dir, 'mcpd.service')], {
      allowFail: true, env: { ...process.env, MANPATH: `${daemonRoot}/usr/share/man:` } });
    assert.equal(r.status, 0, `systemd-analyze verify:\n${r.stdout}${r.stderr}`);
  });

  test('the installed mcpd prints its version and accepts the installed config with the bundled plugin', () => {
    const bin = join(daemonRoot, 'usr/bin/mcpd');
    assert.match(run(bin, ['--version']).stdout, new RegExp(`^mcpd ${version.replaceAll('.', '\\.')} \\(plugin ABI 1\\.\\d+\\)`));
    assert.match(run(bin, ['--help']).stdout, /\/usr\/lib\/mcpd\/plugins/, 'built for the prefix /usr');
    const runtime = join(work, 'run');
    mkdirSync(runtime, { mode: 0o700 });
    const r = run(bin, ['--check', '--config', join(daemonRoot, 'etc/mcpd/mcpd.json'),
      '--plugins', join(daemonRoot, 'usr/lib/mcpd/plugins')], {
      allowFail: true, env: { ...process.env, RUNTIME_DIRECTORY: runtime } });
    assert.equal(r.status, 0, `mcpd --check:\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^tool echo \(plugin hello\)$/m);
    // The config file names where the package puts the plugins.
    assert.equal(JSON.parse(readFileSync(join(daemonRoot, 'etc/mcpd/mcpd.json'), 'utf8')).plugins_dir, '/usr/lib/mcpd/plugins');
  });

  test('a plugin builds against the extracted mcpd-dev with pkg-config and with find_package(mcpd), and loads', () => {
    const pcFile = files(devRoot).find((f) => f.endsWith('pkgconfig/mcpd-plugin.pc'));
    const env = { ...process.env, PKG_CONFIG_PATH: join(devRoot, dirname(pcFile)) };
    const plugins = join(work, 'plugins');
    mkdirSync(plugins);

    // pkg-config: the .pc file's prefix is relative to it, so the flags point
    // into the extracted tree.
    writeFileSync(join(work, 'rain.c'), tutorial('rain'));
    assert.equal(run('pkg-config', ['--modversion', 'mcpd-plugin'], { env }).stdout.trim(), version);
    const flags = run('pkg-config', ['--cflags', '--libs', 'mcpd-plugin'], { env }).stdout.trim().split(/\s+/);
    const inc = flags.find((f) => f.startsWith('-I')).slice(2);
    assert.equal(resolve(inc), join(devRoot, 'usr/include'));
    run('cc', ['-o', join(plugins, 'rain.so'), join(work, 'rain.c'), ...flags]);
    assert.deepEqual(exported(join(plugins, 'rain.so')), ['mcpd_plugin_v1']);

    // find_package(mcpd)
    const proj = join(work, 'snow');
    mkdirSync(proj);
    writeFileSync(join(proj, 'snow.c'), tutorial('snow'));
    writeFileSync(join(proj, 'CMakeLists.txt'), [
      'cmake_minimum_required(VERSION 3.18)',
      'project(snow C)',
      `find_package(mcpd ${version} REQUIRED)`,
      'mcpd_add_plugin(snow snow.c)',
      'file(WRITE ${CMAKE_BINARY_DIR}/plugins_dir.txt "${MCPD_PLUGINS_DIR}")',
      '',
    ].join('\n'));
    run('cmake', ['-S', proj, '-B', join(proj, 'build'), `-DCMAKE_PREFIX_PATH=${join(devRoot, 'usr')}`]);
    run('cmake', ['--build', join(proj, 'build')]);
    assert.equal(readFileSync(join(proj, 'build/plugins_dir.txt'), 'utf8'), join(devRoot, 'usr/lib/mcpd/plugins'));
    assert.deepEqual(exported(join(proj, 'build/snow.so')), ['mcpd_plugin_v1']);
    copyFileSync(join(proj, 'build/snow.so'), join(plugins, 'snow.so'));
    copyFileSync(join(daemonRoot, 'usr/lib/mcpd/plugins/hello.so'), join(plugins, 'hello.so'));

    const runtime = join(work, 'run-plugins');
    mkdirSync(runtime, { mode: 0o700 });
    const r = run(join(daemonRoot, 'usr/bin/mcpd'), ['--check', '--plugins', plugins], {
      allowFail: true, env: { ...process.env, RUNTIME_DIRECTORY: runtime } });
    assert.equal(r.status, 0, `mcpd --check:\n${r.stdout}${r.stderr}`);
    for (const t of ['echo', 'rain_forecast', 'rain_outlook', 'snow_forecast', 'snow_outlook'])
      assert.match(r.stdout, new RegExp(`^tool ${t} \\(plugin `, 'm'));
  });

  test('cpack refuses to make Debian packages of a build whose prefix is not /usr', () => {
    const other = join(work, 'build-local');
    run('cmake', ['-S', repo, '-B', other, '-DCMAKE_INSTALL_PREFIX=/opt/mcpd', '-DMCPD_BUILD_TESTS=OFF']);
    const r = run('cpack', ['-G', 'DEB'], { cwd: other, allowFail: true });
    assert.notEqual(r.status, 0);
    assert.match(r.stdout + r.stderr, /-DCMAKE_INSTALL_PREFIX=\/usr/);
    assert.deepEqual(readdirSync(other).filter((f) => f.endsWith('.deb')), []);
  });
});
