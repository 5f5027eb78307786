// The backup job's S3 client, run under mongosh (a Node.js runtime; the
// mongo image ships no curl). It speaks the S3 REST API path-style
// (ENDPOINT/BUCKET/PREFIXKEY), signed with AWS Signature Version 4, to AWS
// S3 or any S3-compatible server (MinIO, Ceph, ...).
//
// Environment: RCHA_S3_CONFIG (a JSON file, mode 0600: endpoint, region,
// bucket, prefix, accessKeyId, secretAccessKey), RCHA_S3_OP and its
// arguments RCHA_S3_KEY (relative to the prefix) and RCHA_S3_FILE:
//   put KEY FILE     upload FILE (one PUT; S3 takes up to 5 GiB)
//   get KEY FILE     download to FILE (written to FILE.part, then renamed)
//   list             print "KEY BYTES LAST-MODIFIED" for every object under
//                    the prefix (keys relative to it)
//   delete KEY       delete the object
// It exits 0 on success, 1 with a message on stderr otherwise.
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const https = require('https');

const cfg = JSON.parse(fs.readFileSync(process.env.RCHA_S3_CONFIG, 'utf8'));
const op = process.env.RCHA_S3_OP || '';
const key = process.env.RCHA_S3_KEY || '';
const file = process.env.RCHA_S3_FILE || '';
const endpoint = new URL(cfg.endpoint);
const region = cfg.region || 'us-east-1';
const prefix = cfg.prefix || '';

function fail(msg) {
  console.error('rocketchat-ha s3: ' + msg);
  quit(1);
}

const sha256hex = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (k, data) => crypto.createHmac('sha256', k).update(data).digest();

// RFC 3986 encoding as SigV4 wants it: everything but A-Za-z0-9-_.~
// (and '/' in a path).
function enc(s, keepSlash) {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === '/')) {
      out += c;
    } else {
      out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    }
  }
  return out;
}

// request(method, objectKey or null, query, payloadHash, bodyStream,
// length, onResponse(status, headers, bodyBuffer or stream)).
function request(method, objectKey, query, payloadHash, body, length, onResponse, streamTo) {
  const now = new Date();
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const base = endpoint.pathname.replace(/\/+$/, '');
  const path = base + '/' + cfg.bucket + (objectKey === null ? '' : '/' + objectKey);
  const canonicalURI = enc(path, true);
  const qs = Object.keys(query).sort().map((k) => enc(k) + '=' + enc(query[k])).join('&');
  const host = endpoint.host;
  const headers = { host: host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate };
  if (length !== null) headers['content-length'] = String(length);
  const signed = Object.keys(headers).sort();
  const canonicalHeaders = signed.map((h) => h + ':' + String(headers[h]).trim() + '\n').join('');
  const canonical = [method, canonicalURI, qs, canonicalHeaders, signed.join(';'), payloadHash].join('\n');
  const scope = day + '/' + region + '/s3/aws4_request';
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonical)].join('\n');
  let k = hmac('AWS4' + cfg.secretAccessKey, day);
  k = hmac(k, region);
  k = hmac(k, 's3');
  k = hmac(k, 'aws4_request');
  const signature = crypto.createHmac('sha256', k).update(toSign).digest('hex');
  headers.authorization = 'AWS4-HMAC-SHA256 Credential=' + cfg.accessKeyId + '/' + scope +
    ', SignedHeaders=' + signed.join(';') + ', Signature=' + signature;
  const lib = endpoint.protocol === 'https:' ? https : http;
  const req = lib.request({
    method: method, hostname: endpoint.hostname, port: endpoint.port || undefined,
    path: canonicalURI + (qs ? '?' + qs : ''), headers: headers,
  }, (res) => {
    if (streamTo && res.statusCode === 200) {
      const out = fs.createWriteStream(streamTo, { mode: 0o600 });
      res.pipe(out);
      out.on('finish', () => onResponse(res.statusCode, Buffer.alloc(0)));
      out.on('error', (e) => fail('write ' + streamTo + ': ' + e.message));
      return;
    }
    const chunks = [];
    res.on('data', (d) => chunks.push(d));
    res.on('end', () => onResponse(res.statusCode, Buffer.concat(chunks)));
  });
  req.on('error', (e) => fail(method + ' ' + host + path + ': ' + e.message));
  if (body) {
    body.pipe(req);
  } else {
    req.end();
  }
}

let done = false;
let code = 0;
function finish(c) {
  code = c;
  done = true;
}
function check(what, status, buf, want) {
  if (want.indexOf(status) >= 0) return true;
  const m = /<Code>([^<]*)<\/Code>/.exec(buf.toString('utf8'));
  console.error('rocketchat-ha s3: ' + what + ': HTTP ' + status + (m ? ' ' + m[1] : '') + ' from ' + endpoint.host);
  finish(1);
  return false;
}
const unxml = (s) => s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function list(token) {
  const query = { 'list-type': '2', prefix: prefix };
  if (token) query['continuation-token'] = token;
  request('GET', null, query, sha256hex(''), null, null, (status, buf) => {
    if (!check('list ' + prefix, status, buf, [200])) return;
    const xml = buf.toString('utf8');
    const re = /<Contents>([\s\S]*?)<\/Contents>/g;
    let m;
    while ((m = re.exec(xml)) !== null) {
      const field = (name) => {
        const f = new RegExp('<' + name + '>([^<]*)</' + name + '>').exec(m[1]);
        return f ? unxml(f[1]) : '';
      };
      const k = field('Key');
      if (k.startsWith(prefix)) print(k.slice(prefix.length) + ' ' + field('Size') + ' ' + field('LastModified'));
    }
    const next = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml);
    if (/<IsTruncated>true<\/IsTruncated>/.test(xml) && next) {
      list(unxml(next[1]));
    } else {
      finish(0);
    }
  });
}

if (!/^[A-Za-z0-9!_.*'()\/-]*$/.test(key) || key.startsWith('/')) fail('bad key ' + JSON.stringify(key));
switch (op) {
  case 'put': {
    const size = fs.statSync(file).size;
    const h = crypto.createHash('sha256');
    const s = fs.createReadStream(file);
    s.on('data', (d) => h.update(d));
    s.on('error', (e) => fail('read ' + file + ': ' + e.message));
    s.on('end', () => {
      request('PUT', prefix + key, {}, h.digest('hex'), fs.createReadStream(file), size, (status, buf) => {
        if (check('put ' + prefix + key, status, buf, [200])) finish(0);
      });
    });
    break;
  }
  case 'get':
    request('GET', prefix + key, {}, sha256hex(''), null, null, (status, buf) => {
      if (!check('get ' + prefix + key, status, buf, [200])) return;
      fs.renameSync(file + '.part', file);
      finish(0);
    }, file + '.part');
    break;
  case 'delete':
    request('DELETE', prefix + key, {}, sha256hex(''), null, null, (status, buf) => {
      if (check('delete ' + prefix + key, status, buf, [200, 204])) finish(0);
    });
    break;
  case 'list':
    list('');
    break;
  default:
    fail('unknown operation ' + JSON.stringify(op) + ' (want put, get, list or delete)');
}
// mongosh ends when the script does; its sleep lets the requests run.
while (!done) sleep(20);
quit(code);
