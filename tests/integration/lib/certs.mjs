// certs.mjs -- certificates for the TLS tests, made with the openssl command
// in a fresh directory: a test CA and what it signs, a second CA, and the
// broken kinds (expired, self-signed, for another host name).
//
//   const c = makeCerts();      // c.dir, c.ca, c.server.cert/.key, ...
//   c.remove();
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

// P-256 keys: quick to make, and what most servers use now.
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir, name, cn) {
  openssl(dir, ['req', '-x509', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '30',
    '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

// A leaf signed by ca: usage 'server' (with subjectAltName alt) or 'client'.
function makeLeaf(dir, ca, name, cn, usage, alt, days = 30) {
  writeFileSync(join(dir, `${name}.ext`), [
    'basicConstraints=CA:FALSE',
    `extendedKeyUsage=${usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
    ...(alt ? [`subjectAltName=${alt}`] : []),
  ].join('\n'));
  openssl(dir, ['req', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=mcpd tests/CN=${cn}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-days', String(days), '-out', `${name}.crt`, '-extfile', `${name}.ext`]);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

// A server certificate that expired in 2020: `openssl x509` cannot set
// dates in the past, `openssl ca` can.
function makeExpired(dir, ca, name) {
  const db = join(dir, 'ca-db');
  mkdirSync(db, { recursive: true });
  writeFileSync(join(db, 'index.txt'), '');
  writeFileSync(join(db, 'serial'), '1000\n');
  writeFileSync(join(dir, 'ca.cnf'), `[ca]
default_ca = test
[test]
database = ${db}/index.txt
new_certs_dir = ${db}
serial = ${db}/serial
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
organizationName = optional
[ext]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
`);
  openssl(dir, ['req', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=127.0.0.1']);
  openssl(dir, ['ca', '-batch', '-config', 'ca.cnf', '-cert', ca.cert, '-keyfile', ca.key, '-in', `${name}.csr`,
    '-out', `${name}.crt`, '-extensions', 'ext', '-startdate', '20200101000000Z', '-enddate', '20200201000000Z', '-notext']);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

export function makeCerts() {
  const dir = mkdtempSync(join(tmpdir(), 'mcpd-certs-'));
  const ca = makeCa(dir, 'ca', 'mcpd test CA');
  const otherCa = makeCa(dir, 'other-ca', 'another CA');
  const here = 'IP:127.0.0.1,DNS:localhost';
  const selfSigned = { cert: join(dir, 'self.crt'), key: join(dir, 'self.key') };
  openssl(dir, ['req', '-x509', ...KEY, '-keyout', 'self.key', '-out', 'self.crt', '-days', '30',
    '-subj', '/CN=127.0.0.1', '-addext', `subjectAltName=${here}`]);
  return {
    dir,
    ca,
    otherCa,
    server: makeLeaf(dir, ca, 'server', '127.0.0.1', 'server', here),
    wrongHost: makeLeaf(dir, ca, 'wrong-host', 'other.example', 'server', 'DNS:other.example'),
    expired: makeExpired(dir, ca, 'expired'),
    selfSigned,
    client: makeLeaf(dir, ca, 'client', 'agent-7', 'client'),
    otherClient: makeLeaf(dir, otherCa, 'other-client', 'intruder', 'client'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
