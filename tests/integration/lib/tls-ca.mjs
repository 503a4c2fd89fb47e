// tls-ca.mjs — a throwaway certificate authority made with openssl, for the HTTPS suites, and a
// small HTTPS client that reports which certificate the server presented.
//
//   makeCa() → ca {dir, cert (path of the CA's PEM), issue(name, opts)}
//   ca.issue(file, {names, notBefore, notAfter}) → {cert, key, fingerprint} (paths, and the
//       certificate's SHA-256 fingerprint as openssl and node print it: "AB:CD:...")
//   httpsRequest(port, path, {ca, servername, method, headers, body, agent})
//       → {status, headers, text, fingerprint (of the certificate the server presented)}
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { makeTempDir } from './faultline.mjs';

const openssl = (args, env = {}) =>
  execFileSync('openssl', args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

// openssl ca dates: YYYYMMDDHHMMSSZ.
const asn1Time = (ms) => new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');

const HOUR = 3600 * 1000;

export function makeCa() {
  const dir = makeTempDir('faultline-ca-');
  fs.mkdirSync(path.join(dir, 'issued'));
  fs.writeFileSync(path.join(dir, 'index.txt'), '');
  fs.writeFileSync(path.join(dir, 'serial'), '1000\n');
  const cnf = path.join(dir, 'ca.cnf');
  fs.writeFileSync(
    cnf,
    [
      '[ca]',
      'default_ca = test_ca',
      '[test_ca]',
      `database = ${dir}/index.txt`,
      `new_certs_dir = ${dir}/issued`,
      `certificate = ${dir}/ca.pem`,
      `private_key = ${dir}/ca.key`,
      `serial = ${dir}/serial`,
      'default_md = sha256',
      'policy = any_name',
      'unique_subject = no',
      'x509_extensions = server',
      '[any_name]',
      'commonName = supplied',
      '[server]',
      'basicConstraints = CA:FALSE',
      'keyUsage = digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = ${ENV::TEST_SAN}',
      '',
    ].join('\n'),
  );
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ecKey, '-keyout', `${dir}/ca.key`, '-out', `${dir}/ca.pem`, '-days', '2', '-subj', '/CN=faultline test CA']);
  return {
    dir,
    cert: path.join(dir, 'ca.pem'),
    /** A server certificate for names (DNS names or IP addresses), valid from notBefore to notAfter. */
    issue(file, { names = ['localhost'], notBefore = Date.now() - HOUR, notAfter = Date.now() + 24 * HOUR } = {}) {
      const base = path.join(dir, file);
      const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
      openssl(['req', ...ecKey, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${names[0]}`]);
      openssl(
        ['ca', '-config', cnf, '-batch', '-notext', '-in', `${base}.csr`, '-out', `${base}.pem`,
          '-startdate', asn1Time(notBefore), '-enddate', asn1Time(notAfter)],
        { TEST_SAN: san },
      );
      const fingerprint = openssl(['x509', '-in', `${base}.pem`, '-noout', '-fingerprint', '-sha256'])
        .trim()
        .replace(/^.*=/, '');
      return { cert: `${base}.pem`, key: `${base}.key`, fingerprint };
    },
  };
}

/** A request over HTTPS to 127.0.0.1:port, verifying against ca (a PEM path) for servername. */
export function httpsRequest(
  port,
  urlPath,
  { ca, servername = 'localhost', method = 'GET', headers = {}, body, agent = false, timeoutMs = 5000 } = {},
) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: urlPath, method, servername, ca: fs.readFileSync(ca), headers, agent },
      (res) => {
        const fingerprint = res.socket.getPeerCertificate().fingerprint256;
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), fingerprint }),
        );
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} https://localhost:${port}${urlPath}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
