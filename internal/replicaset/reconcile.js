// rocketchat-ha replica-set reconciler, run by mongosh:
//   mongosh --nodb --quiet --norc reconcile.js
// Input comes only from the environment, never from the command line:
//   RCHA_DESIRED                 desired state JSON (components.DesiredState; holds user passwords)
//   RCHA_ROOT_PASSWORD           root password wanted now
//   RCHA_ROOT_PASSWORD_PREVIOUS  root password applied by the previous successful run ("" on the first)
//   RCHA_LOCAL                   optional host:port of the mongod to run through (the one next to
//                                the script, e.g. 127.0.0.1:<that node's port>); when set and not
//                                empty it overrides desired.local, so that the steps can run
//                                through any member, not only node 0
//   RCHA_PROBE                   "1": probe mode (below); unset or empty: reconcile
// Modes (desired.mode): "" (full) initiates, adds, removes and re-votes members, then
// creates, updates and rotates users, root last. "prune" only removes the members that are
// not desired and applies the desired votes/priorities of those that stay; it never
// initiates, never adds a member, never touches a user, and does nothing on a set that is
// not initiated or has no user yet. It runs before any mongod change on scale-in.
// "force" is the explicit, opt-in recovery from a lost majority, run only as a one-shot by
// `rcha retire --force-reconfig` (never by itself, never left set): on a set that has no
// primary, through a surviving member that is not primary, it forces a reconfig keeping only
// the desired members that are already configured (same _id and host, desired votes and
// priority), waits for a primary among them, and then carries on exactly as "prune". It
// refuses, with no write and exit 1, while any member is primary (so re-running it after
// the recovery refuses), when a majority of the configured voters is reachable (an
// election needs no force), or when the kept voters would have no reachable majority.
// When the config already holds only the kept members (an earlier forced run was
// interrupted before the election), it forces nothing and only waits for the primary.
// Writes that only the lost members acknowledged may be lost; it says so loudly.
// MongoDB versions (desired.mongoVersion, the target release "major.minor" of the mongo
// image, '' or absent when unknown; desired.mongoReleases, the upgrade order;
// desired.featureCompatibility, "auto" or "manual", "manual" when absent):
// the prune and force modes first run an upgrade check, before any write (and in force
// mode before the forced reconfig): they read every reachable configured member's binary
// release (buildInfo, no login) and the set's featureCompatibilityVersion (getParameter,
// on the primary; in force mode on the local survivor), and refuse with exit 1 and no
// write when changing the binaries to the target would skip a release, when the FCV is
// not the target or the release before it (too old, or newer: a downgrade), or when the
// FCV is in transition; the message names the versions and the allowed next step. The
// full mode, after membership and the other users and before root, raises the FCV to
// the target (setFeatureCompatibilityVersion on the primary, confirm: true from 7.0 on,
// write concern majority) when featureCompatibility is "auto", every configured member
// runs the target and the FCV is the release before it; otherwise it only says why not
// (never failing for it). An unknown target turns all of this off (one line says so).
// On success the last line is "rcha-reconcile: root password in effect: current|previous":
// which of RCHA_ROOT_PASSWORD and RCHA_ROOT_PASSWORD_PREVIOUS now authenticates as root.
// Probe mode (RCHA_PROBE=1) reads neither RCHA_DESIRED nor any password: it connects to
// RCHA_LOCAL (required, exit 2 without it) without logging in, runs hello and prints exactly
// one line, "rcha-reconcile: probe: STATE", STATE being PRIMARY (isWritablePrimary),
// SECONDARY, OTHER (in a replica set, neither: e.g. STARTUP2, RECOVERING) or EMPTY (in no
// replica set: not initiated, or removed), and exits 0; when connecting or hello fails it
// prints "rcha-reconcile: probe: failed: <error>" and exits 1.
// It talks to MongoDB only through new Mongo(uri), conn.getDB(name), db.runCommand(cmd),
// db.auth(user, pwd) and sleep(ms), so tests can run it unchanged against a simulated
// replica set (tests/mongosh). Every line it prints starts with "rcha-reconcile:"; it never
// prints a password. Exit codes: 0 converged, 1 a command failed (or force mode or the
// upgrade check refused, with no write), 2 invalid input, 3 a bounded wait ran out, 4 root
// authentication failed with both passwords.
// Re-running it is always safe: on a converged replica set it makes no write at all.
//
// Layout (top-level functions, in the order main runs them):
//   readInput(env)            validate the environment into an input object (pure)
//   probe(env)                probe mode: hello on RCHA_LOCAL, one line, no login
//   authenticate(s)           connect to the local mongod, log in as root, learn whether it is initiated
//   initiate(s, initiated)    initiate with member 0 alone and create root under the localhost exception
//   preflight(s, c)           prune/force modes: the upgrade check (binaries, FCV, target), no write
//   upgradeProblem(...)       PURE: why the binaries may not go to the target release, or ''
//   forceReconfig(s)          force mode only: the forced reconfig on a survivor, then wait for a primary
//   membership(s)             loop: observe(s) -> plan(observed, desired) -> apply(s, observed, change)
//   plan(observed, desired)   PURE: the next single change, or null when membership is as desired
//   apply(s, observed, ch)    execute one planned change (a step-down or one reconfig) and wait for it
//   users(s, beforeRoot)      create/update the users, then beforeRoot, then root last
//   featureCompatibility(s)   full mode, before root: raise or report the FCV (fcvPlan: PURE)
//   main()                    run all of it, print the root-in-effect line, map errors to exit codes
// Loaded with globalThis.RCHA_RECONCILE_LIBRARY = true beforehand, the script defines
// these functions and runs nothing, so tests can call plan(), upgradeProblem() and
// fcvPlan() without any server.

const PREFIX = 'rcha-reconcile:';
const EXIT = { OK: 0, FAILED: 1, INPUT: 2, TIMEOUT: 3, AUTH: 4 };
// MongoDB error codes the reconciler reads or the simulation enforces (src/mongo/base/error_codes.yml).
const ERR = {
  UserNotFound: 11,
  Unauthorized: 13,
  AuthenticationFailed: 18,
  AlreadyInitialized: 23,
  NodeNotFound: 74,
  InvalidReplicaSetConfig: 93,
  NotYetInitialized: 94,
  NewReplicaSetConfigurationIncompatible: 103,
  ConfigurationInProgress: 109,
  CannotInitializeNodeWithData: 110,
  PrimarySteppedDown: 189,
  DuplicateKey: 11000,
  InterruptedDueToReplStateChange: 11602,
  UserAlreadyExists: 51003, // codeName Location51003: createUser on an existing user
};
const MAX_VOTERS = 7;
const POLL_MS = 1000;
const STATE = { PRIMARY: 1, SECONDARY: 2 };
const STATE_NAMES = {
  0: 'STARTUP', 1: 'PRIMARY', 2: 'SECONDARY', 3: 'RECOVERING', 5: 'STARTUP2',
  6: 'UNKNOWN', 7: 'ARBITER', 8: 'DOWN', 9: 'ROLLBACK', 10: 'REMOVED',
};

// ---- errors, redaction, logging ---------------------------------------------

function failure(exitCode, msg) {
  const e = new Error(msg);
  e.rchaExit = exitCode;
  return e;
}
function describe(e) {
  if (e === null || e === undefined) return 'unknown error';
  let s = String(e.message || e.errmsg || e);
  if (e.code !== undefined) s += ' (code ' + e.code + (e.codeName ? ' ' + e.codeName : '') + ')';
  return s;
}
function codeOf(e) {
  return (e && typeof e.code === 'number') ? e.code : undefined;
}
// secretsOf lists every password the environment carries, even when the
// input is invalid, so that error messages can be redacted as well.
function secretsOf(env) {
  const out = [env.RCHA_ROOT_PASSWORD || '', env.RCHA_ROOT_PASSWORD_PREVIOUS || ''];
  try {
    const d = JSON.parse(env.RCHA_DESIRED || '');
    const us = (d && Array.isArray(d.users)) ? d.users : [];
    for (let i = 0; i < us.length; i++) out.push(us[i] && us[i].pwd);
  } catch (ignored) {
    // Reported by readInput, without quoting the input.
  }
  return out;
}
// redact is the one redaction of the script: every printed line goes through it.
function redact(text, secrets) {
  let s = String(text);
  for (let i = 0; i < secrets.length; i++) {
    if (secrets[i]) s = s.split(secrets[i]).join('***');
  }
  return s;
}
function logLine(s, msg) {
  print(PREFIX + ' ' + redact(msg, s.secrets));
}
function stateName(st) {
  return STATE_NAMES[st] || ('state ' + st);
}

// ---- input ------------------------------------------------------------------

// hostPortProblem returns why hp is not host:port, or '' when it is: the
// rules of replicaset.validHostPort (state.go), which validates desired.local
// on the Go side: net.SplitHostPort, then check.Host (net.ParseIP, or an RFC
// 1123 host name of at most 253 characters that is not all digits and dots),
// then strconv.Atoi for a port from 1 to 65535.
function hostPortProblem(hp) {
  if (typeof hp !== 'string' || hp === '') return 'is empty';
  // net.SplitHostPort: the port follows the last colon; a host in brackets
  // ends with the first ']', just before that colon.
  const i = hp.lastIndexOf(':');
  if (i < 0) return 'is not host:port (missing port)';
  let host;
  let j = 0;
  let k = 0;
  if (hp[0] === '[') {
    const end = hp.indexOf(']');
    if (end < 0) return "is not host:port (missing ']')";
    if (end + 1 === hp.length) return 'is not host:port (missing port)';
    if (end + 1 !== i) return 'is not host:port (' + (hp[end + 1] === ':' ? 'too many colons' : 'missing port') + ')';
    host = hp.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hp.slice(0, i);
    if (host.indexOf(':') >= 0) return 'is not host:port (too many colons)';
  }
  if (hp.slice(j).indexOf('[') >= 0) return "is not host:port (unexpected '[')";
  if (hp.slice(k).indexOf(']') >= 0) return "is not host:port (unexpected ']')";
  const port = hp.slice(i + 1);
  if (!isIPv4(host) && !isIPv6(host) && !isHostName(host)) return 'has an invalid host name ' + JSON.stringify(host);
  if (!/^[+-]?[0-9]+$/.test(port) || !(Number(port) >= 1 && Number(port) <= 65535)) return 'has an invalid port ' + JSON.stringify(port);
  return '';
}
function isIPv4(s) {
  const octet = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'; // no leading zero, as net.ParseIP
  return new RegExp('^' + octet + '(\\.' + octet + '){3}$').test(s);
}
// isIPv6 follows net.ParseIP: eight groups of 1-4 hex digits, one "::"
// standing for at least one zero group, an IPv4 address as the last two
// groups, no zone.
function isIPv6(s) {
  if (s.indexOf(':') < 0 || !/^[0-9A-Fa-f:.]+$/.test(s)) return false;
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groupsOf = function (part) { return part === '' ? [] : part.split(':'); };
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  const last = halves.length === 2 ? tail : head; // the part an IPv4 suffix may end
  let n = 0;
  const all = head.concat(tail);
  for (let g = 0; g < all.length; g++) {
    const isLast = last.length > 0 && g === all.length - 1;
    if (isLast && all[g].indexOf('.') >= 0) {
      if (!isIPv4(all[g])) return false;
      n += 2;
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(all[g])) {
      n++;
    } else {
      return false;
    }
  }
  return halves.length === 2 ? n < 8 : n === 8;
}
// isHostName is check.HostName.
function isHostName(s) {
  const label = '[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?';
  return s.length <= 253 && new RegExp('^' + label + '(\\.' + label + ')*$').test(s) && !/^[0-9.]+$/.test(s);
}
// localOf is the host:port of the mongod to run through: RCHA_LOCAL when set
// and not empty, else fallback (desired.local); it throws failure(EXIT.INPUT).
function localOf(env, fallback, fallbackName) {
  const fromEnv = env.RCHA_LOCAL || '';
  const hp = fromEnv || fallback;
  const name = fromEnv ? 'RCHA_LOCAL' : fallbackName;
  const why = hostPortProblem(hp);
  if (why) throw failure(EXIT.INPUT, name + ' ' + JSON.stringify(String(hp)) + ' ' + why);
  return hp;
}

// readInput validates the environment; it throws failure(EXIT.INPUT) and never
// quotes the desired state (it holds passwords).
function readInput(env) {
  const rootPassword = env.RCHA_ROOT_PASSWORD || '';
  const previousRoot = env.RCHA_ROOT_PASSWORD_PREVIOUS || '';
  let desired;
  try {
    desired = JSON.parse(env.RCHA_DESIRED || '');
  } catch (e) {
    // The parser's message may quote the input, which holds passwords: do not show it.
    throw failure(EXIT.INPUT, 'reading RCHA_DESIRED: it is not valid JSON');
  }
  if (!desired || typeof desired !== 'object') throw failure(EXIT.INPUT, 'reading RCHA_DESIRED: not a JSON object');
  const users = Array.isArray(desired.users) ? desired.users : [];
  const members = Array.isArray(desired.members) ? desired.members : [];
  if (!desired.replicaSet || !(desired.local || env.RCHA_LOCAL) || !desired.rootUser || members.length === 0) {
    throw failure(EXIT.INPUT, 'reading RCHA_DESIRED: replicaSet, local (or RCHA_LOCAL), rootUser and at least one member are required');
  }
  const local = localOf(env, desired.local, 'reading RCHA_DESIRED: local');
  for (let i = 0; i < members.length; i++) {
    const m = members[i];
    if (!m || typeof m.host !== 'string' || !m.host || (m.votes !== 0 && m.votes !== 1) || typeof m.priority !== 'number') {
      throw failure(EXIT.INPUT, 'reading RCHA_DESIRED: member ' + i + ' needs host, votes 0 or 1, and a numeric priority');
    }
  }
  for (let i = 0; i < users.length; i++) {
    const u = users[i];
    if (!u || !u.user || !u.db || !u.pwd || !Array.isArray(u.roles)) {
      throw failure(EXIT.INPUT, 'reading RCHA_DESIRED: user ' + i + ' needs user, db, pwd and roles');
    }
  }
  if (!rootPassword) throw failure(EXIT.INPUT, 'RCHA_ROOT_PASSWORD is empty');
  const waitSeconds = Number(desired.waitSeconds);
  if (!(waitSeconds >= 1)) throw failure(EXIT.INPUT, 'reading RCHA_DESIRED: waitSeconds must be at least 1');
  const waitMs = Math.round(waitSeconds * 1000);
  const mode = desired.mode === undefined || desired.mode === '' ? 'full' : desired.mode;
  if (mode !== 'full' && mode !== 'prune' && mode !== 'force') {
    throw failure(EXIT.INPUT, 'reading RCHA_DESIRED: mode ' + JSON.stringify(String(mode)) + ' is none of "" (full), "prune" and "force"');
  }
  const release = /^[0-9]{1,3}\.[0-9]{1,3}$/;
  const mongoVersion = desired.mongoVersion === undefined || desired.mongoVersion === null ? '' : desired.mongoVersion;
  if (mongoVersion !== '' && !(typeof mongoVersion === 'string' && release.test(mongoVersion))) {
    throw failure(EXIT.INPUT, 'reading RCHA_DESIRED: mongoVersion ' + JSON.stringify(String(mongoVersion)) + ' is not major.minor');
  }
  const releases = desired.mongoReleases === undefined || desired.mongoReleases === null ? [] : desired.mongoReleases;
  if (!Array.isArray(releases)) throw failure(EXIT.INPUT, 'reading RCHA_DESIRED: mongoReleases must be a list of major.minor releases');
  for (let i = 0; i < releases.length; i++) {
    if (typeof releases[i] !== 'string' || !release.test(releases[i]) || (i > 0 && compareRelease(releases[i - 1], releases[i]) >= 0)) {
      throw failure(EXIT.INPUT, 'reading RCHA_DESIRED: mongoReleases[' + i + '] ' + JSON.stringify(String(releases[i])) + ' is not a major.minor release newer than the one before it');
    }
  }
  const fc = desired.featureCompatibility === undefined || desired.featureCompatibility === null || desired.featureCompatibility === '' ? 'manual' : desired.featureCompatibility;
  if (fc !== 'auto' && fc !== 'manual') {
    throw failure(EXIT.INPUT, 'reading RCHA_DESIRED: featureCompatibility ' + JSON.stringify(String(fc)) + ' is neither "auto" nor "manual"');
  }
  return {
    rootPassword: rootPassword,
    previousRoot: previousRoot,
    rsName: desired.replicaSet,
    local: local,
    rootUser: desired.rootUser,
    members: members,
    member0: members[0].host,
    users: users,
    waitSeconds: waitSeconds,
    waitMs: waitMs,
    wc: { w: 'majority', wtimeout: waitMs },
    mode: mode,
    // Force mode carries on as prune mode once the forced reconfig is done.
    prune: mode === 'prune' || mode === 'force',
    force: mode === 'force',
    // The target MongoDB release ('' = unknown: no version check, FCV never raised),
    // the upgrade order, and whether the full step raises FCV ('manual' when absent).
    mongoVersion: mongoVersion,
    mongoReleases: releases.slice(),
    featureCompatibility: fc,
  };
}

// ---- server access ----------------------------------------------------------
// A session s holds the input, the secrets to redact, and the connections
// learnt so far: local (unauthenticated), auth ({c, which}: root on the local
// mongod), rootWhich ('current' or 'previous'), primary (root on the primary).

function open(input, host) {
  const t = Math.min(input.waitMs, 30000);
  const uri = 'mongodb://' + host + '/?directConnection=true&serverSelectionTimeoutMS=' + t + '&connectTimeoutMS=' + t;
  const conn = new Mongo(uri);
  return { host: host, conn: conn, admin: conn.getDB('admin') };
}
// run returns the reply, or throws a failure naming the action and the member.
// The reply is assigned inside the try, not returned from it: mongosh's async
// rewriter awaits an assignment there, but a returned promise only after the
// try, where the catch no longer sees its error.
function run(c, dbName, cmd, action) {
  let reply;
  try {
    reply = c.conn.getDB(dbName).runCommand(cmd);
  } catch (e) {
    throw failure(EXIT.FAILED, action + ' on ' + c.host + ': ' + describe(e));
  }
  return reply;
}
// attempt returns {ok, reply} or {ok: false, error} without throwing.
function attempt(c, dbName, cmd) {
  try {
    return { ok: true, reply: c.conn.getDB(dbName).runCommand(cmd) };
  } catch (e) {
    return { ok: false, error: e };
  }
}
// authAs opens a fresh connection to host and authenticates; it returns the
// connection, null when the credentials are rejected (AuthenticationFailed),
// and throws otherwise.
function authAs(input, host, dbName, user, pwd, action) {
  let c;
  try {
    c = open(input, host);
  } catch (e) {
    throw failure(EXIT.FAILED, 'connecting to ' + host + ' for ' + action + ': ' + describe(e));
  }
  try {
    c.conn.getDB(dbName).auth(user, pwd);
    return c;
  } catch (e) {
    if (codeOf(e) === ERR.AuthenticationFailed) return null;
    throw failure(EXIT.FAILED, action + ' on ' + host + ': ' + describe(e));
  }
}
// authRoot tries the current root password, then the previous one.
function authRoot(input, host) {
  const ru = input.rootUser;
  const c = authAs(input, host, 'admin', ru, input.rootPassword, 'authenticating as ' + ru + ' with the current password');
  if (c) return { c: c, which: 'current' };
  if (input.previousRoot && input.previousRoot !== input.rootPassword) {
    const p = authAs(input, host, 'admin', ru, input.previousRoot, 'authenticating as ' + ru + ' with the previous password');
    if (p) return { c: p, which: 'previous' };
  }
  return null;
}
function rejectedBoth(input, host, extra) {
  return failure(EXIT.AUTH, 'authenticating as ' + input.rootUser + ' on ' + host +
    ': rejected with the current and the previous root password' + (extra || ''));
}
function authRootOrFail(s, host) {
  const r = authRoot(s.input, host);
  if (!r) throw rejectedBoth(s.input, host);
  s.rootWhich = r.which;
  return r.c;
}
// rootConn logs in on host with the root password that worked before.
function rootConn(s, host) {
  const input = s.input;
  const pwd = s.rootWhich === 'previous' ? input.previousRoot : input.rootPassword;
  const c = authAs(input, host, 'admin', input.rootUser, pwd, 'authenticating as ' + input.rootUser);
  if (!c) throw failure(EXIT.AUTH, 'authenticating as ' + input.rootUser + ' on ' + host + ': password rejected');
  return c;
}

// waitFor polls check() until it reports done, for at most waitSeconds. check
// returns {done, detail}; errors it throws count as "not yet".
function waitFor(input, what, check) {
  const deadline = Date.now() + input.waitMs;
  let slept = 0;
  let detail = '';
  for (;;) {
    try {
      const r = check();
      if (r.done) return r;
      detail = r.detail || '';
    } catch (e) {
      // Failed commands are retried until the bound (elections, step-downs,
      // restarts); timeouts, bad input and rejected credentials are final.
      if (e && e.rchaExit && e.rchaExit !== EXIT.FAILED) throw e;
      detail = (e && e.rchaExit) ? e.message : describe(e);
    }
    if (slept >= input.waitMs || Date.now() >= deadline) {
      throw failure(EXIT.TIMEOUT, 'timed out after ' + input.waitSeconds + 's ' + what + (detail ? ': ' + detail : ''));
    }
    sleep(POLL_MS);
    slept += POLL_MS;
  }
}

// ---- probe ------------------------------------------------------------------

const PROBE_TIMEOUT_MS = 10000;
// probeState (pure) is what probe mode prints for a hello reply.
function probeState(h) {
  if (h && h.isWritablePrimary === true) return 'PRIMARY';
  if (h && h.secondary === true) return 'SECONDARY';
  if (h && h.setName) return 'OTHER';
  return 'EMPTY';
}
// probe is the whole of probe mode (RCHA_PROBE=1) and returns the exit code.
// It reads RCHA_LOCAL only: no desired state, no password, no login (hello
// needs none), so nothing it prints can hold a secret.
function probe(env) {
  if (!env.RCHA_LOCAL) {
    print(PREFIX + ' ERROR: probe mode (RCHA_PROBE=1) needs RCHA_LOCAL, the host:port of the mongod to probe');
    return EXIT.INPUT;
  }
  let local;
  try {
    local = localOf(env, '', 'RCHA_LOCAL');
  } catch (e) {
    print(PREFIX + ' ERROR: ' + e.message);
    return EXIT.INPUT;
  }
  let h;
  try {
    h = open({ waitMs: PROBE_TIMEOUT_MS }, local).admin.runCommand({ hello: 1 });
  } catch (e) {
    print(PREFIX + ' probe: failed: hello on ' + local + ': ' + describe(e));
    return EXIT.FAILED;
  }
  print(PREFIX + ' probe: ' + probeState(h));
  return EXIT.OK;
}

// ---- authenticate -----------------------------------------------------------

// authenticate connects to the local mongod, logs in as root when a root user
// exists, and returns whether the local mongod has a replica-set config.
function authenticate(s) {
  const input = s.input;
  try {
    s.local = open(input, input.local);
  } catch (e) {
    throw failure(EXIT.FAILED, 'connecting to the local mongod ' + input.local + ': ' + describe(e));
  }
  const hello0 = run(s.local, 'admin', { hello: 1 }, 'reading hello');
  if (hello0.setName && hello0.setName !== input.rsName) {
    throw failure(EXIT.INPUT, 'the local mongod ' + input.local + ' belongs to replica set ' + hello0.setName + ', not ' + input.rsName);
  }
  s.auth = authRoot(input, input.local);
  if (s.auth) {
    s.rootWhich = s.auth.which;
    const st = attempt(s.auth.c, 'admin', { replSetGetStatus: 1 });
    if (st.ok) return true;
    if (codeOf(st.error) === ERR.NotYetInitialized) return false;
    throw failure(EXIT.FAILED, 'reading replica-set status on ' + input.local + ': ' + describe(st.error));
  }
  // No root login: either no user exists yet (localhost exception) or the
  // passwords are wrong. hello needs no authentication.
  const initiated = Boolean(hello0.setName);
  const known = (hello0.hosts || []).length + (hello0.passives || []).length;
  if (initiated && known > 1) {
    // Members are only added after the root user exists, so users exist.
    throw rejectedBoth(input, input.local);
  }
  return initiated;
}

// ---- initiate ---------------------------------------------------------------

// initiate gives the local mongod a config naming member 0 alone (unless it
// has one) and, when no root login worked, creates the root user under the
// localhost exception once member 0 is primary. Afterwards s.auth is set.
function initiate(s, initiated) {
  const input = s.input;
  if (!initiated) {
    // Member 0 has no config. If any other desired member already belongs to
    // the set, member 0 is a new node placed first: initiating here would
    // start a second replica set beside the real one. hello needs no login.
    for (let i = 1; i < input.members.length; i++) {
      let h = null;
      try {
        h = open(input, input.members[i].host).admin.runCommand({ hello: 1 });
      } catch (e) {
        continue; // not reachable (yet): it cannot hold the set either
      }
      if (h && h.setName === input.rsName) {
        throw failure(EXIT.INPUT, 'initiating replica set ' + input.rsName + ' on member 0 ' + input.member0 + ': member ' +
          input.members[i].host + ' already belongs to ' + input.rsName + '; initiating would start a second set. ' +
          'List a current member first in nodes (node 0 initiates and runs the step)');
      }
    }
    const m = input.members[0];
    const cfg = { _id: input.rsName, version: 1, members: [{ _id: 0, host: m.host, votes: m.votes, priority: m.priority }] };
    logLine(s, 'initiating replica set ' + input.rsName + ' with member 0 ' + m.host + ' alone' +
        (s.auth ? '' : ' (localhost exception)'));
    const r = attempt(s.auth ? s.auth.c : s.local, 'admin', { replSetInitiate: cfg });
    if (!r.ok && codeOf(r.error) !== ERR.AlreadyInitialized) {
      const hint = codeOf(r.error) === ERR.NodeNotFound ? '; a new set is initiated through member 0 (RCHA_LOCAL must then be member 0\'s mongod)' : '';
      throw failure(EXIT.FAILED, 'initiating replica set ' + input.rsName + ' with member 0 ' + m.host + ' on ' + input.local + ': ' + describe(r.error) + hint);
    }
    if (!r.ok) logLine(s, 'replica set ' + input.rsName + ' was already initiated (code ' + ERR.AlreadyInitialized + ')');
  }
  if (s.auth) return;
  waitFor(input, 'waiting for member 0 ' + input.member0 + ' to become primary', function () {
    const h = s.local.admin.runCommand({ hello: 1 });
    return { done: h.isWritablePrimary === true, detail: 'it is not primary yet' };
  });
  logLine(s, 'creating root user ' + input.rootUser + ' on member 0 ' + input.member0 + ' (localhost exception)');
  const r = attempt(s.local, 'admin', {
    createUser: input.rootUser, pwd: input.rootPassword, roles: [{ role: 'root', db: 'admin' }], writeConcern: input.wc,
  });
  if (!r.ok) {
    const c = codeOf(r.error);
    if (c === ERR.Unauthorized || c === ERR.UserAlreadyExists || c === ERR.DuplicateKey) {
      throw rejectedBoth(input, input.local, ', and the localhost exception is closed (' + describe(r.error) + ')');
    }
    throw failure(EXIT.FAILED, 'creating root user ' + input.rootUser + ' on ' + input.local + ': ' + describe(r.error));
  }
  s.auth = { c: authRootOrFail(s, input.local), which: 'current' };
}

// ---- force (majority loss recovery) -------------------------------------------

// forcedConfig (pure) is cfg keeping only the desired members it already has
// (same _id and host; arbiters are dropped), each with its desired votes and
// priority, at version + 1 (the server raises a forced config's version
// further) and without term. Like nextConfig it copies shallowly, so that
// settings.replicaSetId goes back as the server gave it. It returns
// {config, kept: [host], dropped: [host]}.
function forcedConfig(cfg, desired) {
  const want = byHost(desired.members);
  const next = Object.assign({}, cfg);
  delete next.term;
  next.version = cfg.version + 1;
  next.members = [];
  const kept = [];
  const dropped = [];
  for (let i = 0; i < cfg.members.length; i++) {
    const m = cfg.members[i];
    const w = want[m.host];
    if (!w || m.arbiterOnly) {
      dropped.push(m.host);
      continue;
    }
    const k = Object.assign({}, m);
    k.votes = w.votes;
    k.priority = w.priority;
    next.members.push(k);
    kept.push(m.host);
  }
  return { config: next, kept: kept, dropped: dropped };
}
// sameMembers (pure): a and b have the same members (_id, host, votes, priority).
function sameMembers(a, b) {
  const key = function (cfg) {
    const out = [];
    for (let i = 0; i < cfg.members.length; i++) {
      const m = cfg.members[i];
      out.push(m._id + '=' + m.host + '/' + (isVoter(m) ? 1 : 0) + '/' + priorityOf(m) + (m.arbiterOnly ? '/arbiter' : ''));
    }
    return out.sort().join(',');
  };
  return key(a) === key(b);
}
function votersIn(cfg) {
  const out = [];
  for (let i = 0; i < cfg.members.length; i++) if (isVoter(cfg.members[i])) out.push(cfg.members[i].host);
  return out;
}
function primaryExists(host) {
  return failure(EXIT.FAILED, 'a primary exists (' + host + '): a forced reconfig is refused; retire without --force-reconfig');
}
// forceReconfig is the first part of force mode, on the local mongod, which
// must be a member that is not primary: it refuses while any member is
// primary, forces a reconfig that keeps only the desired members already
// configured (unless the config already is that), and waits for a primary.
// Every refusal comes before the one write.
function forceReconfig(s) {
  const input = s.input;
  const c = s.auth.c;
  const hello = run(c, 'admin', { hello: 1 }, 'reading hello');
  if (hello.isWritablePrimary === true) throw primaryExists(hello.me || input.local);
  if (hello.primary) throw primaryExists(hello.primary);
  const status = run(c, 'admin', { replSetGetStatus: 1 }, 'reading the replica-set status');
  const members = status.members || [];
  let self = null;
  const reachable = {};
  for (let i = 0; i < members.length; i++) {
    const m = members[i];
    if (m.state === STATE.PRIMARY) throw primaryExists(m.name);
    if (m.self) self = m.name;
    if (m.self || m.health === 1) reachable[m.name] = true;
  }
  if (!self) self = hello.me;
  if (!self) throw failure(EXIT.FAILED, 'force mode: the local mongod ' + input.local + ' does not find itself in the replica-set status');
  const cfg = run(c, 'admin', { replSetGetConfig: 1 }, 'reading the replica-set config').config;
  const f = forcedConfig(cfg, input);
  if (f.kept.indexOf(self) < 0) {
    throw failure(EXIT.INPUT, 'force mode: the local mongod ' + self + ' is not a desired member; a forced reconfig runs through a surviving member that stays (no write)');
  }
  const count = function (hosts) {
    let n = 0;
    for (let i = 0; i < hosts.length; i++) if (reachable[hosts[i]]) n++;
    return n;
  };
  const keptVoters = votersIn(f.config);
  let electable = 0;
  for (let i = 0; i < f.config.members.length; i++) {
    if (isVoter(f.config.members[i]) && priorityOf(f.config.members[i]) > 0) electable++;
  }
  if (electable === 0) {
    throw failure(EXIT.INPUT, 'force mode: no desired member that is configured (' + f.kept.join(', ') + ') could vote and be elected (no write)');
  }
  const keptUp = count(keptVoters);
  if (keptUp * 2 <= keptVoters.length) {
    throw failure(EXIT.FAILED, 'force mode: only ' + keptUp + ' of the ' + keptVoters.length + ' voting members the forced config would keep (' +
        keptVoters.join(', ') + ') are reachable: it could elect no primary; a forced reconfig is refused (no write)');
  }
  if (sameMembers(cfg, f.config)) {
    logLine(s, 'force mode: config version ' + cfg.version + ' already holds only the desired members ' + f.kept.join(', ') +
        ' (an earlier forced run may have made it): nothing to force; waiting for a primary');
  } else {
    const curVoters = votersIn(cfg);
    const curUp = count(curVoters);
    if (curUp * 2 > curVoters.length) {
      throw failure(EXIT.FAILED, 'force mode: ' + curUp + ' of the ' + curVoters.length + ' voting members are reachable, a majority that elects a primary by itself: ' +
          'a forced reconfig is refused; wait for the election and retire without --force-reconfig');
    }
    logLine(s, 'WARNING: forcing a replica-set reconfig of ' + input.rsName + ' on ' + self + ': no member is primary and only ' + curUp + ' of the ' +
        curVoters.length + ' voting members are reachable (the majority is lost)');
    logLine(s, 'WARNING: the forced config keeps ' + f.kept.join(', ') + ' and drops ' + (f.dropped.length ? f.dropped.join(', ') : 'no member'));
    logLine(s, 'WARNING: writes acknowledged only by the lost members may be lost');
    logLine(s, 'WARNING: this is the one-shot recovery of `rcha retire --force-reconfig`; the server gives the forced config a much higher version');
    run(c, 'admin', { replSetReconfig: f.config, force: true, maxTimeMS: input.waitMs }, 'forcing a reconfig');
    s.changes++;
    let version = '?';
    const after = attempt(c, 'admin', { replSetGetConfig: 1 });
    if (after.ok && after.reply && after.reply.config) version = after.reply.config.version;
    logLine(s, 'forced reconfig accepted on ' + self + ': config version ' + cfg.version + ' -> ' + version + ', members ' + f.kept.join(', '));
  }
  waitFor(input, 'waiting for a primary among ' + f.kept.join(', ') + ' after the forced reconfig', function () {
    const h = c.admin.runCommand({ hello: 1 });
    return h.primary ? { done: true } : { done: false, detail: 'no member is primary yet' };
  });
}

// ---- primary and observation ------------------------------------------------

// findPrimary sets s.primary to a root connection to the writable primary.
function findPrimary(s, why) {
  let found = null;
  waitFor(s.input, 'waiting for a primary in ' + s.input.rsName + (why ? ' ' + why : ''), function () {
    const h = s.auth.c.admin.runCommand({ hello: 1 });
    if (!h.primary) return { done: false, detail: 'no member is primary' };
    if (!s.primary || s.primary.host !== h.primary) s.primary = rootConn(s, h.primary);
    const ph = s.primary.admin.runCommand({ hello: 1 });
    if (ph.isWritablePrimary !== true) {
      s.primary = null;
      return { done: false, detail: h.primary + ' is no longer primary' };
    }
    found = s.primary;
    return { done: true };
  });
  return found;
}
function readConfig(p) {
  const r = run(p, 'admin', { replSetGetConfig: 1, commitmentStatus: true }, 'reading the replica-set config');
  return { config: r.config, committed: r.commitmentStatus === true };
}
function readStatus(p) {
  const st = run(p, 'admin', { replSetGetStatus: 1 }, 'reading the replica-set status');
  const byHost = {};
  for (let i = 0; i < (st.members || []).length; i++) byHost[st.members[i].name] = st.members[i];
  return byHost;
}
// observeOn reads what plan() needs from the primary p:
//   {config, committed, primary: host, states: {host: replica-set state number}}.
function observeOn(p) {
  const rc = readConfig(p);
  const st = readStatus(p);
  const states = {};
  for (const h in st) states[h] = st[h].state;
  return { config: rc.config, committed: rc.committed, primary: p.host, states: states };
}
function observe(s) {
  if (!s.primary) findPrimary(s, '');
  return observeOn(s.primary);
}
// onPrimary runs fn with the primary's connection and forgets the primary
// when fn throws, so that the next poll looks it up again.
function onPrimary(s, fn) {
  const p = s.primary || findPrimary(s, '');
  try {
    return fn(p);
  } catch (e) {
    s.primary = null;
    throw e;
  }
}

// ---- plan (pure) ------------------------------------------------------------
// observed: {config: {members: [{_id, host, votes?, priority?, arbiterOnly?}]},
//            committed: bool, primary: host, states: {host: state}}
// desired:  {members: [{host, votes, priority}], mode: 'full' | 'prune' | 'force'}
// plan returns null (membership is as desired) or one change:
//   {kind: 'wait', detail, then}      the set is not settled: wait, then plan again (then is the change waited for)
//   {kind: 'stepDown', host, then}    the change (then) removes or demotes the primary: step it down first
//   {kind: 'remove', host, id, voter}
//   {kind: 'add', host, id, votes, priority, voter}
//   {kind: 'promote' | 'demote', host, id, votes, priority, voter: true}
//   {kind: 'priority', fixes: [{host, votes, priority}], voter: false}
// Each reconfig changes at most one voter (error 103 otherwise), never leaves
// fewer than one voter, and gives a member a vote only while there are fewer
// than MAX_VOTERS. Prune mode, and force mode after its forced reconfig, never add a member.

function isVoter(m) {
  return (m.votes === undefined ? 1 : m.votes) > 0;
}
function priorityOf(m) {
  return m.priority === undefined ? 1 : m.priority;
}
function nextId(cur) {
  const used = {};
  for (let i = 0; i < cur.length; i++) used[cur[i]._id] = true;
  let id = 0;
  while (used[id]) id++;
  return id;
}
function byHost(list) {
  const out = {};
  for (let i = 0; i < list.length; i++) out[list[i].host] = list[i];
  return out;
}
// membershipChange picks the next reconfig: remove non-voters (and arbiters),
// add members, promote, remove or demote voters, then fix priorities.
function membershipChange(cur, desired) {
  const want = desired.members;
  const wantByHost = byHost(want);
  const curByHost = byHost(cur);
  // Force mode carries on as prune mode once its forced reconfig is done.
  const prune = desired.mode === 'prune' || desired.mode === 'force';
  let voters = 0;
  for (let i = 0; i < cur.length; i++) if (isVoter(cur[i])) voters++;
  const wanted = function (m) { return Boolean(wantByHost[m.host]) && !m.arbiterOnly; };
  for (let i = 0; i < cur.length; i++) {
    if (!wanted(cur[i]) && !isVoter(cur[i])) return { kind: 'remove', host: cur[i].host, id: cur[i]._id, voter: false };
  }
  for (let i = 0; i < cur.length; i++) {
    if (cur[i].arbiterOnly && voters > 1) return { kind: 'remove', host: cur[i].host, id: cur[i]._id, voter: true };
  }
  // Prune mode never adds: a desired member that is not configured may not exist yet.
  for (let i = 0; i < want.length && !prune; i++) {
    const w = want[i];
    if (curByHost[w.host]) continue;
    const asVoter = w.votes > 0 && voters + 1 <= MAX_VOTERS;
    return {
      kind: 'add', host: w.host, id: nextId(cur),
      votes: asVoter ? 1 : 0, priority: asVoter ? w.priority : 0, voter: asVoter,
    };
  }
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const m = curByHost[w.host];
    if (m && w.votes > 0 && !isVoter(m) && voters < MAX_VOTERS) {
      return { kind: 'promote', host: w.host, id: m._id, votes: 1, priority: w.priority, voter: true };
    }
  }
  for (let i = 0; i < cur.length; i++) {
    if (!wanted(cur[i]) && isVoter(cur[i]) && voters > 1) return { kind: 'remove', host: cur[i].host, id: cur[i]._id, voter: true };
  }
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const m = curByHost[w.host];
    if (m && w.votes === 0 && isVoter(m) && voters > 1) {
      return { kind: 'demote', host: w.host, id: m._id, votes: 0, priority: 0, voter: true };
    }
  }
  const fixes = [];
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const m = curByHost[w.host];
    if (m && (isVoter(m) ? 1 : 0) === w.votes && priorityOf(m) !== w.priority) {
      fixes.push({ host: w.host, votes: w.votes, priority: w.priority });
    }
  }
  if (fixes.length > 0) return { kind: 'priority', fixes: fixes, voter: false };
  return null;
}
// unsettled returns why the next reconfig must wait (the current config is
// not committed, or a configured and desired member is not PRIMARY or
// SECONDARY, such as a newlyAdded member in initial sync), or '' when settled.
function unsettled(observed, desired) {
  if (!observed.committed) {
    return 'config version ' + observed.config.version + ' is not committed yet on primary ' + observed.primary;
  }
  const wantByHost = byHost(desired.members);
  const cur = observed.config.members;
  for (let i = 0; i < cur.length; i++) {
    const m = cur[i];
    if (!wantByHost[m.host]) continue;
    const st = observed.states[m.host];
    if (st !== STATE.PRIMARY && st !== STATE.SECONDARY) {
      return 'member ' + m.host + ' (_id ' + m._id + ') is ' + (st === undefined ? 'missing from the status' : stateName(st));
    }
  }
  return '';
}
function plan(observed, desired) {
  const change = membershipChange(observed.config.members, desired);
  if (!change) return null;
  const why = unsettled(observed, desired);
  if (why) return { kind: 'wait', detail: why, then: change };
  if ((change.kind === 'remove' || change.kind === 'demote') && change.host === observed.primary) {
    return { kind: 'stepDown', host: change.host, then: change };
  }
  return change;
}
function describeChange(ch) {
  switch (ch.kind) {
    case 'wait': return 'waiting (' + ch.detail + ') before ' + describeChange(ch.then);
    case 'stepDown': return 'stepping down primary ' + ch.host + ' before ' + describeChange(ch.then);
    case 'remove': return 'removing ' + (ch.voter ? 'voting' : 'non-voting') + ' member ' + ch.host + ' (_id ' + ch.id + ')';
    case 'add': return 'adding member ' + ch.host + ' (_id ' + ch.id + ', votes ' + ch.votes + ', priority ' + ch.priority + ')';
    case 'promote': return 'giving member ' + ch.host + ' (_id ' + ch.id + ') votes 1, priority ' + ch.priority;
    case 'demote': return 'making member ' + ch.host + ' (_id ' + ch.id + ') non-voting (votes 0, priority 0)';
    default: {
      const hs = [];
      for (let i = 0; i < ch.fixes.length; i++) hs.push(ch.fixes[i].host + '=' + ch.fixes[i].priority);
      return 'setting priorities ' + hs.join(', ');
    }
  }
}
// nextConfig (pure) is cfg with the reconfig ch applied. It copies shallowly so
// that server-typed values such as settings.replicaSetId (an ObjectId) go back
// unchanged; the server sets term.
function nextConfig(cfg, ch) {
  const next = Object.assign({}, cfg);
  delete next.term;
  next.members = [];
  for (let i = 0; i < cfg.members.length; i++) next.members.push(Object.assign({}, cfg.members[i]));
  next.version = cfg.version + 1;
  if (ch.kind === 'remove') {
    next.members = next.members.filter(function (m) { return m.host !== ch.host; });
  } else if (ch.kind === 'add') {
    next.members.push({ _id: ch.id, host: ch.host, votes: ch.votes, priority: ch.priority });
  } else if (ch.kind === 'promote' || ch.kind === 'demote') {
    for (let i = 0; i < next.members.length; i++) {
      if (next.members[i].host === ch.host) {
        next.members[i].votes = ch.votes;
        next.members[i].priority = ch.priority;
      }
    }
  } else if (ch.kind === 'priority') {
    const fix = byHost(ch.fixes);
    for (let i = 0; i < next.members.length; i++) {
      const f = fix[next.members[i].host];
      if (f && (isVoter(next.members[i]) ? 1 : 0) === f.votes) next.members[i].priority = f.priority;
    }
  } else {
    throw new Error('nextConfig: ' + ch.kind + ' is not a reconfig');
  }
  return next;
}

// ---- apply ------------------------------------------------------------------

// settle waits until plan() would no longer wait: the current config is
// committed and every member that is both configured and desired is PRIMARY
// or SECONDARY.
function settle(s, before) {
  waitFor(s.input, 'waiting for the replica-set config to be committed and desired members to be healthy before ' + before, function () {
    return onPrimary(s, function (p) {
      const why = unsettled(observeOn(p), s.input);
      return why ? { done: false, detail: why } : { done: true };
    });
  });
}
function stepDown(s, host) {
  const input = s.input;
  logLine(s, 'stepping down primary ' + host + ' before changing its membership');
  const catchUp = Math.max(1, Math.min(10, input.waitSeconds));
  const r = attempt(s.primary, 'admin', { replSetStepDown: Math.max(60, input.waitSeconds), secondaryCatchUpPeriodSecs: catchUp });
  // A step-down may cut the connection (no code) or interrupt it.
  const c = codeOf(r.error);
  if (!r.ok && c !== undefined && c !== ERR.PrimarySteppedDown && c !== ERR.InterruptedDueToReplStateChange) {
    throw failure(EXIT.FAILED, 'stepping down primary ' + host + ': ' + describe(r.error));
  }
  s.primary = null;
  waitFor(input, 'waiting for a new primary after stepping down ' + host, function () {
    const h = s.auth.c.admin.runCommand({ hello: 1 });
    if (!h.primary || h.primary === host) return { done: false, detail: h.primary ? host + ' is still primary' : 'no member is primary' };
    return { done: true };
  });
  findPrimary(s, 'after stepping down ' + host);
  logLine(s, 'primary is now ' + s.primary.host);
}
// waitCommitted waits until the reconfig to version is committed, an added
// or promoted member is SECONDARY, and a removed member is gone.
function waitCommitted(s, ch, version) {
  waitFor(s.input, 'waiting for ' + describeChange(ch) + ' to be committed', function () {
    return onPrimary(s, function (p) {
      const rc = readConfig(p);
      if (rc.config.version < version) return { done: false, detail: 'primary ' + p.host + ' has config version ' + rc.config.version + ', want ' + version };
      if (!rc.committed) return { done: false, detail: 'config version ' + rc.config.version + ' is not committed yet on primary ' + p.host };
      let present = null;
      for (let i = 0; i < rc.config.members.length; i++) {
        if (rc.config.members[i].host === ch.host) present = rc.config.members[i];
      }
      if (ch.kind === 'remove') {
        return present ? { done: false, detail: ch.host + ' is still in the config' } : { done: true };
      }
      if (ch.kind === 'add' || ch.kind === 'promote') {
        if (!present) return { done: false, detail: ch.host + ' is not in the config' };
        const st = readStatus(p)[ch.host];
        if (!st || st.state !== STATE.SECONDARY) {
          return { done: false, detail: 'member ' + ch.host + ' (_id ' + ch.id + ') is ' + (st ? stateName(st.state) : 'missing from the status') + ', want SECONDARY' };
        }
      }
      return { done: true };
    });
  });
}
// apply executes one change planned on observed: a step-down, or one reconfig
// of observed.config on the primary followed by the wait for its commit.
function apply(s, observed, ch) {
  if (ch.kind === 'wait') {
    settle(s, describeChange(ch.then));
    return;
  }
  if (ch.kind === 'stepDown') {
    stepDown(s, ch.host);
    return;
  }
  const cfg = observed.config;
  const next = nextConfig(cfg, ch);
  const what = describeChange(ch);
  logLine(s, what + ' on primary ' + s.primary.host + ' (config version ' + cfg.version + ' -> ' + next.version + ')');
  run(s.primary, 'admin', { replSetReconfig: next, maxTimeMS: s.input.waitMs }, what);
  s.changes++;
  waitCommitted(s, ch, next.version);
  logLine(s, 'committed: ' + what);
}

// ---- membership -------------------------------------------------------------

// membership applies plan() one change at a time until it returns null.
function membership(s) {
  const input = s.input;
  const maxSteps = 4 * (input.members.length + readConfig(s.primary).config.members.length) + 10;
  for (let step = 0; ; step++) {
    if (step >= maxSteps) throw failure(EXIT.FAILED, 'changing membership on ' + (s.primary ? s.primary.host : input.rsName) + ': did not converge after ' + maxSteps + ' steps');
    let observed = observe(s);
    let ch = plan(observed, input);
    if (!ch) break;
    if (ch.kind === 'wait') {
      apply(s, observed, ch);
      observed = observe(s);
      ch = plan(observed, input);
      if (!ch) break;
      if (ch.kind === 'wait') continue; // unsettled again: wait again (bounded by maxSteps)
    }
    apply(s, observed, ch);
  }
  if (s.changes === 0 && input.prune) logLine(s, 'nothing to prune: no configured member is departing and every vote is as desired');
  else if (s.changes === 0) logLine(s, 'membership is up to date (' + input.members.length + ' member(s))');
}

// ---- MongoDB versions -------------------------------------------------------
// The rules, from MongoDB's upgrade notes (docs/facts.md):
//   - a replica set is upgraded one release at a time, in the order mongoReleases gives
//     ("if you are running a 6.0-series, you must upgrade first to 7.0 before you can
//     upgrade to 8.0");
//   - before the binaries go to release T, featureCompatibilityVersion (FCV) must be the
//     release before T ("7.0 replica sets must have featureCompatibilityVersion set to
//     '7.0'" before upgrading to 8.0);
//   - a mongod whose binary does not accept the FCV of its data (its own release or the
//     one before it) does not start: it exits with code 62, "UPGRADE PROBLEM: Found an
//     invalid featureCompatibilityVersion document";
//   - setFeatureCompatibilityVersion runs on the primary and, from 7.0 on, needs
//     confirm: true; getParameter {featureCompatibilityVersion: 1} answers
//     {version} or, during an interrupted change, {version, targetVersion[, previousVersion]};
//   - buildInfo tells a member's binary version and needs no login.
// An unknown target ('': the image tag names no version) turns every check off.

// parseRelease (pure) returns [major, minor] of "M.m" (or of "M.m.p..."), or null.
function parseRelease(v) {
  const m = /^([0-9]+)\.([0-9]+)/.exec(typeof v === 'string' ? v : '');
  return m ? [Number(m[1]), Number(m[2])] : null;
}
// compareRelease (pure) orders two "M.m" releases: < 0, 0 or > 0.
function compareRelease(a, b) {
  const x = parseRelease(a);
  const y = parseRelease(b);
  if (!x || !y) return NaN;
  return x[0] !== y[0] ? x[0] - y[0] : x[1] - y[1];
}
// releaseOf (pure) is the "major.minor" of a buildInfo version ("7.0.16" -> "7.0"), or ''.
function releaseOf(version) {
  const r = parseRelease(version);
  return r ? r[0] + '.' + r[1] : '';
}
function releaseBefore(v, releases) {
  const i = releases.indexOf(v);
  return i > 0 ? releases[i - 1] : '';
}
function releaseAfter(v, releases) {
  const i = releases.indexOf(v);
  return i >= 0 && i + 1 < releases.length ? releases[i + 1] : '';
}
// setFcvHint (pure) is the shell command that sets FCV to value on binaries of release
// binary: confirm: true from 7.0 on.
function setFcvHint(value, binary) {
  return "db.adminCommand({setFeatureCompatibilityVersion: '" + value + "'" +
      (compareRelease(binary, '7.0') >= 0 ? ', confirm: true' : '') + '})';
}
// describeBinaries (pure): "7.0 (a:1, b:1), 6.0 (c:1)" in the order first seen.
function describeBinaries(binaries) {
  const order = [];
  const hostsOf = {};
  for (let i = 0; i < binaries.length; i++) {
    const v = binaries[i].version;
    if (!hostsOf[v]) {
      hostsOf[v] = [];
      order.push(v);
    }
    hostsOf[v].push(binaries[i].host);
  }
  const out = [];
  for (let i = 0; i < order.length; i++) out.push(order[i] + ' (' + hostsOf[order[i]].join(', ') + ')');
  return out.length ? out.join(', ') : 'none answered';
}
function describeSilent(silent) {
  const out = [];
  for (let i = 0; i < silent.length; i++) out.push(silent[i].host + ' (' + silent[i].why + ')');
  return out.join(', ');
}
function describeTransition(fcv) {
  return fcv.previousVersion ?
    'from ' + fcv.previousVersion + ' down to ' + fcv.targetVersion :
    'from ' + fcv.version + ' to ' + fcv.targetVersion;
}

// upgradeProblem (pure) is why the binaries may not be changed to release target, or ''
// when they may: fcv is the set's {version, targetVersion?, previousVersion?}, binaries
// the answering members' [{host, version: "M.m"}] (in config order), releases the
// upgrade order. The message names the current and target versions and the next step.
function upgradeProblem(target, fcv, binaries, releases) {
  const f = fcv.version;
  const order = ' (the known MongoDB release order is ' + (releases.length ? releases.join(', ') : 'empty') + ')';
  if (fcv.targetVersion) {
    const binary = fcv.previousVersion || fcv.targetVersion;
    return 'featureCompatibilityVersion is in transition ' + describeTransition(fcv) +
      ' (an interrupted setFeatureCompatibilityVersion): finish the transition first, on the primary: ' +
      setFcvHint(fcv.targetVersion, binary) + ', then run the update again';
  }
  if (!parseRelease(f)) return 'featureCompatibilityVersion ' + JSON.stringify(String(f)) + ' is not major.minor: the upgrade path cannot be checked';
  if (compareRelease(target, f) < 0) {
    const lower = releaseBefore(f, releases) || target;
    return 'MongoDB ' + target + ' cannot run on data whose featureCompatibilityVersion is ' + f + ': lower it first with ' +
      "setFeatureCompatibilityVersion '" + lower + "'" + (compareRelease(f, '7.0') >= 0 ? ' (confirm: true)' : '') +
      ', then change the image' + (lower !== target ? ' (one release at a time, down to ' + target + ')' : '') +
      (compareRelease(f, '7.0') >= 0 ? '; MongoDB does not support binary downgrades of Community Edition from 7.0 on, so restoring a backup may be the only way back' : '');
  }
  for (let i = 0; i < binaries.length; i++) {
    const b = binaries[i];
    if (b.version === target || compareRelease(b.version, target) > 0) continue;
    const iB = releases.indexOf(b.version);
    const iT = releases.indexOf(target);
    if (iB < 0 || iT < 0) {
      return 'the upgrade of ' + b.host + ' from MongoDB ' + b.version + ' to ' + target + ' cannot be checked: ' +
        (iB < 0 ? b.version : target) + ' is not a known release' + order;
    }
    if (iT > iB + 1) {
      const next = releases[iB + 1];
      return 'MongoDB cannot skip a release: ' + b.host + ' runs ' + b.version + ', the target is ' + target + '; upgrade to ' + next +
        ' first (set mongoImage to a ' + next + ' tag and run the update; featureCompatibilityVersion then follows), then to ' +
        releases.slice(iB + 2, iT + 1).join(', then to ');
    }
  }
  if (f === target) return '';
  const before = releaseBefore(target, releases);
  if (!before) {
    return 'featureCompatibilityVersion is ' + f + ', but the release MongoDB ' + target + ' needs cannot be checked: ' +
      (releases.indexOf(target) < 0 ? target + ' is not a known release' : target + ' is the oldest known release') + order;
  }
  if (f !== before) {
    return 'featureCompatibilityVersion is ' + f + ', but MongoDB ' + target + ' needs ' + before + ': raise it first, while the ' + before +
      ' binaries run: set mongoFeatureCompatibility to auto and run the update with the ' + before + ' image (the full step raises it), ' +
      'or run ' + setFcvHint(before, before) + ' on the primary; then change the image to ' + target;
  }
  return '';
}

// fcvPlan (pure) decides the full step's FCV change: {raise, confirm, line}. target is
// known; fcv, binaries and releases as for upgradeProblem; silent the configured members
// that did not answer [{host, why}]; mode 'auto' or 'manual'. It raises only when the
// mode is auto, every configured member answers and runs target, and the FCV is the
// release before target (or in transition up to target: raising again completes it).
function fcvPlan(target, fcv, binaries, silent, releases, mode) {
  const f = fcv.version;
  const confirm = compareRelease(target, '7.0') >= 0;
  const hint = setFcvHint(target, target);
  if (f === target && !fcv.targetVersion) return { raise: false, confirm: confirm, line: 'featureCompatibilityVersion is already ' + target };
  const lagging = [];
  for (let i = 0; i < binaries.length; i++) {
    if (binaries[i].version !== target) lagging.push(binaries[i].host + ' runs ' + binaries[i].version);
  }
  for (let i = 0; i < silent.length; i++) lagging.push(silent[i].host + ' does not answer (' + silent[i].why + ')');
  const now = 'featureCompatibilityVersion is ' + (fcv.targetVersion ? 'in transition ' + describeTransition(fcv) : f) +
    ' (binaries ' + describeBinaries(binaries) + ')';
  if (mode !== 'auto') {
    return { raise: false, confirm: confirm, line: now + '; mongoFeatureCompatibility is manual: raise it with ' + hint +
      (lagging.length ? ' once every member runs ' + target + ' (' + lagging.join('; ') + ')' : '') };
  }
  if (lagging.length) {
    return { raise: false, confirm: confirm, line: now + ': not raised to ' + target + ', not every member runs ' + target + ' yet (' +
      lagging.join('; ') + '); a later full step raises it once every member does' };
  }
  if (fcv.targetVersion) {
    if (fcv.targetVersion === target && !fcv.previousVersion) {
      return { raise: true, confirm: confirm, line: now + ': every member runs ' + target + '; completing the change to ' + target };
    }
    return { raise: false, confirm: confirm, line: now + ': not raised; finish or undo that change by hand (setFeatureCompatibilityVersion on the primary)' };
  }
  const before = releaseBefore(target, releases);
  if (!before || f !== before) {
    return { raise: false, confirm: confirm, line: now + ': not raised to ' + target + ': it is not ' +
      (before ? 'the release before it (' + before + ')' : 'a release known to come just before it') };
  }
  return { raise: true, confirm: confirm, line: now + ': every member runs ' + target + '; raising featureCompatibilityVersion from ' + f + ' to ' + target };
}

// readFcv reads the set's featureCompatibilityVersion on c (needs a login).
function readFcv(c) {
  const r = run(c, 'admin', { getParameter: 1, featureCompatibilityVersion: 1 }, 'reading featureCompatibilityVersion');
  const f = r && r.featureCompatibilityVersion;
  if (!f || typeof f.version !== 'string') {
    throw failure(EXIT.FAILED, 'reading featureCompatibilityVersion on ' + c.host + ': the reply has no featureCompatibilityVersion.version');
  }
  const out = { version: f.version };
  if (f.targetVersion) out.targetVersion = String(f.targetVersion);
  if (f.previousVersion) out.previousVersion = String(f.previousVersion);
  return out;
}
// memberBinaries reads, with buildInfo (no login), the binary release of every
// configured member that the replica-set status on c shows reachable, one connection
// at a time; members it shows DOWN, and members that do not answer, are listed in
// silent and not connected to again: {running: [{host, version}], silent: [{host, why}]}.
function memberBinaries(s, c) {
  const cfg = run(c, 'admin', { replSetGetConfig: 1 }, 'reading the replica-set config').config;
  const status = readStatus(c);
  const running = [];
  const silent = [];
  for (let i = 0; i < cfg.members.length; i++) {
    const h = cfg.members[i].host;
    const st = status[h];
    if (!st || (!st.self && st.health !== 1)) {
      silent.push({ host: h, why: st ? stateName(st.state) : 'missing from the status' });
      continue;
    }
    let version = '';
    try {
      const conn = st.self ? c : open(s.input, h);
      version = conn.admin.runCommand({ buildInfo: 1 }).version;
    } catch (e) {
      silent.push({ host: h, why: 'buildInfo: ' + describe(e) });
      continue;
    }
    const rel = releaseOf(version);
    if (!rel) silent.push({ host: h, why: 'buildInfo version ' + JSON.stringify(String(version)) + ' is not major.minor.patch' });
    else running.push({ host: h, version: rel });
  }
  return { running: running, silent: silent };
}
// preflight is the prune (and force) step's upgrade check, before any write: through c
// (the primary, or in force mode the local survivor) it reads the members' binaries and
// the FCV and refuses (exit 1, no write) a change of the binaries to the target release
// that MongoDB does not allow.
function preflight(s, c) {
  const input = s.input;
  const target = input.mongoVersion;
  if (!target) {
    logLine(s, 'upgrade check skipped: the target MongoDB release is unknown (the mongo image tag names no major.minor version): ' +
        'no version is checked and featureCompatibilityVersion is never raised');
    return;
  }
  const bins = memberBinaries(s, c);
  const fcv = readFcv(c);
  const why = upgradeProblem(target, fcv, bins.running, input.mongoReleases);
  if (why) throw failure(EXIT.FAILED, 'upgrade check: ' + why + ' (no write)');
  logLine(s, 'upgrade check: binaries ' + describeBinaries(bins.running) + '; featureCompatibilityVersion ' + fcv.version +
      '; target ' + target + ': allowed' + (bins.silent.length ? '; not answering, skipped: ' + describeSilent(bins.silent) : ''));
}
// featureCompatibility is the full step's FCV step, on the primary: it raises FCV to the
// target once every member runs it (mode auto), or reports it (manual); see fcvPlan.
function featureCompatibility(s) {
  const input = s.input;
  const target = input.mongoVersion;
  if (!target) {
    logLine(s, 'featureCompatibilityVersion not checked: the target MongoDB release is unknown (the mongo image tag names no major.minor version); it is never raised');
    return;
  }
  const p = s.primary || findPrimary(s, '');
  const fcv = readFcv(p);
  let bins = { running: [], silent: [] };
  if (fcv.version !== target || fcv.targetVersion) bins = memberBinaries(s, p);
  const d = fcvPlan(target, fcv, bins.running, bins.silent, input.mongoReleases, input.featureCompatibility);
  logLine(s, d.line);
  if (!d.raise) return;
  const cmd = { setFeatureCompatibilityVersion: target };
  if (d.confirm) cmd.confirm = true;
  cmd.writeConcern = input.wc;
  run(p, 'admin', cmd, 'setting featureCompatibilityVersion to ' + target);
  s.fcvWrites++;
  const after = readFcv(p);
  if (after.version !== target || after.targetVersion) {
    throw failure(EXIT.FAILED, 'setting featureCompatibilityVersion to ' + target + ' on ' + p.host + ': it is ' +
        (after.targetVersion ? 'in transition ' + describeTransition(after) : after.version) + ' afterwards');
  }
  logLine(s, 'featureCompatibilityVersion is now ' + target + ' (primary ' + p.host + ')');
}

// ---- users ------------------------------------------------------------------

function sameRoles(a, b) {
  const key = function (rs) {
    const out = [];
    for (let i = 0; i < rs.length; i++) out.push(rs[i].db + '.' + rs[i].role);
    return out.sort().join(',');
  };
  return key(a || []) === key(b || []);
}
function exactRoles(rs) {
  const out = [];
  for (let i = 0; i < rs.length; i++) out.push({ role: rs[i].role, db: rs[i].db });
  return out;
}
// ensureUser creates or updates one user; passwordCurrent is true or false
// when already known, or null to check it by authenticating as the user.
function ensureUser(s, u, passwordCurrent) {
  const input = s.input;
  const name = u.user + '@' + u.db;
  if (!s.primary) findPrimary(s, '');
  const p = s.primary;
  const info = run(p, u.db, { usersInfo: { user: u.user, db: u.db } }, 'reading user ' + name);
  const found = (info.users || []).length > 0 ? info.users[0] : null;
  if (!found) {
    logLine(s, 'creating user ' + name + ' on primary ' + p.host);
    run(p, u.db, { createUser: u.user, pwd: u.pwd, roles: exactRoles(u.roles), writeConcern: input.wc }, 'creating user ' + name);
    s.userWrites++;
    return;
  }
  const update = { updateUser: u.user };
  const what = [];
  if (!sameRoles(found.roles, u.roles)) {
    update.roles = exactRoles(u.roles);
    what.push('roles');
  }
  let pwdOk = passwordCurrent;
  if (pwdOk === null) pwdOk = authAs(input, p.host, u.db, u.user, u.pwd, 'checking the password of ' + name) !== null;
  if (!pwdOk) {
    update.pwd = u.pwd;
    what.push('password');
  }
  if (what.length === 0) {
    logLine(s, 'user ' + name + ' is up to date');
    return;
  }
  update.writeConcern = input.wc;
  logLine(s, 'updating ' + what.join(' and ') + ' of user ' + name + ' on primary ' + p.host);
  run(p, u.db, update, 'updating ' + what.join(' and ') + ' of user ' + name);
  s.userWrites++;
}
// users brings every desired user to its password and roles, root last, and
// returns which root password is in effect afterwards (always the current).
// beforeRoot, when given, runs after the other users and the final settle and
// before root: the full step's featureCompatibilityVersion step.
function users(s, beforeRoot) {
  const input = s.input;
  for (let i = 0; i < input.users.length; i++) {
    if (input.users[i].db === 'admin' && input.users[i].user === input.rootUser) {
      throw failure(EXIT.INPUT, 'reading RCHA_DESIRED: user ' + input.rootUser + '@admin is the root user and must not be in users');
    }
    ensureUser(s, input.users[i], null);
  }
  // Reads only: a member added by an earlier, interrupted run must also have
  // reached SECONDARY before the replica set counts as converged. This comes
  // before the root update, so that once root is rotated nothing is left
  // that can fail: a run that applied a new root password always succeeds
  // and reports it.
  settle(s, 'finishing');
  if (beforeRoot) beforeRoot();
  // The root user comes last: everything above ran with whichever root password worked.
  ensureUser(s, { user: input.rootUser, db: 'admin', pwd: input.rootPassword, roles: [{ role: 'root', db: 'admin' }] }, s.rootWhich === 'current');
  return 'current'; // root was updated last, to the current password
}

// ---- main -------------------------------------------------------------------

// reconcile runs one whole pass and returns which root password is in effect.
function reconcile(s) {
  const input = s.input;
  if (input.force) {
    logLine(s, 'force mode: recovering replica set ' + input.rsName + ' from a lost majority through ' + input.local + ', keeping at most the ' +
        input.members.length + ' desired member(s) (then as prune mode: no initiate, no member added, no user change), every wait bounded by ' +
        input.waitSeconds + 's');
  } else if (input.prune) {
    logLine(s, 'pruning replica set ' + input.rsName + ' down to the ' + input.members.length + ' desired member(s) (prune mode: ' +
        'no initiate, no member added, no user change), every wait bounded by ' + input.waitSeconds + 's');
  } else {
    logLine(s, 'reconciling replica set ' + input.rsName + ': ' + input.members.length + ' member(s), ' +
        input.users.length + ' user(s) besides ' + input.rootUser + ', every wait bounded by ' + input.waitSeconds + 's');
  }
  const initiated = authenticate(s);
  if (input.force && !initiated) {
    throw failure(EXIT.FAILED, 'force mode: the local mongod ' + input.local + ' has no replica-set config: nothing to force (no write)');
  }
  if (input.force && !s.auth) {
    throw failure(EXIT.FAILED, 'force mode: replica set ' + input.rsName + ' has only member 0 and no user yet (localhost exception): nothing to force (no write)');
  }
  if (input.prune && !initiated) {
    logLine(s, 'nothing to prune: the local mongod ' + input.local + ' has no replica-set config yet; no write');
    return s.auth ? s.auth.which : 'current';
  }
  if (input.prune && !s.auth) {
    logLine(s, 'nothing to prune: replica set ' + input.rsName + ' has only member 0 and no user yet (localhost exception); no write');
    return 'current';
  }
  // The upgrade check comes before any write: in force mode on the local survivor
  // (no member is primary), in prune mode on the primary.
  if (input.force) preflight(s, s.auth.c);
  if (input.force) forceReconfig(s);
  initiate(s, initiated);
  findPrimary(s, '');
  logLine(s, 'primary is ' + s.primary.host);
  if (input.prune && !input.force) preflight(s, s.primary);
  membership(s);
  if (input.prune) {
    // Users are left to the full run; the members still configured must be healthy.
    settle(s, 'finishing');
    const configured = readConfig(s.primary).config.members.length;
    logLine(s, (input.force ? 'forced recovery' : 'prune') + ' of replica set ' + input.rsName + ' converged: ' + configured + ' member(s) configured, primary ' + s.primary.host +
        ', ' + s.changes + ' membership change(s), 0 user write(s)');
    return s.rootWhich;
  }
  // featureCompatibilityVersion comes after membership and the other users and before
  // root, so that once root is rotated nothing is left that can fail.
  const inEffect = users(s, function () { featureCompatibility(s); });
  logLine(s, 'replica set ' + input.rsName + ' converged: ' + input.members.length + ' member(s), primary ' + s.primary.host +
      ', ' + s.changes + ' membership change(s), ' + s.userWrites + ' user write(s), ' + s.fcvWrites + ' featureCompatibilityVersion write(s)');
  return inEffect;
}

function main() {
  const env = (typeof process !== 'undefined' && process.env) ? process.env : {};
  const probeFlag = env.RCHA_PROBE || '';
  if (probeFlag !== '') {
    if (probeFlag !== '1') {
      print(PREFIX + ' ERROR: RCHA_PROBE ' + JSON.stringify(probeFlag) + ' must be "1" (probe mode) or empty');
      quit(EXIT.INPUT);
      return;
    }
    quit(probe(env));
    return;
  }
  const s = {
    input: null, secrets: secretsOf(env),
    local: null, auth: null, rootWhich: null, primary: null, changes: 0, userWrites: 0, fcvWrites: 0,
  };
  try {
    s.input = readInput(env);
    const inEffect = reconcile(s);
    // Must stay the last line: the caller reads it to remember the root password.
    print(PREFIX + ' root password in effect: ' + inEffect);
  } catch (e) {
    print(PREFIX + ' ERROR: ' + redact((e && e.message) ? e.message : String(e), s.secrets));
    quit((e && e.rchaExit) ? e.rchaExit : EXIT.FAILED);
  }
  quit(EXIT.OK);
}

if (!(typeof globalThis !== 'undefined' && globalThis.RCHA_RECONCILE_LIBRARY === true)) main();
